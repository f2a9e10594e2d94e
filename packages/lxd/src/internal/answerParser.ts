/**
 * An HTTP/1.1 answer read incrementally, for the bulk path (`bulk.ts`): the head once it
 * is all there, then the body's bytes as views of the buffers fed in (no copies), framed
 * by `content-length`, by chunked transfer encoding, or by the end of the connection.
 */
import { parseHead } from "./upgrade.js"

/** The status line and headers (lower-case names). */
export interface AnswerHead {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
}

/** A malformed answer: the connection must be dropped. */
export class MalformedAnswer extends Error {}

const MAX_LINE = 4096

type Framing =
  | { readonly _tag: "Length"; remaining: number }
  | { readonly _tag: "Chunked" }
  | { readonly _tag: "UntilClose" }
  | { readonly _tag: "None" }

type ChunkState = "size" | "data" | "dataEnd" | "trailer"

/**
 * Feed it every byte the connection delivers. `onHead` is called once, with the final
 * (non-1xx) head; `onBody` with each piece of the body, a view of the buffer fed in
 * (valid only as long as that buffer is); `complete` says when the answer has ended.
 */
export class AnswerParser {
  head: AnswerHead | undefined
  complete = false
  private pendingHead: Buffer | undefined
  private framing: Framing = { _tag: "None" }
  private chunk: ChunkState = "size"
  private line = ""
  private chunkLeft = 0

  constructor(
    private readonly method: string,
    private readonly onHead: (head: AnswerHead) => void,
    private readonly onBody: (piece: Uint8Array) => void,
    private readonly onInformational: (status: number) => void = () => undefined
  ) {}

  /** Bytes from the connection. Throws `MalformedAnswer`. */
  feed(data: Uint8Array): void {
    if (this.complete || data.length === 0) return
    if (this.head === undefined) {
      const joined: Buffer = this.pendingHead === undefined
        ? Buffer.from(data.buffer, data.byteOffset, data.length)
        : Buffer.concat([this.pendingHead, data])
      const parsed = parseHead(joined)
      if (parsed === "invalid") throw new MalformedAnswer("the answer is not HTTP")
      if (parsed === "incomplete") {
        // copied: the buffer fed in may be reused once this returns
        this.pendingHead = Buffer.from(joined)
        return
      }
      this.pendingHead = undefined
      if (parsed.status >= 100 && parsed.status < 200) {
        // informational (100 Continue): the answer follows
        this.onInformational(parsed.status)
        this.feed(parsed.rest)
        return
      }
      const head = { status: parsed.status, headers: parsed.headers }
      this.head = head
      this.framing = this.framingOf(head)
      this.onHead(head)
      if (this.framing._tag === "None") {
        this.complete = true
        return
      }
      if (this.framing._tag === "Length" && this.framing.remaining === 0) {
        this.complete = true
        return
      }
      this.body(parsed.rest)
      return
    }
    this.body(data)
  }

  /**
   * The connection ended. True when that ends the answer (a body framed by the close);
   * false when the answer was cut off.
   */
  end(): boolean {
    if (this.complete) return true
    if (this.head !== undefined && this.framing._tag === "UntilClose") {
      this.complete = true
      return true
    }
    return false
  }

  private framingOf(head: AnswerHead): Framing {
    if (
      this.method === "HEAD" || head.status === 204 || head.status === 304
    ) return { _tag: "None" }
    const encoding = (head.headers["transfer-encoding"] ?? "").toLowerCase()
    if (encoding.includes("chunked")) return { _tag: "Chunked" }
    const length = head.headers["content-length"]
    if (length !== undefined) {
      if (!/^\d+$/.test(length.trim())) throw new MalformedAnswer(`a bad content-length (${length})`)
      return { _tag: "Length", remaining: Number(length) }
    }
    return { _tag: "UntilClose" }
  }

  private body(data: Uint8Array): void {
    const framing = this.framing
    if (data.length === 0) return
    switch (framing._tag) {
      case "UntilClose":
        this.onBody(data)
        return
      case "Length": {
        const take = Math.min(framing.remaining, data.length)
        framing.remaining -= take
        if (take > 0) this.onBody(take === data.length ? data : data.subarray(0, take))
        if (framing.remaining === 0) this.complete = true
        return
      }
      case "Chunked":
        this.chunked(data)
        return
      case "None":
        return
    }
  }

  private chunked(data: Uint8Array): void {
    let i = 0
    while (i < data.length && !this.complete) {
      switch (this.chunk) {
        case "data": {
          const take = Math.min(this.chunkLeft, data.length - i)
          this.onBody(data.subarray(i, i + take))
          i += take
          this.chunkLeft -= take
          if (this.chunkLeft === 0) this.chunk = "dataEnd"
          break
        }
        case "size":
        case "dataEnd":
        case "trailer": {
          const nl = data.indexOf(10, i)
          const end = nl < 0 ? data.length : nl
          this.line += Buffer.from(data.buffer, data.byteOffset + i, end - i).toString("latin1")
          if (this.line.length > MAX_LINE) throw new MalformedAnswer("a chunk line is too long")
          i = end
          if (nl < 0) break
          i++ // the newline
          const line = this.line.replace(/\r$/, "")
          this.line = ""
          this.lineDone(line)
          break
        }
      }
    }
  }

  private lineDone(line: string): void {
    switch (this.chunk) {
      case "dataEnd":
        if (line !== "") throw new MalformedAnswer("a chunk does not end with CRLF")
        this.chunk = "size"
        return
      case "size": {
        const size = /^([0-9a-fA-F]{1,12})(;.*)?$/.exec(line.trim())
        if (size === null) throw new MalformedAnswer("a bad chunk size")
        const n = parseInt(size[1]!, 16)
        if (n === 0) this.chunk = "trailer"
        else {
          this.chunkLeft = n
          this.chunk = "data"
        }
        return
      }
      case "trailer":
        if (line === "") this.complete = true
        return
      case "data":
        return
    }
  }
}
