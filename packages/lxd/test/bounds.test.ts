/**
 * Malicious and broken servers: every call ends, in bounded time and memory, with a typed
 * error. The servers here are scripted on a real unix socket, so undici and the platform
 * client run as in production.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { LxdHttp, Operations } from "../src/index.js"
import { fakeServer, json, operation, sync } from "./fakeServer.js"

const connect = (socketPath: string, options: Omit<LxdHttp.UnixOptions, "socketPath"> = {}) =>
  LxdHttp.connect({ _tag: "Unix", socketPath, ...options })

const nested = (depth: number): string => "[".repeat(depth) + "]".repeat(depth)

describe("bounds against hostile servers", () => {
  it.live("a server that never sends headers fails the call after requestTimeout", () =>
    Effect.gen(function*() {
      const { socketPath } = yield* fakeServer(() => undefined)
      const http = yield* connect(socketPath, { requestTimeout: "300 millis" })
      const failure = yield* Effect.flip(http.send({ method: "GET", path: "/1.0/instances" }))
      assert.strictEqual(failure._tag, "TransportError")
      assert.include(failure.message, "no answer within")
    }).pipe(Effect.scoped))

  it.live("a server that trickles a JSON answer is cut off by requestTimeout", () =>
    Effect.gen(function*() {
      const { socketPath } = yield* fakeServer((_req, res) => {
        res.writeHead(200, { "content-type": "application/json" })
        const timer = setInterval(() => res.write(" "), 50)
        res.on("close", () => clearInterval(timer))
      })
      const http = yield* connect(socketPath, { requestTimeout: "400 millis" })
      const failure = yield* Effect.flip(http.send({ method: "GET", path: "/1.0/instances" }))
      assert.strictEqual(failure._tag, "TransportError")
      assert.include(failure.message, "no answer within")
    }).pipe(Effect.scoped))

  it.live("a raw answer that stalls fails its stream after idleTimeout", () =>
    Effect.gen(function*() {
      const { socketPath } = yield* fakeServer((_req, res) => {
        res.writeHead(200, { "content-type": "application/octet-stream" })
        res.write("first bytes")
        // and then nothing
      })
      const http = yield* connect(socketPath, { idleTimeout: "300 millis" })
      const raw = yield* http.raw({ method: "GET", path: "/1.0/instances/c/files", query: { path: "/x" } })
      const failure = yield* Effect.flip(Stream.runDrain(raw.body))
      assert.strictEqual(failure._tag, "TransportError")
      assert.include(failure.message, "stalled")
    }).pipe(Effect.scoped))

  it.live("an upload slower than requestTimeout is fine: the bound starts once the body is sent", () =>
    Effect.gen(function*() {
      const { socketPath } = yield* fakeServer((req, res) => json(res, 200, sync({ received: req.body.length })))
      const http = yield* connect(socketPath, { requestTimeout: "300 millis" })
      const body = Stream.make(new Uint8Array(10), new Uint8Array(10)).pipe(
        Stream.tap(() => Effect.sleep("250 millis"))
      )
      const answer = yield* http.sync(
        { method: "POST", path: "/1.0/images", raw: { contentType: "application/octet-stream", data: body } },
        Schema.Struct({ received: Schema.Number })
      )
      assert.strictEqual(answer.received, 20)
    }).pipe(Effect.scoped))

  it.live("a JSON answer over maxResponseBytes fails with DecodeError, declared or streamed", () =>
    Effect.gen(function*() {
      const big = JSON.stringify(sync("x".repeat(300_000)))
      const { socketPath } = yield* fakeServer((req, res) => {
        if (req.url.startsWith("/1.0/declared")) return json(res, 200, JSON.parse(big))
        // no content-length: chunked, as LXD sends long answers
        res.writeHead(200, { "content-type": "application/json" })
        let sent = 0
        const more = () => {
          while (sent < 2_000_000) {
            sent += 64 * 1024
            if (!res.write("x".repeat(64 * 1024))) return res.once("drain", more)
          }
          res.end()
        }
        more()
      })
      const http = yield* connect(socketPath, { maxResponseBytes: 100_000 })
      const declared = yield* Effect.flip(http.send({ method: "GET", path: "/1.0/declared" }))
      assert.strictEqual(declared._tag, "DecodeError")
      assert.include(declared.message, "maxResponseBytes")
      const streamed = yield* Effect.flip(http.send({ method: "GET", path: "/1.0/streamed" }))
      assert.strictEqual(streamed._tag, "DecodeError")
      assert.include(streamed.message, "maxResponseBytes")
    }).pipe(Effect.scoped))

  it.live("deeply nested answers end as DecodeError, never as a defect", () =>
    Effect.gen(function*() {
      const { socketPath } = yield* fakeServer((req, res) => {
        const depth = Number(new URL(req.url, "http://x").searchParams.get("depth"))
        res.writeHead(200, { "content-type": "application/json" })
        res.end(`{"type":"sync","status":"Success","status_code":200,"metadata":{"name":${nested(depth)}}}`)
      })
      const http = yield* connect(socketPath)
      for (const depth of [3_000, 200_000]) {
        const exit = yield* Effect.exit(
          http.sync({ method: "GET", path: "/1.0/x", query: { depth } }, Schema.Struct({ name: Schema.String }))
        )
        assert.isTrue(Exit.isFailure(exit))
        if (Exit.isFailure(exit)) {
          const failure = exit.cause._tag === "Fail" ? exit.cause.error : undefined
          assert.strictEqual(failure?._tag, "DecodeError", `depth ${depth}: ${String(exit.cause)}`)
        }
      }
    }).pipe(Effect.scoped))

  it.live("a server that answers /wait at once is not polled in a tight loop", () =>
    Effect.gen(function*() {
      let polls = 0
      const { socketPath } = yield* fakeServer((req, res) => {
        if (req.url.startsWith("/1.0/operations/op1/wait")) {
          polls++
          return json(res, 200, sync(operation("op1")))
        }
        json(res, 200, sync(operation("op1")))
      })
      const http = yield* connect(socketPath)
      const ops = yield* Operations.make.pipe(Effect.provideService(LxdHttp.LxdHttp, http))
      yield* ops.wait("op1", { cancelOnInterrupt: false }).pipe(Effect.timeout("1 second"), Effect.ignore)
      // 250 ms apart at the least: at most 5 polls in a second (about 1,000 without the floor)
      assert.isAtLeast(polls, 2)
      assert.isAtMost(polls, 5)
    }).pipe(Effect.scoped))

  it.live("a pinned certificate with insecureSkipVerify is refused, not silently dropped", () =>
    Effect.gen(function*() {
      const failure = yield* Effect.flip(
        Effect.scoped(
          LxdHttp.connect({
            _tag: "Https",
            url: "https://127.0.0.1:9",
            cert: "x",
            key: "y",
            serverCert: "z",
            insecureSkipVerify: true
          })
        )
      )
      assert.strictEqual(failure._tag, "TransportError")
      assert.include(failure.message, "insecureSkipVerify cannot be combined with serverCert")
    }))

  it.live("closing the connection lets a request under way finish (graceful close, then destroy)", () =>
    Effect.gen(function*() {
      const { socketPath } = yield* fakeServer((_req, res) => {
        setTimeout(() => json(res, 200, sync({ done: true })), 300)
      })
      const scope = yield* Scope.make()
      const http = yield* connect(socketPath).pipe(Scope.extend(scope))
      // a straggler clean-up, still running when its program closes the connection
      const straggler = yield* Effect.forkDaemon(
        http.sync({ method: "DELETE", path: "/1.0/instances/c1" }, Schema.Struct({ done: Schema.Boolean }))
      )
      yield* Effect.sleep("50 millis")
      yield* Scope.close(scope, Exit.void)
      const result = yield* Fiber.join(straggler)
      assert.isTrue(result.done)
    }).pipe(Effect.scoped))

  it.live("closing the connection does not wait past closeTimeout for a request that never ends", () =>
    Effect.gen(function*() {
      const { socketPath } = yield* fakeServer(() => undefined)
      const scope = yield* Scope.make()
      const http = yield* connect(socketPath, { closeTimeout: "200 millis" }).pipe(Scope.extend(scope))
      const stuck = yield* Effect.forkDaemon(http.send({ method: "GET", path: "/1.0/instances" }))
      yield* Effect.sleep("50 millis")
      const started = Date.now()
      yield* Scope.close(scope, Exit.void)
      assert.isBelow(Date.now() - started, 2_000)
      const failure = yield* Effect.flip(Fiber.join(stuck))
      assert.strictEqual(failure._tag, "TransportError")
    }).pipe(Effect.scoped))
})
