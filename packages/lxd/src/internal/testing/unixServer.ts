/**
 * The fake served on a unix socket, for clients other than this library (the real `lxc`).
 * Every HTTP request goes through the fake's own transport (so faults, delays, dropped
 * connections and the recorded requests are the same as in process); websocket upgrades
 * are bridged to the fake's in-process websocket ends with `ws`.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Queue from "effect/Queue"
import * as Runtime from "effect/Runtime"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Fs from "node:fs"
import * as Http from "node:http"
import type * as Net from "node:net"
import * as NodePath from "node:path"
import { type WebSocket, WebSocketServer } from "ws"
import { TransportError } from "../../LxdError.js"
import type { Service as TransportService } from "../../LxdTransport.js"
import type { LxdWebSocket, WebSocketMessage } from "../websocket.js"

/** What the socket server needs from the fake. */
export interface ServeOptions {
  /** Where to listen. */
  readonly path: string
  /** The fake's transport: requests and websockets go through it. */
  readonly transport: TransportService
  /** Whether the fake's daemon runs (connections are refused while it is stopped). */
  readonly isRunning: () => boolean
}

/** A listening socket server. */
export interface UnixServer {
  readonly path: string
  /** Close every connection (websockets with a close frame first), as a stopped daemon does. */
  readonly dropConnections: Effect.Effect<void>
  /** How many websockets are open on the socket now. */
  readonly openWebSockets: () => number
}

const listenError = (path: string, reason: string, cause?: unknown) =>
  new TransportError({ address: `unix:${path}`, method: "LISTEN", path, reason, cause })

const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding", "upgrade", "host", "content-length"])

/** The request's headers for the fake (lower-case names, hop-by-hop ones left out). */
const headersOf = (req: Http.IncomingMessage): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined || HOP_BY_HOP.has(k)) continue
    out[k] = Array.isArray(v) ? v.join(", ") : v
  }
  return out
}

const readBody = (req: Http.IncomingMessage): Promise<Uint8Array> =>
  new Promise((resolve, reject) => {
    const parts: Array<Buffer> = []
    req.on("data", (c: Buffer) => parts.push(c))
    req.on("end", () => resolve(new Uint8Array(Buffer.concat(parts))))
    req.on("error", reject)
  })

/** The status of a refused handshake, from the fake's error (`... refused with HTTP 403: ...`). */
const refusalOf = (error: TransportError): { readonly status: number; readonly message: string } => {
  const m = /refused with HTTP (\d{3}): (.*)$/.exec(error.reason)
  if (m !== null) return { status: Number(m[1]), message: m[2]! }
  return { status: 503, message: "daemon stopped" }
}

const writeRefusal = (socket: Net.Socket, status: number, message: string): void => {
  const body = JSON.stringify({
    type: "error",
    status: "",
    status_code: 0,
    operation: "",
    error_code: status,
    error: message,
    metadata: null
  }) + "\n"
  socket.end(
    `HTTP/1.1 ${status} ${Http.STATUS_CODES[status] ?? "Error"}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n` +
      body
  )
}

