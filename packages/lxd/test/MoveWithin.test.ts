/**
 * Against a scripted in-memory server: the requests of `Migration.relocate` (server-side
 * move, and the copy-then-delete fallback on a server without `instance_pool_move`), the
 * extension checks of rebuild, bulk state, volume backups and the cross-pool listing
 * (failing without a request), and a migration that tries the source's next address when
 * the target cannot pull from the first.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { Instances, LxdHttp, Migration, Operations, StorageVolumeBackups, StorageVolumes } from "../src/index.js"
import { error, json, operation, type Recorded, sync } from "./fakeServer.js"
import { memoryConnection, type MemoryHandler } from "./memoryTransport.js"

const instance = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  type: "container",
  status: "Stopped",
  status_code: 102,
  architecture: "x86_64",
  config: { "volatile.uuid": "u-1" },
  devices: {},
  expanded_devices: { root: { type: "disk", path: "/", pool: "p1" } },
  profiles: ["default"],
  created_at: "2026-01-01T00:00:00Z",
  ...extra
})

const accepted = (id: string, fields: Record<string, unknown> = {}) => ({
  type: "async",
  status: "Operation created",
  status_code: 100,
  operation: `/1.0/operations/${id}`,
  metadata: operation(id, fields)
})

/** Answers any write with a finished operation and any GET of an instance with `instance(name)`. */
const lenient: MemoryHandler = (req, res) => {
  if (req.url.startsWith("/1.0/operations/")) {
    const id = req.url.split("/")[3]!.split("?")[0]!
    return json(res, 200, sync(operation(id, { status: "Success", status_code: 200 })))
  }
  if (req.method === "GET" && req.url.startsWith("/1.0/instances/")) {
    const name = decodeURIComponent(req.url.split("/")[3]!.split("?")[0]!)
    return json(res, 200, sync(instance(name)))
  }
  if (req.method !== "GET") return json(res, 202, accepted(`op${Math.random().toString(36).slice(2, 6)}`))
  json(res, 500, error(500, "unexpected"))
}

const services = (route: MemoryHandler, extensions: ReadonlyArray<string>, addresses: ReadonlyArray<string> = []) =>
  Effect.gen(function*() {
    const withAddresses = sync({
      api_extensions: extensions,
      api_status: "stable",
      api_version: "1.0",
      auth: "trusted",
      public: false,
      auth_methods: ["tls"],
      config: {},
      environment: { server: "lxd", server_version: "5.0.2", addresses, architectures: ["x86_64"], certificate: "PEM" }
    })
    const { http, requests } = yield* memoryConnection(route, {}, withAddresses)
    const provide = <A, E>(effect: Effect.Effect<A, E, LxdHttp.LxdHttp | Operations.Operations>) =>
      effect.pipe(
        Effect.provideServiceEffect(Operations.Operations, Operations.make),
        Effect.provideService(LxdHttp.LxdHttp, http)
      )
    return {
      http,
      requests,
      migration: yield* provide(Migration.make),
      instances: yield* provide(Instances.make),
      backups: yield* provide(StorageVolumeBackups.make),
      volumes: yield* provide(StorageVolumes.make)
    }
  })

const writes = (requests: ReadonlyArray<Recorded>) =>
  requests.filter((r) => r.method !== "GET").map((r) => `${r.method} ${r.url.split("?")[0]}`)

describe("Migration.relocate (scripted server)", () => {
  it.scoped("a server-side move: migration fields in the body, the member as ?target=", () =>
    Effect.gen(function*() {
      const s = yield* services(lenient, ["instances", "clustering", "instance_pool_move", "instance_project_move"])
      const moved = yield* s.migration.relocate("c1", { member: "node2", pool: "p2", project: "other" })
      assert.strictEqual(moved.name, "c1")
      // first the member, then pool and project (LXD 5.0 ignores the member when they come together)
      const [member, place] = s.requests.filter((r) => r.method === "POST")
      assert.strictEqual(member!.url, "/1.0/instances/c1?target=node2")
      assert.deepStrictEqual(JSON.parse(member!.body), { name: "c1", migration: true, live: false })
      assert.strictEqual(place!.url, "/1.0/instances/c1")
      assert.deepStrictEqual(JSON.parse(place!.body), {
        name: "c1",
        migration: true,
        live: false,
        pool: "p2",
        project: "other"
      })
      // read back in the project it went to
      assert.isTrue(s.requests.some((r) => r.method === "GET" && r.url === "/1.0/instances/c1?project=other"))
    }))

  it.scoped("without instance_pool_move: copy to a temporary name on the pool, delete, rename back", () =>
    Effect.gen(function*() {
      const s = yield* services(lenient, ["instances"])
      yield* s.migration.relocate("c1", { pool: "p2" })
      assert.deepStrictEqual(writes(s.requests), [
        "POST /1.0/instances",
        "DELETE /1.0/instances/c1",
        "POST /1.0/instances/c1-relocating"
      ])
      const copy = JSON.parse(s.requests.find((r) => r.method === "POST")!.body)
      assert.strictEqual(copy.name, "c1-relocating")
      assert.deepStrictEqual(copy.source, { type: "copy", source: "c1" })
      // the root disk came from a profile: the copy gets its own, on the new pool
      assert.deepStrictEqual(copy.devices.root, { type: "disk", path: "/", pool: "p2" })
      assert.strictEqual(copy.config["volatile.uuid"], "u-1")
      const rename = s.requests.find((r) => r.method === "POST" && r.url.startsWith("/1.0/instances/c1-relocating"))!
      assert.deepStrictEqual(JSON.parse(rename.body), { name: "c1" })
    }))

  it.scoped("a member move on a server without clustering fails before any request", () =>
    Effect.gen(function*() {
      const s = yield* services(lenient, ["instances"])
      const e = yield* Effect.flip(s.migration.relocate("c1", { member: "node2" }))
      assert.strictEqual(e._tag, "ExtensionNotAvailable")
      assert.deepStrictEqual(writes(s.requests), [])
    }))
})

