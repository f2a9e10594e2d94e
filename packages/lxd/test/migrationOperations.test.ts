/**
 * Against scripted in-memory servers: the `Migration` variants that return the target's
 * operation. They give the target the first address it accepts, hand back its operation
 * without waiting, and follow the transfer in the caller's scope: the source's operation
 * is cancelled when the target's fails, and both are cancelled when the scope closes
 * before the end.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { LxdHttp, Migration, Operations } from "../src/index.js"
import { error, json, operation, type Recorded, sync } from "./fakeServer.js"
import { memoryConnection, type MemoryHandler } from "./memoryTransport.js"

const instance = (name: string) => ({
  name,
  type: "container",
  status: "Stopped",
  status_code: 102,
  architecture: "x86_64",
  config: {},
  devices: {},
  expanded_devices: {},
  profiles: ["default"],
  created_at: "2026-01-01T00:00:00Z"
})

const accepted = (id: string, fields: Record<string, unknown> = {}) => ({
  type: "async",
  status: "Operation created",
  status_code: 100,
  operation: `/1.0/operations/${id}`,
  metadata: operation(id, fields)
})

const server = (route: MemoryHandler, addresses: ReadonlyArray<string> = []) =>
  Effect.gen(function*() {
    const info = sync({
      api_extensions: ["instances"],
      api_status: "stable",
      api_version: "1.0",
      auth: "trusted",
      public: false,
      auth_methods: ["tls"],
      config: {},
      environment: { server: "lxd", server_version: "5.0.2", addresses, architectures: ["x86_64"], certificate: "PEM" }
    })
    const { http, requests } = yield* memoryConnection(route, {}, info)
    const migration = yield* Migration.make.pipe(
      Effect.provideServiceEffect(Operations.Operations, Operations.make),
      Effect.provideService(LxdHttp.LxdHttp, http)
    )
    return { http, requests, migration }
  })

const deletes = (requests: ReadonlyArray<Recorded>) =>
  requests.filter((r) => r.method === "DELETE").map((r) => r.url.split("?")[0])

/** A source whose migration operation `src` waits (its `/wait` never answers) and whose instance is `c1`. */
const source = (addresses: ReadonlyArray<string>) =>
  server((req, res) => {
    if (req.method === "POST" && req.url.startsWith("/1.0/instances/c1")) {
      return json(res, 202, accepted("src", { class: "websocket", metadata: { control: "s1", fs: "s2" } }))
    }
    if (req.url.startsWith("/1.0/operations/src/wait")) return
    if (req.url.startsWith("/1.0/operations/src")) {
      return req.method === "DELETE" ? json(res, 200, sync({})) : json(res, 200, sync(operation("src")))
    }
    if (req.method === "GET" && req.url.startsWith("/1.0/instances/c1")) return json(res, 200, sync(instance("c1")))
    json(res, 500, error(500, "unexpected"))
  }, addresses)

describe("Migration.copyInstanceOperation (scripted servers)", () => {
  it.scoped("returns the target's operation for the first address it accepts, without waiting", () =>
    Effect.gen(function*() {
      const src = yield* source(["192.0.2.1:8443", "127.0.0.1:8443"])
      const dst = yield* server((req, res) => {
        if (req.method === "POST" && req.url.startsWith("/1.0/instances")) {
          const body = JSON.parse(req.body)
          return body.source.operation.startsWith("https://192.0.2.1:8443/")
            ? json(res, 500, error(500, "refused"))
            : json(res, 202, accepted("dst"))
        }
        if (req.url.startsWith("/1.0/operations/dst/wait")) return // still running
        json(res, 500, error(500, "unexpected"))
      })
      const op = yield* src.migration.copyInstanceOperation("c1", dst.http, { name: "c1-copy" })
      assert.strictEqual(op.id, "dst")
      const tried = dst.requests.filter((r) => r.method === "POST").map((r) => JSON.parse(r.body))
      assert.deepStrictEqual(tried.map((b) => b.source.operation), [
        "https://192.0.2.1:8443/1.0/operations/src",
        "https://127.0.0.1:8443/1.0/operations/src"
      ])
      assert.strictEqual(tried[1].name, "c1-copy")
      assert.deepStrictEqual(deletes(src.requests), [])
    }))

  it.live("closing the scope before the end cancels the target's operation and the source's", () =>
    Effect.gen(function*() {
      const src = yield* source(["127.0.0.1:8443"])
      const dst = yield* server((req, res) => {
        if (req.method === "POST" && req.url === "/1.0/instances") {
          return json(res, 202, accepted("dst", { may_cancel: true }))
        }
        if (req.url.startsWith("/1.0/operations/dst/wait")) return
        if (req.method === "DELETE" && req.url.startsWith("/1.0/operations/dst")) return json(res, 200, sync({}))
        json(res, 500, error(500, "unexpected"))
      })
      const scope = yield* Scope.make()
      const op = yield* Scope.extend(src.migration.copyInstanceOperation("c1", dst.http), scope)
      assert.strictEqual(op.id, "dst")
      yield* Effect.sleep("50 millis")
      assert.deepStrictEqual([...deletes(src.requests), ...deletes(dst.requests)], [])
      yield* Scope.close(scope, Exit.void)
      assert.deepStrictEqual(deletes(dst.requests), ["/1.0/operations/dst"])
      assert.deepStrictEqual(deletes(src.requests), ["/1.0/operations/src"])
    }).pipe(Effect.scoped))

  it.scopedLive("a target operation that fails cancels the source's operation; the caller's wait fails", () =>
    Effect.gen(function*() {
      const src = yield* source(["127.0.0.1:8443"])
      const failed = yield* Deferred.make<void>()
      const dst = yield* server((req, res) => {
        if (req.method === "POST" && req.url === "/1.0/instances") return json(res, 202, accepted("dst"))
        if (req.url.startsWith("/1.0/operations/dst")) {
          Effect.runSync(Deferred.succeed(failed, undefined))
          return json(
            res,
            200,
            sync(operation("dst", { status: "Failure", status_code: 400, err: "Error transferring instance data" }))
          )
        }
        json(res, 500, error(500, "unexpected"))
      })
      const op = yield* src.migration.copyInstanceOperation("c1", dst.http)
      const targetOps = yield* Operations.make.pipe(Effect.provideService(LxdHttp.LxdHttp, dst.http))
      const e = yield* Effect.flip(targetOps.wait(op))
      assert.strictEqual(e._tag, "LXDAPIException")
      yield* Deferred.await(failed)
      // the fiber that follows the transfer cancels the source's side
      yield* Effect.gen(function*() {
        while (!deletes(src.requests).includes("/1.0/operations/src")) yield* Effect.sleep("10 millis")
      }).pipe(Effect.timeout("2 seconds"))
      assert.deepStrictEqual(deletes(src.requests), ["/1.0/operations/src"])
    }))
})
