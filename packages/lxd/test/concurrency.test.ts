import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Schema from "effect/Schema"
import { forEachBounded, raceDeadline } from "../src/internal/concurrency.js"
import { json, sync } from "./fakeServer.js"
import { memoryConnection } from "./memoryTransport.js"

describe("forEachBounded", () => {
  it.live("returns only after every interrupted sibling has run its finalizers", () =>
    Effect.gen(function*() {
      const cleaned: Array<number> = []
      const item = (i: number) =>
        i === 2
          ? Effect.sleep("10 millis").pipe(Effect.zipRight(Effect.fail("boom")))
          : Effect.never.pipe(
            Effect.onInterrupt(() =>
              Effect.sleep("50 millis").pipe(Effect.zipRight(Effect.sync(() => cleaned.push(i))))
            )
          )
      const failure = yield* Effect.flip(forEachBounded([0, 1, 2, 3, 4, 5], item, 3))
      assert.strictEqual(failure, "boom")
      // the two that had started were interrupted and cleaned up before the call returned
      assert.sameMembers(cleaned, [0, 1])
    }))

  it.live("runs at most `concurrency` items at once, in order of the input", () =>
    Effect.gen(function*() {
      let running = 0
      let peak = 0
      const results = yield* forEachBounded(
        [1, 2, 3, 4, 5, 6, 7],
        (n) =>
          Effect.gen(function*() {
            running++
            peak = Math.max(peak, running)
            yield* Effect.sleep("5 millis")
            running--
            return n * 2
          }),
        2
      )
      assert.deepStrictEqual(results, [2, 4, 6, 8, 10, 12, 14])
      assert.strictEqual(peak, 2)
    }))
})

describe("raceDeadline", () => {
  it.live("in an uninterruptible region an interruption of the caller does not stop the work", () =>
    Effect.gen(function*() {
      let finished = false
      const work = Effect.sleep("150 millis").pipe(Effect.tap(() => {
        finished = true
      }))
      const fiber = yield* Effect.fork(
        Effect.uninterruptible(raceDeadline(work, Effect.fail("late").pipe(Effect.delay("5 seconds"))))
      )
      yield* Effect.sleep("20 millis")
      const exit = yield* Fiber.interrupt(fiber)
      assert.isTrue(finished, "the work ran to its end")
      assert.isTrue(Exit.isInterrupted(exit))
    }))

  it.live("the deadline still ends stuck work inside an uninterruptible region", () =>
    Effect.gen(function*() {
      let interrupted = false
      const stuck = Effect.never.pipe(Effect.onInterrupt(() =>
        Effect.sync(() => {
          interrupted = true
        })
      ))
      const failure = yield* Effect.flip(
        Effect.uninterruptible(raceDeadline(stuck, Effect.fail("late").pipe(Effect.delay("30 millis"))))
      )
      assert.strictEqual(failure, "late")
      assert.isTrue(interrupted, "the loser was interrupted and waited for")
    }))

  it.live("an interruptible caller's interruption stops the work", () =>
    Effect.gen(function*() {
      let interrupted = false
      const stuck = Effect.never.pipe(Effect.onInterrupt(() =>
        Effect.sync(() => {
          interrupted = true
        })
      ))
      const fiber = yield* Effect.fork(raceDeadline(stuck, Effect.fail("late").pipe(Effect.delay("1 hour"))))
      yield* Effect.sleep("20 millis")
      yield* Fiber.interrupt(fiber)
      assert.isTrue(interrupted)
    }))

  it.scopedLive("a request that creates something, interrupted in an acquire, completes and gets its release", () =>
    Effect.gen(function*() {
      const { http, requests } = yield* memoryConnection((request, response) => {
        if (request.method === "POST") setTimeout(() => json(response, 200, sync({ created: true })), 150)
      })
      let released = false
      const acquire = Effect.acquireRelease(
        http.sync({ method: "POST", path: "/1.0/instances", body: { name: "c1" } }, Schema.Unknown),
        () =>
          Effect.sync(() => {
            released = true
          })
      )
      const fiber = yield* Effect.fork(Effect.scoped(acquire))
      yield* Effect.sleep("30 millis")
      yield* Fiber.interrupt(fiber)
      assert.strictEqual(requests.filter((r) => r.method === "POST").length, 1)
      assert.isTrue(released, "the acquire finished, so its release ran")
    }))
})
