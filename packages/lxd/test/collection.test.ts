import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import {
  Certificates,
  Cluster,
  Lxd,
  LxdHttp,
  LxdTransport,
  NetworkZones,
  Operations,
  Profiles,
  Projects,
  StoragePools
} from "../src/index.js"
import { collection } from "../src/internal/collection.js"
import { path } from "../src/internal/path.js"
import { error, json, type Recorded, serverInfo, sync } from "./fakeServer.js"
import { type MemoryHandler, memoryTransport } from "./memoryTransport.js"

const servicesOver = (route: MemoryHandler, extensions: ReadonlyArray<string> = ["instances"]) => {
  const { requests, transport } = memoryTransport(route, serverInfo(extensions))
  const layer = Lxd.layerServices.pipe(
    Layer.provideMerge(LxdHttp.layer()),
    Layer.provide(Layer.succeed(LxdTransport.LxdTransport, transport))
  )
  return { requests, layer }
}

const writes = (requests: ReadonlyArray<Recorded>) => requests.filter((r) => r.method !== "GET")

const profile = {
  name: "small",
  description: "keep me",
  config: { "limits.cpu": "1" },
  devices: { eth0: { type: "nic", network: "lxdbr0" } },
  used_by: []
}

describe("the resource builder", () => {
  it.effect("patch changes only the given fields: a profile's description survives a config patch", () => {
    const { layer, requests } = servicesOver((req, res) => {
      if (req.method === "GET") return json(res, 200, sync(profile), { etag: "e1" })
      json(res, 200, sync({}))
    })
    return Effect.gen(function*() {
      const profiles = yield* Profiles.Profiles
      yield* profiles.patch("small", { config: { "limits.memory": "1GiB" } })
      const [write] = writes(requests)
      assert.strictEqual(write!.method, "PATCH")
      assert.strictEqual(write!.url, "/1.0/profiles/small")
      assert.strictEqual(write!.headers["if-match"], "e1")
      // config and devices are merged by the server: only the changes are sent for them
      assert.deepStrictEqual(JSON.parse(write!.body), { description: "keep me", config: { "limits.memory": "1GiB" } })
    }).pipe(Effect.provide(layer))
  })

  // the retries wait on the real clock
  it.live("update reads with the ETag, writes with If-Match and starts again on 412", () => {
    let gets = 0
    let puts = 0
    const { layer, requests } = servicesOver((req, res) => {
      if (req.method === "GET") {
        gets++
        return json(res, 200, sync({ ...profile, description: `v${gets}` }), { etag: `e${gets}` })
      }
      puts++
      if (puts === 1) return json(res, 412, error(412, "Precondition failed"))
      json(res, 200, sync({}))
    })
    return Effect.gen(function*() {
      const profiles = yield* Profiles.Profiles
      yield* profiles.update("small", (p) => ({ ...p, description: `${p.description}+` }))
      const put = writes(requests)
      assert.deepStrictEqual(put.map((r) => r.method), ["PUT", "PUT"])
      assert.deepStrictEqual(put.map((r) => r.headers["if-match"]), ["e1", "e2"])
      // the retry applied the change to what it read the second time
      assert.strictEqual(JSON.parse(put[1]!.body).description, "v2+")
    }).pipe(Effect.provide(layer))
  })

  it.live("patch is retried on 412 too", () => {
    let patches = 0
    const { layer, requests } = servicesOver((req, res) => {
      if (req.method === "GET") return json(res, 200, sync(profile), { etag: "e" })
      patches++
      if (patches === 1) return json(res, 412, error(412, "Precondition failed"))
      json(res, 200, sync({}))
    })
    return Effect.gen(function*() {
      yield* (yield* Profiles.Profiles).patch("small", { description: "new" })
      assert.deepStrictEqual(writes(requests).map((r) => r.method), ["PATCH", "PATCH"])
      assert.strictEqual(requests.filter((r) => r.url === "/1.0/profiles/small" && r.method === "GET").length, 2)
    }).pipe(Effect.provide(layer))
  })

  it.effect("a guarded collection checks its extension before every call", () => {
    const { layer, requests } = servicesOver((_req, res) => json(res, 200, sync([])), ["instances"])
    return Effect.gen(function*() {
      const zones = yield* NetworkZones.NetworkZones
      const calls: ReadonlyArray<Effect.Effect<unknown, { readonly _tag: string }>> = [
        zones.list(),
        zones.listNames(),
        zones.get("z"),
        zones.delete("z"),
        zones.patch("z", { description: "d" }),
        zones.records.get("z", "r")
      ]
      for (const call of calls) {
        const result = yield* Effect.either(call)
        assert.isTrue(Either.isLeft(result) && result.left._tag === "ExtensionNotAvailable")
      }
      // nothing but the server info was asked for
      assert.isFalse(requests.some((r) => r.url.startsWith("/1.0/network-zones")))
    }).pipe(Effect.provide(layer))
  })

  it.effect("server-wide collections send no project; project ones send the current project", () => {
    const { layer, requests } = servicesOver((req, res) => {
      if (req.url.startsWith("/1.0/storage-pools/p")) return json(res, 200, sync({ name: "p", driver: "dir" }))
      if (req.url.startsWith("/1.0/projects/x")) return json(res, 200, sync({ name: "x" }), { etag: "e" })
      json(res, 200, sync([]))
    })
    return Effect.gen(function*() {
      const pools = yield* StoragePools.StoragePools
      const projects = yield* Projects.Projects
      const profiles = yield* Profiles.Profiles
      yield* Lxd.withProject("staging")(
        Effect.all([
          pools.list(),
          pools.listNames(),
          pools.get("p"),
          projects.patch("x", { description: "d" }),
          profiles.list()
        ])
      )
      const pooled = requests.filter((r) => r.url.startsWith("/1.0/storage-pools") || r.url.startsWith("/1.0/projects"))
      assert.isAbove(pooled.length, 4)
      for (const r of pooled) assert.notInclude(r.url, "project=", r.url)
      assert.include(requests.find((r) => r.url.startsWith("/1.0/profiles"))!.url, "project=staging")
    }).pipe(Effect.provide(layer))
  })

  it.effect("patch via PUT (network zones) merges config client-side and keeps the rest", () => {
    const zone = { name: "z", description: "keep", config: { "dns.nameservers": "ns1", a: "1" } }
    const { layer, requests } = servicesOver((req, res) => {
      if (req.method === "GET") return json(res, 200, sync(zone), { etag: "ez" })
      json(res, 200, sync({}))
    }, ["network_dns"])
    return Effect.gen(function*() {
      yield* (yield* NetworkZones.NetworkZones).patch("z", { config: { a: "2" } })
      const [write] = writes(requests)
      assert.strictEqual(write!.method, "PUT")
      assert.strictEqual(write!.headers["if-match"], "ez")
      assert.deepStrictEqual(JSON.parse(write!.body), {
        description: "keep",
        config: { "dns.nameservers": "ns1", a: "2" }
      })
    }).pipe(Effect.provide(layer))
  })

  it.effect("nested collections: parents first; lists read null as []; names are decoded; create reads back", () => {
    const { layer, requests } = servicesOver((req, res) => {
      if (req.method === "GET" && req.url.startsWith("/1.0/things/a%20b/items?recursion=1")) {
        return json(res, 200, sync(null))
      }
      if (req.method === "GET" && req.url === "/1.0/things/a%20b/items") {
        return json(res, 200, sync(["/1.0/things/a%20b/items/x%2Fy", "/1.0/things/a%20b/items/z?project=p"]))
      }
      if (req.url.endsWith("/gone")) return json(res, 404, error(404, "not found"))
      if (req.method === "GET") return json(res, 200, sync({ name: "n", note: "" }))
      json(res, 200, sync({}))
    })
    return Effect.gen(function*() {
      const { calls: items } = collection(yield* LxdHttp.LxdHttp, yield* Operations.Operations, {
        collection: (thing: string) => path`/1.0/things/${thing}/items`,
        item: (thing: string, name: string) => path`/1.0/things/${thing}/items/${name}`,
        schema: Schema.Struct({ name: Schema.String, note: Schema.String }),
        toPut: (i) => ({ note: i.note }),
        createBody: (options: { readonly name: string }) => options,
        createdName: (options) => options.name
      })
      assert.deepStrictEqual(yield* items.list("a b"), [])
      assert.deepStrictEqual(yield* items.listNames("a b"), ["x/y", "z"])
      assert.deepStrictEqual(yield* items.create("a b", { name: "n" }), { name: "n", note: "" })
      yield* items.put("a b", "n", { note: "x" }, { etag: "t" })
      yield* items.rename("a b", "n", "m")
      assert.isFalse(yield* items.exists("a b", "gone"))
      assert.isTrue(yield* items.exists("a b", "n"))
      const w = writes(requests).map((r) => `${r.method} ${r.url} ${r.body} ${r.headers["if-match"] ?? ""}`)
      assert.deepStrictEqual(w, [
        `POST /1.0/things/a%20b/items {"name":"n"} `,
        `PUT /1.0/things/a%20b/items/n {"note":"x"} t`,
        `POST /1.0/things/a%20b/items/n {"name":"m"} `
      ])
    }).pipe(Effect.provide(layer))
  })

  it.effect("certificates are server-wide for every call: a patch under a project sends none, and keeps the other fields", () => {
    const cert = {
      name: "ci",
      type: "client",
      restricted: true,
      projects: ["a"],
      certificate: "x",
      fingerprint: "ab12"
    }
    const { layer, requests } = servicesOver((req, res) => {
      if (req.method === "GET") return json(res, 200, sync(cert), { etag: "ec" })
      json(res, 200, sync({}))
    })
    return Effect.gen(function*() {
      const certificates = yield* Certificates.Certificates
      yield* Lxd.withProject("staging")(certificates.patch("ab12", { projects: ["a", "b"] }))
      const [write] = writes(requests)
      // before, the write carried `?project=staging` (only the read was server-wide)
      assert.strictEqual(write!.url, "/1.0/certificates/ab12")
      assert.strictEqual(write!.method, "PATCH")
      assert.deepStrictEqual(JSON.parse(write!.body), {
        name: "ci",
        type: "client",
        restricted: true,
        projects: ["a", "b"]
      })
    }).pipe(Effect.provide(layer))
  })

  it.effect("cluster groups patch with PUT (every field) and send neither project nor target", () => {
    const group = { name: "g", description: "keep", members: ["m1"] }
    const { layer, requests } = servicesOver((req, res) => {
      if (req.method === "GET") return json(res, 200, sync(group), { etag: "eg" })
      json(res, 200, sync({}))
    }, ["clustering_groups"])
    return Effect.gen(function*() {
      const cluster = yield* Cluster.Cluster
      yield* Lxd.withTarget("m2")(Lxd.withProject("staging")(cluster.groups.patch("g", { members: ["m1", "m2"] })))
      const [write] = writes(requests)
      assert.strictEqual(`${write!.method} ${write!.url}`, "PUT /1.0/cluster/groups/g")
      assert.strictEqual(write!.headers["if-match"], "eg")
      assert.deepStrictEqual(JSON.parse(write!.body), { description: "keep", members: ["m1", "m2"] })
    }).pipe(Effect.provide(layer))
  })
})
