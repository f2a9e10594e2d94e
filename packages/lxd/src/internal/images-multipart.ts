/**
 * Streaming `multipart/form-data`, both ways, for split images: the upload body is built
 * as a stream (no part is ever held in memory whole), and an export answer is cut into
 * its parts as the bytes arrive.
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as Crypto from "node:crypto"

const encoder = new TextEncoder()

/** One part of a body to send. */
export interface OutgoingPart<E> {
  /** The form field name (`metadata`, `rootfs`, `rootfs.img`). */
  readonly name: string
  readonly filename: string
  readonly data: Stream.Stream<Uint8Array, E>
}

/** A boundary that cannot occur by chance in image data. */
export const makeBoundary = (): string => `effect-lxd-${Crypto.randomBytes(16).toString("hex")}`

const quote = (s: string): string => s.replace(/[\r\n"\\]/g, (c) => c === "\r" || c === "\n" ? "" : "\\" + c)

/** The body of a `multipart/form-data` request with `parts` in order, as a stream. */
export const multipartBody = <E>(
  boundary: string,
  parts: ReadonlyArray<OutgoingPart<E>>
): Stream.Stream<Uint8Array, E> => {
  const pieces: Array<Stream.Stream<Uint8Array, E>> = []
  parts.forEach((part, i) => {
    const head = `${i === 0 ? "" : "\r\n"}--${boundary}\r\n` +
      `Content-Disposition: form-data; name="${quote(part.name)}"; filename="${quote(part.filename)}"\r\n` +
      `Content-Type: application/octet-stream\r\n\r\n`
    pieces.push(Stream.make(encoder.encode(head)), part.data)
  })
  pieces.push(Stream.make(encoder.encode(`\r\n--${boundary}--\r\n`)))
  return pieces.reduce((acc, s) => Stream.concat(acc, s), Stream.empty as Stream.Stream<Uint8Array, E>)
}

/** The boundary of a `multipart/...` content type, if it is one. */
export const boundaryOf = (contentType: string | undefined): string | undefined => {
  if (contentType === undefined || !/^multipart\//i.test(contentType.trim())) return undefined
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType)
  return m === null ? undefined : (m[1] ?? m[2])
}

/** A piece of one part of an incoming multipart body. */
export interface IncomingChunk {
  /** The part's form field name. */
  readonly name: string
  /** The part's file name, when it has one. */
  readonly filename: string | undefined
  readonly data: Uint8Array
}

/** The body does not follow the multipart format. */
export class MalformedMultipart {
  readonly _tag = "MalformedMultipart"
  constructor(readonly reason: string) {}
}

const dispositionParam = (header: string, param: string): string | undefined => {
  const m = new RegExp(`(?:^|;)\\s*${param}="((?:[^"\\\\]|\\\\.)*)"`, "i").exec(header) ??
    new RegExp(`(?:^|;)\\s*${param}=([^;\\s]+)`, "i").exec(header)
  return m === null ? undefined : m[1]!.replace(/\\(.)/g, "$1")
}

const HEADER_LIMIT = 16 * 1024

/** Incremental parser; one per body. */
class Parser {
  private buf: Buffer = Buffer.from("\r\n")
  private state: "preamble" | "headers" | "body" | "after" | "done" = "preamble"
  private name = ""
  private filename: string | undefined = undefined
  private readonly delimiter: Buffer

  constructor(boundary: string) {
    this.delimiter = Buffer.from(`\r\n--${boundary}`)
  }

  push(chunk: Uint8Array): Array<IncomingChunk> | MalformedMultipart {
    this.buf = this.buf.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.buf, chunk])
    const out: Array<IncomingChunk> = []
    for (;;) {
      switch (this.state) {
        case "done":
          this.buf = Buffer.alloc(0) // the epilogue is ignored
          return out
        case "preamble": {
          const i = this.buf.indexOf(this.delimiter)
          if (i < 0) {
            this.buf = this.buf.subarray(Math.max(0, this.buf.length - this.delimiter.length + 1))
            return out
          }
          this.buf = this.buf.subarray(i + this.delimiter.length)
          this.state = "after"
          continue
        }
        case "after": {
          if (this.buf.length < 2) return out
          const two = this.buf.subarray(0, 2).toString("latin1")
          if (two === "--") {
            this.state = "done"
            continue
          }
          if (two !== "\r\n") return new MalformedMultipart("a boundary is not followed by CRLF or --")
          this.buf = this.buf.subarray(2)
          this.state = "headers"
          continue
        }
        case "headers": {
          const end = this.buf.indexOf("\r\n\r\n")
          if (end < 0) {
            if (this.buf.length > HEADER_LIMIT) return new MalformedMultipart("part headers are too long")
            return out
          }
          const lines = this.buf.subarray(0, end).toString("utf8").split("\r\n")
          this.buf = this.buf.subarray(end + 4)
          const disposition = lines.find((l) => /^content-disposition:/i.test(l))
          if (disposition === undefined) return new MalformedMultipart("a part has no Content-Disposition")
          const value = disposition.slice(disposition.indexOf(":") + 1)
          this.name = dispositionParam(value, "name") ?? ""
          this.filename = dispositionParam(value, "filename")
          this.state = "body"
          continue
        }
        case "body": {
          const i = this.buf.indexOf(this.delimiter)
          if (i < 0) {
            const keep = this.delimiter.length - 1
            if (this.buf.length > keep) {
              out.push({ name: this.name, filename: this.filename, data: this.buf.subarray(0, this.buf.length - keep) })
              this.buf = this.buf.subarray(this.buf.length - keep)
            }
            return out
          }
          if (i > 0) out.push({ name: this.name, filename: this.filename, data: this.buf.subarray(0, i) })
          this.buf = this.buf.subarray(i + this.delimiter.length)
          this.state = "after"
          continue
        }
      }
    }
  }

  end(): MalformedMultipart | undefined {
    return this.state === "done" ? undefined : new MalformedMultipart("the body ended before the closing boundary")
  }
}

