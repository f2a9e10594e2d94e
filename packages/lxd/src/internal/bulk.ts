/**
 * The Node transports' bulk path: one request on a connection of its own, its body read
 * from a local file or its answer's body handed to a writer, with a fixed set of buffers
 * used over and over. Through undici and Effect streams every 64 KiB read was a new
 * buffer and a trip through several stream stages, which made a file transfer cost 4–6×
 * `lxc`'s CPU per byte and left dead buffers piling up until V8's next collection.
 *
 * - Upload: the file is read into a few 1 MiB buffers; each is written to the socket and
 *   reused once the socket has taken it (the write's callback), so at most those few
 *   buffers are in flight.
 * - Download: over the unix socket, reads land in pooled 256 KiB buffers (`onread`); the
 *   body's pieces are views of them, handed to the writer in batches, and a buffer goes
 *   back to the pool once the batch holding it is written. Over TLS each read is a buffer
 *   of its own (TLS sockets do not read into caller buffers); the socket is paused above
 *   4 MiB unwritten either way.
 *
 * The request is written by hand (`Connection: close`) and the answer parsed by
 * `answerParser.ts`. Timers are the process's own (as for the direct exchange): the
 * deadline runs from the end of the request body until the answer's head, the idle bound
 * while the body is awaited (not while the writer works). Interruption destroys the
 * socket, after the file read or write under way has finished.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Fs from "node:fs"
import type * as Net from "node:net"
import { type AnswerHead, AnswerParser, MalformedAnswer } from "./answerParser.js"
import { withClientSpan } from "./clientSpan.js"
import type { Bulk, BulkAnswer, BulkRequest } from "./exchange.js"

/** How the bulk path reaches the server. */
export interface Endpoint {
  /**
   * Dial. `onread` (reads into the caller's buffers) is honoured when `ownBuffers` is
   * true (unix sockets); a TLS socket ignores it.
   */
  readonly dial: (onread: OnRead | undefined) => Net.Socket
  readonly ownBuffers: boolean
  readonly readyEvent: "connect" | "secureConnect"
  /** The `Host` header. */
  readonly host: string
  /** Turns a connection error into the one reported (e.g. a pinned-certificate mismatch). */
  readonly explain?: ((cause: unknown) => unknown) | undefined
}

export interface OnRead {
  readonly buffer: () => Uint8Array
  readonly callback: (bytes: number, buffer: Uint8Array) => boolean
}

const UPLOAD_BUFFER = 1024 * 1024
const UPLOAD_BUFFERS = 4
const READ_BUFFER = 256 * 1024
const READ_BUFFERS = 16
/** How long the upload waits for `100 Continue` before sending the body anyway. */
const CONTINUE_WAIT_MS = 1000
/** Above this much read and not yet written, the socket is paused. */
const PAUSE_BYTES = 4 * 1024 * 1024

/** Connections of the bulk path open now, across the process (for leak checks). */
let openCount = 0
export const openBulkConnectionCount = (): number => openCount

const requestHead = (request: BulkRequest<unknown>, host: string): string => {
  const lines = [`${request.method} ${request.path} HTTP/1.1`, `Host: ${host}`, "Connection: close"]
  for (const name in request.headers) lines.push(`${name}: ${request.headers[name]}`)
  if (request.upload !== undefined) lines.push(`Content-Length: ${request.upload.size}`, "Expect: 100-continue")
  else if (request.method === "POST" || request.method === "PUT") lines.push("Content-Length: 0")
  return lines.join("\r\n") + "\r\n\r\n"
}

/** One exchange on one connection. */
class Connection<E> {
  readonly socket: Net.Socket
  private readonly parser: AnswerParser
  head: AnswerHead | undefined
  /** Why the exchange failed, once it has. */
  failure: { readonly error: E } | undefined
  /** Body pieces read and not yet handed to the writer, and the pooled buffers they view. */
  private pieces: Array<Uint8Array> = []
  private held: Array<Uint8Array> = []
  private pendingBytes = 0
  private readonly pool: Array<Uint8Array> = []
  private paused = false
  /** Whoever waits for the next event (the head, more body, the end). */
  private wake: (() => void) | undefined
  private closed = false
  private counted = true
  private deadline: ReturnType<typeof setTimeout> | undefined
  private idle: ReturnType<typeof setTimeout> | undefined
  private awaitingBody = false
  /** The upload's file and the operations on it under way. */
  private fd: number | undefined
  private busy = 0
  private afterBusy: Array<() => void> = []
  uploaded = false

