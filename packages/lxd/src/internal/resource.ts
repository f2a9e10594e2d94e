/**
 * Small helpers shared by the resource services: writes that may run in the background,
 * bodies without `undefined`. The calls themselves come from the builder in
 * `collection.ts`; the common model field shapes are in `models/fields.ts`.
 */
import * as Effect from "effect/Effect"
import type { RequestError } from "../LxdError.js"
import type { LxdRequest } from "../LxdHttp.js"
import type { Service as Ops } from "../Operations.js"

/** Send a mutating request and wait for it, whether the server answers sync or with an operation. */
export const run = (ops: Ops, request: LxdRequest): Effect.Effect<void, RequestError> => Effect.asVoid(ops.run(request))

/** Drop `undefined` values (the server treats a missing key and an explicit value differently). */
export const defined = <T extends Record<string, unknown>>(o: T): { [K in keyof T]: Exclude<T[K], undefined> } => {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v
  return out as { [K in keyof T]: Exclude<T[K], undefined> }
}
