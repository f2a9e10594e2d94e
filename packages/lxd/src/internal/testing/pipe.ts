/**
 * An in-memory websocket: two connected ends, one handed to the library as an
 * `LxdWebSocket`, the other kept by the fake server. A frame sent on one end arrives on
 * the other; closing either end (or the server going away) ends both streams.
 */
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"
import { TransportError } from "../../LxdError.js"
import { countOpenSocket, type LxdWebSocket, type WebSocketMessage } from "../websocket.js"

type Item = { readonly _tag: "Message"; readonly message: WebSocketMessage } | { readonly _tag: "End" }

/** One end of a pipe. */
export interface PipeEnd extends LxdWebSocket {
  /** Whether the pipe has closed. */
  readonly isClosed: () => boolean
}

/** A connected pair. */
export interface Pipe {
  readonly client: PipeEnd
  readonly server: PipeEnd
  /** Close both ends at once (idempotent). */
  readonly closeBoth: Effect.Effect<void>
}

const messagesOf = (queue: Queue.Queue<Item>): Stream.Stream<WebSocketMessage, TransportError> =>
  Stream.repeatEffectChunkOption(
    Effect.gen(function*() {
      const items = yield* Queue.takeBetween(queue, 1, 64)
      const out: Array<WebSocketMessage> = []
      for (const item of items) {
        if (item._tag === "End") {
          // keep the end marker for whoever pulls next
          yield* Queue.offer(queue, item)
          if (out.length > 0) return Chunk.unsafeFromArray(out)
          return yield* Effect.fail(Option.none())
        }
        out.push(item.message)
      }
      return Chunk.unsafeFromArray(out)
    })
  )

/** A new pair of connected ends; `address` and `path` name it in errors. */
export const make = (address: string, path: string): Effect.Effect<Pipe> =>
  Effect.gen(function*() {
    const toClient = yield* Queue.unbounded<Item>()
    const toServer = yield* Queue.unbounded<Item>()
    const closed = yield* Deferred.make<void>()
    let isClosed = false
    // counted with the library's own sockets (LxdHttp.openWebSocketCount) while open
    const uncount = countOpenSocket()
    const closeBoth = Effect.suspend(() => {
      if (isClosed) return Effect.void
      isClosed = true
      uncount()
      toClient.unsafeOffer({ _tag: "End" })
      toServer.unsafeOffer({ _tag: "End" })
      return Deferred.succeed(closed, undefined)
    }).pipe(Effect.asVoid)
    const sendTo = (queue: Queue.Queue<Item>) => (data: Uint8Array | string) =>
      Effect.suspend(() => {
        if (isClosed) {
          return Effect.fail(
            new TransportError({ address, method: "WEBSOCKET", path, reason: "websocket is closed" })
          )
        }
        const message: WebSocketMessage = typeof data === "string"
          ? { _tag: "Text", data }
          : { _tag: "Binary", data: new Uint8Array(data) }
        queue.unsafeOffer({ _tag: "Message", message })
        return Effect.void
      })
    const end = (inbox: Queue.Queue<Item>, outbox: Queue.Queue<Item>): PipeEnd => ({
      messages: messagesOf(inbox),
      send: sendTo(outbox),
      close: closeBoth,
      terminate: closeBoth,
      closed: Deferred.await(closed),
      isClosed: () => isClosed
    })
    return { client: end(toClient, toServer), server: end(toServer, toClient), closeBoth }
  })
