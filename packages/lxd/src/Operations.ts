/**
 * Background operations: get, list, wait, cancel, watch.
 *
 * Every effect-lxd call that starts background work waits for it by default (through
 * `run`) and fails with `LXDAPIException` carrying the operation's error when the work
 * fails. Waiting uses LXD's long poll (`/wait?timeout=`) in bounded chunks, so the wait
 * stays responsive to interruption; interrupting a fiber that waits on a cancellable
 * operation cancels it on the server (`DELETE /1.0/operations/<id>`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Operations } from "effect-lxd"
 *
 * // give a background operation at most 30 seconds; on timeout it is cancelled
 * const bounded = (id: string) =>
 *   Effect.flatMap(Operations.Operations, (ops) => ops.wait(id)).pipe(Effect.timeout("30 seconds"))
 * ```
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { Operation } from "./internal/envelope.js"
import { path, resourceLabel } from "./internal/path.js"
import { traced } from "./internal/tracing.js"
import { DecodeError, LXDAPIException, OperationOutcomeUnknown, type Refusal, type RequestError } from "./LxdError.js"
import { LxdHttp, type LxdRequest, type LxdResponse } from "./LxdHttp.js"

export {
  /**
   * A background operation as LXD reports it (`id`, `class`, `status`, `status_code`,
   * `metadata`, `may_cancel`, `err`, ...).
   *
   * @since 0.1.0
   * @category models
   */
  Operation
}

/**
 * What a call that may start background work ended with: `Sync` (the server answered
 * at once) or `Async` (a background operation; after `run`, the finished operation).
 * The same union `LxdHttp.send` answers with.
 *
 * @since 0.1.0
 * @category models
 */
export type Outcome = LxdResponse

/**
 * @since 0.1.0
 * @category options
 */
