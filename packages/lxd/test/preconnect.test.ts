/**
 * Connections dialled ahead for websockets (`preconnectWebsockets`): the pool on plain
 * loopback TCP, then the HTTPS transport against a local TLS server (a throwaway
 * certificate made with the openssl CLI) that counts its connections.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Https from "node:https"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { WebSocketServer } from "ws"
import * as Preconnect from "../src/internal/preconnect.js"
import * as LxdHttp from "../src/LxdHttp.js"
import * as LxdTransport from "../src/LxdTransport.js"
import { memoryConnection } from "./memoryTransport.js"

/** Poll `check` every 10 ms until it holds or `ms` pass. */
const until = (check: () => boolean, ms = 3_000) =>
  Effect.gen(function*() {
    const deadline = Date.now() + ms
    while (!check() && Date.now() < deadline) yield* Effect.sleep("10 millis")
    return check()
  })

interface Listener {
  readonly port: number
  /** Connections accepted so far. */
  readonly accepted: () => number
  /** Accepted connections that have closed. */
  readonly closed: () => number
}

/** A loopback TCP server; `onConnection` decides what happens to each connection (default: keep it). */
const tcpServer = (onConnection: (socket: Net.Socket) => void = () => {}) =>
  Effect.acquireRelease(
    Effect.async<{ readonly server: Net.Server; readonly sockets: Set<Net.Socket>; readonly listener: Listener }>(
      (resume) => {
        let accepted = 0
        let closed = 0
        const sockets = new Set<Net.Socket>()
        const server = Net.createServer((socket) => {
          accepted++
          sockets.add(socket)
          socket.on("error", () => {})
          // read (and drop) what arrives, so that the peer's end is seen
          socket.resume()
          socket.on("close", () => {
            closed++
            sockets.delete(socket)
          })
          onConnection(socket)
        })
        server.listen(0, "127.0.0.1", () => {
          const port = (server.address() as Net.AddressInfo).port
          resume(
            Effect.succeed({ server, sockets, listener: { port, accepted: () => accepted, closed: () => closed } })
          )
        })
      }
    ),
    ({ server, sockets }) =>
      Effect.async<void>((resume) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map(({ listener }) => listener))

describe("the pool of pre-dialled connections", () => {
  it.scopedLive("dials at once; a taken connection is the taker's, the others are destroyed with the scope", () =>
    Effect.gen(function*() {
      const listener = yield* tcpServer()
      const baseline = Preconnect.openPreconnectedSocketCount()
      const scope = yield* Scope.make()
      const pool = yield* Preconnect.pool(() => Net.connect({ host: "127.0.0.1", port: listener.port }), 3).pipe(
        Scope.extend(scope)
      )
      assert.strictEqual(Preconnect.openPreconnectedSocketCount(), baseline + 3)
      assert.isTrue(yield* until(() => listener.accepted() === 3), "all three were dialled before any was asked for")
      const taken = pool.take()
      assert.isDefined(taken)
      assert.strictEqual(pool.size(), 2)
      assert.strictEqual(Preconnect.openPreconnectedSocketCount(), baseline + 2)
      yield* Scope.close(scope, Exit.void)
      assert.strictEqual(Preconnect.openPreconnectedSocketCount(), baseline)
      assert.isTrue(yield* until(() => listener.closed() === 2), "the two untaken connections were closed")
      assert.isFalse(taken!.destroyed, "the taken one stays open")
      taken!.destroy()
      assert.isTrue(yield* until(() => listener.closed() === 3))
    }))

  it.scopedLive("a connection the peer closes before it is taken is dropped, not handed out", () =>
    Effect.gen(function*() {
      const listener = yield* tcpServer((socket) => socket.destroy())
      const baseline = Preconnect.openPreconnectedSocketCount()
      const pool = yield* Preconnect.pool(() => Net.connect({ host: "127.0.0.1", port: listener.port }), 2)
      assert.isTrue(yield* until(() => pool.size() === 0), "both were dropped")
      assert.strictEqual(Preconnect.openPreconnectedSocketCount(), baseline)
      assert.isUndefined(pool.take())
    }))

  it.scopedLive("a refused connection is dropped without an uncaught error", () =>
    Effect.gen(function*() {
      // a port that was just free: nothing listens there
      const port = yield* Effect.scoped(Effect.map(tcpServer(), (l) => l.port))
      const baseline = Preconnect.openPreconnectedSocketCount()
      const pool = yield* Preconnect.pool(() => Net.connect({ host: "127.0.0.1", port }), 2)
      assert.isTrue(yield* until(() => pool.size() === 0))
      assert.strictEqual(Preconnect.openPreconnectedSocketCount(), baseline)
      assert.isUndefined(pool.take())
    }))

  it.live("interrupting the fiber that holds the pool closes every untaken connection", () =>
    Effect.gen(function*() {
      const closedOnServer = yield* Effect.scoped(Effect.gen(function*() {
        const listener = yield* tcpServer()
        const baseline = Preconnect.openPreconnectedSocketCount()
        const fiber = yield* Effect.fork(Effect.scoped(Effect.gen(function*() {
          yield* Preconnect.pool(() => Net.connect({ host: "127.0.0.1", port: listener.port }), 4)
          return yield* Effect.never
        })))
        assert.isTrue(yield* until(() => listener.accepted() === 4))
        yield* Fiber.interrupt(fiber)
        assert.strictEqual(Preconnect.openPreconnectedSocketCount(), baseline)
        return yield* until(() => listener.closed() === 4)
      }))
      assert.isTrue(closedOnServer)
    }))
})

// -----------------------------------------------------------------------------
// The HTTPS transport against a local TLS server
// -----------------------------------------------------------------------------

interface Cert {
  readonly cert: string
  readonly key: string
}

/** A throwaway self-signed certificate (EC P-256) made with the openssl CLI. */
const makeCert = (cn: string): Cert => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-lxd-preconnect-"))
  try {
    const certFile = Path.join(dir, "c.crt")
    const keyFile = Path.join(dir, "c.key")
    ChildProcess.execFileSync("openssl", [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      "2",
      "-subj",
      `/CN=${cn}`,
      "-keyout",
      keyFile,
      "-out",
      certFile
    ], { stdio: "ignore" })
    return { cert: Fs.readFileSync(certFile, "utf8"), key: Fs.readFileSync(keyFile, "utf8") }
  } finally {
    Fs.rmSync(dir, { recursive: true, force: true })
  }
}

