/**
 * `Migration.relocate` inside one server: an instance moved to another storage pool and
 * to another project (both made by the test and deleted after it), on every server. The
 * moves between cluster members are in `cluster-move.test.ts`.
 */
import { assert } from "@effect/vitest"
import { Instances, Lxd, Migration, Projects, StoragePools } from "effect-lxd"
import * as Effect from "effect/Effect"
import { deleteInstance } from "../support/fixtures.js"
import { forEachServer, quietly, uniqueName } from "../support/servers.js"

/** A `dir` pool, deleted when the scope closes. */
const scopedPool = Effect.flatMap(StoragePools.StoragePools, (pools) => {
  const name = uniqueName("pool")
  return Effect.acquireRelease(pools.create({ name, driver: "dir" }), () => quietly(pools.delete(name)))
})

/** A project that shares the default project's images and profiles, deleted when the scope closes. */
const scopedProject = Effect.flatMap(Projects.Projects, (projects) => {
  const name = uniqueName("proj")
  return Effect.acquireRelease(
    projects.create({ name, config: { "features.images": "false", "features.profiles": "false" } }),
    () => quietly(projects.delete(name))
  )
})

/** A stopped container with its root disk on `pool`, deleted (here and in `alsoIn`) when the scope closes. */
const stopped = (alias: string, pool: string, alsoIn?: string) =>
  Effect.flatMap(Instances.Instances, (instances) =>
    Effect.acquireRelease(
      instances.create({
        name: uniqueName("rel"),
        source: { type: "image", alias },
        profiles: [],
        devices: { root: { type: "disk", path: "/", pool } },
        config: { "user.marker": "kept" }
      }),
      (i) =>
        Effect.zipRight(
          deleteInstance(i.name),
          alsoIn === undefined ? Effect.void : Lxd.withProject(deleteInstance(i.name), alsoIn)
        )
    ))

forEachServer("relocate", (it, server) => {
  const alias = server.env.imageAlias
  const pool = server.env.storagePool

  it.scoped("relocate to another storage pool: same instance, root disk on the new pool", () =>
    Effect.gen(function*() {
      const migration = yield* Migration.Migration
      const instances = yield* Instances.Instances
      const other = yield* scopedPool
      const c = yield* stopped(alias, pool)
      const moved = yield* migration.relocate(c.name, { pool: other.name })
      assert.strictEqual(moved.name, c.name)
      assert.strictEqual(moved.expanded_devices["root"]?.["pool"], other.name)
      assert.strictEqual(moved.config["user.marker"], "kept")
      assert.strictEqual(moved.config["volatile.uuid"], c.config["volatile.uuid"])
      // it still starts from its root disk on the new pool
      yield* instances.start(c.name)
      assert.strictEqual((yield* instances.state(c.name)).status, "Running")
      yield* instances.stop(c.name, { force: true })
    }))

  it.scoped("relocate to another project (renamed on the way): gone here, there with its configuration", () =>
    Effect.gen(function*() {
      const migration = yield* Migration.Migration
      const instances = yield* Instances.Instances
      const project = yield* scopedProject
      const c = yield* stopped(alias, pool, project.name)
      const newName = uniqueName("rel")
      yield* Effect.addFinalizer(() => Lxd.withProject(deleteInstance(newName), project.name))
      const moved = yield* migration.relocate(c.name, { project: project.name, name: newName })
      assert.strictEqual(moved.name, newName)
      assert.strictEqual(moved.project ?? project.name, project.name)
      assert.strictEqual(moved.config["user.marker"], "kept")
      assert.isFalse(yield* instances.exists(c.name))
      assert.isTrue(yield* Lxd.withProject(instances.exists(newName), project.name))
    }))

  it.scoped("relocate of a missing instance is NotFound; to a missing pool fails and leaves it in place", () =>
    Effect.gen(function*() {
      const migration = yield* Migration.Migration
      const instances = yield* Instances.Instances
      const missing = yield* Effect.flip(migration.relocate(uniqueName("nope"), { pool }))
      assert.strictEqual(missing._tag, "NotFound")
      const c = yield* stopped(alias, pool)
      const failure = yield* Effect.flip(migration.relocate(c.name, { pool: uniqueName("nopool") }))
      assert.oneOf(failure._tag, ["NotFound", "LXDAPIException"])
      const still = yield* instances.get(c.name)
      assert.strictEqual(still.expanded_devices["root"]?.["pool"], pool)
    }))

  it.effect("relocate without a member, pool or project is refused before any request", () =>
    Effect.gen(function*() {
      const migration = yield* Migration.Migration
      const error = yield* Effect.flip(migration.relocate("anything", { name: "other" }))
      assert.strictEqual(error._tag, "InvalidArgument")
    }))

  it.scoped("relocate to a cluster member on a server that is not clustered fails, the instance stays", () =>
    Effect.gen(function*() {
      const migration = yield* Migration.Migration
      const instances = yield* Instances.Instances
      const c = yield* stopped(alias, pool)
      const failure = yield* Effect.flip(migration.relocate(c.name, { member: uniqueName("member") }))
      assert.oneOf(failure._tag, ["LXDAPIException", "NotFound"])
      assert.isTrue(yield* instances.exists(c.name))
    }))
}, { timeout: "3 minutes" })
