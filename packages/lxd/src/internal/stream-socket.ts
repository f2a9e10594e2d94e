/**
 * Operation websockets shared by exec and console: read the `fds` secrets of a
 * `websocket` operation, connect every socket right away (LXD 5.0 gives a client 5
 * seconds to attach them all), and turn LXD's framing into bytes: data in binary frames, end of
 * stream as an empty text frame (or the socket closing).
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import { DecodeError, type TransportError } from "../LxdError.js"
import type { LxdWebSocket, Service as Http } from "../LxdHttp.js"
import type { Operation } from "./envelope.js"
import { path } from "./path.js"

const FdMetadata = Schema.Struct({
  fds: Schema.Record({ key: Schema.String, value: Schema.String })
})

/**
 * What a caller may want to know while the sockets are being connected (to clean up
 * after an interruption half-way: which sockets exist, whether the last one was dialled).
 */
export interface ConnectHooks<K extends string> {
  /** A socket's handshake is about to begin. */
  readonly onDial?: ((name: K) => void) | undefined
  /** A socket is open (it is also in the scope). */
  readonly onOpen?: ((name: K, ws: LxdWebSocket) => void) | undefined
  /**
   * Opens the sockets instead of `http.websocket`: one from `http.preconnectWebsockets`,
   * whose connections were dialled while the operation was being created.
   */
  readonly websocket?: Http["websocket"] | undefined
}

/**
 * Connect the named sockets of a websocket operation. The secrets never
 * leave this function (error paths carry no query string).
 */
export const connectFds = <const K extends string>(
  http: Http,
  operation: Operation,
  names: ReadonlyArray<K>,
  origin: { readonly method: string; readonly path: string },
  hooks?: ConnectHooks<K>
): Effect.Effect<Record<K, LxdWebSocket>, TransportError | DecodeError, Scope.Scope> =>
  Effect.gen(function*() {
    const decoded = yield* Schema.decodeUnknown(FdMetadata)(operation.metadata).pipe(
      Effect.mapError(() =>
        new DecodeError({
          method: origin.method,
          path: origin.path,
          reason: "the operation's metadata has no websocket secrets (fds)"
        })
      )
    )
    const missing = names.filter((n) => decoded.fds[n] === undefined)
    if (missing.length > 0) {
      return yield* Effect.fail(
        new DecodeError({
          method: origin.method,
          path: origin.path,
          reason: `the operation offers no websocket for ${missing.join(", ")}`
        })
      )
    }
    const wsPath = path`/1.0/operations/${operation.id}/websocket`
    const open = hooks?.websocket ?? http.websocket
    const connect = (name: K) => open(wsPath, { secret: decoded.fds[name]! })
    const out = {} as Record<K, LxdWebSocket>
    // One after the other, control first, then 0, 1, 2 (the order of LXD's own client).
    // Control first: the server starts the command once the data sockets are attached,
    // and a quick command would end the operation before a late control socket joins
    // ("Only running operations can be connected"). In order: with the data sockets
    // dialled at once, Incus 6.0.4 now and then closed the stdout socket without sending
    // the output (3 runs in 400 here; none in 2000 in order). Loopback handshakes take
    // milliseconds, well inside LXD 5.0's 5-second deadline.
    const ordered = [...names].sort((a, b) => (a === "control" ? -1 : b === "control" ? 1 : a < b ? -1 : a > b ? 1 : 0))
    for (const name of ordered) {
      hooks?.onDial?.(name)
      const ws = yield* connect(name)
      out[name] = ws
      hooks?.onOpen?.(name, ws)
    }
    return out
  })

const encoder = new TextEncoder()

/**
 * The bytes a socket carries, until LXD's end-of-stream barrier (an empty text frame) or
 * the socket closing. Non-empty text frames are passed on as their UTF-8 bytes.
 */
export const readBytes = (ws: LxdWebSocket): Stream.Stream<Uint8Array, TransportError> =>
  ws.messages.pipe(
    Stream.takeWhile((m) => !(m._tag === "Text" && m.data.length === 0)),
    Stream.map((m) => (m._tag === "Binary" ? m.data : encoder.encode(m.data)))
  )

/**
 * A sink writing each chunk as a binary frame. When the input ends, `onEnd` decides:
 * send LXD's barrier (an empty text frame: end of input), or nothing (interactive
 * sessions, where end of input is the terminal's business).
 */
export const writeBytes = (
  ws: LxdWebSocket,
  onEnd: "barrier" | "none"
): Sink.Sink<void, Uint8Array, never, TransportError> => {
  const data = Sink.forEach((chunk: Uint8Array) => (chunk.length === 0 ? Effect.void : ws.send(chunk)))
  return onEnd === "barrier" ? Sink.mapEffect(data, () => ws.send("")) : data
}

/** The JSON control message asking LXD to resize the terminal. */
export const resizeMessage = (width: number, height: number): string =>
  JSON.stringify({ command: "window-resize", args: { width: String(width), height: String(height) } })

/** The JSON control message forwarding a signal to the process. */
export const signalMessage = (signal: number): string => JSON.stringify({ command: "signal", signal })
