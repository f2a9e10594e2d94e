/**
 * A scoped websocket over `ws` (unix socket or TLS with client certificates), with
 * backpressure on incoming frames: when the consumer falls behind, the underlying socket
 * is paused, so a fast producer (exec output, file streams) never fills our memory.
 */
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import WebSocket from "ws"
import { TransportError } from "../LxdError.js"

/** One websocket frame: LXD sends data as binary frames and end-of-stream as an empty text frame. */
export type WebSocketMessage =
  | { readonly _tag: "Binary"; readonly data: Uint8Array }
  | { readonly _tag: "Text"; readonly data: string }

/** An open websocket. `messages` may be consumed once. */
export interface LxdWebSocket {
  /** Frames in arrival order; the stream ends when the socket closes. */
  readonly messages: Stream.Stream<WebSocketMessage, TransportError>
  /** Send a frame: bytes as a binary frame, a string as a text frame. Completes once written. */
  readonly send: (data: Uint8Array | string) => Effect.Effect<void, TransportError>
  /** Close with a normal closure (idempotent). */
  readonly close: Effect.Effect<void>
  /**
   * Cut the connection at once, without a close frame (idempotent): the peer sees an
   * abnormal closure (LXD and Incus kill an exec's command when its control socket ends
   * that way). Optional, for implementations that predate it.
   */
  readonly terminate?: Effect.Effect<void> | undefined
  /** Completes when the socket has closed, for whatever reason. */
  readonly closed: Effect.Effect<void>
}

/** Sockets opened and not yet closed, across the process (for leak checks). */
let openSockets = 0
export const openWebSocketCount = (): number => openSockets

/**
 * Count a socket that does not go through `open` (the test kit's in-memory ones), so that
 * leak checks see it; the returned function uncounts it (once).
 */
export const countOpenSocket = (): () => void => {
  openSockets++
  let counted = true
  return () => {
    if (counted) {
      counted = false
      openSockets--
    }
  }
}

const HIGH_WATER = 64

/**
 * How long closing waits for the peer to answer our close frame before cutting the
 * connection. A release runs uninterruptibly, so the wait itself is made interruptible
 * for this bound to hold: a peer that ignores close frames cannot hold a scope open.
 */
const CLOSE_WAIT = "1 second"

/** A frame as `ws` hands it over, as a message (text frames are UTF-8). */
const frameOf = (data: WebSocket.RawData, isBinary: boolean): WebSocketMessage => {
  const bytes = Array.isArray(data)
    ? new Uint8Array(Buffer.concat(data))
    : data instanceof ArrayBuffer
    ? new Uint8Array(data)
    : new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
  return isBinary ? { _tag: "Binary", data: bytes } : { _tag: "Text", data: Buffer.from(bytes).toString("utf8") }
}

/** Why the server refused the handshake: the `error` of its JSON answer, or the body as it came. */
export const refusal = (status: number | undefined, body: string): string => {
  let message = body
  try {
    const parsed: unknown = JSON.parse(body)
    if (typeof parsed === "object" && parsed !== null && "error" in parsed) {
      message = String((parsed as { error: unknown }).error)
    }
  } catch {
    // keep the raw body
  }
  return `websocket handshake refused with HTTP ${status}: ${message.trim()}`
}

/**
 * The queue's messages as a stream, in chunks of at most `HIGH_WATER`; `onTaken` is told
 * how many were taken (to resume a paused socket). The end marker ends the stream (with
 * its error, if any) after the messages before it.
 */
const drain = (
  queue: Queue.Queue<Item>,
  onTaken: (n: number) => void
): Stream.Stream<WebSocketMessage, TransportError> =>
  Stream.repeatEffectChunkOption(
    Effect.gen(function*() {
      const items = yield* Queue.takeBetween(queue, 1, HIGH_WATER)
      const out: Array<WebSocketMessage> = []
      for (const item of items) {
        if (item._tag === "End") {
          onTaken(out.length)
          if (out.length > 0) {
            // deliver what we have; the end marker is seen again next pull
            yield* Queue.offer(queue, item)
            return Chunk.unsafeFromArray(out)
          }
          return yield* Effect.fail(item.error === undefined ? Option.none() : Option.some(item.error))
        }
        out.push(item.message)
      }
      onTaken(out.length)
      return Chunk.unsafeFromArray(out)
    })
  )

/** @internal */
export interface OpenOptions {
  readonly url: string
  readonly options: WebSocket.ClientOptions
  /** For error messages. */
  readonly address: string
  readonly path: string
  readonly openTimeoutMs: number
}

type Item = { readonly _tag: "Message"; readonly message: WebSocketMessage } | {
  readonly _tag: "End"
  readonly error?: TransportError
}

