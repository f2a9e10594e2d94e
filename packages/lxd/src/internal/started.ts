/**
 * Waiting for an operation that a call of ours started (the `...Operation` variants and
 * the waiting calls built on them): the failure names the request that started the work
 * (`POST /1.0/images`), as `Operations.run` does, not the operation's own path.
 */
import * as Effect from "effect/Effect"
import { LXDAPIException, type RequestError } from "../LxdError.js"
import type { Outcome, Service as Ops, WaitOptions } from "../Operations.js"
import type { Operation } from "./envelope.js"
import { resourceLabel } from "./path.js"

/** Where a started operation came from. */
export interface Origin {
  readonly method: string
  readonly path: string
}

/** `LXDAPIException` of operation `id` moved to the request that started it. */
export const reattributed = (e: RequestError, id: string, origin: Origin): RequestError => {
  if (e._tag !== "LXDAPIException" || e.operationId !== id) return e
  const resource = resourceLabel(origin.path)
  return new LXDAPIException({
    method: origin.method,
    path: origin.path,
    ...(resource === undefined ? {} : { resource }),
    status: e.status,
    errorCode: e.errorCode,
    serverMessage: e.serverMessage,
    operationId: e.operationId
  })
}

/**
 * Wait for `op` (on `ops`, the server that runs it) and answer what `Operations.run`
 * would have: the finished operation as an `Async` outcome, a failure against `origin`.
 */
export const waitStarted = (
  ops: Ops,
  op: Operation,
  origin: Origin,
  options?: WaitOptions
): Effect.Effect<Outcome, RequestError> =>
  ops.wait(op, options).pipe(
    Effect.mapError((e) => reattributed(e, op.id, origin)),
    Effect.map((operation): Outcome => ({ _tag: "Async", status: 202, operation }))
  )
