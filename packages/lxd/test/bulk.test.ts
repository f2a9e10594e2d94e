/**
 * The bulk path of the Node transports (file pushes read from the local file, pulls handed
 * to the writer, on connections of their own with reused buffers), against a scripted
 * server on a real unix socket: the bytes, the framing, the errors, the bounds, and that
 * no connection outlives its call.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Os from "node:os"
import * as Path from "node:path"
import { Files, Images, InstanceBackups, LxdHttp, LxdTransport, Operations, Progress } from "../src/index.js"
import { error, operation, serverInfo, sync } from "./fakeServer.js"
import { recordingTracer } from "./recordingTracer.js"

interface Seen {
  readonly method: string
  readonly url: string
  readonly headers: Http.IncomingHttpHeaders
  readonly body: Buffer
}

type Route = (req: Seen, res: Http.ServerResponse, raw: Http.IncomingMessage) => void

/** A server on a temporary unix socket; `route` answers everything but `GET /1.0`. Closed with the scope. */
const server = (route: Route, options: { readonly readBody?: boolean; readonly sendContinue?: boolean } = {}) =>
  Effect.acquireRelease(
    Effect.async<{ socketPath: string; seen: Array<Seen>; closes: () => number; srv: Http.Server; dir: string }>(
      (resume) => {
        const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-lxd-bulk-"))
        const socketPath = Path.join(dir, "unix.socket")
        const seen: Array<Seen> = []
        let closed = 0
        const handle = (req: Http.IncomingMessage, res: Http.ServerResponse) => {
          const answer = (body: Buffer) => {
            const s = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body }
            if (s.method === "GET" && s.url === "/1.0") {
              res.writeHead(200, { "content-type": "application/json" })
              res.end(JSON.stringify(serverInfo(["instances", "directory_manipulation", "instance_file_head"])))
              return
            }
            seen.push(s)
            route(s, res, req)
          }
          if (options.readBody === false && req.url !== "/1.0") return answer(Buffer.alloc(0))
          const parts: Array<Buffer> = []
          req.on("data", (d: Buffer) => parts.push(d))
          req.on("end", () => answer(Buffer.concat(parts)))
        }
        const srv = Http.createServer(handle)
        // `Expect: 100-continue`: a server that will not read the body answers without the 100
        srv.on("checkContinue", (req, res) => {
          if (options.readBody !== false && options.sendContinue !== false) res.writeContinue()
          handle(req, res)
        })
        srv.on("connection", (socket) => socket.once("close", () => closed++))
        srv.listen(socketPath, () => resume(Effect.succeed({ socketPath, seen, closes: () => closed, srv, dir })))
      }
    ),
    ({ dir, srv }) =>
      Effect.async<void>((resume) => {
        srv.closeAllConnections()
        srv.close(() => {
          Fs.rmSync(dir, { recursive: true, force: true })
          resume(Effect.void)
        })
      })
  )

const tmpDir = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-lxd-bulk-files-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

const fileHeaders = (type: string, size?: number): Http.OutgoingHttpHeaders => ({
  "x-lxd-type": type,
  "x-lxd-mode": "0640",
  "x-lxd-uid": "0",
  "x-lxd-gid": "0",
  ...(size === undefined ? {} : { "content-length": String(size) })
})

/** `GET` of a file of `c1` on the bulk path. */
const getBulk = (http: LxdHttp.Service, path: string) =>
  http.raw({ method: "GET", path: "/1.0/instances/c1/files", query: { path }, bulk: true })

/** An empty synchronous success. */
const answerOk: Route = (_req, res) => {
  res.writeHead(200, { "content-type": "application/json" })
  res.end(JSON.stringify(sync({})))
}

const filesOn = (socketPath: string, options: Omit<LxdHttp.UnixOptions, "socketPath"> = {}) =>
  Effect.gen(function*() {
    const http = yield* LxdHttp.connect({ _tag: "Unix", socketPath, ...options })
    return yield* Files.make.pipe(Effect.provideService(LxdHttp.LxdHttp, http))
  })

/** Polls `check` every 10 ms for up to 3 s; whether it became true. */
const eventually = (check: () => boolean) =>
  Effect.gen(function*() {
    for (let i = 0; i < 300 && !check(); i++) yield* Effect.sleep("10 millis")
    return check()
  })

