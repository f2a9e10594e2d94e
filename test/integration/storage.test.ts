import { assert } from "@effect/vitest"
import { Exec, Instances, LxdError, LxdHttp, StorageBuckets, StoragePools, StorageVolumes } from "effect-lxd"
import * as Effect from "effect/Effect"
import { container } from "../support/fixtures.js"
import { forEachServer, quietly, uniqueName } from "../support/servers.js"

/** A `dir` pool deleted when the test's scope closes. */
const scopedPool = (description?: string) =>
  Effect.gen(function*() {
    const pools = yield* StoragePools.StoragePools
    const name = uniqueName("pool")
    const pool = yield* Effect.acquireRelease(
      pools.create({ name, driver: "dir", ...(description === undefined ? {} : { description }) }),
      () => quietly(pools.delete(name))
    )
    return pool
  })

/** A custom volume deleted (with its snapshots) when the test's scope closes. */
const scopedVolume = (pool: string, options: Omit<StorageVolumes.CreateOptions, "name"> = {}) =>
  Effect.gen(function*() {
    const volumes = yield* StorageVolumes.StorageVolumes
    const ref = { pool, name: uniqueName("vol") }
    const current = { ...ref }
    yield* Effect.acquireRelease(
      volumes.create(pool, { name: ref.name, ...options }),
      () => quietly(volumes.delete(current))
    )
    return current
  })

/** Run a command in an instance; its exit code. */
const execIn = (instance: string, command: ReadonlyArray<string>) =>
  Effect.map(Effect.flatMap(Exec.Exec, (exec) => exec.run(instance, command)), (r) => r.exitCode)

