import { assert } from "@effect/vitest"
import { Instances, Lxd, LxdError, LxdHttp, Profiles, StoragePools, StorageVolumes } from "effect-lxd"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { makeCert } from "../support/certs.js"
import { forEachServer, quietly, uniqueName } from "../support/servers.js"

forEachServer("errors named for what they mean", (it, server) => {
  it.scoped("creating a volume that exists is a Conflict (409)", () =>
    Effect.gen(function*() {
      const volumes = yield* StorageVolumes.StorageVolumes
      const pool = server.env.storagePool
      const name = uniqueName("dup")
      yield* Effect.acquireRelease(
        volumes.create(pool, { name }),
        () => quietly(volumes.delete({ pool, name }))
      )
      const again = yield* Effect.flip(volumes.create(pool, { name }))
      assert.strictEqual(again._tag, "Conflict", again.message)
      if (again._tag === "Conflict") {
        assert.strictEqual(again.status, 409)
        assert.strictEqual(again.errorCode, 409)
        assert.match(again.serverMessage, /already exists/)
      }
    }))

  it.effect("creating a storage pool that exists is a Conflict (409), and nothing changes", () =>
    Effect.gen(function*() {
      const pools = yield* StoragePools.StoragePools
      const before = yield* pools.get(server.env.storagePool)
      const again = yield* Effect.flip(pools.create({ name: server.env.storagePool, driver: before.driver }))
      assert.strictEqual(again._tag, "Conflict", again.message)
      assert.include(again.message, `(POST /1.0/storage-pools)`)
      assert.deepStrictEqual((yield* pools.get(server.env.storagePool)).config, before.config)
    }))

  it.scoped("an existing profile is refused with 500 by both servers: that stays LXDAPIException", () =>
    Effect.gen(function*() {
      const profiles = yield* Profiles.Profiles
      const name = uniqueName("dup")
      yield* Effect.acquireRelease(profiles.create({ name }), () => quietly(profiles.delete(name)))
      const again = yield* Effect.flip(profiles.create({ name }))
      assert.strictEqual(again._tag, "LXDAPIException", again.message)
      if (again._tag === "LXDAPIException") {
        assert.strictEqual(again.status, 500)
        assert.match(again.serverMessage, /already exists/)
      }
    }))

  // LXD 5.0 and Incus 6.0 leave a volume's description out of its ETag: change its config
  it.scoped("a stale If-Match is PreconditionFailed, and the write does not happen", () =>
    Effect.gen(function*() {
      const volumes = yield* StorageVolumes.StorageVolumes
      const http = yield* LxdHttp.LxdHttp
      const pool = server.env.storagePool
      const name = uniqueName("stale")
      yield* Effect.acquireRelease(
        volumes.create(pool, { name, config: { "user.step": "first" } }),
        () => quietly(volumes.delete({ pool, name }))
      )
      const path = `/1.0/storage-pools/${encodeURIComponent(pool)}/volumes/custom/${encodeURIComponent(name)}`
      const { etag, value } = yield* http.syncWithEtag(
        { method: "GET", path },
        Schema.Struct({ config: Schema.Record({ key: Schema.String, value: Schema.String }) })
      )
      assert.isString(etag)
      yield* volumes.patch({ pool, name }, { config: { "user.step": "second" } })
      const stale = yield* Effect.flip(
        http.send({ method: "PUT", path, body: { config: { ...value.config, "user.step": "third" } }, etag })
      )
      assert.strictEqual(stale._tag, "PreconditionFailed", stale.message)
      assert.isTrue(LxdError.isStale(stale))
      assert.strictEqual((yield* volumes.get({ pool, name })).config["user.step"], "second")
    }))

  it.scoped.skipIf(server.lacks("https"))(
    "an untrusted client certificate is Forbidden (403) on a typed call (needs https)",
    () =>
      Effect.gen(function*() {
        const { cert, key } = makeCert(uniqueName("untrusted"))
        const refused = yield* Effect.flip(
          Effect.flatMap(Instances.Instances, (instances) => instances.list()).pipe(
            Effect.provide(Lxd.layerHttps(server.httpsAs(cert, key)))
          )
        )
        assert.strictEqual(refused._tag, "Forbidden", refused.message)
        if (refused._tag === "Forbidden") {
          assert.strictEqual(refused.status, 403)
          assert.strictEqual(refused.path, "/1.0/instances")
        }
      })
  )
})
