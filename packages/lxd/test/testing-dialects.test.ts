/**
 * The test kit's dialects where they differ, as `rest-api.yaml` (LXD 6.x) and the real
 * LXD 5.0 / Incus 6.0 say: which writes answer with a background operation, how an
 * untrusted client joins with a token (`explicit_trust_token`), selective recursion; and
 * the library's calls working on each.
 */
import { assert, describe, it } from "@effect/vitest"
import { Certificates, Instances, LxdHttp, Networks, Operations, Profiles, Server, StoragePools } from "effect-lxd"
import * as Testing from "effect-lxd/testing"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"

const dialects = ["lxd-5.0", "lxd-6", "incus-6.0"] as const

/** Whether the answer to a raw request was a background operation. */
const kindOf = (request: Parameters<Operations.Service["run"]>[0]) =>
  Effect.flatMap(Operations.Operations, (ops) => ops.run(request)).pipe(Effect.map((outcome) => outcome._tag))

describe("testing dialects: sync or background writes", () => {
  for (const dialect of dialects) {
    const lxd6 = dialect === "lxd-6"
    it.live(`${dialect}: profile create, rename and delete answer at once; put and patch are ${lxd6 ? "operations" : "sync"}`, () =>
      Effect.gen(function*() {
        assert.strictEqual(yield* kindOf({ method: "POST", path: "/1.0/profiles", body: { name: "p1" } }), "Sync")
        assert.strictEqual(
          yield* kindOf({ method: "PUT", path: "/1.0/profiles/p1", body: { config: { "limits.cpu": "1" } } }),
          lxd6 ? "Async" : "Sync"
        )
        assert.strictEqual(
          yield* kindOf({ method: "PATCH", path: "/1.0/profiles/p1", body: { description: "patched" } }),
          lxd6 ? "Async" : "Sync"
        )
        assert.strictEqual(yield* kindOf({ method: "POST", path: "/1.0/profiles/p1", body: { name: "p2" } }), "Sync")
        // the library's calls, whichever way the server answers
        const profiles = yield* Profiles.Profiles
        const p2 = yield* profiles.get("p2")
        assert.strictEqual(p2.config["limits.cpu"], "1")
        assert.strictEqual(p2.description, "patched")
        yield* profiles.update("p2", (p) => ({ ...p, config: { ...p.config, "limits.memory": "64MiB" } }))
        assert.strictEqual((yield* profiles.get("p2")).config["limits.memory"], "64MiB")
        assert.strictEqual(yield* kindOf({ method: "DELETE", path: "/1.0/profiles/p2" }), "Sync")
        assert.notInclude(yield* profiles.listNames(), "p2")
      }).pipe(Effect.provide(Testing.layer({ dialect }))))

    it.live(`${dialect}: network create, update, rename and delete are ${lxd6 ? "operations" : "sync"}`, () =>
      Effect.gen(function*() {
        const expected = lxd6 ? "Async" : "Sync"
        const config = { "ipv4.address": "198.51.100.1/24", "ipv4.nat": "false", "ipv6.address": "none" }
        assert.strictEqual(
          yield* kindOf({ method: "POST", path: "/1.0/networks", body: { name: "br1", config } }),
          expected
        )
        assert.strictEqual(
          yield* kindOf({ method: "PATCH", path: "/1.0/networks/br1", body: { description: "one" } }),
          expected
        )
        assert.strictEqual(
          yield* kindOf({ method: "POST", path: "/1.0/networks/br1", body: { name: "br2" } }),
          expected
        )
        assert.strictEqual(yield* kindOf({ method: "DELETE", path: "/1.0/networks/br2" }), expected)
        // the library's calls
        const networks = yield* Networks.Networks
        yield* networks.create({ name: "br3", config })
        const br3 = yield* networks.get("br3")
        assert.strictEqual(br3.config["ipv4.address"], "198.51.100.1/24")
        assert.strictEqual(br3.description, "")
        yield* networks.delete("br3")
        assert.deepStrictEqual([...(yield* networks.listNames())].sort(), [
          dialect === "incus-6.0" ? "incusbr0" : "lxdbr0"
        ])
        // a name that is taken is a conflict, and the bridge the default profile uses stays
        const taken = dialect === "incus-6.0" ? "incusbr0" : "lxdbr0"
        const again = yield* Effect.flip(networks.create({ name: taken, config }))
        assert.strictEqual(again._tag, "Conflict")
        const used = yield* Effect.flip(networks.delete(dialect === "incus-6.0" ? "incusbr0" : "lxdbr0"))
        assert.strictEqual(used._tag, "LXDAPIException")
      }).pipe(Effect.provide(Testing.layer({ dialect }))))

    it.live(`${dialect}: storage pool put and patch are ${lxd6 ? "operations" : "sync"}; its source stays`, () =>
      Effect.gen(function*() {
        assert.strictEqual(
          yield* kindOf({ method: "PATCH", path: "/1.0/storage-pools/default", body: { description: "patched" } }),
          lxd6 ? "Async" : "Sync"
        )
        const pools = yield* StoragePools.StoragePools
        const before = yield* pools.get("default")
        assert.strictEqual(before.description, "patched")
        yield* pools.update("default", (p) => ({ ...p, config: { ...p.config, "user.note": "kept" } }))
        const after = yield* pools.get("default")
        assert.strictEqual(after.config["user.note"], "kept")
        assert.strictEqual(after.config["source"], before.config["source"])
        const moved = yield* Effect.flip(
          pools.patch("default", { config: { source: "/elsewhere" } })
        )
        assert.strictEqual(moved._tag, "LXDAPIException")
        assert.strictEqual((yield* pools.get("default")).config["source"], before.config["source"])
      }).pipe(Effect.provide(Testing.layer({ dialect }))))
  }
})

