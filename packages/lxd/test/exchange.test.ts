/**
 * The direct exchange of the Node transports (JSON calls without the platform's
 * `HttpClient` machinery): its helpers, and the guarantees it must keep, against a
 * scripted server on a real unix socket.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { LxdHttp, LxdTransport } from "../src/index.js"
import { flatHeaders } from "../src/internal/nodeTransport.js"
import { applyScope } from "../src/internal/protocol.js"
import { spanAttributes } from "../src/internal/tracing.js"
import { fakeServer, json, sync } from "./fakeServer.js"
import { recordingTracer } from "./recordingTracer.js"

const connect = (socketPath: string, options: Omit<LxdHttp.UnixOptions, "socketPath"> = {}) =>
  LxdHttp.connect({ _tag: "Unix", socketPath, ...options })

/** Polls `check` every 10 ms, up to `tries` times; whether it became true. */
const eventually = (check: () => boolean, tries = 300) =>
  Effect.gen(function*() {
    for (let i = 0; i < tries && !check(); i++) yield* Effect.sleep("10 millis")
    return check()
  })

describe("exchange helpers", () => {
  it("flatHeaders lower-cases names, joins repeated values and drops absent ones", () => {
    assert.deepStrictEqual(
      flatHeaders({ ETag: "\"abc\"", "set-cookie": ["a=1", "b=2"], location: undefined }),
      { etag: "\"abc\"", "set-cookie": "a=1, b=2" }
    )
  })

  it("applyScope adds the scope's project and target unless the request names its own or null", () => {
    const scoped = { project: Option.some("p1"), target: Option.some("m1") }
    assert.deepStrictEqual(applyScope({ query: { recursion: 1 } }, scoped.project, scoped.target), {
      recursion: 1,
      project: "p1",
      target: "m1"
    })
    assert.deepStrictEqual(applyScope({ project: "p2", target: null }, scoped.project, scoped.target), {
      project: "p2"
    })
    assert.deepStrictEqual(applyScope({ project: null }, scoped.project, Option.none()), {})
    assert.deepStrictEqual(
      applyScope({ query: { "all-projects": true } }, scoped.project, Option.none()),
      { "all-projects": true }
    )
    assert.deepStrictEqual(applyScope({ query: { project: "q" } }, scoped.project, Option.none()), { project: "q" })
  })

  it("spanAttributes records a short string first argument and the project, nothing else", () => {
    assert.deepStrictEqual(spanAttributes(["web1"], true, "lxd.instance", Option.some("p")), {
      "lxd.instance": "web1",
      "lxd.project": "p"
    })
    assert.deepStrictEqual(spanAttributes(["web1"], false, "lxd.instance", Option.none()), {})
    assert.deepStrictEqual(spanAttributes([{ password: "x" }], true, "lxd.name", Option.none()), {})
    assert.deepStrictEqual(spanAttributes(["x".repeat(300)], true, "lxd.name", Option.none()), {})
  })
})

