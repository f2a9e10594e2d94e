/**
 * Copies and moves between two servers: the shared test daemon (source) and a throwaway
 * daemon of the same family (target) with its own LXD_DIR / INCUS_DIR, HTTPS on another
 * loopback port, no network.
 * The target pulls over LXD's migration protocol from the source's HTTPS address.
 */
import { assert } from "@effect/vitest"
import { Images, Instances, LxdHttp, Migration, Operations, Snapshots, StorageVolumes } from "effect-lxd"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { extraDaemon } from "../support/extraDaemon.js"
import { deleteInstance } from "../support/fixtures.js"
import { secondIncusDaemon } from "../support/secondDaemon.js"
import { forEachServer, quietly, uniqueName } from "../support/servers.js"

/** The second server: a throwaway daemon of the same family as the suite's. */
interface TargetDaemon {
  readonly unixConnection: Layer.Layer<LxdHttp.LxdHttp, unknown>
  readonly httpsConnection: Layer.Layer<LxdHttp.LxdHttp, unknown>
}

class Target extends Context.Tag("test/migration/Target")<Target, TargetDaemon>() {}

const targetDaemon = (kind: "lxd" | "incus"): Layer.Layer<Target, unknown> =>
  Layer.scoped(
    Target,
    Effect.gen(function*() {
      const daemon: TargetDaemon = kind === "lxd" ? yield* extraDaemon() : yield* secondIncusDaemon()
      return daemon
    })
  )

/** The target's connection, for this test's scope (same transport as the suite's). */
const targetHttp = (transport: "unix" | "https") =>
  Effect.gen(function*() {
    const daemon = yield* Target
    const context = yield* Layer.build(transport === "unix" ? daemon.unixConnection : daemon.httpsConnection)
    return Context.get(context, LxdHttp.LxdHttp)
  })

/** Services of the target daemon (for checking what arrived). */
const onTarget = (target: LxdHttp.Service) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(
      Layer.mergeAll(Instances.layer, Snapshots.layer, Images.layer, StorageVolumes.layer).pipe(
        Layer.provideMerge(Operations.layer),
        Layer.provide(Layer.succeed(LxdHttp.LxdHttp, target))
      )
    )
    return {
      instances: Context.get(context, Instances.Instances),
      snapshots: Context.get(context, Snapshots.Snapshots),
      images: Context.get(context, Images.Images),
      volumes: Context.get(context, StorageVolumes.StorageVolumes)
    }
  })

/** A stopped container without a NIC (the target has no bridge), deleted at the end. */
const portable = (alias: string, pool: string, config: Record<string, string> = {}) =>
  Effect.flatMap(Instances.Instances, (instances) =>
    Effect.acquireRelease(
      instances.create({
        name: uniqueName("mig"),
        source: { type: "image", alias },
        profiles: [],
        devices: { root: { type: "disk", path: "/", pool } },
        config
      }),
      (i) => deleteInstance(i.name)
    ))