const serverCert = makeCert("effect-lxd-preconnect-server")
const clientCert = makeCert("effect-lxd-preconnect-client")

interface TlsServer {
  readonly url: string
  /** TLS connections that completed their handshake. */
  readonly secured: () => number
  /** Websocket upgrades answered. */
  readonly upgrades: () => number
}

/**
 * A TLS server with a websocket on every path that sends the path back as its first
 * frame; `closeEveryConnection` makes it end each connection right after the handshake.
 */
const tlsServer = (options: { readonly closeEveryConnection?: boolean } = {}) =>
  Effect.acquireRelease(
    Effect.async<{ readonly server: Https.Server; readonly wss: WebSocketServer; readonly info: TlsServer }>(
      (resume) => {
        let secured = 0
        let upgrades = 0
        const wss = new WebSocketServer({ noServer: true })
        // asks for the client certificate, as LXD does, and takes any
        const server = Https.createServer({
          cert: serverCert.cert,
          key: serverCert.key,
          requestCert: true,
          rejectUnauthorized: false
        })
        server.on("secureConnection", (socket) => {
          secured++
          if (options.closeEveryConnection === true) socket.destroy()
        })
        server.on("tlsClientError", () => {})
        server.on("upgrade", (req, socket, head) => {
          upgrades++
          wss.handleUpgrade(req, socket, head, (ws) => ws.send(req.url ?? ""))
        })
        server.listen(0, "127.0.0.1", () => {
          const port = (server.address() as Net.AddressInfo).port
          resume(Effect.succeed({
            server,
            wss,
            info: { url: `https://127.0.0.1:${port}`, secured: () => secured, upgrades: () => upgrades }
          }))
        })
      }
    ),
    ({ server, wss }) =>
      Effect.async<void>((resume) => {
        for (const ws of wss.clients) ws.terminate()
        wss.close()
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map(({ info }) => info))

/** The HTTPS transport with the client certificate, pinned to `pin`. */
const httpsTransport = (url: string, pin: string) =>
  Effect.map(
    Layer.build(LxdTransport.layerHttps({ url, cert: clientCert.cert, key: clientCert.key, serverCert: pin })),
    (context) => Context.get(context, LxdTransport.LxdTransport)
  )

const firstText = (ws: LxdTransport.LxdWebSocket) =>
  ws.messages.pipe(
    Stream.runHead,
    Effect.map((m) => (m._tag === "Some" && m.value._tag === "Text" ? m.value.data : undefined))
  )

describe("HTTPS websockets on pre-dialled connections (local TLS server)", () => {
  it.scopedLive("before any session to resume, only one connection is dialled ahead", () =>
    Effect.gen(function*() {
      const server = yield* tlsServer()
      const transport = yield* httpsTransport(server.url, serverCert.cert)
      const baseline = LxdHttp.openPreconnectedSocketCount()
      yield* Effect.scoped(Effect.gen(function*() {
        yield* transport.preconnectWebsockets!(4)
        assert.strictEqual(LxdHttp.openPreconnectedSocketCount(), baseline + 1)
      }))
      // one websocket later, its session is there: all four are dialled
      yield* Effect.scoped(Effect.flatMap(transport.websocket({ path: "/1.0/warm", headers: {} }), firstText))
      yield* Effect.scoped(Effect.gen(function*() {
        yield* transport.preconnectWebsockets!(4)
        assert.strictEqual(LxdHttp.openPreconnectedSocketCount(), baseline + 4)
      }))
      assert.strictEqual(LxdHttp.openPreconnectedSocketCount(), baseline)
    }))

  it.scopedLive("the websockets use the connections dialled ahead: no further handshake, same answers", () =>
    Effect.gen(function*() {
      const server = yield* tlsServer()
      const transport = yield* httpsTransport(server.url, serverCert.cert)
      assert.isDefined(transport.preconnectWebsockets)
      yield* Effect.scoped(Effect.flatMap(transport.websocket({ path: "/1.0/warm", headers: {} }), firstText))
      assert.strictEqual(server.secured(), 1)
      const baseline = LxdHttp.openPreconnectedSocketCount()
      const open = yield* transport.preconnectWebsockets!(3)
      assert.strictEqual(LxdHttp.openPreconnectedSocketCount(), baseline + 3)
      // all three handshakes are done before any websocket is asked for
      assert.isTrue(yield* until(() => server.secured() === 4), "three TLS handshakes ahead")
      const paths = ["/1.0/a?secret=1", "/1.0/b?secret=2", "/1.0/c?secret=3"]
      const texts: Array<string | undefined> = []
      for (const p of paths) {
        const ws = yield* open({ path: p, headers: {} })
        texts.push(yield* firstText(ws))
      }
      assert.deepStrictEqual(texts, paths)
      assert.strictEqual(server.secured(), 4, "no connection beyond the three dialled ahead")
      assert.strictEqual(LxdHttp.openPreconnectedSocketCount(), baseline)
      // used up: the next one dials its own
      const fourth = yield* open({ path: "/1.0/d", headers: {} })
      assert.strictEqual(yield* firstText(fourth), "/1.0/d")
      assert.strictEqual(server.secured(), 5)
    }))

  it.scopedLive("unused connections are closed with the scope", () =>
    Effect.gen(function*() {
      const server = yield* tlsServer()
      const transport = yield* httpsTransport(server.url, serverCert.cert)
      const baseline = LxdHttp.openPreconnectedSocketCount()
      yield* Effect.scoped(Effect.flatMap(transport.websocket({ path: "/1.0/warm", headers: {} }), firstText))
      const sockets = LxdHttp.openWebSocketCount()
      yield* Effect.scoped(Effect.gen(function*() {
        const open = yield* transport.preconnectWebsockets!(4)
        const ws = yield* open({ path: "/1.0/one", headers: {} })
        assert.strictEqual(yield* firstText(ws), "/1.0/one")
        assert.strictEqual(LxdHttp.openPreconnectedSocketCount(), baseline + 3)
      }))
      assert.strictEqual(LxdHttp.openPreconnectedSocketCount(), baseline)
      assert.isTrue(yield* until(() => LxdHttp.openWebSocketCount() === sockets), "the websocket closed too")
      assert.strictEqual(server.upgrades(), 2)
    }))

  it.scopedLive("a wrong pin fails each websocket with the pin explanation, and nothing stays open", () =>
    Effect.gen(function*() {
      const server = yield* tlsServer()
      // pinned to another certificate than the one the server shows
      const transport = yield* httpsTransport(server.url, clientCert.cert)
      const baseline = LxdHttp.openPreconnectedSocketCount()
      const sockets = LxdHttp.openWebSocketCount()
      const failures = yield* Effect.scoped(Effect.gen(function*() {
        const open = yield* transport.preconnectWebsockets!(2)
        // whether the pre-dialled connections have failed yet or not, nothing gets through
        const early = yield* Effect.flip(open({ path: "/1.0/x?secret=s3cr3t", headers: {} }))
        yield* until(() => LxdHttp.openPreconnectedSocketCount() === baseline)
        const late = yield* Effect.flip(open({ path: "/1.0/y?secret=s3cr3t", headers: {} }))
        return [early, late]
      }))
      for (const failure of failures) {
        assert.strictEqual(failure._tag, "TransportError")
        assert.include(failure.message, "does not match the pinned certificate")
        assert.notInclude(failure.message, "s3cr3t")
      }
      assert.strictEqual(server.upgrades(), 0, "no request reached the server")
      assert.strictEqual(LxdHttp.openPreconnectedSocketCount(), baseline)
      assert.strictEqual(LxdHttp.openWebSocketCount(), sockets)
    }))

  it.scopedLive("a server that closes every connection: the websocket fails, nothing stays open", () =>
    Effect.gen(function*() {
      const server = yield* tlsServer({ closeEveryConnection: true })
      const transport = yield* httpsTransport(server.url, serverCert.cert)
      const baseline = LxdHttp.openPreconnectedSocketCount()
      const sockets = LxdHttp.openWebSocketCount()
      const failure = yield* Effect.scoped(Effect.gen(function*() {
        const open = yield* transport.preconnectWebsockets!(2)
        assert.isTrue(yield* until(() => server.secured() >= 1))
        return yield* Effect.flip(open({ path: "/1.0/x", headers: {} }))
      }))
      assert.strictEqual(failure._tag, "TransportError")
      assert.strictEqual(LxdHttp.openPreconnectedSocketCount(), baseline)
      assert.strictEqual(LxdHttp.openWebSocketCount(), sockets)
    }))

  it.live("interrupting a websocket that waits on a pre-dialled connection leaves nothing open", () =>
    Effect.gen(function*() {
      yield* Effect.scoped(Effect.gen(function*() {
        // a listener that accepts TCP and never answers the TLS handshake
        const silent = yield* tcpServer()
        const transport = yield* httpsTransport(`https://127.0.0.1:${silent.port}`, serverCert.cert)
        const baseline = LxdHttp.openPreconnectedSocketCount()
        const sockets = LxdHttp.openWebSocketCount()
        const fiber = yield* Effect.fork(Effect.scoped(Effect.gen(function*() {
          const open = yield* transport.preconnectWebsockets!(2)
          return yield* open({ path: "/1.0/x", headers: {} })
        })))
        // no session yet (the handshake never ends): one connection ahead, taken by the websocket
        assert.isTrue(yield* until(() => silent.accepted() === 1))
        yield* Effect.sleep("50 millis")
        yield* Fiber.interrupt(fiber)
        assert.strictEqual(LxdHttp.openPreconnectedSocketCount(), baseline)
        assert.strictEqual(LxdHttp.openWebSocketCount(), sockets)
        yield* until(() => silent.closed() === 1)
        assert.strictEqual(silent.closed(), 1, `closed on the server: ${silent.closed()} of ${silent.accepted()}`)
      }))
    }))
})

describe("transports without the capability", () => {
  it.scopedLive("LxdHttp.preconnectWebsockets opens through the transport's websocket, and dials nothing ahead", () =>
    Effect.gen(function*() {
      const { http } = yield* memoryConnection(() => {})
      const baseline = LxdHttp.openPreconnectedSocketCount()
      const open = yield* http.preconnectWebsockets(4)
      assert.strictEqual(LxdHttp.openPreconnectedSocketCount(), baseline)
      // the memory transport's websocket dies with its own message: that is where it went
      const exit = yield* Effect.exit(open("/1.0/events"))
      assert.isTrue(Exit.isFailure(exit) && Cause.pretty(exit.cause).includes("the memory transport has no websockets"))
    }))
})
