import { assert } from "@effect/vitest"
import { LxdError, LxdHttp, Profiles } from "effect-lxd"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { container } from "../support/fixtures.js"
import { forEachServer, quietly, uniqueName } from "../support/servers.js"

/** A profile deleted when the test's scope closes (under whatever name it has then). */
const scopedProfile = (options: Omit<Profiles.CreateOptions, "name"> = {}) =>
  Effect.gen(function*() {
    const profiles = yield* Profiles.Profiles
    const name = uniqueName("prof")
    const current = { name }
    yield* Effect.acquireRelease(
      profiles.create({ name, ...options }),
      () => quietly(profiles.delete(current.name))
    )
    return current
  })

forEachServer("profiles", (it, server) => {
  it.effect("get: the default profile", () =>
    Effect.gen(function*() {
      const profiles = yield* Profiles.Profiles
      const p = yield* profiles.get("default")
      assert.strictEqual(p.name, "default")
      assert.isObject(p.devices)
      assert.isTrue(yield* profiles.exists("default"))
    }))

  it.scoped("all: list and listNames include a new profile", () =>
    Effect.gen(function*() {
      const profiles = yield* Profiles.Profiles
      const { name } = yield* scopedProfile({ description: "listed" })
      const names = yield* profiles.listNames()
      assert.include(names, name)
      assert.include(names, "default")
      const full = yield* profiles.list()
      assert.strictEqual(full.find((p) => p.name === name)?.description, "listed")
    }))

  it.scoped("create: name, config, description and devices round-trip", () =>
    Effect.gen(function*() {
      const profiles = yield* Profiles.Profiles
      const name = uniqueName("prof")
      const created = yield* Effect.acquireRelease(
        profiles.create({
          name,
          description: "made by a test",
          config: { "limits.memory": "64MiB", "user.purpose": "testing" },
          devices: { root: { type: "disk", path: "/", pool: server.env.storagePool } }
        }),
        () => quietly(profiles.delete(name))
      )
      assert.strictEqual(created.name, name)
      const p = yield* profiles.get(name)
      assert.strictEqual(p.description, "made by a test")
      assert.deepStrictEqual(p.config, { "limits.memory": "64MiB", "user.purpose": "testing" })
      assert.deepStrictEqual(p.devices, { root: { type: "disk", path: "/", pool: server.env.storagePool } })
      assert.deepStrictEqual(p.used_by, [])
    }))

  it.scoped("create: a duplicate name is refused", () =>
    Effect.gen(function*() {
      const profiles = yield* Profiles.Profiles
      const { name } = yield* scopedProfile()
      const failure = yield* Effect.flip(profiles.create({ name }))
      assert.strictEqual(failure._tag, "LXDAPIException")
    }))

  it.scoped("save: update changes limits.memory, patch merges config", () =>
    Effect.gen(function*() {
      const profiles = yield* Profiles.Profiles
      const { name } = yield* scopedProfile({ config: { "limits.memory": "64MiB" } })
      yield* profiles.update(name, (p) => ({ ...p, config: { ...p.config, "limits.memory": "128MiB" } }))
      assert.strictEqual((yield* profiles.get(name)).config["limits.memory"], "128MiB")
      yield* profiles.patch(name, { config: { "limits.cpu": "1" }, description: "patched" })
      const p = yield* profiles.get(name)
      assert.deepStrictEqual(p.config, { "limits.memory": "128MiB", "limits.cpu": "1" })
      assert.strictEqual(p.description, "patched")
    }))

  it.scoped("put with a stale ETag is refused with 412", () =>
    Effect.gen(function*() {
      const profiles = yield* Profiles.Profiles
      const http = yield* LxdHttp.LxdHttp
      const { name } = yield* scopedProfile({ config: { "user.a": "0" } })
      const { etag } = yield* http.syncWithEtag(
        { method: "GET", path: `/1.0/profiles/${encodeURIComponent(name)}` },
        Schema.Unknown
      )
      assert.isString(etag)
      yield* profiles.patch(name, { config: { "user.a": "changed" } })
      const p = yield* profiles.get(name)
      const stale = yield* Effect.flip(profiles.put(name, { ...Profiles.toPut(p), description: "stale" }, { etag }))
      assert.strictEqual(stale._tag, "PreconditionFailed")
      assert.isTrue(LxdError.isStale(stale))
      assert.strictEqual((yield* profiles.get(name)).description, "")
    }))

  it.scoped("update reads again and retries when the profile changed between its read and its write", () =>
    Effect.gen(function*() {
      const profiles = yield* Profiles.Profiles
      const http = yield* LxdHttp.LxdHttp
      const { name } = yield* scopedProfile({ config: { "user.a": "0" } })
      // a connection whose first ETag read is followed by someone else's change: the ETag
      // update got is stale by the time it writes
      let reads = 0
      let changes = 0
      const racingHttp: LxdHttp.Service = {
        ...http,
        syncWithEtag: (request, schema) =>
          Effect.tap(
            http.syncWithEtag(request, schema),
            () => reads++ === 0 ? profiles.patch(name, { config: { "user.other": `x${++changes}` } }) : Effect.void
          )
      }
      const racing = yield* Profiles.make.pipe(Effect.provideService(LxdHttp.LxdHttp, racingHttp))
      let calls = 0
      yield* racing.update(name, (cur) => {
        calls++
        return { ...cur, config: { ...cur.config, "user.mine": String(calls) } }
      })
      assert.strictEqual(calls, 2)
      assert.strictEqual(reads, 2)
      const final = yield* profiles.get(name)
      assert.strictEqual(final.config["user.other"], "x1")
      assert.strictEqual(final.config["user.mine"], "2")
      // with no retries allowed, the same race surfaces as the 412
      reads = 0
      const failure = yield* Effect.flip(racing.update(name, (cur) => cur, { retries: 0 }))
      assert.strictEqual(failure._tag, "PreconditionFailed")
      assert.strictEqual((yield* profiles.get(name)).config["user.other"], "x2")
    }))

  it.scoped("rename: the profile answers under its new name only", () =>
    Effect.gen(function*() {
      const profiles = yield* Profiles.Profiles
      const current = yield* scopedProfile({ description: "to rename" })
      const newName = uniqueName("prof-renamed")
      yield* profiles.rename(current.name, newName)
      const old = current.name
      current.name = newName
      assert.strictEqual((yield* profiles.get(newName)).description, "to rename")
      assert.isFalse(yield* profiles.exists(old))
    }))

  it.effect("delete: then get fails with NotFound naming the profile", () =>
    Effect.gen(function*() {
      const profiles = yield* Profiles.Profiles
      const name = uniqueName("prof")
      yield* profiles.create({ name })
      yield* profiles.delete(name)
      const failure = yield* Effect.flip(profiles.get(name))
      assert.strictEqual(failure._tag, "NotFound")
      assert.include(failure.message, `Profile "${name}"`)
      assert.isFalse(yield* profiles.exists(name))
      assert.strictEqual((yield* Effect.flip(profiles.delete(name)))._tag, "NotFound")
    }))

  it.scoped("used_by lists the instance using the profile, which cannot be deleted then", () =>
    Effect.gen(function*() {
      const profiles = yield* Profiles.Profiles
      const { name } = yield* scopedProfile({ config: { "user.tag": "x" } })
      const instance = yield* container(server.env.imageAlias, { start: false, profiles: ["default", name] })
      const usedBy = yield* profiles.usedBy(name)
      assert.strictEqual(usedBy.length, 1)
      assert.match(usedBy[0]!, new RegExp(`^/1\\.0/instances/${instance}(\\?|$)`))
      const refused = yield* Effect.flip(profiles.delete(name))
      assert.strictEqual(refused._tag, "LXDAPIException")
      assert.isTrue(yield* profiles.exists(name))
    }))
})
