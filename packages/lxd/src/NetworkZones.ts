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
import { traced } from "./internal/tracing.js"
import { optionalConfig, optionalString, optionalStrings } from "./internal/models/fields.js"
import { path } from "./internal/path.js"
import { crud, defined } from "./internal/resource.js"
import type { UpdateOptions } from "./internal/update.js"
import { LxdHttp } from "./LxdHttp.js"
import type { ExtensionNotAvailable, RequestError } from "./LxdError.js"
import { Operations } from "./Operations.js"

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
 * The records of zones.
 *
 * @since 0.1.0
 * @category models
 */
export interface Records {
  readonly list: (zone: string) => Fails<ReadonlyArray<NetworkZoneRecord>>
  readonly listNames: (zone: string) => Fails<ReadonlyArray<string>>
  readonly get: (zone: string, name: string) => Fails<NetworkZoneRecord>
  readonly exists: (zone: string, name: string) => Fails<boolean>
  readonly create: (zone: string, options: RecordCreateOptions) => Fails<NetworkZoneRecord>
  readonly put: (
    zone: string,
    name: string,
    body: NetworkZoneRecordPut,
    options?: { readonly etag?: string | undefined }
  ) => Fails<void>
  /** Change some fields; `config` keys are merged (done as an ETag-guarded read-merge-write). */
  readonly patch: (zone: string, name: string, changes: Partial<NetworkZoneRecordPut>) => Fails<void>
  /** Read with the ETag, apply `f`, write back; retries on 412. */
  readonly update: (
    zone: string,
    name: string,
    f: (current: NetworkZoneRecordPut) => NetworkZoneRecordPut,
    options?: UpdateOptions
  ) => Fails<void>
  readonly delete: (zone: string, name: string) => Fails<void>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** Every zone, in full. */
  readonly list: (options?: {
    /** Zones of every project (extension `network_zones_all_projects`). */
    readonly allProjects?: boolean | undefined
  }) => Fails<ReadonlyArray<NetworkZone>>
  readonly listNames: Fails<ReadonlyArray<string>>
  readonly get: (name: string) => Fails<NetworkZone>
  readonly exists: (name: string) => Fails<boolean>
  /** Create a zone and return it as the server stored it. */
  readonly create: (options: CreateOptions) => Fails<NetworkZone>
  readonly put: (name: string, body: NetworkZonePut, options?: { readonly etag?: string | undefined }) => Fails<void>
  /** Change some fields; `config` keys are merged (done as an ETag-guarded read-merge-write). */
  readonly patch: (name: string, changes: Partial<NetworkZonePut>) => Fails<void>
  /** Read with the ETag, apply `f`, write back with `If-Match`; retries on 412. */
  readonly update: (name: string, f: (current: NetworkZonePut) => NetworkZonePut, options?: UpdateOptions) => Fails<void>
  readonly delete: (name: string) => Fails<void>
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
// takes its config from the zone and drops the entries. `patch` is therefore done here
// as read, merge, write with `If-Match` (retried on 412), with PATCH's meaning: the
// given fields replace, `config` keys merge.
const merge = <P extends { readonly config: Readonly<Record<string, string>> }>(current: P, changes: Partial<P>): P => ({
  ...current,
  ...changes,
  config: { ...current.config, ...changes.config }
})

/**
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Service, never, LxdHttp | Operations> = Effect.gen(function*() {
  const http = yield* LxdHttp
  const ops = yield* Operations
  const one = (name: string) => path`/1.0/network-zones/${name}`
  const records = (zone: string) => `${one(zone)}/records`
  const record = (zone: string, name: string) => path`/1.0/network-zones/${zone}/records/${name}`

  const zones = crud({
    http,
    ops,
    schema: NetworkZone,
    extension: "network_dns",
    toPut: (z: NetworkZone): NetworkZonePut => ({ description: z.description, config: z.config })
  })
  const recs = crud({
    http,
    ops,
    schema: NetworkZoneRecord,
    extension: "network_dns_records",
    toPut: (r: NetworkZoneRecord): NetworkZoneRecordPut => ({
      description: r.description,
      config: r.config,
      entries: r.entries ?? []
    })
  })

  return NetworkZones.of(traced("NetworkZones", {
    list: (options) => zones.list("/1.0/network-zones", options?.allProjects ? { "all-projects": true } : {}),
    listNames: zones.listNames("/1.0/network-zones"),
    get: (name) => zones.get(one(name)),
    exists: (name) => zones.exists(one(name)),
    create: (options) =>
      zones.create(
        "/1.0/network-zones",
        defined({ name: options.name, description: options.description, config: options.config ?? {} }),
        one(options.name)
      ),
    put: (name, body, options) => zones.put(one(name), body, options?.etag),
    patch: (name, changes) => zones.update(one(name), (current) => merge(current, changes)),
    update: (name, f, options) => zones.update(one(name), f, options),
    delete: (name) => zones.delete(one(name)),
    records: {
      list: (zone) => recs.list(records(zone)),
      listNames: (zone) => recs.listNames(records(zone)),
      get: (zone, name) => recs.get(record(zone, name)),
      exists: (zone, name) => recs.exists(record(zone, name)),
      create: (zone, options) =>
        recs.create(
          records(zone),
          defined({
            name: options.name,
            description: options.description,
            config: options.config ?? {},
            entries: options.entries ?? []
          }),
          record(zone, options.name)
        ),
      put: (zone, name, body, options) => recs.put(record(zone, name), body, options?.etag),
      patch: (zone, name, changes) => recs.update(record(zone, name), (current) => merge(current, changes)),
      update: (zone, name, f, options) => recs.update(record(zone, name), f, options),
      delete: (zone, name) => recs.delete(record(zone, name))
    }
  }))
})

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<NetworkZones, never, LxdHttp | Operations> = Layer.effect(NetworkZones, make)
