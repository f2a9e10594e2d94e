/**
 * Storage pools (`/1.0/storage-pools`): where instances, images and custom volumes live.
 * Volumes are in `StorageVolumes`, buckets in `StorageBuckets`.
 *
 * Pools are server-wide (not per project). Pool writes became background operations on
 * newer LXD (`storage_and_network_operations`); every write here waits either way.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { StoragePools } from "effect-lxd"
 *
 * const program = Effect.gen(function* () {
 *   const pools = yield* StoragePools.StoragePools
 *   yield* pools.create({ name: "scratch", driver: "dir" })
 *   const { space } = yield* pools.resources("scratch")
 *   console.log(`${space.used} of ${space.total} bytes used`)
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
 * A storage pool as LXD returns it.
 *
 * @since 0.1.0
 * @category models
 */
export class StoragePool extends Schema.Class<StoragePool>("effect-lxd/StoragePool")({
  name: Schema.String,
  /** `dir`, `btrfs`, `lvm`, `zfs`, `ceph`, `cephfs`, ... */
  driver: Schema.String,
  description: optionalString,
  config: optionalConfig,
  used_by: optionalStrings,
  /** `Created`, `Pending`, `Errored`, ... */
  status: optionalString,
  locations: optionalStrings
}) {}

/**
 * The writable fields of a pool.
 *
 * @since 0.1.0
 * @category models
 */
export interface StoragePoolPut {
  readonly description: string
  readonly config: Readonly<Record<string, string>>
}

const Usage = Schema.Struct({
  used: Schema.optionalWith(Schema.Number, { default: () => 0 }),
  total: Schema.optionalWith(Schema.Number, { default: () => 0 })
})

/**
 * `GET /1.0/storage-pools/<name>/resources`: space and inodes, in bytes and counts.
 *
 * @since 0.1.0
 * @category models
 */
export class StoragePoolResources extends Schema.Class<StoragePoolResources>("effect-lxd/StoragePoolResources")({
  space: Usage,
  inodes: Schema.optionalWith(Usage, { default: () => ({ used: 0, total: 0 }) })
}) {}

/**
 * @since 0.1.0
 * @category options
 */
export interface CreateOptions {
  readonly name: string
  readonly driver: string
  readonly description?: string | undefined
  /** Driver config (`source`, `size`, ...). */
  readonly config?: Readonly<Record<string, string>> | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** Every pool, in full. */
  readonly list: Effect.Effect<ReadonlyArray<StoragePool>, RequestError>
  readonly listNames: Effect.Effect<ReadonlyArray<string>, RequestError>
  readonly get: (name: string) => Effect.Effect<StoragePool, RequestError>
  readonly exists: (name: string) => Effect.Effect<boolean, RequestError>
  /** Create a pool and return it as the server stored it. */
  readonly create: (options: CreateOptions) => Effect.Effect<StoragePool, RequestError>
  /** Replace the writable fields (`PUT`), optionally guarded by an ETag. */
  readonly put: (
    name: string,
    body: StoragePoolPut,
    options?: { readonly etag?: string | undefined }
  ) => Effect.Effect<void, RequestError>
  /** Change some fields (`PATCH`): the others are kept, `config` keys are merged. */
  readonly patch: (name: string, changes: Partial<StoragePoolPut>) => Effect.Effect<void, RequestError>
  /** Read with the ETag, apply `f`, write back with `If-Match`; retries on 412. */
  readonly update: (
    name: string,
    f: (current: StoragePoolPut) => StoragePoolPut,
    options?: UpdateOptions
  ) => Effect.Effect<void, RequestError>
  /** Delete a pool (fails while anything lives in it). */
  readonly delete: (name: string) => Effect.Effect<void, RequestError>
  /** Space and inodes (extension `resources`). */
  readonly resources: (name: string) => Effect.Effect<StoragePoolResources, RequestError | ExtensionNotAvailable>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class StoragePools extends Context.Tag("effect-lxd/StoragePools")<StoragePools, Service>() {}

/**
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Service, never, LxdHttp | Operations> = Effect.gen(function*() {
  const http = yield* LxdHttp
  const ops = yield* Operations
  const one = (name: string) => path`/1.0/storage-pools/${name}`
  const pools = crud({
    http,
    ops,
    schema: StoragePool,
    global: true,
    toPut: (p: StoragePool): StoragePoolPut => ({ description: p.description, config: p.config })
  })

  return StoragePools.of(traced("StoragePools", {
    list: pools.list("/1.0/storage-pools"),
    listNames: pools.listNames("/1.0/storage-pools"),
    get: (name) => pools.get(one(name)),
    exists: (name) => pools.exists(one(name)),
    create: (options) =>
      pools.create(
        "/1.0/storage-pools",
        defined({
          name: options.name,
          driver: options.driver,
          description: options.description,
          config: options.config ?? {}
        }),
        one(options.name)
      ),
    put: (name, body, options) => pools.put(one(name), body, options?.etag),
    patch: (name, changes) => pools.patch(one(name), changes),
    update: (name, f, options) => pools.update(one(name), f, options),
    delete: (name) => pools.delete(one(name)),
    resources: (name) =>
      Effect.zipRight(
        http.requireExtension("resources"),
        http.sync({ method: "GET", path: `${one(name)}/resources`, project: null }, StoragePoolResources)
      )
  }))
})

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<StoragePools, never, LxdHttp | Operations> = Layer.effect(StoragePools, make)
