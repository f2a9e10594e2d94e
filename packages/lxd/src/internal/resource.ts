/**
 * Small helpers shared by the resource services: the common model field shapes, writes
 * that may run in the background, bodies without `undefined`. The calls themselves come
 * from the builder in `collection.ts`.
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type { LxdRequest } from "../LxdHttp.js"
import type { RequestError } from "../LxdError.js"
import type { Service as Ops } from "../Operations.js"

/** A `config`-like map that is never `null` after decoding. */
export const Config = Schema.transform(
  Schema.NullOr(Schema.Record({ key: Schema.String, value: Schema.String })),
  Schema.Record({ key: Schema.String, value: Schema.String }),
  { strict: true, decode: (m) => m ?? {}, encode: (m) => m }
)

/** An optional `config` map, `{}` when absent or `null`. */
export const optionalConfig = Schema.optionalWith(Config, { default: () => ({}) })

/** Devices: name → device config. */
export const Devices = Schema.transform(
  Schema.NullOr(
    Schema.Record({ key: Schema.String, value: Schema.Record({ key: Schema.String, value: Schema.String }) })
  ),
  Schema.Record({ key: Schema.String, value: Schema.Record({ key: Schema.String, value: Schema.String }) }),
  { strict: true, decode: (m) => m ?? {}, encode: (m) => m }
)

/** An optional list of strings, `[]` when absent or `null`. */
export const optionalStrings = Schema.optionalWith(
  Schema.transform(Schema.NullOr(Schema.Array(Schema.String)), Schema.Array(Schema.String), {
    strict: true,
    decode: (a) => a ?? [],
    encode: (a) => a
  }),
  { default: () => [] }
)

/** An optional string, `""` when absent or `null`. */
export const optionalString = Schema.optionalWith(
  Schema.transform(Schema.NullOr(Schema.String), Schema.String, {
    strict: true,
    decode: (s) => s ?? "",
    encode: (s) => s
  }),
  { default: () => "" }
)

/** A timestamp where LXD's zero time (`0001-01-01T00:00:00Z`) and `null` both mean "none". */
export const OptionalTime = Schema.optionalWith(
  Schema.transform(Schema.NullOr(Schema.String), Schema.NullOr(Schema.String), {
    strict: true,
    decode: (s) => (s === null || s.startsWith("0001-01-01") ? null : s),
    encode: (s) => s
  }),
  { default: () => null }
)

/** Send a mutating request and wait for it, whether the server answers sync or with an operation. */
export const run = (ops: Ops, request: LxdRequest): Effect.Effect<void, RequestError> => Effect.asVoid(ops.run(request))

/** Drop `undefined` values (the server treats a missing key and an explicit value differently). */
export const defined = <T extends Record<string, unknown>>(o: T): { [K in keyof T]: Exclude<T[K], undefined> } => {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v
  return out as { [K in keyof T]: Exclude<T[K], undefined> }
}

/** A `null`-tolerant array of `schema` (LXD sends `null` for some empty lists). */
export const arrayOf = <A, I>(schema: Schema.Schema<A, I, never>) =>
  Schema.transform(Schema.NullOr(Schema.Array(schema)), Schema.Array(Schema.typeSchema(schema)), {
    strict: true,
    decode: (a) => a ?? [],
    encode: (a) => a
  })
