import { assert, describe, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { LxdError, LxdHttp } from "../src/index.js"
import { version } from "../src/internal/version.js"
import { error, fakeServer, json, operation, serverInfo, sync } from "./fakeServer.js"
import { memoryConnection } from "./memoryTransport.js"
import { recordingTracer } from "./recordingTracer.js"

const connect = (socketPath: string) => LxdHttp.connect({ _tag: "Unix", socketPath })

describe("LxdHttp against a scripted server", () => {
  it.scoped("decodes sync answers and keeps ETag and Location", () =>
    Effect.gen(function*() {
      const { http } = yield* memoryConnection((_req, res) =>
        json(res, 201, sync({ name: "p1" }), { etag: `"abc"`, location: "/1.0/profiles/p1" })
      )
      const response = yield* http.send({ method: "POST", path: "/1.0/profiles", body: { name: "p1" } })
      assert.strictEqual(response._tag, "Sync")
      if (response._tag === "Sync") {
        assert.deepStrictEqual(response.metadata, { name: "p1" })
        assert.strictEqual(response.etag, `"abc"`)
        assert.strictEqual(response.location, "/1.0/profiles/p1")
        assert.strictEqual(response.status, 201)
      }
    }))

  it.scoped("decodes async answers into an Operation", () =>
    Effect.gen(function*() {
      const { http } = yield* memoryConnection((_req, res) =>
        json(res, 202, {
          type: "async",
          status: "Operation created",
          status_code: 100,
          operation: "/1.0/operations/op1",
          metadata: operation("op1", { may_cancel: true })
        })
      )
      const response = yield* http.send({ method: "POST", path: "/1.0/instances", body: {} })
      assert.strictEqual(response._tag, "Async")
      if (response._tag === "Async") {
        assert.strictEqual(response.operation.id, "op1")
        assert.isTrue(response.operation.may_cancel)
        assert.isFalse(response.operation.isFinal)
      }
    }))

  it.scoped("maps 404 to NotFound with a readable message", () =>
    Effect.gen(function*() {
      const { http } = yield* memoryConnection((_req, res) => json(res, 404, error(404, "Instance not found")))
      const failure = yield* Effect.flip(
        http.sync({ method: "GET", path: "/1.0/instances/web1", query: { recursion: 1 } }, Schema.Unknown)
      )
      assert.strictEqual(failure._tag, "NotFound")
      assert.strictEqual(failure.message, `Instance "web1" not found (GET /1.0/instances/web1): Instance not found`)
    }))

  it.scoped("maps a 412 envelope to PreconditionFailed with status and code", () =>
    Effect.gen(function*() {
      const { http } = yield* memoryConnection((_req, res) => json(res, 412, error(412, "ETag doesn't match")))
      const failure = yield* Effect.flip(http.send({ method: "PUT", path: "/1.0/profiles/p", body: {}, etag: "x" }))
      assert.strictEqual(failure._tag, "PreconditionFailed")
      assert.isTrue(LxdError.isStale(failure))
      if (failure._tag === "PreconditionFailed") {
        assert.strictEqual(failure.status, 412)
        assert.strictEqual(failure.errorCode, 412)
        assert.include(failure.message, `Profile "p"`)
        assert.include(failure.message, "ETag doesn't match")
      }
    }))

  it.scoped("403 is Forbidden, 409 Conflict, other statuses LXDAPIException; an envelope behind 200 by its code", () =>
    Effect.gen(function*() {
      const answers: Record<string, readonly [number, number, string]> = {
        "/1.0/instances": [403, 403, "not authorized"],
        "/1.0/storage-pools": [409, 409, "The storage pool already exists"],
        "/1.0/networks": [400, 400, "The network already exists"],
        "/1.0/operations/x/wait": [200, 409, "already exists"]
      }
      const { http } = yield* memoryConnection((req, res) => {
        const [status, code, message] = answers[req.url.split("?")[0]!]!
        json(res, status, error(code, message))
      })
      const tagOf = (method: "GET" | "POST", path: string) =>
        Effect.map(Effect.flip(http.send({ method, path })), (e) => [e._tag, e.message] as const)
      const [forbidden, forbiddenMessage] = yield* tagOf("GET", "/1.0/instances")
      assert.strictEqual(forbidden, "Forbidden")
      assert.include(forbiddenMessage, "not authorized")
      const [conflict, conflictMessage] = yield* tagOf("POST", "/1.0/storage-pools")
      assert.strictEqual(conflict, "Conflict")
      assert.include(conflictMessage, "already exists")
      assert.strictEqual((yield* tagOf("POST", "/1.0/networks"))[0], "LXDAPIException")
      assert.strictEqual((yield* tagOf("GET", "/1.0/operations/x/wait"))[0], "Conflict")
      const stale = LxdError.fromErrorAnswer({ method: "PUT", path: "/1.0" }, {
        status: 412,
        errorCode: 412,
        serverMessage: "ETag doesn't match"
      })
      assert.isTrue(LxdError.isStale(stale))
      assert.isFalse(LxdError.isStale(new Error("412")))
      // the new errors serialise with the union like the others
      const encoded = Schema.encodeSync(LxdError.LxdError)(stale)
      assert.strictEqual(Schema.decodeUnknownSync(LxdError.LxdError)(encoded)._tag, "PreconditionFailed")
    }))

  it.scoped("sends If-Match, JSON bodies, the project and a distinct User-Agent", () =>
    Effect.gen(function*() {
      // over the real unix transport: the User-Agent is the transport's
      const { requests, socketPath } = yield* fakeServer((_req, res) => json(res, 200, sync(null)))
      const http = yield* LxdHttp.connect({ _tag: "Unix", socketPath })
      yield* LxdHttp.withProject("p 1")(
        http.send({ method: "PUT", path: "/1.0/profiles/x", body: { a: 1 }, etag: `"e1"` })
      )
      yield* http.send({ method: "GET", path: "/1.0/certificates", project: null })
      const put = requests.find((r) => r.method === "PUT")!
      assert.strictEqual(put.url, "/1.0/profiles/x?project=p%201")
      assert.strictEqual(put.headers["if-match"], `"e1"`)
      assert.strictEqual(put.headers["content-type"], "application/json")
      assert.strictEqual(put.headers["user-agent"], `effect-lxd/${version}`)
      assert.deepStrictEqual(JSON.parse(put.body), { a: 1 })
      const get = requests.find((r) => r.url.startsWith("/1.0/certificates"))!
      assert.strictEqual(get.url, "/1.0/certificates")
    }))

  it.scoped("applies withTarget to requests", () =>
    Effect.gen(function*() {
      const { requests, http } = yield* memoryConnection(
        (_req, res) => json(res, 200, sync([])),
        {},
        serverInfo(["instances", "clustering"])
      )
      yield* LxdHttp.withTarget("node2")(http.send({ method: "GET", path: "/1.0/instances" }))
      assert.strictEqual(requests[requests.length - 1]!.url, "/1.0/instances?target=node2")
    }))

  it.scoped("reports a body that is not an envelope as DecodeError", () =>
    Effect.gen(function*() {
      const { http } = yield* memoryConnection((req, res) =>
        req.url === "/1.0/a" ? json(res, 200, { hello: "world" }) : (res.writeHead(200), res.end("not json"))
      )
      const a = yield* Effect.flip(http.send({ method: "GET", path: "/1.0/a" }))
      assert.strictEqual(a._tag, "DecodeError")
      const b = yield* Effect.flip(http.send({ method: "GET", path: "/1.0/b" }))
      assert.strictEqual(b._tag, "DecodeError")
      assert.include(b.message, "not JSON")
    }))

  it.scoped("reports metadata that does not match the schema as DecodeError with the path", () =>
    Effect.gen(function*() {
      const { http } = yield* memoryConnection((_req, res) => json(res, 200, sync({ name: 42 })))
      const failure = yield* Effect.flip(
        http.sync({ method: "GET", path: "/1.0/profiles/x" }, Schema.Struct({ name: Schema.String }))
      )
      assert.strictEqual(failure._tag, "DecodeError")
      assert.include(failure.message, "name")
    }))

  it.scoped("a connection dropped mid-answer is a TransportError", () =>
    Effect.gen(function*() {
      const { http } = yield* memoryConnection((_req, res) => {
        res.writeHead(200, { "content-type": "application/json", "content-length": "1000" })
        res.write(`{"type":"sync","metadata":`)
        setTimeout(() => res.socket?.destroy(), 20)
      })
      const failure = yield* Effect.flip(http.send({ method: "GET", path: "/1.0/instances" }))
      assert.strictEqual(failure._tag, "TransportError")
      assert.include(failure.message, "memory")
    }))

  it.scoped("raw answers stream the body; error statuses still decode the envelope", () =>
    Effect.gen(function*() {
      const { http } = yield* memoryConnection((req, res) => {
        if (req.url.startsWith("/1.0/instances/c/files")) {
          res.writeHead(200, { "content-type": "application/octet-stream", "x-lxd-type": "file" })
          res.end(Buffer.from([0, 255, 1]))
        } else json(res, 404, error(404, "not found"))
      })
      const ok = yield* http.raw({ method: "GET", path: "/1.0/instances/c/files", query: { path: "/x" } })
      const bytes = yield* Stream.runCollect(ok.body)
      assert.deepStrictEqual(Array.from(Buffer.concat(Array.from(bytes))), [0, 255, 1])
      assert.strictEqual(ok.headers["x-lxd-type"], "file")
      const missing = yield* Effect.flip(http.raw({ method: "GET", path: "/1.0/instances/d/files" }))
      assert.strictEqual(missing._tag, "NotFound")
    }))

  it.scoped("dialect and header prefix come from environment.server", () =>
    Effect.gen(function*() {
      const { http } = yield* memoryConnection(() => undefined, {}, serverInfo(["instances"], "incus"))
      assert.strictEqual(http.dialect, "incus")
      assert.strictEqual(http.headerPrefix, "X-Incus")
    }))

  it.scoped("requireExtension fails with ExtensionNotAvailable naming the extension", () =>
    Effect.gen(function*() {
      const { http } = yield* memoryConnection(() => undefined, {}, serverInfo(["instances", "metrics"]))
      assert.isTrue(yield* http.hasExtension("metrics"))
      yield* http.requireExtension("metrics")
      const failure = yield* Effect.flip(http.requireExtension("storage_buckets"))
      assert.strictEqual(failure._tag, "ExtensionNotAvailable")
      assert.strictEqual(failure.extension, "storage_buckets")
      assert.include(failure.message, "lxd 5.0.2")
    }))

  it.scoped("a body stream that fails surfaces its own error, not a transport error", () =>
    Effect.gen(function*() {
      const { http } = yield* memoryConnection((_req, res) => json(res, 200, sync(null)))
      const failure = yield* Effect.flip(
        http.send({
          method: "POST",
          path: "/1.0/images",
          raw: {
            contentType: "application/octet-stream",
            data: Stream.concat(Stream.make(new Uint8Array([1, 2])), Stream.fail("disk on fire" as const))
          }
        })
      )
      assert.strictEqual(failure, "disk on fire")
    }))

  it.live("a missing socket fails at connection with a TransportError naming it", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(Effect.scoped(connect("/nonexistent/dir/unix.socket")))
      assert.isTrue(Exit.isFailure(exit))
      const failure = yield* Effect.flip(Effect.scoped(connect("/nonexistent/dir/unix.socket")))
      assert.strictEqual(failure._tag, "TransportError")
      assert.include(failure.message, "/nonexistent/dir/unix.socket")
    }))

  it.live("a server that never answers fails the connection after connectTimeout", () =>
    Effect.gen(function*() {
      // a server that accepts but never answers GET /1.0
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-lxd-silent-"))
      const silent = Path.join(dir, "silent.socket")
      yield* Effect.acquireRelease(
        Effect.async<Net.Server>((resume) => {
          const s = Net.createServer(() => undefined)
          s.listen(silent, () => resume(Effect.succeed(s)))
        }),
        (s) =>
          Effect.sync(() => {
            s.close()
            Fs.rmSync(dir, { recursive: true, force: true })
          })
      )
      const failure = yield* Effect.flip(
        Effect.scoped(LxdHttp.connect({ _tag: "Unix", socketPath: silent, connectTimeout: "300 millis" }))
      )
      assert.strictEqual(failure._tag, "TransportError")
      assert.include(failure.message, "no answer within")
    }).pipe(Effect.scoped))

  it.effect("layerConfig reads the socket from configuration", () =>
    Effect.gen(function*() {
      const settings = yield* LxdHttp.config().pipe(
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["LXD_SOCKET", "/run/x.socket"]])))
      )
      assert.deepStrictEqual(settings, { _tag: "Unix", dialect: "lxd", socketPath: "/run/x.socket" })
      const missingKey = yield* LxdHttp.config().pipe(
        Effect.withConfigProvider(
          ConfigProvider.fromMap(
            new Map([["LXD_HTTPS_URL", "https://127.0.0.1:8443"], ["LXD_CLIENT_CERT", "/nonexistent.crt"]])
          )
        ),
        Effect.flip
      )
      assert.include(String(missingKey), "LXD_CLIENT_CERT")
    }))

  it.scoped("requests carrying a secret in their query are not traced (spans record full URLs)", () =>
    Effect.gen(function*() {
      const { http } = yield* memoryConnection((_req, res) => json(res, 200, sync({})))
      const { texts, tracer } = recordingTracer()
      yield* http.send({ method: "GET", path: "/1.0/images/abc", query: { secret: "s3cr3t-value" } }).pipe(
        Effect.withTracer(tracer)
      )
      assert.isFalse(texts().some((r) => r.includes("s3cr3t-value")))
      yield* http.send({ method: "GET", path: "/1.0/images/abc", query: { recursion: 1 } }).pipe(
        Effect.withTracer(tracer)
      )
      // ordinary requests are traced as usual
      assert.isTrue(texts().some((r) => r.includes("/1.0/images/abc?recursion=1")))
    }))

  it("the User-Agent version follows package.json", () => {
    const pkg = JSON.parse(Fs.readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }
    assert.strictEqual(version, pkg.version)
  })

  it("errors are recognisable and serialisable", () => {
    const e = new LxdError.NotFound({ method: "GET", path: "/1.0/instances/x", serverMessage: "Instance not found" })
    assert.isTrue(LxdError.isLxdError(e))
    assert.isFalse(LxdError.isLxdError(new Error("x")))
    const encoded = Schema.encodeSync(LxdError.LxdError)(e)
    assert.strictEqual((encoded as { _tag: string })._tag, "NotFound")
  })
})