/** @internal */
export const open = (options: OpenOptions): Effect.Effect<LxdWebSocket, TransportError, Scope.Scope> =>
  Effect.gen(function*() {
    const fail = (reason: string, cause?: unknown) =>
      new TransportError({
        address: options.address,
        method: "WEBSOCKET",
        path: options.path,
        reason,
        ...(cause === undefined ? {} : { cause })
      })
    const queue = yield* Queue.unbounded<Item>()
    const closedSignal = yield* Deferred.make<void>()
    // backpressure: frames beyond HIGH_WATER pause the socket until the consumer catches up
    let buffered = 0
    let paused = false
    // listeners go on at construction: a server may send its first frames right after the
    // handshake, before the opening fiber runs again, and frames without a listener are lost
    const listen = (socket: WebSocket) => {
      socket.on("message", (data: WebSocket.RawData, isBinary: boolean) => {
        buffered++
        queue.unsafeOffer({ _tag: "Message", message: frameOf(data, isBinary) })
        if (buffered >= HIGH_WATER && !paused) {
          paused = true
          socket.pause()
        }
      })
      socket.on("close", () => {
        queue.unsafeOffer({ _tag: "End" })
      })
    }
    // the socket being opened, counted from construction until it has closed
    let current: WebSocket | undefined
    let counted = false
    const uncount = () => {
      if (counted) {
        counted = false
        openSockets--
      }
    }
    const connect = Effect.async<WebSocket, TransportError>((resume) => {
      let settled = false
      let socket: WebSocket
      try {
        socket = new WebSocket(options.url, { ...options.options, handshakeTimeout: options.openTimeoutMs })
      } catch (cause) {
        resume(Effect.fail(fail(`cannot open websocket: ${String(cause)}`, cause)))
        return
      }
      current = socket
      listen(socket)
      openSockets++
      counted = true
      socket.on("close", () => {
        uncount()
        Deferred.unsafeDone(closedSignal, Effect.void)
      })
      socket.once("open", () => {
        settled = true
        resume(Effect.succeed(socket))
      })
      socket.once("unexpected-response", (_req, res) => {
        settled = true
        let body = ""
        res.setEncoding("utf8")
        res.on("data", (d: string) => {
          if (body.length < 2000) body += d
        })
        res.on("end", () => {
          socket.terminate()
          uncount()
          resume(Effect.fail(fail(refusal(res.statusCode, body))))
        })
      })
      socket.on("error", (err) => {
        if (!settled) {
          settled = true
          uncount()
          resume(Effect.fail(fail(err.message, err)))
        } else {
          queue.unsafeOffer({ _tag: "End", error: fail(`websocket error: ${err.message}`, err) })
        }
      })
      return Effect.sync(() => {
        // interrupted while connecting
        socket.terminate()
        uncount()
      })
    })

    const release = (socket: WebSocket) =>
      Effect.gen(function*() {
        if (paused) {
          // we stopped reading: the peer's answer to a close frame would wait behind
          // everything it has sent since, so there is no closing handshake to wait for
          socket.terminate()
        } else if (socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CONNECTING) {
          socket.close(1000)
        }
        if (socket.readyState !== WebSocket.CLOSED) {
          // give the peer a moment to answer the close frame, then cut the connection;
          // interruptible inside the timeout, which could not end it otherwise (releases
          // run uninterruptibly)
          const done = yield* Effect.interruptible(Deferred.await(closedSignal)).pipe(
            Effect.timeout(CLOSE_WAIT),
            Effect.option
          )
          if (Option.isNone(done)) socket.terminate()
        }
      })

    // The handshake can be interrupted (a stalled server must not hold an interruption
    // for the whole handshake timeout); once it has succeeded, the release is registered
    // before anything else can interrupt. Interrupted in between (the socket opened, the
    // fiber stopped before taking it): cut it.
    const ws = yield* Effect.uninterruptibleMask((restore) =>
      restore(connect).pipe(
        Effect.onInterrupt(() =>
          Effect.sync(() => {
            current?.terminate()
            uncount()
          })
        ),
        Effect.tap((socket) => Effect.addFinalizer(() => release(socket)))
      )
    )

    const onTaken = (n: number) => {
      buffered -= n
      if (paused && buffered < HIGH_WATER / 2) {
        paused = false
        ws.resume()
      }
    }

    const messages = drain(queue, onTaken)

    const send = (data: Uint8Array | string) =>
      Effect.async<void, TransportError>((resume) => {
        if (ws.readyState !== WebSocket.OPEN) {
          resume(Effect.fail(fail("websocket is closed")))
          return
        }
        ws.send(data, { binary: typeof data !== "string" }, (err) => {
          resume(err ? Effect.fail(fail(`websocket write failed: ${err.message}`, err)) : Effect.void)
        })
      })

    const close = Effect.sync(() => {
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(1000)
    })

    const terminate = Effect.sync(() => {
      if (ws.readyState !== WebSocket.CLOSED) ws.terminate()
    })

    return {
      messages,
      send,
      close,
      terminate,
      closed: Deferred.await(closedSignal)
    } satisfies LxdWebSocket
  })
