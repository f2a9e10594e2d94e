import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Scope from "effect/Scope"
import type * as Stream from "node:stream"
import { LxdHttp } from "../src/index.js"
import { error, fakeServer, json } from "./fakeServer.js"
import { acceptRaw, OPCODE_CLOSE, type RawConnection, watchRaw } from "./rawWebSocket.js"

/**
 * Closing a websocket's scope waits at most this long for the peer's answer to the close
 * frame before cutting the connection: the guarantee under test, with room for a loaded
 * machine.
 */
const CLOSE_BOUND_MS = 2_000

/** Until `check` holds, polling every 10 ms, for at most `ms`. */
const until = (check: () => boolean, ms: number) =>
  Effect.gen(function*() {
    const deadline = Date.now() + ms
    while (!check() && Date.now() < deadline) yield* Effect.sleep("10 millis")
    return check()
  })

/**
 * A server whose websockets complete the handshake and then ignore everything: close
 * frames are read and never answered, the connection is never closed from its side.
 * With `answer: false` it never answers the upgrade request at all.
 */
const stubbornServer = (options: { readonly answer: boolean } = { answer: true }) =>
  Effect.gen(function*() {
    const connections: Array<RawConnection> = []
    const raw: Array<Stream.Duplex> = []
    const { socketPath } = yield* fakeServer(
      (_req, res) => json(res, 404, error(404, "not found")),
      undefined,
      (req, socket, head) => {
        raw.push(socket)
        connections.push(options.answer ? acceptRaw(req, socket, head) : watchRaw(req.url ?? "", socket, head))
      }
    )
    // runs before the HTTP server's close, which would wait for upgraded sockets
    yield* Effect.addFinalizer(() => Effect.sync(() => raw.forEach((s) => s.destroy())))
    const http = yield* LxdHttp.connect({ _tag: "Unix", socketPath })
    return { http, connections }
  })

describe("websocket time bounds against stubborn peers (scripted server)", () => {
  it.scopedLive(
    "closing the scope sends a close frame, then cuts the connection within the bound",
    () =>
      Effect.gen(function*() {
        const { connections, http } = yield* stubbornServer()
        const baseline = LxdHttp.openWebSocketCount()
        const scope = yield* Scope.make()
        yield* http.websocket("/1.0/events", { type: "lifecycle" }).pipe(Scope.extend(scope))
        assert.strictEqual(connections.length, 1)
        assert.strictEqual(LxdHttp.openWebSocketCount(), baseline + 1)

        const started = Date.now()
        const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
        const outcome = yield* Fiber.join(closing).pipe(Effect.timeout("10 seconds"), Effect.option)
        const elapsed = Date.now() - started
        assert.isTrue(outcome._tag === "Some", "closing the scope returned")
        assert.isBelow(elapsed, CLOSE_BOUND_MS)
        // it did try the polite way first
        assert.isTrue(connections[0]!.frames.some((f) => f.opcode === OPCODE_CLOSE), "a close frame was sent")
        // and then the connection was cut from our side
        assert.isTrue(yield* until(() => connections[0]!.ended, 1_000), "the client ended the connection")
        assert.strictEqual(LxdHttp.openWebSocketCount(), baseline)
      }),
    15_000
  )

  it.scopedLive(
    "interrupting a fiber whose scope holds such a socket returns within the bound",
    () =>
      Effect.gen(function*() {
        const { connections, http } = yield* stubbornServer()
        const baseline = LxdHttp.openWebSocketCount()
        const fiber = yield* Effect.fork(Effect.scoped(Effect.gen(function*() {
          const ws = yield* http.websocket("/1.0/events", { type: "lifecycle" })
          return yield* ws.closed
        })))
        assert.isTrue(yield* until(() => connections.length === 1, 5_000), "the socket connected")
        yield* Effect.sleep("50 millis")
        const started = Date.now()
        const interrupted = yield* Fiber.interrupt(fiber).pipe(Effect.timeout("10 seconds"), Effect.option)
        const elapsed = Date.now() - started
        assert.isTrue(interrupted._tag === "Some" && Exit.isInterrupted(interrupted.value), "the fiber was interrupted")
        assert.isBelow(elapsed, CLOSE_BOUND_MS)
        assert.isTrue(yield* until(() => connections[0]!.ended, 1_000), "the client ended the connection")
        assert.strictEqual(LxdHttp.openWebSocketCount(), baseline)
      }),
    15_000
  )

  it.scopedLive("terminate cuts the connection at once, without a close frame", () =>
    Effect.gen(function*() {
      const { connections, http } = yield* stubbornServer()
      const baseline = LxdHttp.openWebSocketCount()
      const scope = yield* Scope.make()
      const ws = yield* http.websocket("/1.0/events", { type: "lifecycle" }).pipe(Scope.extend(scope))
      assert.isDefined(ws.terminate)
      yield* ws.terminate!
      assert.isTrue(yield* until(() => connections[0]!.ended, 1_000), "the connection ended")
      assert.isFalse(connections[0]!.sawCloseFrame(), "no close frame: an abnormal closure")
      yield* ws.closed.pipe(Effect.timeout("1 second"))
      // closing the scope afterwards has nothing left to wait for
      yield* Scope.close(scope, Exit.void).pipe(Effect.timeout("1 second"))
      assert.strictEqual(LxdHttp.openWebSocketCount(), baseline)
    }), 15_000)

  it.scopedLive(
    "interrupting a handshake the server never answers returns at once and leaves nothing open",
    () =>
      Effect.gen(function*() {
        const { connections, http } = yield* stubbornServer({ answer: false })
        const baseline = LxdHttp.openWebSocketCount()
        const fiber = yield* Effect.fork(Effect.scoped(http.websocket("/1.0/events", { type: "lifecycle" })))
        assert.isTrue(yield* until(() => connections.length === 1, 5_000), "the upgrade request arrived")
        assert.strictEqual(LxdHttp.openWebSocketCount(), baseline + 1)
        const started = Date.now()
        // the handshake timeout is 10 s: an uninterruptible handshake would hold us that long
        const interrupted = yield* Fiber.interrupt(fiber).pipe(Effect.timeout("8 seconds"), Effect.option)
        const elapsed = Date.now() - started
        assert.isTrue(interrupted._tag === "Some" && Exit.isInterrupted(interrupted.value), "the fiber was interrupted")
        assert.isBelow(elapsed, CLOSE_BOUND_MS)
        assert.isTrue(yield* until(() => connections[0]!.ended, 1_000), "the client dropped the half-open connection")
        assert.strictEqual(LxdHttp.openWebSocketCount(), baseline)
      }),
    15_000
  )
})