const random = (n: number) => Crypto.randomBytes(n)
const sha = (b: Uint8Array) => Crypto.createHash("sha256").update(b).digest("hex")

const errorText = (exit: Exit.Exit<unknown, unknown>): string => {
  assert.isTrue(Exit.isFailure(exit))
  const failure = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : undefined
  assert.isTrue(failure !== undefined && failure._tag === "Some", `not a failure: ${String(exit)}`)
  const e = failure!._tag === "Some" ? failure!.value : undefined
  return `${(e as { _tag: string })._tag}: ${(e as Error).message}`
}

const scoped = <A, E>(effect: Effect.Effect<A, E, Scope.Scope>) => Effect.scoped(effect)

describe("bulk path: push", () => {
  it.live("Files.push sends the local file's exact bytes with its length, on a connection of its own", () =>
    scoped(Effect.gen(function*() {
      const { seen, socketPath } = yield* server(answerOk)
      const dir = yield* tmpDir
      const data = random(3 * 1024 * 1024 + 12345)
      Fs.writeFileSync(Path.join(dir, "f.bin"), data, { mode: 0o640 })
      const files = yield* filesOn(socketPath)
      yield* files.push("c1", Path.join(dir, "f.bin"), "/f.bin")
      const post = seen.find((s) => s.method === "POST")!
      assert.strictEqual(post.url, "/1.0/instances/c1/files?path=%2Ff.bin")
      assert.strictEqual(post.headers["content-length"], String(data.length))
      assert.isUndefined(post.headers["transfer-encoding"])
      assert.strictEqual(post.headers["connection"], "close")
      assert.strictEqual(post.headers["content-type"], "application/octet-stream")
      assert.strictEqual(post.headers["expect"], "100-continue")
      assert.strictEqual(post.headers["x-lxd-type"], "file")
      assert.strictEqual(post.headers["x-lxd-mode"], "0640")
      assert.match(String(post.headers["user-agent"]), /effect-lxd/)
      assert.strictEqual(sha(post.body), sha(data))
      assert.strictEqual(LxdHttp.openBulkConnectionCount(), 0)
    })))

  it.live("a server that never answers 100 Continue still gets the body", () =>
    scoped(Effect.gen(function*() {
      const { seen, socketPath } = yield* server(answerOk, { sendContinue: false })
      const dir = yield* tmpDir
      const data = random(100_000)
      Fs.writeFileSync(Path.join(dir, "f.bin"), data)
      const files = yield* filesOn(socketPath)
      yield* files.push("c1", Path.join(dir, "f.bin"), "/f.bin")
      assert.strictEqual(sha(seen.find((s) => s.method === "POST")!.body), sha(data))
    })))

  it.live("an empty file is sent as an empty body", () =>
    scoped(Effect.gen(function*() {
      const { seen, socketPath } = yield* server(answerOk)
      const dir = yield* tmpDir
      Fs.writeFileSync(Path.join(dir, "empty"), "")
      const files = yield* filesOn(socketPath)
      yield* files.push("c1", Path.join(dir, "empty"), "/empty")
      const post = seen.find((s) => s.method === "POST")!
      assert.strictEqual(post.headers["content-length"], "0")
      assert.strictEqual(post.body.length, 0)
    })))

  it.live("the server's error answer is the error, even when it answers before reading the body", () =>
    scoped(Effect.gen(function*() {
      const { socketPath } = yield* server((_req, res) => {
        res.writeHead(404, { "content-type": "application/json" })
        res.end(JSON.stringify(error(404, "Instance not found")))
      }, { readBody: false })
      const dir = yield* tmpDir
      Fs.writeFileSync(Path.join(dir, "f.bin"), random(256 * 1024))
      const files = yield* filesOn(socketPath)
      const exit = yield* Effect.exit(files.push("missing", Path.join(dir, "f.bin"), "/f.bin"))
      assert.match(errorText(exit), /^NotFound: /)
      assert.isTrue(yield* eventually(() => LxdHttp.openBulkConnectionCount() === 0))
    })))

  it.live("a local file shorter than the declared length, or missing, fails with the caller's error", () =>
    scoped(Effect.gen(function*() {
      const { socketPath } = yield* server(answerOk)
      const dir = yield* tmpDir
      Fs.writeFileSync(Path.join(dir, "f.bin"), random(1000))
      const http = yield* LxdHttp.connect({ _tag: "Unix", socketPath })
      class ReadFailed extends Schema.TaggedError<ReadFailed>()("ReadFailed", { message: Schema.String }) {}
      const readFailed = (cause: unknown) => new ReadFailed({ message: (cause as Error).message })
      const send = (file: string, contentLength: number) =>
        Effect.exit(http.send({
          method: "POST",
          path: "/1.0/instances/c1/files",
          query: { path: "/f.bin" },
          raw: {
            contentType: "application/octet-stream",
            data: new Uint8Array(0),
            contentLength,
            file: { path: file, readFailed }
          }
        }))
      assert.strictEqual(
        errorText(yield* send(Path.join(dir, "f.bin"), 5000)),
        "ReadFailed: the file ended after 1000 of 5000 bytes"
      )
      assert.match(errorText(yield* send(Path.join(dir, "nope"), 10)), /^ReadFailed: ENOENT/)
      assert.isTrue(yield* eventually(() => LxdHttp.openBulkConnectionCount() === 0))
    })))

  it.live("a server that stops reading the upload ends it at the idle bound", () =>
    scoped(Effect.gen(function*() {
      // the server never reads: the socket's buffers fill and the upload stalls
      const { socketPath } = yield* server(() => undefined, { readBody: false })
      const dir = yield* tmpDir
      Fs.writeFileSync(Path.join(dir, "f.bin"), random(32 * 1024 * 1024))
      const files = yield* filesOn(socketPath, { idleTimeout: "300 millis", requestTimeout: "300 millis" })
      const exit = yield* Effect.exit(files.push("c1", Path.join(dir, "f.bin"), "/f.bin"))
      assert.match(errorText(exit), /^TransportError: .*the upload stalled/)
      assert.isTrue(yield* eventually(() => LxdHttp.openBulkConnectionCount() === 0))
    })))

  it.live("interrupting a push closes its connection", () =>
    scoped(Effect.gen(function*() {
      const { closes, socketPath } = yield* server(() => undefined, { readBody: false })
      const dir = yield* tmpDir
      Fs.writeFileSync(Path.join(dir, "f.bin"), random(32 * 1024 * 1024))
      const files = yield* filesOn(socketPath)
      const fiber = yield* Effect.fork(files.push("c1", Path.join(dir, "f.bin"), "/f.bin"))
      assert.isTrue(yield* eventually(() => LxdHttp.openBulkConnectionCount() === 1))
      const before = closes()
      yield* Fiber.interrupt(fiber)
      assert.strictEqual(LxdHttp.openBulkConnectionCount(), 0)
      assert.isTrue(yield* eventually(() => closes() > before))
    })))

  it.live("the request gets an HTTP client span with its status", () =>
    scoped(Effect.gen(function*() {
      const { seen, socketPath } = yield* server(answerOk)
      const dir = yield* tmpDir
      Fs.writeFileSync(Path.join(dir, "f.bin"), random(10))
      const files = yield* filesOn(socketPath)
      const { spans, tracer } = recordingTracer()
      yield* files.push("c1", Path.join(dir, "f.bin"), "/f.bin").pipe(Effect.withTracer(tracer))
      const span = spans.find((s) => s.name === "http.client POST")
      assert.isDefined(span, spans.map((s) => s.name).join(", "))
      assert.strictEqual(span!.attributes.get("http.response.status_code"), 200)
      assert.strictEqual(span!.attributes.get("url.path"), "/1.0/instances/c1/files")
      assert.isDefined(seen.find((s) => s.method === "POST")!.headers["traceparent"])
    })))
})

