import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Schema from "effect/Schema"
import { LxdHttp, Operations } from "../src/index.js"
import { error, json, operation, serverInfo, sync } from "./fakeServer.js"
import { memoryConnection, type MemoryHandler } from "./memoryTransport.js"

const withOps = <A, E>(
  route: MemoryHandler,
  body: (ops: Operations.Service, requests: ReadonlyArray<{ method: string; url: string }>) => Effect.Effect<A, E>
) =>
  Effect.gen(function*() {
    const { http, requests } = yield* memoryConnection(
      route,
      {},
      serverInfo(["instances", "operations_get_query_all_projects"])
    )
    const ops = yield* Operations.make.pipe(Effect.provideService(LxdHttp.LxdHttp, http))
    return yield* body(ops, requests)
  })

const accepted = (id: string, fields: Record<string, unknown> = {}) => ({
  type: "async",
  status: "Operation created",
  status_code: 100,
  operation: `/1.0/operations/${id}`,
  metadata: operation(id, fields)
})

describe("Operations against a scripted server", () => {
  it.scoped("run waits for a successful operation", () =>
    withOps((req, res) => {
      if (req.method === "POST") return json(res, 202, accepted("op1"))
      if (req.url.startsWith("/1.0/operations/op1/wait")) {
        return json(res, 200, sync(operation("op1", { status: "Success", status_code: 200, metadata: { x: 1 } })))
      }
      json(res, 500, error(500, "unexpected"))
    }, (ops, requests) =>
      Effect.gen(function*() {
        const outcome = yield* ops.run({ method: "POST", path: "/1.0/instances", body: {} })
        assert.strictEqual(outcome._tag, "Async")
        if (outcome._tag === "Async") assert.deepStrictEqual(outcome.operation.metadata, { x: 1 })
        const wait = requests.find((r) => r.url.includes("/wait"))!
        assert.match(wait.url, /timeout=10$/)
      })))

  it.scoped("a failed operation (error envelope behind HTTP 200) is an LXDAPIException with its message", () =>
    withOps((req, res) => {
      if (req.method === "PUT") return json(res, 202, accepted("op2"))
      if (req.url.startsWith("/1.0/operations/op2/wait")) return json(res, 200, error(400, "Failed to start: boom"))
      if (req.url === "/1.0/operations/op2") {
        return json(
          res,
          200,
          sync(operation("op2", { status: "Failure", status_code: 400, err: "Failed to start: boom" }))
        )
      }
    }, (ops) =>
      Effect.gen(function*() {
        const failure = yield* Effect.flip(ops.run({ method: "PUT", path: "/1.0/instances/web1/state", body: {} }))
        assert.strictEqual(failure._tag, "LXDAPIException")
        if (failure._tag === "LXDAPIException") {
          assert.strictEqual(failure.operationId, "op2")
          assert.strictEqual(failure.serverMessage, "Failed to start: boom")
          assert.strictEqual(failure.path, "/1.0/instances/web1/state")
          assert.include(failure.message, `Instance "web1"`)
        }
      })))

  it.scoped("LXD 4.0 style: a sync envelope holding a failed operation", () =>
    withOps((req, res) => {
      if (req.url.startsWith("/1.0/operations/op3/wait")) {
        return json(res, 200, sync(operation("op3", { status: "Cancelled", status_code: 401, err: "" })))
      }
    }, (ops) =>
      Effect.gen(function*() {
        const failure = yield* Effect.flip(ops.wait("op3"))
        assert.strictEqual(failure._tag, "LXDAPIException")
        if (failure._tag === "LXDAPIException") {
          assert.strictEqual(failure.errorCode, 401)
          assert.strictEqual(failure.serverMessage, "Cancelled")
        }
      })))

  it.live("a wait timeout is not a failure: waiting goes on", () => {
    let waits = 0
    return withOps((req, res) => {
      if (req.url.startsWith("/1.0/operations/op4/wait")) {
        waits++
        if (waits < 3) return json(res, 200, error(500, "context deadline exceeded"))
        return json(res, 200, sync(operation("op4", { status: "Success", status_code: 200 })))
      }
      if (req.url === "/1.0/operations/op4") return json(res, 200, sync(operation("op4")))
    }, (ops) =>
      Effect.gen(function*() {
        const op = yield* ops.wait("op4")
        assert.strictEqual(op.status_code, 200)
        assert.strictEqual(waits, 3)
      })).pipe(Effect.scoped)
  })

  it.scoped("an operation reaped before its end was seen is OperationOutcomeUnknown, not a success", () =>
    withOps((req, res) => {
      if (req.method === "POST") return json(res, 202, accepted("op5"))
      json(res, 404, error(404, "Operation not found"))
    }, (ops) =>
      Effect.gen(function*() {
        const failure = yield* Effect.flip(ops.run({ method: "POST", path: "/1.0/instances", body: {} }))
        assert.strictEqual(failure._tag, "OperationOutcomeUnknown")
        if (failure._tag === "OperationOutcomeUnknown") {
          assert.strictEqual(failure.operationId, "op5")
          assert.strictEqual(failure.lastStatus, "Running")
          assert.strictEqual(failure.method, "POST")
          assert.strictEqual(failure.path, "/1.0/instances")
          assert.include(failure.message, "may or may not have succeeded")
        }
        // waited on by id, never seen at all
        const byId = yield* Effect.flip(ops.wait("op5"))
        assert.strictEqual(byId._tag, "OperationOutcomeUnknown")
        if (byId._tag === "OperationOutcomeUnknown") assert.isUndefined(byId.lastStatus)
      })))

  it.scoped("a 404 from /wait that is the operation's own error (Incus) is that failure, not a reaped operation", () =>
    withOps((req, res) => {
      if (req.url.startsWith("/1.0/operations/op11/wait")) {
        return json(res, 200, error(404, "Failed to update image: Image source not found"))
      }
      json(
        res,
        200,
        sync(
          operation("op11", {
            status: "Failure",
            status_code: 400,
            err: "Failed to update image: Image source not found"
          })
        )
      )
    }, (ops) =>
      Effect.gen(function*() {
        const failure = yield* Effect.flip(ops.wait("op11"))
        assert.strictEqual(failure._tag, "LXDAPIException")
        if (failure._tag === "LXDAPIException") {
          assert.strictEqual(failure.operationId, "op11")
          assert.match(failure.serverMessage, /Image source not found/)
        }
      })))

  it.scoped("an operation reaped after a wait timeout is OperationOutcomeUnknown too", () =>
    withOps((req, res) => {
      if (req.url.startsWith("/1.0/operations/op8/wait")) return json(res, 200, error(500, "context deadline exceeded"))
      json(res, 404, error(404, "Operation not found"))
    }, (ops) =>
      Effect.gen(function*() {
        const failure = yield* Effect.flip(ops.wait("op8"))
        assert.strictEqual(failure._tag, "OperationOutcomeUnknown")
      })))

  it.scoped("a reaped operation whose last seen state was final keeps that outcome", () =>
    withOps((_req, res) => json(res, 404, error(404, "Operation not found")), (ops) =>
      Effect.gen(function*() {
        const done = Schema.decodeUnknownSync(Operations.Operation)(
          operation("op9", { status: "Success", status_code: 200 })
        )
        assert.strictEqual((yield* ops.wait(done)).id, "op9")
      })))

  it.scoped("an operation error mapped to a status by /wait (409 behind HTTP 200) is the operation's failure", () =>
    withOps((req, res) => {
      if (req.url.startsWith("/1.0/operations/op10/wait")) return json(res, 200, error(409, "already exists"))
      json(res, 200, sync(operation("op10", { status: "Failure", status_code: 400, err: "already exists" })))
    }, (ops) =>
      Effect.gen(function*() {
        const failure = yield* Effect.flip(ops.wait("op10"))
        assert.strictEqual(failure._tag, "LXDAPIException")
        if (failure._tag === "LXDAPIException") {
          assert.strictEqual(failure.operationId, "op10")
          assert.strictEqual(failure.serverMessage, "already exists")
        }
      })))

  it.live("interrupting a wait cancels a cancellable operation on the server", () => {
    let cancelled = false
    return withOps((req, res) => {
      if (req.method === "POST") return json(res, 202, accepted("op6", { may_cancel: true }))
      if (req.method === "DELETE" && req.url === "/1.0/operations/op6") {
        cancelled = true
        return json(res, 200, sync({}))
      }
      // never answer the long poll: the client must abort it
    }, (ops) =>
      Effect.gen(function*() {
        const fiber = yield* Effect.fork(ops.run({ method: "POST", path: "/1.0/instances", body: {} }))
        yield* Effect.sleep("200 millis")
        yield* Fiber.interrupt(fiber)
        assert.isTrue(cancelled)
      })).pipe(Effect.scoped)
  })

  it.live("interrupting a wait leaves a non-cancellable operation alone", () => {
    let deletes = 0
    return withOps((req, res) => {
      if (req.method === "POST") return json(res, 202, accepted("op7", { may_cancel: false }))
      if (req.method === "DELETE") deletes++
    }, (ops) =>
      Effect.gen(function*() {
        const fiber = yield* Effect.fork(ops.run({ method: "POST", path: "/1.0/instances", body: {} }))
        yield* Effect.sleep("150 millis")
        yield* Fiber.interrupt(fiber)
        assert.strictEqual(deletes, 0)
      })).pipe(Effect.scoped)
  })

  it.scoped("list flattens LXD's map keyed by status", () =>
    withOps((req, res) => {
      if (req.url.startsWith("/1.0/operations?")) {
        return json(
          res,
          200,
          sync({
            running: [operation("a")],
            success: [operation("b", { status: "Success", status_code: 200 })],
            failure: null
          })
        )
      }
    }, (ops, requests) =>
      Effect.gen(function*() {
        const list = yield* ops.list({ allProjects: true })
        assert.deepStrictEqual(list.map((o) => o.id).sort(), ["a", "b"])
        assert.include(requests[requests.length - 1]!.url, "all-projects=true")
      })))
})
