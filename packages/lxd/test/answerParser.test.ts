/**
 * The bulk path's HTTP/1.1 answer parser: framing by content-length, chunked encoding and
 * the connection's end, fed whole and split at every byte.
 */
import { assert, describe, it } from "@effect/vitest"
import { type AnswerHead, AnswerParser, MalformedAnswer } from "../src/internal/answerParser.js"

const parse = (method: string, parts: ReadonlyArray<Uint8Array>, close = false) => {
  const heads: Array<AnswerHead> = []
  const body: Array<Buffer> = []
  const parser = new AnswerParser(method, (h) => heads.push(h), (p) => body.push(Buffer.from(p)))
  // every part is a fresh copy, overwritten after the feed: the parser must not keep views of it
  for (const part of parts) {
    const copy = Buffer.from(part)
    parser.feed(copy)
    copy.fill(0x2a)
  }
  const ended = close ? parser.end() : parser.complete
  return { heads, body: Buffer.concat(body).toString("latin1"), complete: ended }
}

/** `text` split at every position into two parts, and into single bytes. */
const splits = (text: string): Array<Array<Uint8Array>> => {
  const bytes = Buffer.from(text, "latin1")
  const out: Array<Array<Uint8Array>> = [[bytes]]
  for (let i = 1; i < bytes.length; i++) out.push([bytes.subarray(0, i), bytes.subarray(i)])
  out.push([...bytes].map((b) => Uint8Array.of(b)))
  return out
}

describe("AnswerParser", () => {
  it("content-length: the body ends at the declared length, whatever the split", () => {
    const text = "HTTP/1.1 200 OK\r\nContent-Length: 11\r\nX-LXD-Type: file\r\n\r\nhello world"
    for (const parts of splits(text)) {
      const r = parse("GET", parts)
      assert.strictEqual(r.body, "hello world")
      assert.isTrue(r.complete)
      assert.strictEqual(r.heads.length, 1)
      assert.strictEqual(r.heads[0]!.status, 200)
      assert.strictEqual(r.heads[0]!.headers["x-lxd-type"], "file")
    }
  })

  it("chunked: sizes in hex, extensions and trailers, whatever the split", () => {
    const text = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
      "5\r\nhello\r\n1;ext=1\r\n \r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n"
    for (const parts of splits(text)) {
      const r = parse("GET", parts)
      assert.strictEqual(r.body, "hello 0123456789")
      assert.isTrue(r.complete)
    }
  })

  it("a body framed by the connection's end is complete only at the end", () => {
    const parser = new AnswerParser("GET", () => undefined, () => undefined)
    parser.feed(Buffer.from("HTTP/1.1 200 OK\r\n\r\nabc"))
    assert.isFalse(parser.complete)
    assert.isTrue(parser.end())
    const r = parse("GET", [Buffer.from("HTTP/1.0 200 OK\r\n\r\nabc"), Buffer.from("def")], true)
    assert.strictEqual(r.body, "abcdef")
  })

  it("an answer cut off before its length, or before its last chunk, is not complete", () => {
    const short = new AnswerParser("GET", () => undefined, () => undefined)
    short.feed(Buffer.from("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"))
    assert.isFalse(short.end())
    const chunked = new AnswerParser("GET", () => undefined, () => undefined)
    chunked.feed(Buffer.from("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n"))
    assert.isFalse(chunked.end())
    const noHead = new AnswerParser("GET", () => undefined, () => undefined)
    noHead.feed(Buffer.from("HTTP/1.1 200 OK\r\nContent-"))
    assert.isFalse(noHead.end())
    assert.isUndefined(noHead.head)
  })

  it("1xx answers are skipped; 204, 304 and HEAD answers have no body", () => {
    const r = parse("POST", [
      Buffer.from("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok")
    ])
    assert.deepStrictEqual(r.heads.map((h) => h.status), [201])
    assert.strictEqual(r.body, "ok")
    for (const [method, status] of [["GET", 204], ["GET", 304], ["HEAD", 200]] as const) {
      const e = parse(method, [Buffer.from(`HTTP/1.1 ${status} X\r\nContent-Length: 5\r\n\r\n`)])
      assert.isTrue(e.complete, `${method} ${status}`)
      assert.strictEqual(e.body, "")
    }
  })

  it("bytes after the end of the answer are not body", () => {
    const r = parse("GET", [Buffer.from("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA")])
    assert.strictEqual(r.body, "ok")
  })

  it("malformed answers throw MalformedAnswer", () => {
    const bad = [
      "SSH-2.0-OpenSSH\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 12x\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n"
    ]
    for (const text of bad) {
      const parser = new AnswerParser("GET", () => undefined, () => undefined)
      assert.throws(() => parser.feed(Buffer.from(text)), MalformedAnswer, undefined, text)
    }
    const long = new AnswerParser("GET", () => undefined, () => undefined)
    long.feed(Buffer.from("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"))
    assert.throws(() => long.feed(Buffer.alloc(5000, 0x31)), MalformedAnswer)
  })
})