describe("bulk path: pull", () => {
  const serveFile = (data: Buffer, framing: "length" | "chunked") => (req: Seen, res: Http.ServerResponse) => {
    if (req.method === "HEAD") {
      res.writeHead(200, fileHeaders("file", data.length))
      return res.end()
    }
    if (framing === "length") {
      res.writeHead(200, fileHeaders("file", data.length))
      return res.end(data)
    }
    res.writeHead(200, fileHeaders("file"))
    // pieces of odd sizes, so chunk boundaries fall anywhere in the socket reads
    let at = 0
    const next = () => {
      if (at >= data.length) return res.end()
      const n = Math.min(data.length - at, 1 + Math.floor(Math.random() * 300_000))
      const ok = res.write(data.subarray(at, at + n))
      at += n
      if (ok) setImmediate(next)
      else res.once("drain", next)
    }
    next()
  }

  for (const framing of ["length", "chunked"] as const) {
    it.live(`Files.pull writes the exact bytes (${framing}) and the file's mode; nothing stays open`, () =>
      scoped(Effect.gen(function*() {
        const data = random(5 * 1024 * 1024 + 777)
        const { seen, socketPath } = yield* server(serveFile(data, framing))
        const dir = yield* tmpDir
        const files = yield* filesOn(socketPath)
        yield* files.pull("c1", "/f.bin", Path.join(dir, "out.bin"))
        assert.strictEqual(sha(Fs.readFileSync(Path.join(dir, "out.bin"))), sha(data))
        assert.strictEqual(Fs.statSync(Path.join(dir, "out.bin")).mode & 0o777, 0o640)
        const get = seen.find((s) => s.method === "GET")!
        assert.strictEqual(get.headers["connection"], "close")
        assert.strictEqual(LxdHttp.openBulkConnectionCount(), 0)
      })))
  }

  it.live("a file that became a symlink is followed; one that became a directory is refused", () =>
    scoped(Effect.gen(function*() {
      const data = random(4096)
      const { socketPath } = yield* server((req, res) => {
        const path = new URL(req.url, "http://x").searchParams.get("path")
        // a file when stat'ed, a link by the time it is read (it changed in between)
        if (path === "/link" && req.method === "HEAD") {
          res.writeHead(200, fileHeaders("file", 6))
          return res.end()
        }
        if (path === "/link") {
          res.writeHead(200, fileHeaders("symlink"))
          return res.end("/real")
        }
        if (path === "/dir" && req.method === "HEAD") {
          res.writeHead(200, fileHeaders("file", 6))
          return res.end()
        }
        if (path === "/dir") {
          res.writeHead(200, { ...fileHeaders("directory"), "content-type": "application/json" })
          return res.end(JSON.stringify(sync(["a"])))
        }
        res.writeHead(200, fileHeaders("file", data.length))
        res.end(req.method === "HEAD" ? undefined : data)
      })
      const dir = yield* tmpDir
      const http = yield* LxdHttp.connect({ _tag: "Unix", socketPath })
      const files = yield* Files.make.pipe(Effect.provideService(LxdHttp.LxdHttp, http))
      // through the raw call the tree code uses: the link, then its target
      const chunks: Array<Buffer> = []
      const res = yield* getBulk(http, "/real")
      const n = yield* res.writeTo((pieces) => {
        for (const p of pieces) chunks.push(Buffer.from(p))
        return Promise.resolve()
      }, () => "write failed")
      assert.strictEqual(n, data.length)
      assert.strictEqual(sha(Buffer.concat(chunks)), sha(data))
      yield* files.pull("c1", "/link", Path.join(dir, "via-link"))
      assert.strictEqual(sha(Fs.readFileSync(Path.join(dir, "via-link"))), sha(data))
      const exit = yield* Effect.exit(files.pull("c1", "/dir", Path.join(dir, "d")))
      assert.match(errorText(exit), /^InvalidArgument: .*is a directory/)
      assert.strictEqual(LxdHttp.openBulkConnectionCount(), 0)
    })))

  it.live("an error answer fails as the envelope says", () =>
    scoped(Effect.gen(function*() {
      const { socketPath } = yield* server((_req, res) => {
        res.writeHead(404, { "content-type": "application/json" })
        res.end(JSON.stringify(error(404, "not found")))
      })
      const http = yield* LxdHttp.connect({ _tag: "Unix", socketPath })
      const exit = yield* Effect.exit(
        scoped(http.raw({ method: "GET", path: "/1.0/instances/c1/files", query: { path: "/x" }, bulk: true }))
      )
      assert.match(errorText(exit), /^NotFound: /)
      assert.strictEqual(LxdHttp.openBulkConnectionCount(), 0)
    })))

  it.live("a connection dropped mid-body fails the pull with a transport error", () =>
    scoped(Effect.gen(function*() {
      const { socketPath } = yield* server((req, res, raw) => {
        res.writeHead(200, fileHeaders("file", 4 * 1024 * 1024))
        if (req.method === "HEAD") return res.end()
        res.write(random(100_000), () => raw.socket.destroy())
      })
      const dir = yield* tmpDir
      const files = yield* filesOn(socketPath)
      const exit = yield* Effect.exit(files.pull("c1", "/f.bin", Path.join(dir, "out.bin")))
      assert.match(errorText(exit), /^TransportError: .*(cut off|closed)/)
      assert.strictEqual(LxdHttp.openBulkConnectionCount(), 0)
      // the 100,000 bytes that arrived are not left behind as if they were the file
      assert.isFalse(Fs.existsSync(Path.join(dir, "out.bin")))
    })))

  it.live("Progress.pullFile: a connection dropped mid-body fails the pull and leaves no file", () =>
    scoped(Effect.gen(function*() {
      const { socketPath } = yield* server((req, res, raw) => {
        res.writeHead(200, fileHeaders("file", 4 * 1024 * 1024))
        if (req.method === "HEAD") return res.end()
        res.write(random(100_000), () => raw.socket.destroy())
      })
      const dir = yield* tmpDir
      const files = yield* filesOn(socketPath)
      let reported = 0
      const exit = yield* Effect.exit(
        Progress.pullFile("c1", "/f.bin", Path.join(dir, "out.bin"), {
          onProgress: (p) => Effect.sync(() => (reported = p.bytesDone ?? 0))
        }).pipe(Effect.provideService(Files.Files, files))
      )
      assert.match(errorText(exit), /^TransportError: .*(cut off|closed)/)
      assert.isAbove(reported, 0)
      assert.isFalse(Fs.existsSync(Path.join(dir, "out.bin")))
    })))

  it.live("Progress.pullFile writes the exact bytes", () =>
    scoped(Effect.gen(function*() {
      const data = random(3 * 1024 * 1024 + 5)
      const { socketPath } = yield* server(serveFile(data, "chunked"))
      const dir = yield* tmpDir
      const files = yield* filesOn(socketPath)
      yield* Progress.pullFile("c1", "/f.bin", Path.join(dir, "out.bin"), { onProgress: () => Effect.void }).pipe(
        Effect.provideService(Files.Files, files)
      )
      assert.strictEqual(sha(Fs.readFileSync(Path.join(dir, "out.bin"))), sha(data))
    })))

  it.live("a body that stalls ends at the idle bound", () =>
    scoped(Effect.gen(function*() {
      const { socketPath } = yield* server((req, res) => {
        res.writeHead(200, fileHeaders("file", 1024 * 1024))
        if (req.method === "HEAD") return res.end()
        res.write(random(1000))
      })
      const dir = yield* tmpDir
      const files = yield* filesOn(socketPath, { idleTimeout: "200 millis" })
      const exit = yield* Effect.exit(files.pull("c1", "/f.bin", Path.join(dir, "out.bin")))
      assert.match(errorText(exit), /^TransportError: .*stalled/)
      assert.strictEqual(LxdHttp.openBulkConnectionCount(), 0)
    })))

  it.live("no answer within the request timeout fails as a timeout", () =>
    scoped(Effect.gen(function*() {
      const { socketPath } = yield* server(() => undefined)
      const http = yield* LxdHttp.connect({ _tag: "Unix", socketPath, requestTimeout: "200 millis" })
      const exit = yield* Effect.exit(
        scoped(http.raw({ method: "GET", path: "/1.0/instances/c1/files", query: { path: "/x" }, bulk: true }))
      )
      assert.match(errorText(exit), /^TransportError: .*no answer within/)
      assert.strictEqual(LxdHttp.openBulkConnectionCount(), 0)
    })))

  it.live("a failed write ends the transfer with the caller's error and closes the connection", () =>
    scoped(Effect.gen(function*() {
      const data = random(2 * 1024 * 1024)
      const { socketPath } = yield* server(serveFile(data, "length"))
      const http = yield* LxdHttp.connect({ _tag: "Unix", socketPath })
      const exit = yield* Effect.exit(scoped(Effect.gen(function*() {
        const res = yield* getBulk(http, "/x")
        return yield* res.writeTo(() => Promise.reject(new Error("disk full")), (cause) => (cause as Error).message)
      })))
      assert.deepStrictEqual(exit, Exit.fail("disk full"))
      assert.strictEqual(LxdHttp.openBulkConnectionCount(), 0)
    })))

  it.live("interrupting a pull closes its connection and waits for the write under way", () =>
    scoped(Effect.gen(function*() {
      const { closes, socketPath } = yield* server((req, res) => {
        res.writeHead(200, fileHeaders("file", 64 * 1024 * 1024))
        if (req.method === "HEAD") return res.end()
        res.write(random(512 * 1024))
      })
      const http = yield* LxdHttp.connect({ _tag: "Unix", socketPath })
      let writing = 0
      let wrote = 0
      const fiber = yield* Effect.fork(scoped(Effect.gen(function*() {
        const res = yield* getBulk(http, "/x")
        return yield* res.writeTo(
          () =>
            new Promise<void>((resolve) => {
              writing++
              setTimeout(() => {
                writing--
                wrote++
                resolve()
              }, 100)
            }),
          () => "write failed"
        )
      })))
      assert.isTrue(yield* eventually(() => writing === 1))
      const before = closes()
      yield* Fiber.interrupt(fiber)
      // the interruption returned only after the write under way had finished
      assert.strictEqual(writing, 0)
      assert.isAtLeast(wrote, 1)
      assert.strictEqual(LxdHttp.openBulkConnectionCount(), 0)
      assert.isTrue(yield* eventually(() => closes() > before))
    })))

  it.live("the whole body through `body` is bounded by maxResponseBytes", () =>
    scoped(Effect.gen(function*() {
      const { socketPath } = yield* server(serveFile(random(200_000), "chunked"))
      const http = yield* LxdHttp.connect({ _tag: "Unix", socketPath, maxResponseBytes: 100_000 })
      const exit = yield* Effect.exit(scoped(Effect.gen(function*() {
        const res = yield* getBulk(http, "/x")
        return yield* res.writeTo(() => Promise.resolve(), () => "x").pipe(Effect.zipRight(Effect.void))
      })))
      // writeTo is not bounded: the whole file arrives
      assert.isTrue(Exit.isSuccess(exit))
      const bounded = yield* Effect.exit(scoped(Effect.gen(function*() {
        const res = yield* getBulk(http, "/x")
        return yield* Stream.runDrain(res.body)
      })))
      assert.match(errorText(bounded), /^DecodeError: .*maxResponseBytes/)
    })))
})

