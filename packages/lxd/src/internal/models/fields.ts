/**
 * Field shapes shared by the models of several public modules: configuration and device
 * maps, and the optional fields LXD and Incus leave out or send as `null`.
 *
 * One rule for `null`: LXD's Go structs marshal an empty map or slice as `null` (LXD 5.0
 * does for `used_by`, `profiles`, `config`, `devices`, image `aliases`, ...), and fields an
 * older server does not know are absent. The `optional...` fields below decode both to
 * the empty value, with `Schema.optionalWith(..., { nullable: true, default })`, and
 * encode the value as it is (never `null`). Where a model keeps the server's `null`
 * (cluster members), it says so with `stringsOrNull`.
 */
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { FAIL } from "./compiled.js"
import { lazily, onePass, standingFor } from "./onePass.js"

/** `{ [key]: string }` as `Schema.Record` decodes it: what `JSON.parse` makes of a JSON object of strings. */
const isPlainObject = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && Object.getPrototypeOf(u) === Object.prototype

/** A plain object whose own values are all strings. */
export const isStringMap = (u: unknown): u is { readonly [x: string]: string } => {
  if (!isPlainObject(u)) return false
  for (const key in u) {
    if (Object.hasOwn(u, key) && typeof u[key] !== "string") return false
  }
  return true
}

/** A plain object whose own values are all string maps. */
export const isDeviceMap = (u: unknown): u is { readonly [x: string]: { readonly [x: string]: string } } => {
  if (!isPlainObject(u)) return false
  for (const key in u) {
    if (Object.hasOwn(u, key) && !isStringMap(u[key])) return false
  }
  return true
}

/**
 * `record` with a fast path: a value that passes `is` (one loop, no allocation) is its own
 * decoded value; anything else goes through `record` itself, so a bad answer fails with
 * the very issue (path, message) `record` gives, and an unusual input (an object that is
 * not plain) decodes as `record` decodes it. (`Schema.Record` builds a new object and an
 * `Either` per key and per value: for a list of 100 instances that was most of the
 * decoding.)
 */
const fastRecord = <A extends object>(record: Schema.Schema<A>, is: (u: unknown) => u is A) => {
  // `record`'s own parsers are built when first needed, not when the module loads
  const decodeRecord = lazily(() => ParseResult.decodeUnknownEither(record))
  const encodeRecord = lazily(() => ParseResult.encodeUnknownEither(record))
  return standingFor(
    record,
    (u, options) => is(u) ? ParseResult.succeed(u) : decodeRecord()(u, options),
    (u, options) => is(u) ? ParseResult.succeed(u) : encodeRecord()(u, options),
    () => (u) => is(u) ? u : FAIL
  )
}

/** `ConfigMap` as a `Schema.Record` (the shape `ConfigMap` decodes to, and the issues it reports). */
export const ConfigRecord = Schema.Record({ key: Schema.String, value: Schema.String })

/** `DeviceMap` as a `Schema.Record`. */
export const DeviceRecord = Schema.Record({ key: Schema.String, value: ConfigRecord })

/** Configuration keys and values (`config`, `expanded_config`, image `properties`). */
export const ConfigMap: Schema.Schema<{ readonly [x: string]: string }> = fastRecord(ConfigRecord, isStringMap)

/** Devices by name, each a map of its settings (`devices`, `expanded_devices`). */
export const DeviceMap: Schema.Schema<{ readonly [x: string]: { readonly [x: string]: string } }> = fastRecord(
  DeviceRecord,
  isDeviceMap
)

/** An optional `config` map: `{}` when absent or `null`. */
export const optionalConfig = Schema.optionalWith(ConfigMap, { nullable: true, default: () => ({}) })

/** An optional `devices` map: `{}` when absent or `null`. */
export const optionalDevices = Schema.optionalWith(DeviceMap, { nullable: true, default: () => ({}) })

/** An optional list of strings: `[]` when absent or `null`. */
export const optionalStrings = Schema.optionalWith(Schema.Array(Schema.String), { nullable: true, default: () => [] })

/** An optional string: `""` when absent or `null`. */
export const optionalString = Schema.optionalWith(Schema.String, { nullable: true, default: () => "" })

/** An optional list of strings that keeps the server's `null`: `null` when absent or `null`. */
export const stringsOrNull = Schema.optionalWith(Schema.NullOr(Schema.Array(Schema.String)), { default: () => null })

/** A timestamp where LXD's zero time (`0001-01-01T00:00:00Z`) and `null` both mean "none". */
export const OptionalTime = Schema.optionalWith(
  Schema.transform(Schema.NullOr(Schema.String), Schema.NullOr(Schema.String), {
    strict: true,
    decode: (s) => (s === null || s.startsWith("0001-01-01") ? null : s),
    encode: (s) => s
  }),
  { default: () => null }
)

const nullTolerantArray = <A, I>(schema: Schema.Schema<A, I, never>) =>
  Schema.transform(Schema.NullOr(Schema.Array(onePass(schema))), Schema.Array(Schema.typeSchema(schema)), {
    strict: true,
    decode: (a) => a ?? [],
    encode: (a) => a
  })

type NullTolerantArray<A, I> = ReturnType<typeof nullTolerantArray<A, I>>

// one per element schema: lists are decoded on every call, and a new schema each time would
// also be a new parser for Effect to compile (its parsers are memoised per schema)
const arrays = new WeakMap<Schema.Schema.Any, unknown>()

/** A `null`-tolerant array of `schema` (LXD sends `null` for some empty lists); the same schema for the same `schema`. */
export const arrayOf = <A, I>(schema: Schema.Schema<A, I, never>): NullTolerantArray<A, I> => {
  const known = arrays.get(schema)
  if (known !== undefined) return known as NullTolerantArray<A, I>
  const made = nullTolerantArray(schema)
  arrays.set(schema, made)
  return made
}
