import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { forEachBounded } from "../src/internal/concurrency.js"

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