  constructor(private readonly request: BulkRequest<E>, private readonly endpoint: Endpoint) {
    this.parser = new AnswerParser(request.method, (head) => {
      this.head = head
      this.clearDeadline()
    }, (piece) => {
      this.pieces.push(piece)
      this.pendingBytes += piece.length
    }, (status) => {
      if (status === 100) this.startUpload()
    })
    if (endpoint.ownBuffers) {
      for (let i = 0; i < READ_BUFFERS; i++) this.pool.push(Buffer.allocUnsafe(READ_BUFFER))
    }
    const onread: OnRead | undefined = endpoint.ownBuffers
      ? {
        buffer: () => this.pool.pop() ?? Buffer.allocUnsafe(READ_BUFFER),
        callback: (bytes, buffer) => {
          this.received(buffer.subarray(0, bytes), buffer)
          if (!this.shouldPause()) return true
          // returning false pauses the socket
          this.paused = true
          this.clearIdle()
          return false
        }
      }
      : undefined
    openCount++
    this.socket = endpoint.dial(onread)
    if (onread === undefined) {
      this.socket.on("data", (data: Buffer) => {
        this.received(data)
        this.maybePause()
      })
    }
    this.socket.once(endpoint.readyEvent, () => this.ready())
    this.socket.on("error", (error) => this.fail(request.failed(endpoint.explain?.(error) ?? error)))
    this.socket.once("close", () => this.onClose())
    this.armDeadline()
  }

  private shouldPause(): boolean {
    return this.pendingBytes >= PAUSE_BYTES || (this.endpoint.ownBuffers && this.pool.length === 0)
  }

  private maybePause(): void {
    if (this.shouldPause() && !this.paused) {
      this.paused = true
      this.socket.pause()
      this.clearIdle()
    }
  }

  /** Bytes read; `pooled` is the pool's buffer they are in (it is held while pieces of it wait for the writer). */
  private received(data: Uint8Array, pooled?: Uint8Array): void {
    if (this.failure !== undefined) {
      if (pooled !== undefined) this.pool.push(pooled)
      return
    }
    const before = this.pieces.length
    try {
      this.parser.feed(data)
    } catch (cause) {
      if (pooled !== undefined) this.pool.push(pooled)
      this.fail(this.request.failed(cause instanceof MalformedAnswer ? cause : new MalformedAnswer(String(cause))))
      return
    }
    if (pooled !== undefined) {
      if (this.pieces.length > before) this.held.push(pooled)
      else this.pool.push(pooled)
    }
    if (this.awaitingBody) this.armIdle()
    this.notify()
  }

  private ready(): void {
    if (this.closed) return
    this.socket.write(requestHead(this.request, this.endpoint.host))
    if (this.request.upload === undefined) this.uploadDone()
    else {
      // a server that does not answer `Expect: 100-continue` gets the body after a moment
      this.continueTimer = setTimeout(() => this.startUpload(), CONTINUE_WAIT_MS)
    }
  }

  // -------------------------------------------------------------- upload

  private readonly uploadPool: Array<Buffer> = []
  private uploadStarted = false
  private continueTimer: ReturnType<typeof setTimeout> | undefined
  private position = 0
  private reading = false
  private writesInFlight = 0

  /**
   * The body is sent once the server says `100 Continue`: a server that refuses the
   * request (no such instance) answers before reading it, and a body written into a
   * connection the server is closing would end in EPIPE, losing its answer.
   */
  private startUpload(): void {
    if (this.continueTimer !== undefined) clearTimeout(this.continueTimer)
    this.continueTimer = undefined
    const upload = this.request.upload
    if (upload === undefined || this.uploadStarted || this.closed || this.head !== undefined) return
    this.uploadStarted = true
    for (let i = 0; i < UPLOAD_BUFFERS; i++) this.uploadPool.push(Buffer.allocUnsafe(UPLOAD_BUFFER))
    this.busy++
    Fs.open(upload.path, "r", (error, fd) => {
      this.fileOpDone()
      if (error) return this.fail(this.request.readFailed!(error))
      if (this.closed) return Fs.close(fd, () => undefined)
      this.fd = fd
      this.readMore()
    })
  }