/** Listen on `options.path`; the server, its connections and the socket file end with the scope. */
export const serve = (options: ServeOptions): Effect.Effect<UnixServer, TransportError, Scope.Scope> =>
  Effect.gen(function*() {
    const runtime = yield* Effect.runtime<never>()
    const runFork = Runtime.runFork(runtime)
    const scope = yield* Effect.scope
    const { path, transport } = options
    // the requests the fake records are the client's, without trace headers of ours
    const client = HttpClient.withTracerPropagation(transport.client, false)
    const sockets = new Set<Net.Socket>()
    const webSockets = new Set<WebSocket>()
    const upgraded = new Set<Net.Socket>()
    const wss = new WebSocketServer({ noServer: true })
    const http = Http.createServer()

    http.on("connection", (socket) => {
      if (!options.isRunning()) {
        socket.destroy()
        return
      }
      sockets.add(socket)
      socket.on("close", () => {
        sockets.delete(socket)
        upgraded.delete(socket)
      })
    })

    http.on("request", (req, res) => {
      if (!options.isRunning()) {
        req.socket.destroy()
        return
      }
      const program = Effect.gen(function*() {
        const body = yield* Effect.promise(() => readBody(req))
        const headers = headersOf(req)
        let request = HttpClientRequest.make(req.method as "GET")(req.url ?? "/").pipe(
          HttpClientRequest.setHeaders(headers)
        )
        if (body.length > 0) {
          request = HttpClientRequest.bodyUint8Array(request, body, headers["content-type"])
        }
        const response = yield* client.execute(request)
        const out: Record<string, string> = {}
        for (const [k, v] of Object.entries(response.headers)) out[k] = v
        res.writeHead(response.status, out)
        if (req.method === "HEAD") {
          res.end()
          return
        }
        // chunk by chunk: a connection the test drops mid-body is cut after what was sent
        yield* Stream.runForEach(response.stream, (chunk) =>
          Effect.async<void>((resume) => {
            res.write(chunk, () => resume(Effect.void))
          }))
        res.end()
      })
      const fiber = runFork(Effect.scoped(program))
      fiber.addObserver((exit) => {
        // a failure here is the fake's "connection reset" (stopped, dropped): cut the connection
        if (Exit.isFailure(exit)) req.socket.destroy()
      })
    })

    http.on("upgrade", (req: Http.IncomingMessage, socket: Net.Socket, head: Buffer) => {
      if (!options.isRunning()) {
        socket.destroy()
        return
      }
      const url = req.url ?? "/"
      const open = Effect.gen(function*() {
        const wsScope = yield* Scope.make()
        const end = yield* transport.websocket({ path: url, headers: headersOf(req) }).pipe(
          Scope.extend(wsScope),
          Effect.tapError(() => Scope.close(wsScope, Exit.void))
        )
        return { end, wsScope }
      })
      runFork(open).addObserver((exit) => {
        if (Exit.isFailure(exit)) {
          const failure = exit.cause._tag === "Fail" ? refusalOf(exit.cause.error) : undefined
          if (failure === undefined) socket.destroy()
          else writeRefusal(socket, failure.status, failure.message)
          return
        }
        const { end, wsScope } = exit.value
        // a handshake ws refuses (or a client gone meanwhile) never reaches the bridge
        let bridged = false
        socket.once("close", () => {
          if (!bridged) runFork(Scope.close(wsScope, Exit.void))
        })
        upgraded.add(socket)
        wss.handleUpgrade(req, socket, head, (ws) => {
          bridged = true
          bridge(ws, end, wsScope)
        })
      })
    })

    const bridge = (ws: WebSocket, end: LxdWebSocket, wsScope: Scope.CloseableScope): void => {
      webSockets.add(ws)
      // frames from the client, in order; `null` once it has closed (after its last frame)
      const inbox = Effect.runSync(Queue.unbounded<WebSocketMessage | null>())
      ws.on("message", (data: Buffer | ArrayBuffer | Array<Buffer>, isBinary: boolean) => {
        const bytes = Array.isArray(data)
          ? Buffer.concat(data)
          : data instanceof ArrayBuffer
          ? Buffer.from(data)
          : data
        inbox.unsafeOffer(
          isBinary ? { _tag: "Binary", data: new Uint8Array(bytes) } : { _tag: "Text", data: bytes.toString("utf8") }
        )
      })
      ws.on("close", () => {
        webSockets.delete(ws)
        inbox.unsafeOffer(null)
      })
      ws.on("error", () => ws.terminate())
      const toFake: Effect.Effect<void> = Effect.flatMap(
        Queue.take(inbox),
        (m) => (m === null ? Effect.void : Effect.zipRight(Effect.ignore(end.send(m.data)), toFake))
      )
      const toClient = Stream.runForEach(end.messages, (m) =>
        Effect.async<void>((resume) => {
          if (ws.readyState !== ws.OPEN) return resume(Effect.void)
          ws.send(m.data, { binary: m._tag === "Binary" }, () => resume(Effect.void))
        }))
      // whichever side ends first ends the other: the fake closing its end closes the
      // client's websocket, the client closing closes the fake's end
      runFork(
        Effect.raceFirst(toFake, Effect.ignore(toClient)).pipe(
          Effect.ensuring(Effect.sync(() => {
            if (ws.readyState === ws.OPEN) ws.close(1000)
          })),
          Effect.ensuring(Scope.close(wsScope, Exit.void))
        )
      )
    }

    const dropConnections = Effect.sync(() => {
      // websockets get their close frame (and lose the connection a second later at most);
      // plain connections go now
      for (const ws of webSockets) ws.close(1001)
      for (const socket of sockets) if (!upgraded.has(socket)) socket.destroy()
      const stragglers = [...webSockets]
      setTimeout(() => {
        for (const ws of stragglers) ws.terminate()
      }, 1000).unref()
    })

    const closeHttp = Effect.async<void>((resume) => {
      for (const ws of webSockets) ws.terminate()
      for (const socket of sockets) socket.destroy()
      wss.close()
      http.close(() => resume(Effect.void))
      http.closeAllConnections()
    })
    // The socket is bound in a private directory (mode 0700) next to `path`, made 0600,
    // then linked to `path`: it never exists there with a wider mode, and a file already
    // at `path` is never replaced (link fails with EEXIST).
    const staging = yield* Effect.try({
      try: () => Fs.mkdtempSync(NodePath.join(NodePath.dirname(path), ".fake-lxd-")),
      catch: (e) => listenError(path, String(e), e)
    })
    const staged = NodePath.join(staging, "s")
    const listen = Effect.async<void, TransportError>((resume) => {
      const onError = (e: NodeJS.ErrnoException) => resume(Effect.fail(listenError(path, e.message, e)))
      http.once("error", onError)
      http.listen(staged, () => {
        http.off("error", onError)
        resume(Effect.void)
      })
    })
    const inode = yield* listen.pipe(
      Effect.zipRight(Effect.try({
        try: () => {
          Fs.chmodSync(staged, 0o600)
          Fs.linkSync(staged, path)
          return Fs.lstatSync(path).ino
        },
        catch: (e) => listenError(path, e instanceof Error ? e.message : String(e), e)
      })),
      Effect.tapError(() => closeHttp),
      Effect.ensuring(Effect.sync(() => Fs.rmSync(staging, { recursive: true, force: true })))
    )
    yield* Scope.addFinalizer(
      scope,
      Effect.zipRight(
        closeHttp,
        Effect.sync(() => {
          // remove the socket file, if it is still ours
          try {
            if (Fs.lstatSync(path).ino === inode) Fs.unlinkSync(path)
          } catch {
            // already gone
          }
        })
      )
    )
    return { path, dropConnections, openWebSockets: () => webSockets.size }
  })
