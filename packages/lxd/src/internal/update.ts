/**
 * Optimistic concurrency: read with the ETag, apply a pure change, write with `If-Match`,
 * and start again when the server says the object changed meanwhile (412).
 */
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import { isStale, type RequestError } from "../LxdError.js"
import type { Service as Ops } from "../Operations.js"

export interface UpdateOptions {
  /** How many times to retry after a 412 (default 5). */
  readonly retries?: number | undefined
}

/**
 * `read` must return the value and its ETag; `write` receives the new body and the ETag.
 * Retries the whole read-modify-write on 412 (`PreconditionFailed`, see `LxdError.isStale`).
 */
export const optimisticUpdate = <A, B, E, E2>(
  read: Effect.Effect<{ readonly value: A; readonly etag: string | undefined }, E>,
  change: (current: A) => B,
  write: (body: B, etag: string | undefined) => Effect.Effect<void, E2>,
  options?: UpdateOptions
): Effect.Effect<void, E | E2> =>
  Effect.flatMap(read, ({ etag, value }) => write(change(value), etag)).pipe(
    Effect.retry({
      times: options?.retries ?? 5,
      schedule: Schedule.exponential("20 millis"),
      while: isStale
    })
  )

/** PUT (or PATCH) a JSON body at `path` with an optional ETag, waiting if the server answers with an operation. */
export const writeJson = (
  ops: Ops,
  method: "PUT" | "PATCH",
  path: string,
  body: unknown,
  etag: string | undefined
): Effect.Effect<void, RequestError> => Effect.asVoid(ops.run({ method, path, body, etag }))
