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
import { traced } from "./internal/tracing.js"
import { optionalConfig, optionalString } from "./internal/models/fields.js"
import { path } from "./internal/path.js"
import { crud, defined } from "./internal/resource.js"
import type { UpdateOptions } from "./internal/update.js"
import { LxdHttp } from "./LxdHttp.js"
import type { ExtensionNotAvailable, RequestError } from "./LxdError.js"
import { Operations } from "./Operations.js"

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
 * @since 0.1.0
 * @category options
 */
export interface KeyCreateOptions {
  readonly name: string
  readonly description?: string | undefined
  /** `read-only` (default on the server) or `admin`. */
  readonly role?: "admin" | "read-only" | undefined
}

type Fails<A> = Effect.Effect<A, RequestError | ExtensionNotAvailable>

/**
 * Access keys of buckets.
 *
 * @since 0.1.0
 * @category models
 */
export interface Keys {
  readonly list: (pool: string, bucket: string) => Fails<ReadonlyArray<StorageBucketKey>>
  readonly listNames: (pool: string, bucket: string) => Fails<ReadonlyArray<string>>
  readonly get: (pool: string, bucket: string, name: string) => Fails<StorageBucketKey>
  /** Create a key (the server generates the access and secret keys). */
  readonly create: (pool: string, bucket: string, options: KeyCreateOptions) => Fails<StorageBucketKey>
  readonly delete: (pool: string, bucket: string, name: string) => Fails<void>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  readonly list: (pool: string) => Fails<ReadonlyArray<StorageBucket>>
  readonly listNames: (pool: string) => Fails<ReadonlyArray<string>>
  readonly get: (pool: string, name: string) => Fails<StorageBucket>
  readonly exists: (pool: string, name: string) => Fails<boolean>
  /** Create a bucket and return it as the server stored it. */
  readonly create: (pool: string, options: CreateOptions) => Fails<StorageBucket>
  readonly put: (
    pool: string,
    name: string,
    body: StorageBucketPut,
    options?: { readonly etag?: string | undefined }
  ) => Fails<void>
  /** Change some fields (`PATCH`): the others are kept, `config` keys are merged. */
  readonly patch: (pool: string, name: string, changes: Partial<StorageBucketPut>) => Fails<void>
  /** Read with the ETag, apply `f`, write back with `If-Match`; retries on 412. */
  readonly update: (
    pool: string,
    name: string,
    f: (current: StorageBucketPut) => StorageBucketPut,
    options?: UpdateOptions
  ) => Fails<void>
  readonly delete: (pool: string, name: string) => Fails<void>
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
  const all = (pool: string) => path`/1.0/storage-pools/${pool}/buckets`
  const one = (pool: string, name: string) => path`/1.0/storage-pools/${pool}/buckets/${name}`
  const keysPath = (pool: string, bucket: string) => `${one(pool, bucket)}/keys`
  const keyPath = (pool: string, bucket: string, name: string) => `${keysPath(pool, bucket)}${path`/${name}`}`

  const buckets = crud({
    http,
    ops,
    schema: StorageBucket,
    extension: "storage_buckets",
    toPut: (b: StorageBucket): StorageBucketPut => ({ description: b.description, config: b.config })
  })
  const keys = crud({
    http,
    ops,
    schema: StorageBucketKey,
    extension: "storage_buckets",
    toPut: (k: StorageBucketKey) => ({ description: k.description, role: k.role })
  })

  return StorageBuckets.of(traced("StorageBuckets", {
    list: (pool) => buckets.list(all(pool)),
    listNames: (pool) => buckets.listNames(all(pool)),
    get: (pool, name) => buckets.get(one(pool, name)),
    exists: (pool, name) => buckets.exists(one(pool, name)),
    create: (pool, options) =>
      buckets.create(
        all(pool),
        defined({ name: options.name, description: options.description, config: options.config ?? {} }),
        one(pool, options.name)
      ),
    put: (pool, name, body, options) => buckets.put(one(pool, name), body, options?.etag),
    patch: (pool, name, changes) => buckets.patch(one(pool, name), changes),
    update: (pool, name, f, options) => buckets.update(one(pool, name), f, options),
    delete: (pool, name) => buckets.delete(one(pool, name)),
    keys: {
      list: (pool, bucket) => keys.list(keysPath(pool, bucket)),
      listNames: (pool, bucket) => keys.listNames(keysPath(pool, bucket)),
      get: (pool, bucket, name) => keys.get(keyPath(pool, bucket, name)),
      create: (pool, bucket, options) =>
        keys.create(
          keysPath(pool, bucket),
          defined({ name: options.name, description: options.description, role: options.role }),
          keyPath(pool, bucket, options.name)
        ),
      delete: (pool, bucket, name) => keys.delete(keyPath(pool, bucket, name))
    }
  }))
})

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<StorageBuckets, never, LxdHttp | Operations> = Layer.effect(StorageBuckets, make)