export interface WaitOptions {
  /**
   * How long each server-side long poll lasts before we ask again. Smaller is more
   * responsive to a dropped connection; default 10 seconds.
   */
  readonly pollChunk?: Duration.DurationInput | undefined
  /** Cancel the operation on the server if the waiting fiber is interrupted. Default `true`. */
  readonly cancelOnInterrupt?: boolean | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** `GET /1.0/operations/<id>`. */
  readonly get: (id: string) => Effect.Effect<Operation, RequestError>
  /**
   * Every operation the server knows (in the current project, or in all projects),
   * flattened from LXD's map keyed by status.
   */
  readonly list: (options?: { readonly allProjects?: boolean | undefined }) => Effect.Effect<
    ReadonlyArray<Operation>,
    RequestError
  >
  /**
   * Wait until the operation finishes. Succeeds with the final operation; fails with
   * `LXDAPIException` (with the operation's `err`) if it failed or was cancelled. An
   * operation the server reaped before its end was seen fails with
   * `OperationOutcomeUnknown` (it may or may not have succeeded), unless the last state
   * seen was already final.
   */
  readonly wait: (operation: Operation | string, options?: WaitOptions) => Effect.Effect<Operation, RequestError>
  /** `DELETE /1.0/operations/<id>`: ask the server to cancel. */
  readonly cancel: (id: string) => Effect.Effect<void, RequestError>
  /** Poll the operation until it finishes, emitting each state (progress lives in `metadata`). */
  readonly watch: (
    id: string,
    options?: { readonly interval?: Duration.DurationInput | undefined }
  ) => Stream.Stream<Operation, RequestError>
  /** Send a request that may start background work, and wait for that work. */
  readonly run: <E = never>(request: LxdRequest<E>, options?: WaitOptions) => Effect.Effect<Outcome, RequestError | E>
  /** Send a request that may start background work, without waiting for it. */
  readonly start: <E = never>(request: LxdRequest<E>) => Effect.Effect<Outcome, RequestError | E>
  /**
   * Send a request that must start a background operation, and return it without waiting
   * (a synchronous answer fails with `DecodeError`).
   */
  readonly startOperation: <E = never>(request: LxdRequest<E>) => Effect.Effect<Operation, RequestError | E>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class Operations extends Context.Tag("effect-lxd/Operations")<Operations, Service>() {}

const OperationMap = Schema.Record({ key: Schema.String, value: Schema.NullOr(Schema.Array(Operation)) })

const DEFAULT_CHUNK = Duration.seconds(10)
const WAIT_GRACE = Duration.seconds(30)
const MIN_POLL_INTERVAL_MS = 250

/**
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Service, never, LxdHttp> = Effect.gen(function*() {
  const http = yield* LxdHttp

  const opPath = (id: string) => path`/1.0/operations/${id}`

  const get = (id: string) => http.sync({ method: "GET", path: opPath(id), project: null, target: null }, Operation)

  const list = (options?: { readonly allProjects?: boolean | undefined }) =>
    http.sync(
      {
        method: "GET",
        path: "/1.0/operations",
        query: { recursion: 1, ...(options?.allProjects ? { "all-projects": true } : {}) }
      },
      OperationMap
    ).pipe(Effect.map((byStatus) => Object.values(byStatus).flatMap((ops) => ops ?? [])))

  const cancel = (id: string) =>
    Effect.asVoid(http.send({ method: "DELETE", path: opPath(id), project: null, target: null }))

  const waitWith = (
    operation: Operation | string,
    origin: { readonly method: string; readonly path: string } | undefined,
    options?: WaitOptions
  ): Effect.Effect<Operation, RequestError> => {
    const id = typeof operation === "string" ? operation : operation.id
    const from = origin ?? { method: "GET", path: opPath(id) }
    const chunk = Math.max(1, Math.round(Duration.toSeconds(options?.pollChunk ?? DEFAULT_CHUNK)))
    let last: Operation | undefined = typeof operation === "string" ? undefined : operation

    const settle = (op: Operation): Effect.Effect<Operation | undefined, LXDAPIException> => {
      last = op
      if (!op.isFinal) return Effect.succeed(undefined)
      return op.isSuccess ? Effect.succeed(op) : Effect.fail(LXDAPIException.fromOperation(op, from))
    }

    // LXD 5.x reports both "the operation failed" and "the long poll timed out" as an
    // error envelope (behind HTTP 200): ask for the operation itself to tell them apart
    // reaped before we saw it end: the last final state we saw, or the honest "unknown"
    const reaped = (): Effect.Effect<Operation, OperationOutcomeUnknown | LXDAPIException> => {
      const known = last
      if (known === undefined || !known.isFinal) {
        return Effect.fail(OperationOutcomeUnknown.of(from, id, known?.status))
      }
      return known.isSuccess ? Effect.succeed(known) : Effect.fail(LXDAPIException.fromOperation(known, from))
    }

    const afterWaitError = (
      waitError: Exclude<Refusal, { readonly _tag: "NotFound" }>
    ): Effect.Effect<Operation | undefined, RequestError> =>
      get(id).pipe(
        Effect.catchTag("NotFound", () =>
          /deadline|timeout/i.test(waitError.serverMessage)
            ? reaped()
            : Effect.fail(
              new LXDAPIException({
                method: from.method,
                path: from.path,
                ...labelOf(from.path),
                status: waitError.status,
                errorCode: waitError.errorCode,
                serverMessage: waitError.serverMessage,
                operationId: id
              })
            )),
        Effect.flatMap(settle)
      )

    const once: Effect.Effect<Operation | undefined, RequestError> = http.sync(
      {
        method: "GET",
        path: `${opPath(id)}/wait`,
        query: { timeout: chunk },
        project: null,
        target: null,
        // the server holds the answer for up to a chunk
        timeout: Duration.sum(Duration.seconds(chunk), WAIT_GRACE)
      },
      Operation
    ).pipe(
      Effect.matchEffect({
        // any error envelope from /wait: LXD 5.x and Incus map the operation's own error to
        // a status (Incus answers 404 for a refresh whose image source is gone), so a 404
        // is only "reaped" once the operation itself is not found either
        onFailure: (e) =>
          e._tag === "NotFound"
            ? get(id).pipe(Effect.catchTag("NotFound", reaped), Effect.flatMap(settle))
            : e._tag === "LXDAPIException" || e._tag === "Conflict" || e._tag === "Forbidden" ||
                e._tag === "PreconditionFailed"
            ? afterWaitError(e)
            : Effect.fail(e),
        onSuccess: settle
      })
    )

    // a server (or proxy) that answers the long poll at once with a running operation
    // must not be polled in a tight loop: polls that return early are spaced out
    const loop: Effect.Effect<Operation, RequestError> = Effect.gen(function*() {
      while (true) {
        const startedAt = yield* Clock.currentTimeMillis
        const result = yield* once
        if (result !== undefined) return result
        const elapsed = (yield* Clock.currentTimeMillis) - startedAt
        if (elapsed < MIN_POLL_INTERVAL_MS) yield* Effect.sleep(Duration.millis(MIN_POLL_INTERVAL_MS - elapsed))
      }
    })

    if (options?.cancelOnInterrupt === false) return loop
    // on interruption: cancel if the server says it can be (ask it when we only know the id)
    const cancelIfPossible = Effect.gen(function*() {
      const known = last ?? (yield* get(id))
      if (known.may_cancel && !known.isFinal) yield* cancel(id)
    }).pipe(Effect.timeout("10 seconds"), Effect.ignore)
    return loop.pipe(Effect.onInterrupt(() => cancelIfPossible))
  }

  const wait = (operation: Operation | string, options?: WaitOptions) => waitWith(operation, undefined, options)

  // the span of the call that started an operation names it
  const annotated = (response: LxdResponse): Effect.Effect<LxdResponse> =>
    response._tag === "Async"
      ? Effect.as(Effect.annotateCurrentSpan("lxd.operation.id", response.operation.id), response)
      : Effect.succeed(response)

  const start = <E = never>(request: LxdRequest<E>): Effect.Effect<Outcome, RequestError | E> =>
    Effect.flatMap(http.send(request), annotated)

  const startOperation = <E = never>(request: LxdRequest<E>): Effect.Effect<Operation, RequestError | E> =>
    Effect.flatMap(Effect.flatMap(http.send(request), annotated), (response) =>
      response._tag === "Async"
        ? Effect.succeed(response.operation)
        : Effect.fail(
          DecodeError.because(request, "expected a background operation, got a synchronous answer")
        ))

  const run = <E = never>(request: LxdRequest<E>, options?: WaitOptions): Effect.Effect<Outcome, RequestError | E> =>
    Effect.flatMap(
      Effect.flatMap(http.send(request), annotated),
      (response): Effect.Effect<Outcome, RequestError> =>
        response._tag === "Sync"
          ? Effect.succeed(response)
          : Effect.map(
            waitWith(response.operation, { method: request.method, path: request.path }, options),
            (operation) => ({ _tag: "Async", status: response.status, operation })
          )
    )

  const watch = (id: string, options?: { readonly interval?: Duration.DurationInput | undefined }) =>
    Stream.repeatEffectWithSchedule(get(id), Schedule.spaced(options?.interval ?? "250 millis")).pipe(
      Stream.takeUntil((op) => op.isFinal)
    )

  return Operations.of(
    traced("Operations", { get, list, wait, cancel, watch, run, start, startOperation }, {
      nameAttribute: "lxd.operation.id"
    })
  )
})

const labelOf = (p: string): { readonly resource?: string } => {
  const resource = resourceLabel(p)
  return resource === undefined ? {} : { resource }
}

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Operations, never, LxdHttp> = Layer.effect(Operations, make)
