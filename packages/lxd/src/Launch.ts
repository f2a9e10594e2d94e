/**
 * Instances that live in a `Scope`, and launches that wait until the instance is ready:
 * the acquire/release and the polling loop an orchestrator would otherwise write itself.
 *
 * - `scoped` creates an instance (and by default starts it) and deletes it, forcing a
 *   stop, when the scope closes: on success, failure or interruption alike, also when the
 *   interruption comes while the server is still creating it (the creation is waited out,
 *   or cancelled when the server allows it, and whatever came to exist is deleted).
 * - `untilReady` creates, starts and waits until a `Readiness` condition holds; when it
 *   fails (`NotReady`, any other error, interruption) nothing is left behind, when it
 *   succeeds the instance is yours.
 * - `waitReady` waits for a condition on an instance that exists already.
 *
 * The instance's name is yours to choose; without one a name `launch-<random>` is
 * chosen here (the server's own choice would be unknown until the creation answers, too
 * late to clean up after an interruption). A name that is taken fails with
 * `InvalidArgument` and the existing instance is never touched.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Exec, Launch, Lxd, Readiness } from "effect-lxd"
 *
 * const program = Effect.gen(function* () {
 *   const launch = yield* Launch.Launch
 *   const exec = yield* Exec.Exec
 *   // deleted when the scope closes, whatever happens in between
 *   const web = yield* launch.scoped({
 *     name: "web1",
 *     source: { type: "image", alias: "debian/12" },
 *     readiness: Readiness.address({ interface: "eth0", family: "inet" }),
 *     timeout: "2 minutes"
 *   })
 *   const r = yield* exec.run(web.name, ["ip", "-4", "addr"])
 *   console.log(r.stdout)
 * })
 *
 * export const main = () => Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(Lxd.layerConfig())))
 * ```
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as DetachedExec from "./DetachedExec.js"
import * as Instances from "./Instances.js"
import { resourcesMention } from "./internal/instanceUrls.js"
import * as Readiness from "./internal/readiness.js"
import { traced } from "./internal/tracing.js"
import {
  type ExtensionNotAvailable,
  InvalidArgument,
  NotReady,
  OperationOutcomeUnknown,
  type RequestError
} from "./LxdError.js"
import { type Operation, Operations, type Service as OperationsService } from "./Operations.js"

/**
 * What to create: `Instances.create`'s options, with `start` on by default.
 *
 * @since 0.1.0
 * @category options
 */
export interface LaunchOptions extends Omit<Instances.CreateOptions, "start"> {
  /** Start it once created (default `true`). */
  readonly start?: boolean | undefined
  /**
   * How long the clean-up (waiting out the creation, stopping, deleting) may take before
   * it gives up with a warning in the log (default 2 minutes).
   */
  readonly cleanupTimeout?: Duration.DurationInput | undefined
}

/**
 * How to wait for a readiness condition.
 *
 * @since 0.1.0
 * @category options
 */
export interface ReadyOptions {
  /** How long the condition may take to hold (default 60 seconds); then `NotReady`. */
  readonly timeout?: Duration.DurationInput | undefined
  /**
   * When to check again after a check that did not hold (default: every 250 ms). A
   * schedule that ends (`Schedule.recurs(10)`) fails the wait with `NotReady` too.
   */
  readonly schedule?: Schedule.Schedule<unknown> | undefined
}

/**
 * @since 0.1.0
 * @category options
 */
export interface ScopedOptions<R = never> extends LaunchOptions, ReadyOptions {
  /** Wait until this holds before returning (default: no waiting beyond the start). */
  readonly readiness?: Readiness.Readiness<R> | undefined
}

/**
 * The errors of a launch.
 *
 * @since 0.1.0
 * @category errors
 */
export type LaunchError = RequestError | ExtensionNotAvailable | NotReady

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /**
   * Create (and by default start) an instance that is deleted, forcing a stop, when the
   * scope closes; with `readiness`, also wait until it holds.
   */
  readonly scoped: <R = never>(
    options: ScopedOptions<R>
  ) => Effect.Effect<Instances.Instance, LaunchError, R | Scope.Scope>
  /**
   * Create, start and wait until `readiness` holds (default `Readiness.running`). On any
   * failure or interruption the instance is deleted; on success it stays.
   */
  readonly untilReady: <R = never>(
    options: LaunchOptions & ReadyOptions,
    readiness?: Readiness.Readiness<R>
  ) => Effect.Effect<Instances.Instance, LaunchError, R>
  /** Wait until `readiness` holds for an existing instance. */
  readonly waitReady: <R = never>(
    instance: string,
    readiness: Readiness.Readiness<R>,
    options?: ReadyOptions
  ) => Effect.Effect<void, Readiness.FatalError | NotReady, R>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class Launch extends Context.Tag("effect-lxd/Launch")<Launch, Service>() {}

