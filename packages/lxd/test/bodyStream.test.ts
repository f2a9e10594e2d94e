/**
 * The response-body adapter of the Node transport: every byte arrives, in order, in as
 * few chunks as the arrival allows; a body that trickles still flows; a body cut off
 * (closed without its end, or failing) fails the stream.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { PassThrough } from "node:stream"
import { bodyStream } from "../src/internal/nodeTransport.js"

const collect = (s: Stream.Stream<Uint8Array, string>) =>
  Stream.runFold(s, { chunks: 0, bytes: [] as Array<number> }, (acc, b) => {
    acc.bytes.push(...b)
    return acc
  })

describe("bodyStream", () => {
  it.effect("hands over every byte in order, many socket reads per chunk", () =>
    Effect.gen(function*() {
      const body = new PassThrough()
      const parts = Array.from({ length: 40 }, (_, i) => new Uint8Array(64 * 1024).fill(i))
      for (const p of parts) body.write(p)
      body.end()
      let chunks = 0
      const seen: Array<number> = []
      yield* Stream.runForEachChunk(bodyStream(body, String), (c) =>
        Effect.sync(() => {
          chunks++
          for (const b of Chunk.toReadonlyArray(c)) seen.push(b[0]!, b.length)
        }))
      assert.strictEqual(seen.length, 80)
      assert.deepStrictEqual(seen.filter((_, i) => i % 2 === 0), parts.map((_, i) => i))
      assert.isBelow(chunks, 40, `${chunks} chunks for 40 reads`)
    }))

  it.live("a few bytes with nothing after them are delivered, not held back", () =>
    Effect.gen(function*() {
      const body = new PassThrough()
      body.write(new Uint8Array([1, 2, 3]))
      // no end: the stream must still give the three bytes
      const first = yield* Stream.runHead(bodyStream(body, String)).pipe(Effect.timeout("2 seconds"))
      assert.deepStrictEqual(Option.map(first, (b) => [...b]), Option.some([1, 2, 3]))
    }))

  it.live("a byte that arrives while the pull waits is delivered, with no more to come", () =>
    Effect.gen(function*() {
      const body = new PassThrough()
      setTimeout(() => body.write(new Uint8Array([7])), 50)
      // never ended: the byte must come through on its own
      const first = yield* Stream.runHead(bodyStream(body, String)).pipe(Effect.timeout("2 seconds"))
      assert.deepStrictEqual(Option.map(first, (b) => [...b]), Option.some([7]))
    }))

  it.live("bytes that trickle in are all delivered, in order", () =>
    Effect.gen(function*() {
      const body = new PassThrough()
      setTimeout(() => body.write(new Uint8Array([7])), 30)
      setTimeout(() => body.end(new Uint8Array([8])), 60)
      const result = yield* collect(bodyStream(body, String)).pipe(Effect.timeout("2 seconds"))
      assert.deepStrictEqual(result.bytes, [7, 8])
    }))

  it.live("a body closed before its end fails the stream", () =>
    Effect.gen(function*() {
      const body = new PassThrough()
      body.write(new Uint8Array([1]))
      setTimeout(() => body.destroy(), 20)
      const result = yield* Effect.either(collect(bodyStream(body, (e) => `failed: ${String(e)}`)))
      assert.isTrue(Either.isLeft(result))
      if (Either.isLeft(result)) assert.include(result.left, "closed before its end")
    }))

  it.live("a body that errors fails the stream with the mapped error", () =>
    Effect.gen(function*() {
      const body = new PassThrough()
      setTimeout(() => body.destroy(new Error("reset")), 20)
      const result = yield* Effect.either(collect(bodyStream(body, (e) => `failed: ${(e as Error).message}`)))
      assert.deepStrictEqual(result, Either.left("failed: reset"))
    }))

  it.effect("ending the stream early destroys the body", () =>
    Effect.gen(function*() {
      const body = new PassThrough()
      body.write(new Uint8Array(300 * 1024))
      yield* Stream.runHead(bodyStream(body, String))
      assert.isTrue(body.destroyed)
    }))
})