describe("direct exchange over the unix socket", () => {
  it.live("JSON calls keep their HTTP client span, with trace headers; a secret in the query gets none", () =>
    Effect.gen(function*() {
      const { requests, socketPath } = yield* fakeServer((_req, res) => json(res, 200, sync(["/1.0/instances/c1"])))
      const http = yield* connect(socketPath)
      const { spans, tracer } = recordingTracer()
      yield* http.sync({ method: "GET", path: "/1.0/instances", query: { recursion: 0 } }, Schema.Unknown).pipe(
        Effect.withSpan("outer"),
        Effect.withTracer(tracer)
      )
      const span = spans.find((s) => s.name === "http.client GET")
      assert.isDefined(span, spans.map((s) => s.name).join(", "))
      assert.strictEqual(span!.parent, "outer")
      assert.strictEqual(span!.attributes.get("url.path"), "/1.0/instances")
      assert.strictEqual(span!.attributes.get("url.query"), "recursion=0")
      assert.strictEqual(span!.attributes.get("http.response.status_code"), 200)
      const sent = requests.find((r) => r.url === "/1.0/instances?recursion=0")
      assert.match(String(sent?.headers["traceparent"]), /^00-t-\d+-01$/)

      yield* http.sync({ method: "GET", path: "/1.0/images/ab", query: { secret: "s3cr3t" } }, Schema.Unknown).pipe(
        Effect.withTracer(tracer)
      )
      assert.isFalse(spans.some((s) => String(s.attributes.get("url.full")).includes("s3cr3t")))
      assert.strictEqual(spans.filter((s) => s.name === "http.client GET").length, 1)
    }).pipe(Effect.scoped))

  it.live("under Effect's own tracer the request carries the current span's trace context (its leaf span is not built)", () =>
    Effect.gen(function*() {
      const { requests, socketPath } = yield* fakeServer((_req, res) => json(res, 200, sync([])))
      const http = yield* connect(socketPath)
      const outer = yield* Effect.gen(function*() {
        const span = yield* Effect.currentSpan
        yield* http.sync({ method: "GET", path: "/1.0/instances", query: { recursion: 0 } }, Schema.Unknown)
        return span
      }).pipe(Effect.withSpan("outer"))
      const sent = requests.find((r) => r.url === "/1.0/instances?recursion=0")
      assert.strictEqual(sent?.headers["traceparent"], `00-${outer.traceId}-${outer.spanId}-01`)
      // outside any span there is no trace context to send
      yield* http.sync({ method: "GET", path: "/1.0/instances", query: { recursion: 1 } }, Schema.Unknown)
      assert.isUndefined(requests.find((r) => r.url === "/1.0/instances?recursion=1")?.headers["traceparent"])
      // and with propagation off, none at all
      yield* http.sync({ method: "GET", path: "/1.0/instances", query: { recursion: 2 } }, Schema.Unknown).pipe(
        Effect.withSpan("outer"),
        Effect.locally(HttpClient.currentTracerPropagation, false)
      )
      assert.isUndefined(requests.find((r) => r.url === "/1.0/instances?recursion=2")?.headers["traceparent"])
    }).pipe(Effect.scoped))

  it.live("a client changed with transformClient sees every JSON call (no direct path around it)", () =>
    Effect.gen(function*() {
      const { socketPath } = yield* fakeServer((_req, res) => json(res, 200, sync([])))
      const seen: Array<string> = []
      const transport = LxdTransport.layerUnix({ socketPath }).pipe(
        LxdTransport.transformClient(HttpClient.tapRequest((request) =>
          Effect.sync(() => {
            seen.push(`${request.method} ${request.url}`)
          })
        ))
      )
      const http = yield* Layer.build(LxdHttp.layer().pipe(Layer.provide(transport))).pipe(
        Effect.map(Context.get(LxdHttp.LxdHttp))
      )
      yield* http.sync({ method: "GET", path: "/1.0/instances" }, Schema.Unknown)
      assert.deepStrictEqual(seen, ["GET http://lxd/1.0", "GET http://lxd/1.0/instances"])
    }).pipe(Effect.scoped))

  it.live("a path checked once is not checked again, but the scope still applies and refusals stay refusals", () =>
    Effect.gen(function*() {
      const { requests, socketPath } = yield* fakeServer((_req, res) => json(res, 200, sync({ name: "c1" })))
      const http = yield* connect(socketPath)
      const get = (path: string) => http.sync({ method: "GET", path }, Schema.Unknown)
      yield* get("/1.0/instances/c1")
      yield* get("/1.0/instances/c1")
      // the remembered path still gets the scope's project
      yield* LxdHttp.withProject(get("/1.0/instances/c1"), "p1")
      const urls = requests.map((r) => r.url).filter((u) => u?.startsWith("/1.0/instances/"))
      assert.deepStrictEqual(urls, ["/1.0/instances/c1", "/1.0/instances/c1", "/1.0/instances/c1?project=p1"])
      // a refused path is refused every time, before anything is sent
      for (let i = 0; i < 2; i++) {
        const refused = yield* Effect.flip(get("/1.0/instances/.."))
        assert.strictEqual(refused._tag, "InvalidArgument")
      }
      assert.strictEqual(requests.filter((r) => r.url?.includes("..")).length, 0)
    }).pipe(Effect.scoped))

  it.live("the ETag and Location headers of an answer reach the caller", () =>
    Effect.gen(function*() {
      const { socketPath } = yield* fakeServer((_req, res) =>
        json(res, 200, sync({ name: "c1" }), { etag: "\"v7\"", location: "/1.0/instances/c1" })
      )
      const http = yield* connect(socketPath)
      const { etag } = yield* http.syncWithEtag(
        { method: "GET", path: "/1.0/instances/c1" },
        Schema.Struct({ name: Schema.String })
      )
      assert.strictEqual(etag, "\"v7\"")
      const answer = yield* http.send({ method: "POST", path: "/1.0/instances", body: { name: "c1" } })
      assert.strictEqual(answer._tag === "Sync" ? answer.location : undefined, "/1.0/instances/c1")
    }).pipe(Effect.scoped))

  it.live("a JSON body is sent as application/json", () =>
    Effect.gen(function*() {
      const { requests, socketPath } = yield* fakeServer((_req, res) => json(res, 200, sync(null)))
      const http = yield* connect(socketPath)
      yield* http.send({ method: "PUT", path: "/1.0/instances/c1", body: { description: "é" } })
      const put = requests.find((r) => r.method === "PUT")
      assert.strictEqual(put?.headers["content-type"], "application/json")
      assert.deepStrictEqual(JSON.parse(put!.body), { description: "é" })
    }).pipe(Effect.scoped))

  it.live("an answer cut off before its end fails as a TransportError", () =>
    Effect.gen(function*() {
      const { socketPath } = yield* fakeServer((_req, res) => {
        res.writeHead(200, { "content-type": "application/json", "content-length": "1000" })
        res.write("{\"type\":\"sync\",")
        setTimeout(() => res.destroy(), 20)
      })
      const http = yield* connect(socketPath)
      const failure = yield* Effect.flip(http.send({ method: "GET", path: "/1.0/instances" }))
      assert.strictEqual(failure._tag, "TransportError")
    }).pipe(Effect.scoped))

  it.live("an interruptible caller's interruption aborts the request under way", () =>
    Effect.gen(function*() {
      let closed = false
      const { socketPath } = yield* fakeServer((_req, res) => {
        res.on("close", () => {
          closed = true
        })
      })
      const http = yield* connect(socketPath)
      const fiber = yield* Effect.fork(http.send({ method: "GET", path: "/1.0/instances" }))
      yield* Effect.sleep("50 millis")
      yield* Fiber.interrupt(fiber)
      assert.isTrue(yield* eventually(() => closed), "the server saw the connection closed")
    }).pipe(Effect.scoped))

  it.live("a request interrupted in an acquire completes and gets its release; the deadline still ends a stuck one", () =>
    Effect.gen(function*() {
      let posts = 0
      const { socketPath } = yield* fakeServer((req, res) => {
        if (req.method === "POST") {
          posts++
          setTimeout(() => json(res, 200, sync({ created: true })), 150)
        }
        // anything else: no answer
      })
      const http = yield* connect(socketPath, { requestTimeout: "300 millis" })
      let released = false
      const acquire = Effect.acquireRelease(
        http.sync({ method: "POST", path: "/1.0/instances", body: { name: "c1" } }, Schema.Unknown),
        () =>
          Effect.sync(() => {
            released = true
          })
      )
      const fiber = yield* Effect.fork(Effect.scoped(acquire))
      yield* Effect.sleep("30 millis")
      yield* Fiber.interrupt(fiber)
      assert.strictEqual(posts, 1)
      assert.isTrue(released, "the acquire finished, so its release ran")

      const stuck = yield* Effect.flip(Effect.uninterruptible(http.send({ method: "GET", path: "/1.0/instances" })))
      assert.strictEqual(stuck._tag, "TransportError")
      assert.include(stuck.message, "no answer within")
    }).pipe(Effect.scoped))
})