const DEFAULT_TIMEOUT = Duration.seconds(60)
const DEFAULT_SCHEDULE = Schedule.spaced("250 millis")
const DEFAULT_CLEANUP_TIMEOUT = Duration.minutes(2)

/** Whether the creation reached the server: `unknown` after a transport failure. */
type Created = "no" | "yes" | "unknown"

/**
 * What the answer to the creation request says: an operation (`yes`), the server's
 * refusal (`no`), no answer at all (`unknown`: it may have been taken), or no request.
 */
const createdBy = (answer: Exit.Exit<unknown, RequestError> | undefined): Created => {
  if (answer === undefined) return "no"
  if (Exit.isSuccess(answer)) return "yes"
  const failure = Cause.failureOption(answer.cause)
  if (Option.isNone(failure)) return "unknown"
  const tag = failure.value._tag
  return tag === "TransportError" || tag === "DecodeError" ? "unknown" : "no"
}

/** The check did not hold (yet). */
class NotYet {
  readonly _tag = "NotYet"
}
const notYet = new NotYet()

const generatedName = Effect.map(
  Effect.all(Array.from({ length: 8 }, () => Random.nextIntBetween(0, 36))),
  (digits) => `launch-${digits.map((d) => d.toString(36)).join("")}`
)

/**
 * The services' calls a launch makes, and the context its readiness checks get. The
 * readiness command runs detached, its output not recorded: only its exit status counts.
 */