  private readMore(): void {
    const upload = this.request.upload!
    if (this.reading || this.closed || this.failure !== undefined || this.fd === undefined) return
    if (this.position >= upload.size) {
      if (this.writesInFlight === 0) this.uploadDone()
      return
    }
    const buffer = this.uploadPool.pop()
    if (buffer === undefined) return
    this.reading = true
    this.busy++
    const length = Math.min(buffer.length, upload.size - this.position)
    Fs.read(this.fd, buffer, 0, length, this.position, (error, bytes) => {
      this.reading = false
      this.fileOpDone()
      if (this.closed || this.failure !== undefined) return
      if (error) return this.fail(this.request.readFailed!(error))
      if (bytes === 0) {
        return this.fail(
          this.request.readFailed!(new Error(`the file ended after ${this.position} of ${upload.size} bytes`))
        )
      }
      this.position += bytes
      this.writesInFlight++
      this.socket.write(buffer.subarray(0, bytes), (writeError) => {
        this.writesInFlight--
        this.uploadPool.push(buffer)
        // a failed write also fails the socket: its error event says why
        if (!writeError) this.readMore()
      })
      // the next read is under way and the socket sends this piece while it is observed
      // (hashed): the buffer is reused only once the write's callback has run
      this.readMore()
      upload.observe?.(buffer.subarray(0, bytes))
    })
  }

  /** One of the file's operations under way has ended. */
  private fileOpDone(): void {
    this.busy--
    if (this.busy === 0) {
      const waiting = this.afterBusy
      this.afterBusy = []
      for (const f of waiting) f()
    }
  }

  private uploadDone(): void {
    if (this.uploaded) return
    this.uploaded = true
    this.closeFile()
    this.armDeadline()
  }

  private closeFile(): void {
    const fd = this.fd
    if (fd === undefined) return
    this.fd = undefined
    if (this.busy > 0) this.afterBusy.push(() => Fs.close(fd, () => undefined))
    else Fs.close(fd, () => undefined)
  }

  // -------------------------------------------------------------- timers

  private armDeadline(): void {
    this.clearDeadline()
    if (this.head !== undefined) return
    // until the request is sent, the same bound covers the connection and the upload's stalls
    this.deadline = setTimeout(() => {
      this.fail(this.uploaded ? this.request.timedOut() : this.request.stalled())
    }, this.uploaded ? this.request.timeoutMs : Math.max(this.request.timeoutMs, this.request.idleMs))
  }

  private clearDeadline(): void {
    if (this.deadline !== undefined) clearTimeout(this.deadline)
    this.deadline = undefined
  }

  /** (Re)start the idle bound; called on every read, so the one timer is refreshed, not replaced. */
  private armIdle(): void {
    if (this.parser.complete || this.failure !== undefined) return this.clearIdle()
    if (this.idle !== undefined) this.idle.refresh()
    else this.idle = setTimeout(() => this.fail(this.request.stalled()), this.request.idleMs)
  }

  private clearIdle(): void {
    if (this.idle !== undefined) clearTimeout(this.idle)
    this.idle = undefined
  }

  // -------------------------------------------------------------- ends

  private notify(): void {
    const w = this.wake
    this.wake = undefined
    w?.()
  }

  fail(error: E): void {
    // once the whole answer is in, a later error (the socket closing under a write) changes nothing
    if (this.failure !== undefined || this.parser.complete) return
    this.failure = { error }
    this.destroy()
    this.notify()
  }

  private onClose(): void {
    this.uncount()
    this.closed = true
    if (this.continueTimer !== undefined) clearTimeout(this.continueTimer)
    this.clearDeadline()
    this.clearIdle()
    this.closeFile()
    if (this.failure === undefined && !this.parser.end()) {
      this.failure = {
        error: this.request.failed(
          new Error(this.head === undefined ? "the connection closed before an answer" : "the answer was cut off")
        )
      }
    }
    this.notify()
  }

  destroy(): void {
    this.clearDeadline()
    this.clearIdle()
    if (this.continueTimer !== undefined) clearTimeout(this.continueTimer)
    this.continueTimer = undefined
    if (!this.socket.destroyed) this.socket.destroy()
    this.uncount()
    this.closeFile()
  }

  /** A destroyed socket counts as closed at once (its close event comes later). */
  private uncount(): void {
    if (this.counted) {
      this.counted = false
      openCount--
    }
  }

  /** Resolves once no file operation of the upload is under way (for a release that must not race one). */
  settled(): Promise<void> {
    return this.busy === 0 ? Promise.resolve() : new Promise((resolve) => this.afterBusy.push(resolve))
  }

  /** Wait for the head. */
  awaitHead(): Effect.Effect<AnswerHead, E> {
    return Effect.async<AnswerHead, E>((resume) => {
      const check = () => {
        if (this.head !== undefined) resume(Effect.succeed(this.head))
        else if (this.failure !== undefined) resume(Effect.fail(this.failure.error))
        else this.wake = check
      }
      check()
      return Effect.sync(() => {
        this.wake = undefined
      })
    })
  }

