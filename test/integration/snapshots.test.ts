import { assert } from "@effect/vitest"
import { Images, Instances, Operations, Snapshots } from "effect-lxd"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { deleteInstance } from "../support/fixtures.js"
import { forEachServer, quietly, uniqueName } from "../support/servers.js"

const launch = (alias: string, options: Partial<Instances.CreateOptions> = {}) =>
  Effect.flatMap(Instances.Instances, (instances) =>
    Effect.acquireRelease(
      instances.create({ name: uniqueName("s"), source: { type: "image", alias }, ...options }),
      (i) => deleteInstance(i.name)
    ))

const failureOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) throw new Error("expected a failure, got a success")
  if (exit.cause._tag !== "Fail") throw new Error(`expected a typed failure, got ${String(exit.cause)}`)
  return exit.cause.error
}

forEachServer("snapshots", (it, server) => {
  const alias = server.env.imageAlias

  it.scoped("create, list, names, get, exists; a missing one is NotFound", () =>
    Effect.gen(function*() {
      const snapshots = yield* Snapshots.Snapshots
      const c = yield* launch(alias)
      const snap = yield* snapshots.create(c.name, { name: "first" })
      assert.strictEqual(snap.name, "first")
      assert.isFalse(snap.stateful)
      assert.deepStrictEqual(yield* snapshots.listNames(c.name), ["first"])
      const listed = yield* snapshots.list(c.name)
      assert.deepStrictEqual(listed.map((s) => s.name), ["first"])
      assert.strictEqual((yield* snapshots.get(c.name, "first")).created_at, snap.created_at)
      assert.isTrue(yield* snapshots.exists(c.name, "first"))
      assert.isFalse(yield* snapshots.exists(c.name, "second"))
      assert.strictEqual(failureOf(yield* Effect.exit(snapshots.get(c.name, "second")))._tag, "NotFound")
      assert.strictEqual(
        failureOf(yield* Effect.exit(snapshots.create(c.name, { name: "a/b" })))._tag,
        "InvalidArgument"
      )
    }))

  it.scoped("create without a name: the server names them snap0, snap1", () =>
    Effect.gen(function*() {
      const snapshots = yield* Snapshots.Snapshots
      const c = yield* launch(alias)
      const a = yield* snapshots.create(c.name)
      const b = yield* snapshots.create(c.name)
      assert.strictEqual(a.name, "snap0")
      assert.strictEqual(b.name, "snap1")
      assert.sameMembers([...(yield* snapshots.listNames(c.name))], ["snap0", "snap1"])
    }))

  it.scoped("expiry: set at creation, changed with update (ETag)", () =>
    Effect.gen(function*() {
      const snapshots = yield* Snapshots.Snapshots
      const c = yield* launch(alias)
      const expires = new Date(Date.UTC(2099, 0, 2, 3, 4, 5))
      const snap = yield* snapshots.create(c.name, { name: "exp", expiresAt: expires })
      assert.strictEqual(new Date(snap.expires_at!).getTime(), expires.getTime())
      const later = new Date(Date.UTC(2100, 5, 6, 7, 8, 9))
      yield* snapshots.update(c.name, "exp", () => ({ expires_at: later.toISOString() }))
      assert.strictEqual(new Date((yield* snapshots.get(c.name, "exp")).expires_at!).getTime(), later.getTime())
      const latest = new Date(Date.UTC(2101, 1, 2, 3, 4, 5))
      yield* snapshots.patch(c.name, "exp", { expires_at: latest.toISOString() })
      assert.strictEqual(new Date((yield* snapshots.get(c.name, "exp")).expires_at!).getTime(), latest.getTime())
    }))

  it.scoped("rename and delete", () =>
    Effect.gen(function*() {
      const snapshots = yield* Snapshots.Snapshots
      const c = yield* launch(alias)
      yield* snapshots.create(c.name, { name: "old" })
      yield* snapshots.rename(c.name, "old", "new")
      assert.deepStrictEqual(yield* snapshots.listNames(c.name), ["new"])
      yield* snapshots.delete(c.name, "new")
      assert.deepStrictEqual(yield* snapshots.listNames(c.name), [])
      assert.strictEqual(failureOf(yield* Effect.exit(snapshots.delete(c.name, "new")))._tag, "NotFound")
    }))

  it.scoped("restore rolls the instance back", () =>
    Effect.gen(function*() {
      const snapshots = yield* Snapshots.Snapshots
      const instances = yield* Instances.Instances
      const c = yield* launch(alias, { config: { "user.v": "1" } })
      yield* snapshots.create(c.name, { name: "v1" })
      yield* instances.patch(c.name, { config: { "user.v": "2" } })
      yield* snapshots.restore(c.name, "v1")
      assert.strictEqual((yield* instances.get(c.name)).config["user.v"], "1")
    }))

  it.scoped("a stateful snapshot without CRIU fails with the server's error", () =>
    Effect.gen(function*() {
      const snapshots = yield* Snapshots.Snapshots
      const c = yield* launch(alias, { start: true })
      const failure = failureOf(yield* Effect.exit(snapshots.create(c.name, { name: "live", stateful: true })))
      assert.strictEqual(failure._tag, "LXDAPIException")
      assert.match(failure.message, /stateful|CRIU/i)
      assert.isFalse(yield* snapshots.exists(c.name, "live"))
    }))

  it.scoped("publish a snapshot as an image", () =>
    Effect.gen(function*() {
      const snapshots = yield* Snapshots.Snapshots
      const images = yield* Images.Images
      const c = yield* launch(alias)
      yield* snapshots.create(c.name, { name: "pub" })
      const imageAlias = uniqueName("snapimg")
      const image = yield* Effect.acquireRelease(
        snapshots.publish(c.name, "pub", { aliases: [{ name: imageAlias, description: "from a snapshot" }] }),
        (img) => quietly(images.delete(img.fingerprint))
      )
      assert.match(image.fingerprint, /^[0-9a-f]{64}$/)
      const byAlias = yield* images.getAlias(imageAlias)
      assert.strictEqual(byAlias.target, image.fingerprint)
      assert.strictEqual(byAlias.description, "from a snapshot")
    }))

  it.scoped("copy a snapshot into a new instance", () =>
    Effect.gen(function*() {
      const snapshots = yield* Snapshots.Snapshots
      const instances = yield* Instances.Instances
      const c = yield* launch(alias, { config: { "user.v": "snap" } })
      yield* snapshots.create(c.name, { name: "base" })
      yield* instances.patch(c.name, { config: { "user.v": "later" } })
      const target = uniqueName("fromsnap")
      yield* Effect.addFinalizer(() => deleteInstance(target))
      assert.strictEqual(yield* snapshots.copy(c.name, "base", target, { description: "copied" }), target)
      const copy = yield* instances.get(target)
      assert.strictEqual(copy.config["user.v"], "snap")
      assert.strictEqual(copy.description, "copied")
      yield* instances.start(target)
      assert.strictEqual((yield* instances.state(target)).status, "Running")
    }))

  it.scoped("createOperation returns the operation; waiting on it gives the snapshot", () =>
    Effect.gen(function*() {
      const snapshots = yield* Snapshots.Snapshots
      const ops = yield* Operations.Operations
      const c = yield* launch(alias)
      const op = yield* snapshots.createOperation(c.name, { name: "later" })
      yield* ops.wait(op)
      assert.isTrue(yield* snapshots.exists(c.name, "later"))
    }))
})