describe("bulk path: only for the transport's own client", () => {
  it.live("a transport changed by transformClient sends files through its client (middleware sees them)", () =>
    scoped(Effect.gen(function*() {
      const data = random(300_000)
      const { seen, socketPath } = yield* server((req, res) => {
        if (req.method === "POST") {
          res.writeHead(200, { "content-type": "application/json" })
          return res.end(JSON.stringify(sync({})))
        }
        res.writeHead(200, fileHeaders("file", data.length))
        res.end(req.method === "HEAD" ? undefined : data)
      })
      const dir = yield* tmpDir
      Fs.writeFileSync(Path.join(dir, "f.bin"), data)
      const transport = LxdTransport.layerUnix({ socketPath }).pipe(
        LxdTransport.transformClient((client) =>
          HttpClient.mapRequest(client, (request) => HttpClientRequest.setHeader(request, "x-middleware", "seen"))
        )
      )
      const context = yield* Layer.build(Files.layer.pipe(Layer.provide(LxdHttp.layer()), Layer.provide(transport)))
      const files = Context.get(context, Files.Files)
      yield* files.push("c1", Path.join(dir, "f.bin"), "/f.bin")
      yield* files.pull("c1", "/f.bin", Path.join(dir, "back.bin"))
      const post = seen.find((s) => s.method === "POST")!
      const get = seen.find((s) => s.method === "GET")!
      assert.strictEqual(post.headers["x-middleware"], "seen")
      assert.strictEqual(get.headers["x-middleware"], "seen")
      assert.notStrictEqual(post.headers["connection"], "close")
      assert.strictEqual(sha(post.body), sha(data))
      assert.strictEqual(sha(Fs.readFileSync(Path.join(dir, "back.bin"))), sha(data))
    })))
})