describe("testing dialects: joining with a trust token", () => {
  for (const dialect of dialects) {
    // LXD 5.0 reads the token from `password`; LXD 6.x (explicit_trust_token) and Incus from `trust_token`
    const field = dialect === "lxd-5.0" ? "password" : "trust_token"
    const other = dialect === "lxd-5.0" ? "trust_token" : "password"
    it.live(`${dialect}: the token is read from \`${field}\` only; Server.authenticate sends it there`, () =>
      Effect.gen(function*() {
        const fake = yield* Testing.FakeLxd
        const http = yield* LxdHttp.LxdHttp
        const certificates = yield* Certificates.Certificates
        const join = (body: Record<string, unknown>) =>
          Effect.flip(http.send({ method: "POST", path: "/1.0/certificates", body }))

        const first = yield* certificates.createToken({ name: "first" })
        yield* fake.setTrusted(false)
        const wrongField = yield* join({ type: "client", [other]: Redacted.value(first.token) })
        assert.strictEqual(wrongField._tag, "Forbidden")
        yield* http.send({
          method: "POST",
          path: "/1.0/certificates",
          body: { type: "client", [field]: Redacted.value(first.token) }
        })
        assert.strictEqual((yield* http.refreshServerInfo).auth, "trusted")

        const second = yield* certificates.createToken({ name: "second" })
        yield* fake.setTrusted(false)
        const info = yield* (yield* Server.Server).authenticate({ token: second.token })
        assert.isTrue(info.trusted)
      }).pipe(Effect.provide(Testing.layer({ dialect }))))
  }
})

describe("testing dialects: selective recursion (instances_state_selective_recursion)", () => {
  const Full = Schema.Struct({
    name: Schema.String,
    state: Schema.Record({ key: Schema.String, value: Schema.Unknown })
  })
  for (const dialect of dialects) {
    const selective = dialect === "lxd-6"
    it.live(`${dialect}: recursion=2;fields= on one instance and on the list ${selective ? "selects" : "is ignored"}`, () =>
      Effect.gen(function*() {
        const http = yield* LxdHttp.LxdHttp
        const instances = yield* Instances.Instances
        yield* instances.create({ name: "c1", source: { type: "image", alias: "busybox" }, start: true })
        const one = (recursion: string) =>
          http.sync({ method: "GET", path: "/1.0/instances/c1", query: { recursion } }, Full)
        const list = (recursion: string) =>
          http.sync({ method: "GET", path: "/1.0/instances", query: { recursion } }, Schema.Array(Full))

        const everything = yield* one("1")
        assert.property(everything.state, "network")
        assert.property(everything.state, "memory")
        const onlyDisk = yield* one("2;fields=state.disk")
        assert.property(onlyDisk.state, "disk")
        assert.strictEqual("network" in onlyDisk.state, !selective)
        assert.strictEqual("memory" in onlyDisk.state, !selective)
        const none = (yield* list("2;fields="))[0]!
        assert.strictEqual(none.name, "c1")
        assert.strictEqual("disk" in none.state, !selective)
        assert.strictEqual(none.state["status"], "Running")
        yield* instances.delete("c1", { force: true })
      }).pipe(Effect.provide(Testing.layer({ dialect }))))
  }
})
