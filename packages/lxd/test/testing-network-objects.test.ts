/**
 * The test kit's network ACLs and DNS zones: the library's calls on each dialect, with
 * LXD 6.x answering writes with operations.
 */
import { assert, describe, it } from "@effect/vitest"
import { NetworkAcls, NetworkZones, Operations } from "effect-lxd"
import * as Testing from "effect-lxd/testing"
import * as Effect from "effect/Effect"

describe("testing: network ACLs and zones", () => {
  for (const dialect of ["lxd-5.0", "lxd-6", "incus-6.0"] as const) {
    it.live(`${dialect}: ACLs are created, updated, renamed and deleted; a rule without a valid action is refused`, () =>
      Effect.gen(function*() {
        const acls = yield* NetworkAcls.NetworkAcls
        const ops = yield* Operations.Operations
        const created = yield* ops.run({ method: "POST", path: "/1.0/network-acls", body: { name: "raw" } })
        assert.strictEqual(created._tag, dialect === "lxd-6" ? "Async" : "Sync")
        yield* acls.create({
          name: "web",
          ingress: [{ action: "allow", protocol: "tcp", destination_port: "80" }]
        })
        const web = yield* acls.get("web")
        assert.strictEqual(web.ingress?.[0]?.destination_port, "80")
        assert.strictEqual(web.ingress?.[0]?.state, "enabled")
        yield* acls.update("web", (a) => ({ ...a, description: "the web" }))
        assert.strictEqual((yield* acls.get("web")).description, "the web")
        yield* acls.rename("web", "www")
        assert.sameMembers([...(yield* acls.listNames())], ["raw", "www"])
        const bad = yield* Effect.flip(acls.create({ name: "bad", ingress: [{ action: "maybe" }] }))
        assert.strictEqual(bad._tag, "LXDAPIException")
        yield* acls.delete("www")
        yield* acls.delete("raw")
        assert.deepStrictEqual(yield* acls.listNames(), [])
        assert.strictEqual((yield* Effect.flip(acls.get("www")))._tag, "NotFound")
      }).pipe(Effect.provide(Testing.layer({ dialect }))))

    it.live(`${dialect}: zones are created, patched and deleted`, () =>
      Effect.gen(function*() {
        const zones = yield* NetworkZones.NetworkZones
        yield* zones.create({ name: "example.test", config: { "dns.nameservers": "ns1.example.test" } })
        yield* zones.patch("example.test", { description: "tests" })
        const zone = yield* zones.get("example.test")
        assert.strictEqual(zone.description, "tests")
        assert.strictEqual(zone.config["dns.nameservers"], "ns1.example.test")
        const invalid = yield* Effect.flip(zones.create({ name: "-bad-" }))
        assert.strictEqual(invalid._tag, "LXDAPIException")
        yield* zones.delete("example.test")
        assert.deepStrictEqual(yield* zones.listNames(), [])
      }).pipe(Effect.provide(Testing.layer({ dialect }))))
  }
})