forEachServer("storage", (it, server) => {
  const defaultPool = server.env.storagePool

  // --- pools ---------------------------------------------------------------------

  it.effect("pools: get", () =>
    Effect.gen(function*() {
      const pools = yield* StoragePools.StoragePools
      const pool = yield* pools.get(defaultPool)
      assert.strictEqual(pool.name, defaultPool)
      assert.strictEqual(pool.driver, "dir")
      assert.strictEqual(pool.status, "Created")
      assert.isTrue(yield* pools.exists(defaultPool))
      assert.isFalse(yield* pools.exists(uniqueName("nope")))
    }))

  it.scoped("pools: all", () =>
    Effect.gen(function*() {
      const pools = yield* StoragePools.StoragePools
      const extra = yield* scopedPool("listed")
      assert.include(yield* pools.listNames(), defaultPool)
      assert.include(yield* pools.listNames(), extra.name)
      assert.strictEqual((yield* pools.list()).find((p) => p.name === extra.name)?.description, "listed")
    }))

  it.scoped("pools: save (update), put and patch", () =>
    Effect.gen(function*() {
      const pools = yield* StoragePools.StoragePools
      const pool = yield* scopedPool("created")
      assert.isString(pool.config["source"])
      yield* pools.update(pool.name, (p) => ({ ...p, description: "saved" }))
      assert.strictEqual((yield* pools.get(pool.name)).description, "saved")
      const current = yield* pools.get(pool.name)
      yield* pools.put(pool.name, {
        description: "put",
        config: { ...current.config, "volume.size": "" }
      })
      const put = yield* pools.get(pool.name)
      assert.strictEqual(put.description, "put")
      assert.strictEqual(put.config["source"], pool.config["source"])
      yield* pools.patch(pool.name, { description: "patched" })
      const patched = yield* pools.get(pool.name)
      assert.strictEqual(patched.description, "patched")
      assert.strictEqual(patched.config["source"], pool.config["source"])
    }))

  it.effect("pools: create and delete; NotFound afterwards", () =>
    Effect.gen(function*() {
      const pools = yield* StoragePools.StoragePools
      const name = uniqueName("pool")
      const pool = yield* pools.create({ name, driver: "dir" })
      assert.strictEqual(pool.driver, "dir")
      yield* pools.delete(name)
      const failure = yield* Effect.flip(pools.get(name))
      assert.strictEqual(failure._tag, "NotFound")
      assert.include(failure.message, `Storage pool "${name}"`)
    }))

  it.effect("pools: resources (space and inodes)", () =>
    Effect.gen(function*() {
      const pools = yield* StoragePools.StoragePools
      const r = yield* pools.resources(defaultPool)
      assert.isAbove(r.space.total, 0)
      assert.isAbove(r.space.used, 0)
      assert.isAtMost(r.space.used, r.space.total)
      assert.isAbove(r.inodes.total, 0)
    }))

  // --- volumes -------------------------------------------------------------------

  it.scoped("volumes: create, get, list, delete", () =>
    Effect.gen(function*() {
      const volumes = yield* StorageVolumes.StorageVolumes
      const name = uniqueName("vol")
      const created = yield* volumes.create(defaultPool, {
        name,
        description: "made by a test",
        config: { "user.purpose": "test" }
      })
      yield* Effect.addFinalizer(() => quietly(volumes.delete({ pool: defaultPool, name })))
      assert.strictEqual(created.name, name)
      assert.strictEqual(created.type, "custom")
      assert.strictEqual(created.content_type, "filesystem")
      assert.strictEqual(created.description, "made by a test")
      assert.strictEqual(created.config["user.purpose"], "test")
      assert.deepStrictEqual(
        yield* volumes.listNames(defaultPool, { type: "custom" }).pipe(
          Effect.map((vs) => vs.filter((v) => v.name === name))
        ),
        [{ type: "custom", name }]
      )
      assert.isTrue((yield* volumes.list(defaultPool, { type: "custom" })).some((v) => v.name === name))
      yield* volumes.delete({ pool: defaultPool, name })
      assert.isFalse(yield* volumes.exists({ pool: defaultPool, name }))
      const failure = yield* Effect.flip(volumes.get({ pool: defaultPool, name }))
      assert.strictEqual(failure._tag, "NotFound")
      assert.include(failure.message, `Storage volume "${name}"`)
    }))

  it.scoped("volumes: update, patch and rename", () =>
    Effect.gen(function*() {
      const volumes = yield* StorageVolumes.StorageVolumes
      const vol = yield* scopedVolume(defaultPool, { config: { "user.a": "1" } })
      yield* volumes.update(vol, (v) => ({ ...v, description: "updated", config: { ...v.config, "user.b": "2" } }))
      const updated = yield* volumes.get(vol)
      assert.strictEqual(updated.description, "updated")
      assert.strictEqual(updated.config["user.a"], "1")
      assert.strictEqual(updated.config["user.b"], "2")
      yield* volumes.patch(vol, { config: { "user.c": "3" } })
      const patched = yield* volumes.get(vol)
      // the description survives a patch that does not mention it
      assert.strictEqual(patched.description, "updated")
      assert.deepStrictEqual(
        [patched.config["user.a"], patched.config["user.b"], patched.config["user.c"]],
        ["1", "2", "3"]
      )
      const old = vol.name
      const newName = uniqueName("vol-new")
      yield* volumes.rename(vol, newName)
      vol.name = newName
      assert.isFalse(yield* volumes.exists({ pool: defaultPool, name: old }))
      assert.strictEqual((yield* volumes.get(vol)).description, "updated")
    }))

  it.scoped("volumes: state (a dir pool may not know the usage)", () =>
    Effect.gen(function*() {
      const volumes = yield* StorageVolumes.StorageVolumes
      const vol = yield* scopedVolume(defaultPool)
      const state = yield* Effect.either(volumes.state(vol))
      if (state._tag === "Right") {
        assert.instanceOf(state.right, StorageVolumes.StorageVolumeState)
        if (state.right.usage !== null) assert.isAtLeast(state.right.usage.used, 0)
      } else {
        // LXD 5.0 on `dir` without project quotas
        assert.strictEqual(state.left._tag, "LXDAPIException")
        if (state.left._tag === "LXDAPIException") assert.match(state.left.serverMessage, /not supported/i)
      }
      const missing = yield* Effect.flip(volumes.state({ pool: defaultPool, name: uniqueName("nope") }))
      assert.strictEqual(missing._tag, "NotFound")
    }))

  it.scoped("volumes of other types by type and name: an instance's container volume", () =>
    Effect.gen(function*() {
      const volumes = yield* StorageVolumes.StorageVolumes
      const instance = yield* container(server.env.imageAlias, { start: false })
      const ref = { pool: defaultPool, type: "container", name: instance } as const
      const v = yield* volumes.get(ref)
      assert.strictEqual(v.type, "container")
      assert.strictEqual(v.name, instance)
      assert.isTrue(v.used_by.some((u) => u.split("?")[0] === `/1.0/instances/${instance}`))
      const listed = yield* volumes.listNames(defaultPool, { type: "container" })
      assert.isTrue(listed.some((x) => x.name === instance && x.type === "container"))
      assert.isFalse((yield* volumes.listNames(defaultPool, { type: "custom" })).some((x) => x.name === instance))
      assert.isFalse(yield* volumes.exists({ pool: defaultPool, type: "custom", name: instance }))
    }))

  it.scoped(
    "volumes: attached to an instance as a disk and written from inside; snapshot restored",
    () =>
      Effect.gen(function*() {
        const volumes = yield* StorageVolumes.StorageVolumes
        const vol = yield* scopedVolume(defaultPool)
        const instance = yield* container(server.env.imageAlias, {
          devices: { data: { type: "disk", pool: defaultPool, source: vol.name, path: "/mnt/data" } }
        })
        assert.isTrue((yield* volumes.get(vol)).used_by.some((u) => u.split("?")[0] === `/1.0/instances/${instance}`))
        assert.strictEqual(yield* execIn(instance, ["sh", "-c", "echo first > /mnt/data/note.txt"]), 0)
        assert.strictEqual(yield* execIn(instance, ["grep", "-qx", "first", "/mnt/data/note.txt"]), 0)

        const snap = yield* volumes.snapshots.create(vol, { name: "before" })
        assert.strictEqual(snap.name, "before")
        assert.strictEqual(yield* execIn(instance, ["sh", "-c", "echo second > /mnt/data/note.txt"]), 0)
        assert.strictEqual(yield* execIn(instance, ["grep", "-qx", "second", "/mnt/data/note.txt"]), 0)

        yield* Effect.flatMap(Instances.Instances, (i) => i.stop(instance, { force: true }))
        yield* volumes.snapshots.restore(vol, "before")
        yield* Effect.flatMap(Instances.Instances, (i) => i.start(instance))
        assert.strictEqual(yield* execIn(instance, ["grep", "-qx", "first", "/mnt/data/note.txt"]), 0)
        assert.strictEqual(yield* execIn(instance, ["grep", "-q", "second", "/mnt/data/note.txt"]), 1)
      }),
    { timeout: 120_000 }
  )

  it.scoped("snapshots: create (auto-named and with expiry), list, get, rename, update, delete", () =>
    Effect.gen(function*() {
      const volumes = yield* StorageVolumes.StorageVolumes
      const vol = yield* scopedVolume(defaultPool)
      const snap0 = yield* volumes.snapshots.create(vol)
      const snap1 = yield* volumes.snapshots.create(vol)
      assert.strictEqual(snap0.name, "snap0")
      assert.strictEqual(snap1.name, "snap1")
      assert.isNull(snap0.expires_at)
      const expiry = new Date(Date.now() + 7 * 86_400_000)
      expiry.setUTCMilliseconds(0)
      const named = yield* volumes.snapshots.create(vol, { name: "keep", expiresAt: expiry })
      assert.strictEqual(named.name, "keep")
      assert.strictEqual(new Date(named.expires_at ?? 0).getTime(), expiry.getTime())
      assert.deepStrictEqual([...(yield* volumes.snapshots.listNames(vol))].sort(), ["keep", "snap0", "snap1"])
      const full = yield* volumes.snapshots.list(vol)
      assert.deepStrictEqual(full.map((s) => s.name).sort(), ["keep", "snap0", "snap1"])
      // the listing and a single read agree (LXD 5.0 leaves content_type empty in listings)
      const listed0 = full.find((s) => s.name === "snap0")
      const got0 = yield* volumes.snapshots.get(vol, "snap0")
      assert.deepStrictEqual(
        [listed0?.name, listed0?.description, listed0?.expires_at, listed0?.config],
        [got0.name, got0.description, got0.expires_at, got0.config]
      )
      // the volume listing does not mix snapshots in
      assert.isFalse((yield* volumes.list(defaultPool, { type: "custom" })).some((v) => v.name.includes("/")))

      yield* volumes.snapshots.delete(vol, "snap1")
      assert.isFalse(yield* volumes.snapshots.exists(vol, "snap1"))
      assert.strictEqual((yield* Effect.flip(volumes.snapshots.get(vol, "snap1")))._tag, "NotFound")

      yield* volumes.snapshots.rename(vol, "snap0", "first")
      assert.isTrue(yield* volumes.snapshots.exists(vol, "first"))
      assert.isFalse(yield* volumes.snapshots.exists(vol, "snap0"))

      yield* volumes.snapshots.update(vol, "first", (s) => ({ ...s, description: "the first one" }))
      assert.strictEqual((yield* volumes.snapshots.get(vol, "first")).description, "the first one")
      yield* volumes.snapshots.patch(vol, "keep", { expires_at: null })
      assert.isNull((yield* volumes.snapshots.get(vol, "keep")).expires_at)
    }))

  it.scoped("copy and move between two dir pools", () =>
    Effect.gen(function*() {
      const volumes = yield* StorageVolumes.StorageVolumes
      const second = yield* scopedPool("second")
      const vol = yield* scopedVolume(defaultPool, { config: { "user.origin": "source" } })
      yield* volumes.snapshots.create(vol, { name: "s1" })

      // a full copy into the other pool keeps config and snapshots
      const copyName = uniqueName("copy")
      const copy = yield* Effect.acquireRelease(
        volumes.copy(vol, { pool: second.name, name: copyName }),
        () => quietly(volumes.delete({ pool: second.name, name: copyName }))
      )
      assert.strictEqual(copy.config["user.origin"], "source")
      assert.deepStrictEqual(yield* volumes.snapshots.listNames({ pool: second.name, name: copyName }), ["s1"])
      assert.isTrue(yield* volumes.exists(vol))

      // volume only: no snapshots
      const bareName = uniqueName("bare")
      yield* Effect.acquireRelease(
        volumes.copy(vol, { pool: second.name, name: bareName, volumeOnly: true }),
        () => quietly(volumes.delete({ pool: second.name, name: bareName }))
      )
      assert.deepStrictEqual(yield* volumes.snapshots.listNames({ pool: second.name, name: bareName }), [])

      // move the copy back to the default pool under a new name
      const movedName = uniqueName("moved")
      const moved = yield* Effect.acquireRelease(
        volumes.move({ pool: second.name, name: copyName }, { pool: defaultPool, name: movedName }),
        () => quietly(volumes.delete({ pool: defaultPool, name: movedName }))
      )
      assert.strictEqual(moved.name, movedName)
      assert.strictEqual(moved.config["user.origin"], "source")
      assert.isFalse(yield* volumes.exists({ pool: second.name, name: copyName }))
      assert.isTrue(yield* volumes.exists({ pool: defaultPool, name: movedName }))

      // a copy onto an existing name is refused: it already exists (409)
      const clash = yield* Effect.flip(volumes.copy(vol, { pool: defaultPool, name: movedName }))
      assert.strictEqual(clash._tag, "Conflict")
    }))

  it.scoped("buckets: ExtensionNotAvailable without storage_buckets; with it, list works and create needs MinIO", () =>
    Effect.gen(function*() {
      const buckets = yield* StorageBuckets.StorageBuckets
      const http = yield* LxdHttp.LxdHttp
      const name = uniqueName("bucket")
      if (yield* http.hasExtension("storage_buckets")) {
        const listed = yield* buckets.list(defaultPool)
        assert.isArray(listed)
        assert.notInclude(yield* buckets.listNames(defaultPool), name)
        const created = yield* Effect.either(buckets.create(defaultPool, { name, description: "b" }))
        if (created._tag === "Right") {
          // a server with MinIO and a bucket address
          yield* Effect.addFinalizer(() => quietly(buckets.delete(defaultPool, name)))
          assert.strictEqual(created.right.name, name)
          yield* buckets.patch(defaultPool, name, { description: "patched" })
          assert.strictEqual((yield* buckets.get(defaultPool, name)).description, "patched")
          yield* buckets.delete(defaultPool, name)
          assert.isFalse(yield* buckets.exists(defaultPool, name))
        } else {
          yield* Effect.log(`bucket creation refused on ${server.name}: ${created.left.message}`)
          assert.strictEqual(created.left._tag, "LXDAPIException")
          assert.isFalse(yield* buckets.exists(defaultPool, name))
        }
        assert.strictEqual((yield* Effect.flip(buckets.get(defaultPool, name)))._tag, "NotFound")
      } else {
        yield* Effect.log(`buckets skipped on ${server.name}: no extension storage_buckets`)
        const calls: ReadonlyArray<Effect.Effect<unknown, LxdError.LxdError>> = [
          buckets.list(defaultPool),
          buckets.create(defaultPool, { name })
        ]
        for (const call of calls) {
          const failure = yield* Effect.flip(call)
          assert.strictEqual(failure._tag, "ExtensionNotAvailable")
          if (failure._tag === "ExtensionNotAvailable") assert.strictEqual(failure.extension, "storage_buckets")
        }
      }
    }))
})