describe("extension checks without a request (scripted server)", () => {
  it.scoped("rebuild, bulk state, copy options, volume backups and listAll", () =>
    Effect.gen(function*() {
      const s = yield* services(lenient, ["instances"])
      const tags = [
        yield* Effect.flip(s.instances.rebuild("c1", { type: "none" })),
        yield* Effect.flip(s.instances.changeStateAll("stop")),
        yield* Effect.flip(s.instances.copy("c1", "c2", { refresh: true })),
        yield* Effect.flip(s.instances.copy("c1", "c2", { allowInconsistent: true })),
        yield* Effect.flip(s.backups.create({ pool: "p", name: "v" })),
        yield* Effect.flip(s.backups.import("p", new Uint8Array(1), { name: "v" })),
        yield* Effect.flip(s.backups.importIso("p", new Uint8Array(1), { name: "v" })),
        yield* Effect.flip(s.volumes.listAll())
      ].map((e) => (e._tag === "ExtensionNotAvailable" ? e.extension : e._tag))
      assert.deepStrictEqual(tags, [
        "instances_rebuild",
        "instance_bulk_state_change",
        "container_incremental_copy",
        "instance_allow_inconsistent_copy",
        "custom_volume_backup",
        "custom_volume_backup",
        "custom_volume_iso",
        "storage_volumes_all"
      ])
      assert.deepStrictEqual(s.requests.filter((r) => r.url !== "/1.0"), [])
    }))

  it.scoped("with the extensions: the rebuild and bulk state bodies", () =>
    Effect.gen(function*() {
      const s = yield* services(lenient, ["instances", "instances_rebuild", "instance_bulk_state_change"])
      yield* s.instances.rebuild("c1", { type: "image", alias: "debian" })
      yield* s.instances.changeStateAll("stop", { force: true })
      const [rebuild, bulk] = s.requests.filter((r) => r.method === "POST" || r.method === "PUT")
      assert.strictEqual(rebuild!.url, "/1.0/instances/c1/rebuild")
      assert.deepStrictEqual(JSON.parse(rebuild!.body), { source: { type: "image", alias: "debian" } })
      assert.strictEqual(bulk!.url, "/1.0/instances")
      assert.deepStrictEqual(JSON.parse(bulk!.body), {
        state: { action: "stop", timeout: 30, force: true, stateful: false }
      })
    }))
})

describe("migration tries every address of the source (scripted servers)", () => {
  it.scoped("the target cannot pull from the first address; the second one works", () =>
    Effect.gen(function*() {
      const source = yield* services(
        (req, res) => {
          if (req.method === "POST" && req.url.startsWith("/1.0/instances/c1")) {
            return json(res, 202, accepted("src", { class: "websocket", metadata: { control: "s1", fs: "s2" } }))
          }
          lenient(req, res)
        },
        ["instances"],
        ["192.0.2.1:8443", "127.0.0.1:8443"]
      )
      const target = yield* services((req, res) => {
        if (req.method === "POST" && req.url.startsWith("/1.0/instances")) {
          const body = JSON.parse(req.body)
          return body.source.operation.startsWith("https://192.0.2.1:8443/")
            ? json(res, 500, error(500, "Error transferring instance data: dial tcp 192.0.2.1:8443: refused"))
            : json(res, 202, accepted("dst"))
        }
        lenient(req, res)
      }, ["instances"])
      const copied = yield* source.migration.copyInstance("c1", target.http)
      assert.strictEqual(copied.name, "c1")
      const tried = target.requests
        .filter((r) => r.method === "POST")
        .map((r) => JSON.parse(r.body).source.operation)
      assert.deepStrictEqual(tried, [
        "https://192.0.2.1:8443/1.0/operations/src",
        "https://127.0.0.1:8443/1.0/operations/src"
      ])
      // the source operation was not cancelled
      assert.isFalse(source.requests.some((r) => r.method === "DELETE"))
    }))

  it.scoped("when no address works the last failure is reported and the source operation cancelled", () =>
    Effect.gen(function*() {
      const source = yield* services(
        (req, res) => {
          if (req.method === "POST" && req.url.startsWith("/1.0/instances/c1")) {
            return json(res, 202, accepted("src", { class: "websocket", metadata: { control: "s1" } }))
          }
          if (req.url.startsWith("/1.0/operations/src/wait")) return // the source waits for a connection
          lenient(req, res)
        },
        ["instances"],
        ["192.0.2.1:8443", "192.0.2.2:8443"]
      )
      const target = yield* services((req, res) => {
        if (req.method === "POST") {
          return json(res, 500, error(500, `cannot reach ${JSON.parse(req.body).source.operation}`))
        }
        lenient(req, res)
      }, ["instances"])
      const e = yield* Effect.flip(source.migration.copyInstance("c1", target.http))
      assert.strictEqual(e._tag, "LXDAPIException")
      assert.include(e.message, "192.0.2.2")
      assert.isTrue(source.requests.some((r) => r.method === "DELETE" && r.url.startsWith("/1.0/operations/src")))
    }))
})