describe("bulk path: images and backups into local files", () => {
  it.live("Images.exportTo checks the bytes against the fingerprint and leaves no file when they differ", () =>
    scoped(Effect.gen(function*() {
      const good = random(700_000)
      const goodFp = sha(good)
      const { socketPath } = yield* server((req, res) => {
        const fp = /\/1\.0\/images\/([0-9a-f]+)\/export/.exec(req.url)?.[1]
        res.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(good.length) })
        // for any other fingerprint, the same bytes: they do not hash to it
        res.end(fp === undefined ? undefined : good)
      })
      const dir = yield* tmpDir
      const http = yield* LxdHttp.connect({ _tag: "Unix", socketPath })
      const images = yield* Images.Images.pipe(
        Effect.provide(
          Images.layer.pipe(Layer.provide(Operations.layer), Layer.provideMerge(Layer.succeed(LxdHttp.LxdHttp, http)))
        )
      )
      yield* images.exportTo(goodFp.slice(0, 16), Path.join(dir, "ok.tar"))
      assert.strictEqual(sha(Fs.readFileSync(Path.join(dir, "ok.tar"))), goodFp)
      const other = "ab".repeat(32)
      const exit = yield* Effect.exit(images.exportTo(other, Path.join(dir, "bad.tar")))
      assert.match(errorText(exit), /^DecodeError: .*hash to/)
      assert.isFalse(Fs.existsSync(Path.join(dir, "bad.tar")))
      assert.strictEqual(LxdHttp.openBulkConnectionCount(), 0)
    })))

  /** The image service on a server at `socketPath`. */
  const imagesOn = (socketPath: string) =>
    Effect.gen(function*() {
      const http = yield* LxdHttp.connect({ _tag: "Unix", socketPath })
      return yield* Images.Images.pipe(
        Effect.provide(
          Images.layer.pipe(Layer.provide(Operations.layer), Layer.provideMerge(Layer.succeed(LxdHttp.LxdHttp, http)))
        )
      )
    })

  /** The answer of an image upload whose operation reports `fingerprint`. */
  const uploaded = (fingerprint: string): Route => (_req, res) => {
    res.writeHead(200, { "content-type": "application/json" })
    res.end(JSON.stringify(sync({ fingerprint })))
  }

  it.live("Images.upload(unifiedFile) checks the fingerprint against the file's own hash, taken after the send", () =>
    scoped(Effect.gen(function*() {
      const tarball = random(2_500_000)
      const dir = yield* tmpDir
      const file = Path.join(dir, "image.tar")
      Fs.writeFileSync(file, tarball)
      const { seen, socketPath } = yield* server(uploaded("ab".repeat(32)))
      const images = yield* imagesOn(socketPath)
      const error = yield* Effect.flip(images.upload(Images.unifiedFile(file)))
      assert.strictEqual(error._tag, "DecodeError")
      assert.include(error.message, `the bytes of ${file} hash to ${sha(tarball)}`)
      // the bytes went as they are, on the bulk path
      const post = seen.find((s) => s.method === "POST")!
      assert.strictEqual(post.headers["connection"], "close")
      assert.strictEqual(sha(post.body), sha(tarball))
    })))

  it.live("the hash is the file's as its sending ends: a file changed early in the send fails the check", () =>
    scoped(Effect.gen(function*() {
      // more than the bulk path holds in flight (4 MiB of buffers and the socket's): when
      // the server has read the first 4 MiB, the last piece has not been read for sending
      const tarball = random(16 * 1024 * 1024)
      const dir = yield* tmpDir
      const file = Path.join(dir, "image.tar")
      Fs.writeFileSync(file, tarball)
      const changed = Buffer.from(tarball)
      changed[0] = changed[0]! ^ 0xff
      const received: Array<Buffer> = []
      const { socketPath } = yield* server((req, res, raw) => {
        if (req.method !== "POST") {
          res.writeHead(404, { "content-type": "application/json" })
          return res.end(JSON.stringify(error(404, "not found")))
        }
        res.writeContinue()
        let seen = 0
        raw.on("data", (d: Buffer) => {
          if (seen < 4 * 1024 * 1024 && seen + d.length >= 4 * 1024 * 1024) {
            // the first byte, sent long ago, now differs in the file
            const fd = Fs.openSync(file, "r+")
            Fs.writeSync(fd, changed, 0, 1, 0)
            Fs.closeSync(fd)
          }
          seen += d.length
          received.push(d)
        })
        raw.on("end", () => uploaded(sha(Buffer.concat(received)))(req, res, raw))
      }, { readBody: false })
      const images = yield* imagesOn(socketPath)
      const failure = yield* Effect.flip(images.upload(Images.unifiedFile(file)))
      // the server got the bytes as they were; the check hashed the file as it is now
      assert.strictEqual(sha(Buffer.concat(received)), sha(tarball))
      assert.include(failure.message, `the bytes of ${file} hash to ${sha(changed)}`)
    })))

  it.live("an empty unified file is hashed too (nothing was read as it was sent)", () =>
    scoped(Effect.gen(function*() {
      const dir = yield* tmpDir
      const file = Path.join(dir, "empty.tar")
      Fs.writeFileSync(file, "")
      const { socketPath } = yield* server(uploaded("ab".repeat(32)))
      const images = yield* imagesOn(socketPath)
      const error = yield* Effect.flip(images.upload(Images.unifiedFile(file)))
      assert.include(error.message, `hash to ${sha(Buffer.alloc(0))}`)
    })))

  it.live("an upload interrupted while the server works stops hashing the file and closes it", () =>
    scoped(Effect.gen(function*() {
      const dir = yield* tmpDir
      const file = Path.join(dir, "image.tar")
      Fs.writeFileSync(file, random(4_000_000))
      let waited = false
      const { socketPath } = yield* server((req, res) => {
        if (req.method === "POST") {
          res.writeHead(202, { "content-type": "application/json" })
          res.end(JSON.stringify({
            type: "async",
            status: "Operation created",
            status_code: 100,
            operation: "/1.0/operations/op1",
            metadata: operation("op1", { may_cancel: true })
          }))
          return
        }
        // the cancel that follows the interruption succeeds; the wait never ends
        if (req.method === "DELETE") return answerOk(req, res, undefined as never)
        waited = true
      })
      const images = yield* imagesOn(socketPath)
      const opens = () =>
        Fs.readdirSync("/proc/self/fd").filter((fd) => {
          try {
            return Fs.readlinkSync(`/proc/self/fd/${fd}`) === file
          } catch {
            return false
          }
        }).length
      const fiber = yield* Effect.fork(images.upload(Images.unifiedFile(file)))
      while (!waited) {
        assert.isNull(fiber.unsafePoll(), "the upload ended before the server's work")
        yield* Effect.sleep("10 millis")
      }
      yield* Effect.timeout(Fiber.interrupt(fiber), "5 seconds")
      assert.strictEqual(opens(), 0)
    })))

  it.live("InstanceBackups.importFile sends the tarball straight from the file", () =>
    scoped(Effect.gen(function*() {
      const tarball = random(1_500_000)
      const { seen, socketPath } = yield* server((req, res) => {
        res.writeHead(200, { "content-type": "application/json" })
        if (req.method === "POST") {
          res.end(JSON.stringify({
            type: "sync",
            status: "Success",
            status_code: 200,
            metadata: {}
          }))
          return
        }
        res.end(JSON.stringify(sync({
          name: "restored",
          status: "Stopped",
          status_code: 102,
          architecture: "x86_64",
          created_at: "2026-01-01T00:00:00Z"
        })))
      })
      const http = yield* LxdHttp.connect({ _tag: "Unix", socketPath })
      const backups = yield* InstanceBackups.InstanceBackups.pipe(
        Effect.provide(
          InstanceBackups.layer.pipe(
            Layer.provide(Operations.layer),
            Layer.provideMerge(Layer.succeed(LxdHttp.LxdHttp, http))
          )
        )
      )
      const dir = yield* tmpDir
      Fs.writeFileSync(Path.join(dir, "b.tar"), tarball)
      const restored = yield* backups.importFile(Path.join(dir, "b.tar"), { name: "restored" })
      assert.strictEqual(restored.name, "restored")
      const post = seen.find((s) => s.method === "POST")!
      assert.strictEqual(post.url, "/1.0/instances")
      assert.strictEqual(post.headers["connection"], "close")
      assert.strictEqual(post.headers["content-length"], String(tarball.length))
      assert.strictEqual(sha(post.body), sha(tarball))
    })))
})
