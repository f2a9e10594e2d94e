/**
 * Concurrency helpers: bounded concurrency that waits for every clean-up, and a deadline
 * that keeps the caller's interruptibility.
 *
 * In Effect 3.22, `Effect.forEach` with a numeric `concurrency` smaller than the number of
 * items can return after one item fails but before the interrupted siblings have run
 * their finalizers (the failing item's exit is counted twice). A caller that then closes
 * its connection cuts those clean-ups off. Forking every item (`"unbounded"`) and bounding
 * the work with a semaphore does not have that flaw: the call returns only once every
 * item has ended, finalizers included.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"

/**
 * `work`, or the failure of `deadline` if that comes first; the loser is interrupted and
 * waited for.
 *
 * Unlike `Effect.raceFirst(Effect.interruptible(work), Effect.interruptible(deadline))`,
 * this keeps the caller's interruptibility: in an uninterruptible region (an
 * `acquireRelease` acquire, a finalizer) an interruption of the caller does not stop
 * `work` (a fiber's interrupt signal reaches its interruptible children even while the
 * fiber itself is uninterruptible, so a request that creates something could be cut off
 * after the server took it, and the release never registered); the deadline still ends
 * it. In an interruptible caller, an interruption stops both at once.
 *
 * Both sides run as daemon fibers made interruptible, interrupted only from here.
 */
export const raceDeadline = <A, E, E2, R>(
  work: Effect.Effect<A, E, R>,
  deadline: Effect.Effect<never, E2, R>
): Effect.Effect<A, E | E2, R> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.gen(function*() {
      const first = yield* Deferred.make<A, E | E2>()
      const working = yield* Effect.forkDaemon(Effect.interruptible(Effect.intoDeferred(work, first)))
      const timer = yield* Effect.forkDaemon(Effect.interruptible(Effect.intoDeferred(deadline, first)))
      return yield* restore(Deferred.await(first)).pipe(
        Effect.ensuring(Effect.zipRight(Fiber.interrupt(timer), Fiber.interrupt(working)))
      )
    })
  )

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
