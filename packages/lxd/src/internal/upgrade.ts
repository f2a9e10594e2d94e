/**
 * A raw connection taken over from HTTP (`Upgrade: <protocol>`, answered with
 * `101 Switching Protocols`), as LXD's `/1.0/instances/<name>/sftp` does: the request is
 * written by hand on a fresh socket (unix or TLS), the answer's head is parsed, and after
 * a 101 the socket carries the new protocol. Any other answer is handed back with its
 * body (at most 64 KiB) so that the protocol layer can read the error envelope.
 *
 * Incoming bytes are queued as they arrive, without pausing the socket: the protocols
 * spoken over it here (SFTP) are request and answer, so the peer sends only what was
 * asked for and the asker bounds what is in flight.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as Net from "node:net"
import { TransportError } from "../LxdError.js"

/** A connection after the switch of protocols. `bytes` may be consumed once. */
export interface UpgradedSocket {
  /** What the peer sends, until the connection closes (an error if it broke). */
  readonly bytes: Stream.Stream<Uint8Array, TransportError>
  /** Write bytes; completes once the socket has taken them. */
  readonly write: (data: Uint8Array) => Effect.Effect<void, TransportError>
  /** Close the connection (idempotent). The scope closes it too. */
  readonly close: Effect.Effect<void>
  /** Completes when the connection has closed, for whatever reason. */
  readonly closed: Effect.Effect<void>
  /**
   * Read with callbacks instead of `bytes` (a transport may offer it): what has arrived is
   * handed over at once, later reads as they come, without a stream step per read. A
   * chunk is valid only until `onData` returns (its buffer may be read into again): copy
   * what you keep. Use one or the other, once. `onEnd` comes once, with an error if the
   * connection broke.
   */
  readonly readWith?: ((reader: UpgradedReader) => Effect.Effect<void>) | undefined
}

/** The callbacks of `UpgradedSocket.readWith`. */
export interface UpgradedReader {
  readonly onData: (chunk: Uint8Array) => void
  readonly onEnd: (error: TransportError | undefined) => void
}

/** What the server answered to an upgrade request. */
export type UpgradeAnswer =
  | { readonly _tag: "Upgraded"; readonly socket: UpgradedSocket }
  | {
    readonly _tag: "Refused"
    readonly status: number
    readonly headers: Readonly<Record<string, string>>
    readonly body: string
  }

/** Upgraded connections opened and not yet closed, across the process (for leak checks). */
let openCount = 0
export const openUpgradedSocketCount = (): number => openCount

const MAX_HEAD = 16 * 1024
const MAX_REFUSAL_BODY = 64 * 1024
/** The buffer a unix socket reads into (one per connection, reused read after read). */
const READ_BUFFER = 256 * 1024

interface Head {
  readonly status: number
  readonly headers: Record<string, string>
  /** Bytes after the head. */
  readonly rest: Buffer
}

/** The status line and headers of an HTTP/1.1 answer, once `buffer` holds all of them. */
export const parseHead = (buffer: Buffer): Head | "incomplete" | "invalid" => {
  const end = buffer.indexOf("\r\n\r\n")
  if (end < 0) return buffer.length > MAX_HEAD ? "invalid" : "incomplete"
  const lines = buffer.subarray(0, end).toString("latin1").split("\r\n")
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? "")
  if (status === null) return "invalid"
  const headers: Record<string, string> = {}
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":")
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
  }
  return { status: Number(status[1]), headers, rest: buffer.subarray(end + 4) }
}

/** The request that asks for the switch (no body). Header values are the caller's. */
export const upgradeRequest = (options: {
  readonly path: string
  readonly host: string
  readonly protocol: string
  readonly headers: Readonly<Record<string, string>>
}): string => {
  const lines = [
    `GET ${options.path} HTTP/1.1`,
    `Host: ${options.host}`,
    `Upgrade: ${options.protocol}`,
    "Connection: Upgrade",
    ...Object.entries(options.headers).map(([k, v]) => `${k}: ${v}`)
  ]
  return lines.join("\r\n") + "\r\n\r\n"
}

