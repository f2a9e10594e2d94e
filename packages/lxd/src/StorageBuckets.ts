/**
 * Storage buckets (`/1.0/storage-pools/<pool>/buckets`, extension `storage_buckets`):
 * S3-compatible object storage served by the pool, and their access keys.
 *
 * Servers without the extension (LXD 5.0) fail every call with `ExtensionNotAvailable`.
 * Local pools (`dir`, `zfs`, ...) also need the server's `core.storage_buckets_address`
 * and the MinIO binary; without them the server refuses with `LXDAPIException`. Key
 * secrets are `Redacted`.
 *
 * @example
 * ```ts
 * import { Effect, Redacted } from "effect"
 * import { StorageBuckets } from "effect-lxd"
 *
 * const program = Effect.gen(function* () {
 *   const buckets = yield* StorageBuckets.StorageBuckets
 *   const bucket = yield* buckets.create("default", { name: "assets" })
 *   const key = yield* buckets.keys.create("default", "assets", { name: "ci", role: "read-only" })
 *   console.log(bucket.s3_url, key["access-key"], Redacted.value(key["secret-key"]))
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
import { optionalConfig, optionalString } from "./internal/models/fields.js"
import { path } from "./internal/path.js"
import { defined } from "./internal/resource.js"
import { traced } from "./internal/tracing.js"
import type { ExtensionNotAvailable } from "./LxdError.js"
import { LxdHttp } from "./LxdHttp.js"
import { Operations } from "./Operations.js"
import type * as Resource from "./Resource.js"

/**
 * A storage bucket as LXD returns it.
 *
 * @since 0.1.0
 * @category models
 */
export class StorageBucket extends Schema.Class<StorageBucket>("effect-lxd/StorageBucket")({
  name: Schema.String,
  description: optionalString,
  config: optionalConfig,
  /** Where S3 clients reach the bucket. */
  s3_url: optionalString,
  location: Schema.optional(Schema.String),
  project: Schema.optional(Schema.String)
}) {}

/**
 * The writable fields of a bucket.
 *
 * @since 0.1.0
 * @category models
 */
export interface StorageBucketPut {
  readonly description: string
  readonly config: Readonly<Record<string, string>>
}

/**
 * An access key of a bucket. The secret is `Redacted`.
 *
 * @since 0.1.0
 * @category models
 */
export class StorageBucketKey extends Schema.Class<StorageBucketKey>("effect-lxd/StorageBucketKey")({
  name: Schema.String,
  description: optionalString,
  /** `admin` or `read-only`. */
  role: Schema.String,
  "access-key": Schema.String,
  "secret-key": Schema.Redacted(Schema.String)
}) {}

/**
 * @since 0.1.0
 * @category options
 */
export interface CreateOptions {
  readonly name: string
  readonly description?: string | undefined
  /** `size`, ... */
  readonly config?: Readonly<Record<string, string>> | undefined
}

/**
 * The writable fields of a key.
 *
 * @since 0.1.0
 * @category models
 */
export interface StorageBucketKeyPut {
  readonly description: string
  /** `admin` or `read-only`. */
  readonly role: string
}

/**
 * @since 0.1.0
 * @category options
 */
export interface KeyCreateOptions {
  readonly name: string
  readonly description?: string | undefined
  /** `read-only` (default on the server) or `admin`. */
  readonly role?: "admin" | "read-only" | undefined
}

/**
 * Access keys of buckets: a `Resource.Fixed` collection under a pool's bucket (no
 * `rename`). `put`, `patch` and `update` change the description and role.
 *
 * @since 0.1.0
 * @category models
 */
export interface Keys extends
  Resource.Fixed<
    StorageBucketKey,
    StorageBucketKeyPut,
    KeyCreateOptions,
    [pool: string, bucket: string],
    ExtensionNotAvailable
  >
{}

/**
 * Buckets: a `Resource.Fixed` collection under a pool (no `rename`), plus their keys.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service
  extends Resource.Fixed<StorageBucket, StorageBucketPut, CreateOptions, [pool: string], ExtensionNotAvailable>
{
  readonly keys: Keys
}

/**
 * @since 0.1.0
 * @category tags
 */
export class StorageBuckets extends Context.Tag("effect-lxd/StorageBuckets")<StorageBuckets, Service>() {}

/**
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Service, never, LxdHttp | Operations> = Effect.gen(function*() {
  const http = yield* LxdHttp
  const ops = yield* Operations
  const { calls: { rename: _b, ...buckets } } = collection(http, ops, {
    collection: (pool: string) => path`/1.0/storage-pools/${pool}/buckets`,
    item: (pool: string, name: string) => path`/1.0/storage-pools/${pool}/buckets/${name}`,
    schema: StorageBucket,
    extension: "storage_buckets",
    toPut: (b: StorageBucket): StorageBucketPut => ({ description: b.description, config: b.config }),
    createBody: (options: CreateOptions) =>
      defined({ name: options.name, description: options.description, config: options.config ?? {} }),
    createdName: (options) => options.name
  })
  const { calls: { rename: _k, ...keys } } = collection(http, ops, {
    collection: (pool: string, bucket: string) => path`/1.0/storage-pools/${pool}/buckets/${bucket}/keys`,
    item: (pool: string, bucket: string, name: string) =>
      path`/1.0/storage-pools/${pool}/buckets/${bucket}/keys/${name}`,
    schema: StorageBucketKey,
    extension: "storage_buckets",
    toPut: (k: StorageBucketKey): StorageBucketKeyPut => ({ description: k.description, role: k.role }),
    createBody: (options: KeyCreateOptions) =>
      defined({ name: options.name, description: options.description, role: options.role }),
    createdName: (options) => options.name
  })

  return StorageBuckets.of(traced("StorageBuckets", { ...buckets, keys }))
})

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<StorageBuckets, never, LxdHttp | Operations> = Layer.effect(StorageBuckets, make)