  /** The pieces read so far (the caller owns them until it gives the batch back). */
  private takeBatch(): { pieces: Array<Uint8Array>; held: Array<Uint8Array> } {
    const batch = { pieces: this.pieces, held: this.held }
    this.pieces = []
    this.held = []
    this.pendingBytes = 0
    return batch
  }

  private giveBack(held: Array<Uint8Array>): void {
    for (const b of held) this.pool.push(b)
    if (this.paused && !this.shouldPause()) {
      this.paused = false
      this.socket.resume()
      this.armIdle()
    }
  }

  /** Hand the body to `write` batch by batch; succeeds with the bytes written. */
  writeBody<W>(
    write: (pieces: ReadonlyArray<Uint8Array>) => Promise<void>,
    writeFailed: (cause: unknown) => W
  ): Effect.Effect<number, E | W> {
    return Effect.async<number, E | W>((resume) => {
      let total = 0
      let writing: Promise<void> | undefined
      let stopped = false
      this.awaitingBody = true
      this.armIdle()
      const step = () => {
        if (stopped || writing !== undefined) return
        if (this.pieces.length > 0) {
          const batch = this.takeBatch()
          for (const p of batch.pieces) total += p.length
          this.clearIdle()
          writing = write(batch.pieces).then(
            () => {
              writing = undefined
              this.giveBack(batch.held)
              if (!this.paused) this.armIdle()
              step()
            },
            (cause) => {
              writing = undefined
              stopped = true
              this.destroy()
              resume(Effect.fail(writeFailed(cause)))
            }
          )
          return
        }
        if (this.parser.complete) {
          stopped = true
          this.awaitingBody = false
          this.clearIdle()
          this.destroy()
          resume(Effect.succeed(total))
          return
        }
        if (this.failure !== undefined) {
          stopped = true
          resume(Effect.fail(this.failure.error))
          return
        }
        this.wake = step
      }
      step()
      return Effect.promise(async () => {
        stopped = true
        this.wake = undefined
        this.destroy()
        // the file is the caller's: nothing may still be writing to it once this ends
        if (writing !== undefined) await writing.catch(() => undefined)
      })
    })
  }

  /** The whole body, at most `maxBytes`. */
  readAll(): Effect.Effect<Uint8Array, E> {
    const chunks: Array<Uint8Array> = []
    let size = 0
    const limit = this.request.maxBytes
    const tooLarge = this.request.tooLarge
    const declared = Number(this.head?.headers["content-length"])
    if (Number.isFinite(declared) && declared > limit) return Effect.failSync(tooLarge)
    return Effect.flatMap(
      this.writeBody((pieces) => {
        for (const p of pieces) {
          size += p.length
          if (size > limit) return Promise.reject(new TooLarge())
          // copied: the pieces may view pooled buffers
          chunks.push(Uint8Array.prototype.slice.call(p))
        }
        return Promise.resolve()
      }, (cause) => cause),
      () => Effect.succeed(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size))
    ).pipe(
      Effect.catchAll((error) => Effect.fail(error instanceof TooLarge ? tooLarge() : (error as E)))
    )
  }
}

class TooLarge extends Error {}

/** The bulk path over one endpoint; `origin` names the server in spans. */
export const make = (endpoint: Endpoint, origin: string, userAgent: string): Bulk => {
  const open = <E>(request: BulkRequest<E>): Effect.Effect<BulkAnswer<E>, E, Scope.Scope> =>
    withClientSpan(
      request,
      origin,
      (headers) =>
        Effect.flatMap(
          Effect.acquireRelease(
            Effect.sync(() =>
              new Connection({ ...request, headers: { ...headers, "User-Agent": userAgent } }, endpoint)
            ),
            (connection) =>
              Effect.promise(() => {
                connection.destroy()
                return connection.settled()
              })
          ),
          (connection) =>
            Effect.map(connection.awaitHead(), (head): BulkAnswer<E> => ({
              status: head.status,
              headers: head.headers,
              bytes: connection.readAll(),
              writeTo: (write, writeFailed) => connection.writeBody(write, writeFailed)
            }))
        ),
      (answer) => answer.status
    )
  const send = <E>(request: BulkRequest<E>) =>
    Effect.scoped(
      Effect.flatMap(open(request), (answer) =>
        Effect.map(answer.bytes, (bytes) => ({
          status: answer.status,
          headers: answer.headers,
          text: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("utf8")
        })))
    )
  return { open, send }
}
