/**
 * Network DNS zones (`/1.0/network-zones`, extension `network_dns`) and their records
 * (extension `network_dns_records`). LXD serves the zones over DNS (`core.dns_address`)
 * and fills them from the networks that name them (`dns.zone.forward`, ...).
 *
 * Calls apply to the current project (`Lxd.withProject`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { NetworkZones } from "effect-lxd"
 *
 * const program = Effect.gen(function* () {
 *   const zones = yield* NetworkZones.NetworkZones
 *   yield* zones.create({ name: "lab.example.net" })
 *   yield* zones.records.create("lab.example.net", {
 *     name: "www",
 *     entries: [{ type: "A", value: "198.51.100.5", ttl: 300 }]
 *   })
 * })
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { collection } from "./internal/collection.js"
import { optionalConfig, optionalString, optionalStrings } from "./internal/models/fields.js"
import { path } from "./internal/path.js"
import { defined } from "./internal/resource.js"
import { traced } from "./internal/tracing.js"
import type { ExtensionNotAvailable, RequestError } from "./LxdError.js"
import { LxdHttp } from "./LxdHttp.js"
import { Operations } from "./Operations.js"
import type * as Resource from "./Resource.js"

/**
 * A DNS zone as LXD returns it.
 *
 * @since 0.1.0
 * @category models
 */
export class NetworkZone extends Schema.Class<NetworkZone>("effect-lxd/NetworkZone")({
  name: Schema.String,
  description: optionalString,
  config: optionalConfig,
  used_by: optionalStrings,
  project: Schema.optional(Schema.String)
}) {}

/**
 * The writable fields of a zone.
 *
 * @since 0.1.0
 * @category models
 */
export interface NetworkZonePut {
  readonly description: string
  readonly config: Readonly<Record<string, string>>
}

/**
 * One DNS entry of a record.
 *
 * @since 0.1.0
 * @category models
 */
export const NetworkZoneRecordEntry = Schema.Struct({
  /** `A`, `AAAA`, `CNAME`, `TXT`, ... */
  type: Schema.String,
  value: Schema.String,
  ttl: Schema.optional(Schema.Number)
})

/**
 * A record of a zone (`/1.0/network-zones/<z>/records/<name>`).
 *
 * @since 0.1.0
 * @category models
 */
export class NetworkZoneRecord extends Schema.Class<NetworkZoneRecord>("effect-lxd/NetworkZoneRecord")({
  name: Schema.String,
  description: optionalString,
  config: optionalConfig,
  entries: Schema.optionalWith(Schema.NullOr(Schema.Array(NetworkZoneRecordEntry)), { default: () => [] })
}) {}

/**
 * The writable fields of a record.
 *
 * @since 0.1.0
 * @category models
 */
export interface NetworkZoneRecordPut {
  readonly description: string
  readonly config: Readonly<Record<string, string>>
  readonly entries: ReadonlyArray<typeof NetworkZoneRecordEntry.Encoded>
}

/**
 * @since 0.1.0
 * @category options
 */
export interface CreateOptions {
  readonly name: string
  readonly description?: string | undefined
  readonly config?: Readonly<Record<string, string>> | undefined
}

/**
 * @since 0.1.0
 * @category options
 */
export interface RecordCreateOptions {
  readonly name: string
  readonly description?: string | undefined
  readonly config?: Readonly<Record<string, string>> | undefined
  readonly entries?: ReadonlyArray<typeof NetworkZoneRecordEntry.Encoded> | undefined
}

type Fails<A> = Effect.Effect<A, RequestError | ExtensionNotAvailable>

/**
 * The records of zones: a `Resource.Fixed` collection under a zone (no `rename`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Records extends
  Resource.Fixed<
    NetworkZoneRecord,
    NetworkZoneRecordPut,
    RecordCreateOptions,
    [zone: string],
    ExtensionNotAvailable
  >
{}

/**
 * The zones: a `Resource.Fixed` collection (no `rename`), plus their records.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service extends Resource.Fixed<NetworkZone, NetworkZonePut, CreateOptions, [], ExtensionNotAvailable> {
  /** Every zone, in full. */
  readonly list: (options?: {
    /** Zones of every project (extension `network_zones_all_projects`). */
    readonly allProjects?: boolean | undefined
  }) => Fails<ReadonlyArray<NetworkZone>>
  /** The records of a zone (extension `network_dns_records`). */
  readonly records: Records
}

/**
 * @since 0.1.0
 * @category tags
 */
export class NetworkZones extends Context.Tag("effect-lxd/NetworkZones")<NetworkZones, Service>() {}

// LXD 5.0 and Incus 6.0 mishandle PATCH on zones and records: without `config` in the
// body the handler panics (the connection closes with no answer), and a record PATCH
// takes its config from the zone and drops the entries. `patch` is therefore done as
// read, merge, `PUT` with `If-Match` (retried on 412): the given fields replace, `config`
// keys merge.
const viaPut = { via: "PUT" } as const

/**
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Service, never, LxdHttp | Operations> = Effect.gen(function*() {
  const http = yield* LxdHttp
  const ops = yield* Operations
  const { calls: { rename: _z, ...zones }, listWhere } = collection(http, ops, {
    collection: () => "/1.0/network-zones",
    item: (name: string) => path`/1.0/network-zones/${name}`,
    schema: NetworkZone,
    extension: "network_dns",
    toPut: (z: NetworkZone): NetworkZonePut => ({ description: z.description, config: z.config }),
    createBody: (options: CreateOptions) =>
      defined({ name: options.name, description: options.description, config: options.config ?? {} }),
    createdName: (options) => options.name,
    patch: viaPut
  })
  const { calls: { rename: _r, ...records } } = collection(http, ops, {
    collection: (zone: string) => path`/1.0/network-zones/${zone}/records`,
    item: (zone: string, name: string) => path`/1.0/network-zones/${zone}/records/${name}`,
    schema: NetworkZoneRecord,
    extension: "network_dns_records",
    toPut: (r: NetworkZoneRecord): NetworkZoneRecordPut => ({
      description: r.description,
      config: r.config,
      entries: r.entries ?? []
    }),
    createBody: (options: RecordCreateOptions) =>
      defined({
        name: options.name,
        description: options.description,
        config: options.config ?? {},
        entries: options.entries ?? []
      }),
    createdName: (options) => options.name,
    patch: viaPut
  })

  return NetworkZones.of(traced("NetworkZones", {
    ...zones,
    list: (options) => listWhere([], options?.allProjects ? { "all-projects": true } : {}),
    records
  }))
})

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<NetworkZones, never, LxdHttp | Operations> = Layer.effect(NetworkZones, make)