forEachServer("migration", (it, server) => {
  const alias = server.env.imageAlias
  const pool = server.env.storagePool

  it.layer(targetDaemon(server.env.kind), { timeout: "3 minutes" })((it) => {
    it.scoped("copy a stopped container (with its snapshot) to another server; it starts there", () =>
      Effect.gen(function*() {
        const instances = yield* Instances.Instances
        const migration = yield* Migration.Migration
        const snapshots = yield* Snapshots.Snapshots
        const target = yield* targetHttp(server.transport)
        const there = yield* onTarget(target)
        const c = yield* portable(alias, pool, { "user.origin": server.name })
        yield* snapshots.create(c.name, { name: "s0" })
        yield* Effect.addFinalizer(() => quietly(there.instances.delete(c.name, { force: true })))

        const copied = yield* migration.copyInstance(c.name, target)
        assert.strictEqual(copied.name, c.name)
        assert.strictEqual(copied.config["user.origin"], server.name)
        // a copy is a new instance: volatile keys (its UUID among them) are not carried over
        assert.notStrictEqual(copied.config["volatile.uuid"], c.config["volatile.uuid"])
        assert.deepStrictEqual(yield* there.snapshots.listNames(c.name), ["s0"])
        assert.isTrue(yield* instances.exists(c.name))
        yield* there.instances.start(c.name)
        assert.strictEqual((yield* there.instances.state(c.name)).status, "Running")
        yield* there.instances.delete(c.name, { force: true })
      }))

    it.scoped("copy under another name, instance only", () =>
      Effect.gen(function*() {
        const migration = yield* Migration.Migration
        const snapshots = yield* Snapshots.Snapshots
        const target = yield* targetHttp(server.transport)
        const there = yield* onTarget(target)
        const c = yield* portable(alias, pool)
        yield* snapshots.create(c.name, { name: "s0" })
        const newName = uniqueName("copy")
        yield* Effect.addFinalizer(() => quietly(there.instances.delete(newName, { force: true })))
        const copied = yield* migration.copyInstance(c.name, target, {
          name: newName,
          instanceOnly: true,
          config: { "user.copied": "yes" }
        })
        assert.strictEqual(copied.name, newName)
        assert.strictEqual(copied.config["user.copied"], "yes")
        assert.deepStrictEqual(yield* there.snapshots.listNames(newName), [])
      }))

    it.scoped("move a stopped container to another server: gone here, there with its configuration", () =>
      Effect.gen(function*() {
        const instances = yield* Instances.Instances
        const migration = yield* Migration.Migration
        const target = yield* targetHttp(server.transport)
        const there = yield* onTarget(target)
        const c = yield* portable(alias, pool, { "user.moved": "yes" })
        yield* Effect.addFinalizer(() => quietly(there.instances.delete(c.name, { force: true })))
        const moved = yield* migration.moveInstance(c.name, target)
        assert.strictEqual(moved.config["user.moved"], "yes")
        assert.strictEqual(moved.config["volatile.uuid"], c.config["volatile.uuid"])
        assert.isFalse(yield* instances.exists(c.name))
        assert.isTrue(yield* there.instances.exists(c.name))
      }))

    it.scoped("a failed migration surfaces the target's error and leaves the source alone", () =>
      Effect.gen(function*() {
        const instances = yield* Instances.Instances
        const migration = yield* Migration.Migration
        const target = yield* targetHttp(server.transport)
        const there = yield* onTarget(target)
        const c = yield* portable(alias, pool)
        yield* Effect.addFinalizer(() => quietly(there.instances.delete(c.name, { force: true })))
        yield* migration.copyInstance(c.name, target)
        // the name is taken on the target now
        const failure = yield* Effect.flip(migration.copyInstance(c.name, target))
        assert.strictEqual(failure._tag, "LXDAPIException")
        assert.match(failure.message, /exist|UNIQUE/i)
        assert.isTrue(yield* instances.exists(c.name))
        assert.strictEqual((yield* instances.get(c.name)).status, "Stopped")
      }))

    it.scoped("copy one snapshot to another server as a new instance, then refresh it", () =>
      Effect.gen(function*() {
        const migration = yield* Migration.Migration
        const snapshots = yield* Snapshots.Snapshots
        const instances = yield* Instances.Instances
        const target = yield* targetHttp(server.transport)
        const there = yield* onTarget(target)
        const c = yield* portable(alias, pool, { "user.when": "before" })
        yield* snapshots.create(c.name, { name: "s0" })
        yield* instances.patch(c.name, { config: { "user.when": "after" } })
        const newName = uniqueName("fromsnap")
        yield* Effect.addFinalizer(() => quietly(there.instances.delete(newName, { force: true })))
        const copied = yield* migration.copySnapshot(c.name, "s0", target, { name: newName })
        assert.strictEqual(copied.name, newName)
        // the snapshot's configuration, not the instance's current one
        assert.strictEqual(copied.config["user.when"], "before")
        assert.deepStrictEqual(yield* there.snapshots.listNames(newName), [])
        const missing = yield* Effect.flip(migration.copySnapshot(c.name, "nope", target, { name: uniqueName("x") }))
        assert.strictEqual(missing._tag, "NotFound")
        // an existing copy on the target is brought up to date with `refresh`
        const again = yield* Effect.flip(migration.copyInstance(c.name, target, { name: newName, instanceOnly: true }))
        assert.strictEqual(again._tag, "LXDAPIException")
        yield* migration.copyInstance(c.name, target, { name: newName, instanceOnly: true, refresh: true })
        assert.isTrue(yield* there.instances.exists(newName))
      }))

    it.scoped("copy and move a custom volume to another server", () =>
      Effect.gen(function*() {
        const migration = yield* Migration.Migration
        const volumes = yield* StorageVolumes.StorageVolumes
        const target = yield* targetHttp(server.transport)
        const there = yield* onTarget(target)
        const name = uniqueName("vol")
        yield* Effect.acquireRelease(
          volumes.create(pool, { name, config: { "user.origin": server.name } }),
          () => quietly(volumes.delete({ pool, name }))
        )
        yield* volumes.snapshots.create({ pool, name }, { name: "s0" })
        yield* Effect.addFinalizer(() => quietly(there.volumes.delete({ pool, name })))
        const copied = yield* migration.copyVolume({ pool, name }, target)
        assert.strictEqual(copied.name, name)
        assert.strictEqual(copied.config["user.origin"], server.name)
        assert.deepStrictEqual(yield* there.volumes.snapshots.listNames({ pool, name }), ["s0"])

        const movedName = uniqueName("vol")
        yield* Effect.addFinalizer(() => quietly(there.volumes.delete({ pool, name: movedName })))
        const moved = yield* migration.moveVolume({ pool, name }, target, { name: movedName, volumeOnly: true })
        assert.strictEqual(moved.name, movedName)
        assert.deepStrictEqual(yield* there.volumes.snapshots.listNames({ pool, name: movedName }), [])
        assert.isFalse((yield* volumes.listNames(pool)).some((v) => v.name === name))
        const gone = yield* Effect.flip(migration.copyVolume({ pool, name }, target))
        assert.strictEqual(gone._tag, "NotFound")
      }))

    it.scoped("copy an image to another server (a private one travels with a secret)", () =>
      Effect.gen(function*() {
        const images = yield* Images.Images
        const migration = yield* Migration.Migration
        const target = yield* targetHttp(server.transport)
        const there = yield* onTarget(target)
        const source = yield* images.get(server.env.imageFingerprint)
        assert.isFalse(source.public)
        const newAlias = uniqueName("copied")
        yield* Effect.addFinalizer(() => quietly(there.images.delete(source.fingerprint)))
        const copied = yield* migration.copyImage(source.fingerprint, target, {
          aliases: [newAlias],
          copyAliases: true
        })
        assert.strictEqual(copied.fingerprint, source.fingerprint)
        assert.strictEqual((yield* there.images.getByAlias(newAlias)).fingerprint, source.fingerprint)
        assert.strictEqual((yield* there.images.getByAlias(alias)).fingerprint, source.fingerprint)
        assert.deepStrictEqual(copied.properties, source.properties)
      }))
  })
}, { timeout: "3 minutes" })