/**
 * Cut a multipart body into tagged chunks, in order, as it streams. Fails with
 * `onMalformed(reason)` when the body is not multipart.
 */
export const splitMultipart = <E, E2>(
  boundary: string,
  body: Stream.Stream<Uint8Array, E>,
  onMalformed: (reason: string) => E2
): Stream.Stream<IncomingChunk, E | E2> =>
  Stream.suspend(() => {
    const parser = new Parser(boundary)
    return body.pipe(
      Stream.mapEffect((chunk) => {
        const r = parser.push(chunk)
        return r instanceof MalformedMultipart ? Effect.fail(onMalformed(r.reason)) : Effect.succeed(r)
      }),
      Stream.flattenIterables,
      Stream.concat(Stream.suspend(() => {
        const r = parser.end()
        return r === undefined ? Stream.empty : Stream.fail(onMalformed(r.reason))
      }))
    )
  })

/**
 * A running SHA-256 over the bytes the tapped streams let through, in the order they
 * flow. Make one per request (inside the effect), tap every part with it, read the digest
 * once the body was sent.
 */
export const makeSha256 = (): {
  readonly tap: <E>(data: Stream.Stream<Uint8Array, E>) => Stream.Stream<Uint8Array, E>
  readonly update: (piece: Uint8Array) => void
  readonly digest: () => string
} => {
  const hash = Crypto.createHash("sha256")
  let result: string | undefined
  return {
    // one synchronous pass per Effect chunk (no effect per piece of the body)
    tap: (data) =>
      Stream.mapChunks(data, (chunk) => {
        for (const piece of chunk) hash.update(piece)
        return chunk
      }),
    update: (piece) => {
      hash.update(piece)
    },
    digest: () => (result ??= hash.digest("hex"))
  }
}