const launchCalls = (instances: Instances.Service, detached: DetachedExec.Service, ops: OperationsService) => {
  const execStatus =
    (name: string) => (command: ReadonlyArray<string>, environment?: Readonly<Record<string, string>>) =>
      detached.start(name, command, { environment, recordOutput: false }).pipe(
        Effect.flatMap((started) =>
          Effect.flatMap(detached.wait(started.operationId), (status) =>
            Option.match(status, {
              onSome: Effect.succeed,
              // the server forgot the command before its end was seen
              onNone: () =>
                Effect.fail(
                  new OperationOutcomeUnknown({
                    method: "POST",
                    path: `/1.0/instances/${encodeURIComponent(name)}/exec`,
                    operationId: started.operationId
                  })
                )
            }))
        )
      )
  const contextOf = (instance: string): Readiness.Context => ({
    instance,
    state: instances.state(instance),
    exec: execStatus(instance)
  })

  /** Operations still running on the instance (a start we were interrupted in). */
  const pendingOn = (name: string) =>
    ops.list().pipe(
      Effect.map((all) => all.filter((op) => !op.isFinal && resourcesMention(op.resources, name, undefined))),
      Effect.orElseSucceed(() => [])
    )

  return { contextOf, pendingOn }
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<
  Service,
  never,
  Instances.Instances | DetachedExec.DetachedExec | Operations
> = Effect.gen(function*() {
  const instances = yield* Instances.Instances
  const detached = yield* DetachedExec.DetachedExec
  const ops = yield* Operations

  const { contextOf, pendingOn } = launchCalls(instances, detached, ops)

  const cleanup = (
    name: string,
    answer: Exit.Exit<Operation, RequestError> | undefined,
    timeout: Duration.DurationInput
  ): Effect.Effect<void> => {
    const created = createdBy(answer)
    if (created === "no") return Effect.void
    const operationId = answer !== undefined && Exit.isSuccess(answer) ? answer.value.id : undefined
    return Effect.gen(function*() {
      // the creation first (it cannot be deleted while it is being made), then whatever
      // else still runs on it
      if (operationId !== undefined) yield* Effect.ignore(ops.wait(operationId, { cancelOnInterrupt: false }))
      for (const op of yield* pendingOn(name)) yield* Effect.ignore(ops.wait(op, { cancelOnInterrupt: false }))
      yield* instances.delete(name, { force: true }).pipe(
        Effect.catchTag("NotFound", () => Effect.void),
        // "busy" answers while a state change finishes
        Effect.retry({
          schedule: Schedule.spaced("250 millis"),
          times: 20,
          while: (e) => e._tag === "LXDAPIException"
        })
      )
    }).pipe(
      Effect.timeoutFail({
        duration: timeout,
        onTimeout: () => `gave up after ${Duration.format(Duration.decode(timeout))}`
      }),
      Effect.catchAllCause((cause) =>
        Effect.logWarning(`effect-lxd: could not delete the launched instance "${name}"`, cause)
      ),
      Effect.withSpan("Launch.cleanup", { attributes: { "lxd.instance": name } })
    )
  }

  /** Create and start in the current scope; deleted when `deleteOn` says so for the scope's exit. */
  const launchIn = (
    options: LaunchOptions,
    deleteOn: (exit: Exit.Exit<unknown, unknown>) => boolean
  ): Effect.Effect<string, RequestError, Scope.Scope> =>
    Effect.gen(function*() {
      const { cleanupTimeout, start, ...create } = options
      const name = create.name ?? (yield* generatedName)
      yield* Effect.annotateCurrentSpan("lxd.instance", name)
      if (yield* instances.exists(name)) {
        return yield* new InvalidArgument({ argument: "name", reason: `an instance named "${name}" already exists` })
      }
      // The creation request runs in a fiber of its own that an interruption of ours
      // does not reach (the protocol keeps every request interruptible, and an aborted
      // POST may still have been taken by the server): the clean-up awaits its answer,
      // so it always knows whether, and by which operation, the instance is being made.
      let request: Fiber.RuntimeFiber<Operation, RequestError> | undefined
      yield* Effect.addFinalizer((exit) =>
        deleteOn(exit)
          ? Effect.flatMap(
            request === undefined ? Effect.succeed(undefined) : Fiber.await(request),
            (answer) => cleanup(name, answer, cleanupTimeout ?? DEFAULT_CLEANUP_TIMEOUT)
          )
          : Effect.void
      )
      yield* Effect.uninterruptible(
        Effect.tap(Effect.forkDaemon(instances.createOperation({ ...create, name })), (fiber) =>
          Effect.sync(() => {
            request = fiber
          }))
      )
      const operation = yield* Fiber.join(request!)
      // not cancelled on interruption: the clean-up waits the creation out instead (a
      // cancelled creation could still leave an instance behind once the clean-up looked)
      yield* ops.wait(operation, { cancelOnInterrupt: false })
      if (start !== false) yield* instances.start(name)
      return name
    })

  const waitReady = <R = never>(
    instance: string,
    readiness: Readiness.Readiness<R>,
    options?: ReadyOptions
  ): Effect.Effect<void, Readiness.FatalError | NotReady, R> =>
    Effect.suspend(() => {
      const timeout = Duration.decode(options?.timeout ?? DEFAULT_TIMEOUT)
      let last: Readiness.Probe = { ready: false, condition: readiness.condition, observed: "not checked yet" }
      const notReady = (reason: string) =>
        new NotReady({ instance, condition: last.condition, observed: last.observed, reason })
      const once = Effect.flatMap(
        readiness.probe(contextOf(instance)),
        (probe): Effect.Effect<void, NotYet> => {
          last = probe
          return probe.ready ? Effect.void : Effect.fail(notYet)
        }
      )
      return once.pipe(
        Effect.retry({ schedule: options?.schedule ?? DEFAULT_SCHEDULE, while: (e) => e instanceof NotYet }),
        Effect.catchIf((e): e is NotYet => e instanceof NotYet, () => Effect.fail(notReady("the schedule gave up"))),
        Effect.timeoutFail({
          duration: timeout,
          onTimeout: () => notReady(`timeout after ${Duration.format(timeout)}`)
        })
      )
    })

  const scoped = <R = never>(options: ScopedOptions<R>) =>
    Effect.gen(function*() {
      const { readiness, schedule, timeout, ...launch } = options
      const name = yield* launchIn(launch, () => true)
      if (readiness !== undefined) yield* waitReady(name, readiness, { schedule, timeout })
      return yield* instances.get(name)
    })

  const untilReady = <R = never>(
    options: LaunchOptions & ReadyOptions,
    readiness: Readiness.Readiness<R> = Readiness.running
  ) =>
    Effect.scoped(Effect.gen(function*() {
      const { schedule, timeout, ...launch } = options
      const name = yield* launchIn({ ...launch, start: true }, Exit.isFailure)
      yield* waitReady(name, readiness, { schedule, timeout })
      return yield* instances.get(name)
    }))

  return Launch.of(traced("Launch", { scoped, untilReady, waitReady } satisfies Service, {
    nameAttribute: "lxd.instance"
  }))
})

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<
  Launch,
  never,
  Instances.Instances | DetachedExec.DetachedExec | Operations
> = Layer.effect(Launch, make)
