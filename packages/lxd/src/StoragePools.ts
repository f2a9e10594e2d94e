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
export interface Service extends Resource.Fixed<StoragePool, StoragePoolPut, CreateOptions> {
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
  const one = (name: string) => path`/1.0/storage-pools/${name}`
  const { calls: { rename: _, ...pools } } = collection(http, yield* Operations, {
    collection: () => "/1.0/storage-pools",
    item: one,
    schema: StoragePool,
    toPut: (p: StoragePool): StoragePoolPut => ({ description: p.description, config: p.config }),
    createBody: (options: CreateOptions) =>
      defined({
        name: options.name,
        driver: options.driver,
        description: options.description,
        config: options.config ?? {}
      }),
    createdName: (options) => options.name,
    scope: "server"
  })

  return StoragePools.of(traced("StoragePools", {
    ...pools,
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
