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
import * as Schema from "effect/Schema"

/** Configuration keys and values (`config`, `expanded_config`, image `properties`). */
export const ConfigMap = Schema.Record({ key: Schema.String, value: Schema.String })

/** Devices by name, each a map of its settings (`devices`, `expanded_devices`). */
export const DeviceMap = Schema.Record({
  key: Schema.String,
  value: Schema.Record({ key: Schema.String, value: Schema.String })
})

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

/** A `null`-tolerant array of `schema` (LXD sends `null` for some empty lists). */
export const arrayOf = <A, I>(schema: Schema.Schema<A, I, never>) =>
  Schema.transform(Schema.NullOr(Schema.Array(schema)), Schema.Array(Schema.typeSchema(schema)), {
    strict: true,
    decode: (a) => a ?? [],
    encode: (a) => a
  })