export interface OpenOptions {
  /**
   * Dial the server: a socket that emits `connect` (plain) or `secureConnect` (TLS). A
   * socket that can read into the caller's buffer (a unix socket) takes `onread`; one
   * that cannot (TLS) ignores it and emits `data`.
   */
  readonly dial: (onread: Net.OnReadOpts) => Net.Socket
  /** The event that says the socket is ready for the request. */
  readonly readyEvent: "connect" | "secureConnect"
  readonly host: string
  readonly path: string
  readonly protocol: string
  readonly headers: Readonly<Record<string, string>>
  /** For error messages. */
  readonly address: string
  /** The path without its query, for error messages. */
  readonly errorPath: string
  readonly openTimeoutMs: number
}

type Item = { readonly _tag: "Data"; readonly data: Uint8Array } | {
  readonly _tag: "End"
  readonly error?: TransportError | undefined
}

/**
 * Dial, ask for the upgrade and read the answer. After a 101 whose `Upgrade` names the
 * protocol, the connection lives until the scope closes; on any other answer it is
 * closed before this returns.
 */
export const open = (options: OpenOptions): Effect.Effect<UpgradeAnswer, TransportError, Scope.Scope> =>
  Effect.gen(function*() {
    const fail = (reason: string, cause?: unknown) =>
      new TransportError({
        address: options.address,
        method: "UPGRADE",
        path: options.errorPath,
        reason,
        ...(cause === undefined ? {} : { cause })
      })
    const queue = yield* Queue.unbounded<Item>()
    // once `readWith` is called, items go to its callbacks instead of the queue
    let direct: UpgradedReader | undefined
    let directEnded = false
    const toReader = (reader: UpgradedReader, item: Item) => {
      if (directEnded) return
      if (item._tag === "Data") return reader.onData(item.data)
      directEnded = true
      reader.onEnd(item.error)
    }
    const deliver = (item: Item) => (direct === undefined ? queue.unsafeOffer(item) : toReader(direct, item))
    const closedSignal = yield* Deferred.make<void>()
    // counted from the dial until closed; a destroyed socket counts as closed at once
    let counted = false
    const uncount = () => {
      if (counted) {
        counted = false
        openCount--
      }
    }
    const destroy = (socket: Net.Socket) => {
      socket.destroy()
      uncount()
    }

    const handshake = Effect.async<
      { socket: Net.Socket; answer: Head | { refused: Head; body: string } },
      TransportError
    >(
      (resume) => {
        let settled = false
        let socket: Net.Socket
        const done = (
          effect: Effect.Effect<{ socket: Net.Socket; answer: Head | { refused: Head; body: string } }, TransportError>
        ) => {
          if (!settled) {
            settled = true
            clearTimeout(timer)
            resume(effect)
          }
        }
        // a unix socket reads into one buffer, used over and over: what is read is handed
        // on as a view valid until the next read (`readWith`), or copied into the queue
        const readBuffer = Buffer.allocUnsafe(READ_BUFFER)
        const onread: Net.OnReadOpts = {
          buffer: readBuffer,
          callback: (bytes) => {
            received(readBuffer.subarray(0, bytes), true)
            return true
          }
        }
        try {
          socket = options.dial(onread)
        } catch (cause) {
          resume(Effect.fail(fail(`cannot connect: ${String(cause)}`, cause)))
          return
        }
        openCount++
        counted = true
        socket.once("close", () => {
          uncount()
          Deferred.unsafeDone(closedSignal, Effect.void)
          deliver({ _tag: "End" })
          done(Effect.fail(fail("the connection closed during the upgrade")))
        })
        const timer = setTimeout(() => {
          destroy(socket)
          done(Effect.fail(fail(`no upgrade within ${options.openTimeoutMs} ms`)))
        }, options.openTimeoutMs)
        let buffer: Buffer = Buffer.alloc(0)
        let head: Head | undefined
        /** A read: `reused` when its buffer is read into again after this returns. */
        const received = (chunk: Buffer, reused: boolean) => {
          if (settled) {
            // a reader's callback sees the read as it is (it copies what it keeps); the
            // queue keeps a copy of a reused buffer's bytes, a fresh buffer as it is
            if (direct !== undefined) deliver({ _tag: "Data", data: chunk })
            else deliver({ _tag: "Data", data: reused ? Buffer.from(chunk) : chunk })
            return
          }
          buffer = Buffer.concat([buffer, chunk])
          if (head === undefined) {
            const parsed = parseHead(buffer)
            if (parsed === "incomplete") return
            if (parsed === "invalid") {
              destroy(socket)
              done(Effect.fail(fail("the server's answer to the upgrade is not HTTP")))
              return
            }
            head = parsed
            buffer = parsed.rest
          }
          if (head.status === 101) {
            if ((head.headers["upgrade"] ?? "").toLowerCase() !== options.protocol.toLowerCase()) {
              destroy(socket)
              done(
                Effect.fail(fail(`the server switched to "${head.headers["upgrade"] ?? ""}", not ${options.protocol}`))
              )
              return
            }
            if (buffer.length > 0) queue.unsafeOffer({ _tag: "Data", data: new Uint8Array(buffer) })
            done(Effect.succeed({ socket, answer: head }))
            return
          }
          const length = Number(head.headers["content-length"])
          const complete = Number.isFinite(length) ? buffer.length >= length : false
          if (complete || buffer.length >= MAX_REFUSAL_BODY) {
            const body = buffer.subarray(0, Math.min(buffer.length, MAX_REFUSAL_BODY)).toString("utf8")
            destroy(socket)
            done(Effect.succeed({ socket, answer: { refused: head, body } }))
          }
        }
        // a socket that ignored `onread` (TLS) emits its reads, each in a buffer of its own
        socket.on("data", (chunk: Buffer) => received(chunk, false))
        socket.on("end", () => {
          if (head !== undefined && head.status !== 101) {
            done(Effect.succeed({ socket, answer: { refused: head, body: buffer.toString("utf8") } }))
          }
        })
        socket.on("error", (err) => {
          if (settled) deliver({ _tag: "End", error: fail(`connection error: ${err.message}`, err) })
          else done(Effect.fail(fail(err.message, err)))
        })
        socket.once(options.readyEvent, () => {
          socket.write(upgradeRequest(options))
        })
        return Effect.sync(() => {
          // interrupted during the handshake
          clearTimeout(timer)
          destroy(socket)
        })
      }
    )

    // once the handshake succeeded, the release is registered before anything can interrupt
    const { answer, socket } = yield* Effect.uninterruptibleMask((restore) =>
      restore(handshake).pipe(
        Effect.tap(({ socket }) => Effect.addFinalizer(() => Effect.sync(() => destroy(socket))))
      )
    )
    if ("refused" in answer) {
      destroy(socket)
      return { _tag: "Refused", status: answer.refused.status, headers: answer.refused.headers, body: answer.body }
    }

    const bytes: Stream.Stream<Uint8Array, TransportError> = Stream.repeatEffectOption(
      Effect.flatMap(Queue.take(queue), (item) => {
        if (item._tag === "Data") return Effect.succeed(item.data)
        // seen again by any later pull
        queue.unsafeOffer(item)
        return Effect.fail(item.error === undefined ? Option.none() : Option.some(item.error))
      })
    )
    const write = (data: Uint8Array) =>
      Effect.async<void, TransportError>((resume) => {
        if (socket.destroyed || !socket.writable) {
          resume(Effect.fail(fail("the connection is closed")))
          return
        }
        socket.write(data, (err) => resume(err ? Effect.fail(fail(`write failed: ${err.message}`, err)) : Effect.void))
      })
    const readWith = (reader: UpgradedReader) =>
      Effect.sync(() => {
        // in one synchronous step: what was queued first, then the reads to come (no read
        // can slip between, and none is delivered twice)
        direct = reader
        for (const item of Effect.runSync(Queue.takeAll(queue))) toReader(reader, item)
      })
    const upgraded: UpgradedSocket = {
      bytes,
      write,
      close: Effect.sync(() => destroy(socket)),
      closed: Deferred.await(closedSignal),
      readWith
    }
    return { _tag: "Upgraded", socket: upgraded }
  })
