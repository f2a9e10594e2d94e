/**
 * Bounded concurrency that waits for every clean-up.
 *
 * In Effect 3.22, `Effect.forEach` with a numeric `concurrency` smaller than the number of
 * items can return after one item fails but before the interrupted siblings have run
 * their finalizers (the failing item's exit is counted twice). A caller that then closes
 * its connection cuts those clean-ups off. Forking every item (`"unbounded"`) and bounding
 * the work with a semaphore does not have that flaw: the call returns only once every
 * item has ended, finalizers included.
 */
import * as Effect from "effect/Effect"

/** `Effect.forEach(items, f, { concurrency: n })`, returning only after every clean-up. */
export const forEachBounded = <A, B, E, R>(
  items: Iterable<A>,
  f: (item: A, index: number) => Effect.Effect<B, E, R>,
  concurrency: number
): Effect.Effect<Array<B>, E, R> =>
  Effect.flatMap(
    Effect.makeSemaphore(Math.max(1, concurrency)),
    (semaphore) =>
      Effect.forEach(items, (item, index) => semaphore.withPermits(1)(f(item, index)), { concurrency: "unbounded" })
  )

/** The same, discarding results. */
export const forEachBoundedDiscard = <A, E, R>(
  items: Iterable<A>,
  f: (item: A, index: number) => Effect.Effect<unknown, E, R>,
  concurrency: number
): Effect.Effect<void, E, R> => Effect.asVoid(forEachBounded(items, f, concurrency))
