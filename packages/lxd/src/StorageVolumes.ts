/**
 * Storage volumes (`/1.0/storage-pools/<pool>/volumes/<type>/<name>`) and their
 * snapshots.
 *
 * A volume is addressed by a `VolumeRef`: its pool, its name and its type (`custom` when
 * not given; `container`, `virtual-machine` and `image` volumes belong to instances and
 * images). Calls apply to the current project (`Lxd.withProject`). Writes wait for the
 * work whether the server answers synchronously (LXD 5.0, Incus) or with an operation
 * (newer LXD).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { StorageVolumes } from "effect-lxd"
 *
 * const program = Effect.gen(function* () {
 *   const volumes = yield* StorageVolumes.StorageVolumes
 *   const data = { pool: "default", name: "data" }
 *   yield* volumes.create("default", { name: "data", config: { size: "1GiB" } })
 *   yield* volumes.snapshots.create(data, { name: "before", expiresAt: new Date(Date.now() + 86_400_000) })
 *   // ... change the data, then go back
 *   yield* volumes.snapshots.restore(data, "before")
 *   yield* volumes.copy(data, { pool: "backup", name: "data-copy" })
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
import { arrayOf, optionalConfig, optionalString, OptionalTime } from "./internal/models/fields.js"
import { StorageVolume } from "./internal/models/storage-volume.js"
import { nameFromUrl, path } from "./internal/path.js"
import { defined } from "./internal/resource.js"
import { waitStarted } from "./internal/started.js"
import { traced } from "./internal/tracing.js"
import type { ExtensionNotAvailable, RequestError } from "./LxdError.js"
import { LxdHttp, type LxdRequest, withProject } from "./LxdHttp.js"
import { type Operation, Operations, type Outcome } from "./Operations.js"
import type * as Resource from "./Resource.js"

// -----------------------------------------------------------------------------
// Models
// -----------------------------------------------------------------------------

/**
 * The volume types LXD knows.
 *
 * @since 0.1.0
 * @category models
 */
export type VolumeType = "custom" | "container" | "virtual-machine" | "image"

/**
 * Which volume: pool, name and type (`custom` by default).
 *
 * @since 0.1.0
 * @category models
 */
export interface VolumeRef {
  readonly pool: string
  readonly name: string
  readonly type?: VolumeType | undefined
}

export {
  /**
   * A storage volume as LXD returns it.
   *
   * @since 0.1.0
   * @category models
   */
  StorageVolume
}

/**
 * The writable fields of a volume.
 *
 * @since 0.1.0
 * @category models
 */
export interface StorageVolumePut {
  readonly description: string
  readonly config: Readonly<Record<string, string>>
}

/**
 * `GET .../state`: the space used (`usage` is `null` when the driver cannot tell).
 *
 * @since 0.1.0
 * @category models
 */
export class StorageVolumeState extends Schema.Class<StorageVolumeState>("effect-lxd/StorageVolumeState")({
  usage: Schema.optionalWith(
    Schema.NullOr(Schema.Struct({
      used: Schema.Number,
      total: Schema.optional(Schema.Number)
    })),
    { default: () => null }
  )
}) {}

/** LXD 5.0 names snapshots `<volume>/<snapshot>`: keep the snapshot part. */
const SnapshotName = Schema.transform(Schema.String, Schema.String, {
  strict: true,
  decode: (s) => s.slice(s.lastIndexOf("/") + 1),
  encode: (s) => s
})

/**
 * A snapshot of a volume.
 *
 * @since 0.1.0
 * @category models
 */
export class StorageVolumeSnapshot extends Schema.Class<StorageVolumeSnapshot>("effect-lxd/StorageVolumeSnapshot")({
  /** The snapshot's own name (without the `volume/` prefix LXD 5.0 adds). */
  name: SnapshotName,
  description: optionalString,
  config: optionalConfig,
  content_type: optionalString,
  /** `null` when the server does not record it. */
  created_at: OptionalTime,
  /** `null` when the snapshot never expires. */
  expires_at: OptionalTime
}) {}

/**
 * The writable fields of a volume snapshot.
 *
 * @since 0.1.0
 * @category models
 */
export interface StorageVolumeSnapshotPut {
  readonly description: string
  /** RFC 3339 time, or `null` for never. */
  readonly expires_at: string | null
}

/**
 * @since 0.1.0
 * @category options
 */
export interface CreateOptions {
  readonly name: string
  /** Only `custom` volumes can be created directly (default). */
  readonly type?: "custom" | undefined
  /** `filesystem` (default) or `block`. */
  readonly contentType?: "filesystem" | "block" | undefined
  readonly description?: string | undefined
  readonly config?: Readonly<Record<string, string>> | undefined
}

/**
 * @since 0.1.0
 * @category options
 */
export interface ListOptions {
  /** Only volumes of this type (`/volumes/<type>`). */
  readonly type?: VolumeType | undefined
  /** Volumes of every project (extension `storage_volumes_all_projects`). */
  readonly allProjects?: boolean | undefined
  /** A server-side filter, e.g. `config.size eq 1GiB` (extension `storage_volume_api_filtering`). */
  readonly filter?: string | undefined
}

/**
 * @since 0.1.0
 * @category options
 */
export interface CopyOptions {
  /** Target pool (may be the source pool). */
  readonly pool: string
  /** Name of the copy. */
  readonly name: string
  readonly description?: string | undefined
  readonly config?: Readonly<Record<string, string>> | undefined
  /** Copy the volume without its snapshots. */
  readonly volumeOnly?: boolean | undefined
}

/**
 * @since 0.1.0
 * @category options
 */
export interface MoveOptions {
  /** Target pool. */
  readonly pool: string
  /** New name (default: keep it). */
  readonly name?: string | undefined
  /** Target project (extension `storage_volume_project_move`). */
  readonly project?: string | undefined
}

/**
 * @since 0.1.0
 * @category options
 */
export interface SnapshotCreateOptions {
  /** Default: the server picks one (`snap0`, `snap1`, ...). */
  readonly name?: string | undefined
  /** When the server deletes the snapshot by itself. */
  readonly expiresAt?: Date | string | undefined
}

type Fails<A> = Effect.Effect<A, RequestError>

/**
 * Volume snapshots: a `Resource.Collection` under a volume (`[volume: VolumeRef]` first),
 * plus `restore`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Snapshots extends
  Resource.Collection<
    StorageVolumeSnapshot,
    StorageVolumeSnapshotPut,
    SnapshotCreateOptions | undefined,
    [volume: VolumeRef]
  >
{
  /** Take a snapshot and return it (with the name the server picked, if none was given). */
  readonly create: (volume: VolumeRef, options?: SnapshotCreateOptions) => Fails<StorageVolumeSnapshot>
  /** Put the volume back to the snapshot's content. */
  readonly restore: (volume: VolumeRef, name: string) => Fails<void>
}

/**
 * Volumes: listed per pool (`list(pool)`, `create(pool, options)`), each one addressed by a
 * `VolumeRef` (`get(volume)`, `patch(volume, changes)`, ...): a `Resource.Collection` with
 * `Parents = [pool: string]` and `Item = [volume: VolumeRef]`. `listNames` gives the type
 * with each name (a pool holds volumes of several types).
 *
 * @since 0.1.0
 * @category models
 */
export interface Service extends
  Omit<
    Resource.Collection<StorageVolume, StorageVolumePut, CreateOptions, [pool: string], never, [volume: VolumeRef]>,
    "listNames"
  >
{
  /** The volumes of a pool, in full (snapshots are listed by `snapshots.list`). */
  readonly list: (pool: string, options?: ListOptions) => Fails<ReadonlyArray<StorageVolume>>
  /** The type and name of every volume of a pool. */
  readonly listNames: (
    pool: string,
    options?: { readonly type?: VolumeType | undefined }
  ) => Fails<ReadonlyArray<{ readonly type: string; readonly name: string }>>
  /** Copy a custom volume (with its snapshots unless `volumeOnly`) to a pool; returns the copy. */
  readonly copy: (source: VolumeRef, target: CopyOptions) => Fails<StorageVolume>
  /**
   * Start the copy of `copy` and return its operation without waiting (for
   * `Progress.track`); `copy` is this, a wait and a read of the copy. Both LXD 5.0 and
   * Incus 6.0 answer a copy with an operation (a server that answered synchronously fails
   * this with `DecodeError`).
   *
   * With a `dir` pool neither reports progress for a copy on the same server (the
   * operation has no metadata until it ends): `track` then reports nothing and returns
   * when the copy is done. (A move, `POST` on the volume, is answered synchronously by
   * both, so it has no operation to watch.)
   */
  readonly copyOperation: (source: VolumeRef, target: CopyOptions) => Fails<Operation>
  /** Move a custom volume to another pool (and/or project, name); returns it at its new place. */
  readonly move: (
    volume: VolumeRef,
    target: MoveOptions
  ) => Effect.Effect<StorageVolume, RequestError | ExtensionNotAvailable>
  /** Space used (extension `storage_volume_state`). */
  readonly state: (volume: VolumeRef) => Effect.Effect<StorageVolumeState, RequestError | ExtensionNotAvailable>
  /** Snapshots (extension `storage_api_volume_snapshots`). */
  readonly snapshots: Snapshots
  /**
   * The volumes of every pool at once (`GET /1.0/storage-volumes`, extension
   * `storage_volumes_all`); each one names its `pool`.
   */
  readonly listAll: (
    options?: ListOptions
  ) => Effect.Effect<ReadonlyArray<StorageVolume>, RequestError | ExtensionNotAvailable>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class StorageVolumes extends Context.Tag("effect-lxd/StorageVolumes")<StorageVolumes, Service>() {}

/**
 * The type and name of a volume from its URL, or `undefined` for a snapshot URL.
 *
 * @since 0.1.0
 * @category utils
 */
export const volumeFromUrl = (url: string): { readonly type: string; readonly name: string } | undefined => {
  const segments = url.split("?")[0]!.split("/")
  const i = segments.lastIndexOf("volumes")
  if (i < 0 || segments.length !== i + 3) return undefined
  return { type: decodeURIComponent(segments[i + 1]!), name: decodeURIComponent(segments[i + 2]!) }
}

/** The snapshot an answer's operation names in its resources, if it does. */
const snapshotNamed = (outcome: Outcome): string | undefined => {
  const url = outcome._tag === "Async" ? outcome.operation.resources?.["storage_volume_snapshots"]?.[0] : undefined
  return url === undefined ? undefined : nameFromUrl(url)
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Service, never, LxdHttp | Operations> = Effect.gen(function*() {
  const http = yield* LxdHttp
  const ops = yield* Operations

  const volPath = (v: VolumeRef) => path`/1.0/storage-pools/${v.pool}/volumes/${v.type ?? "custom"}/${v.name}`
  const snapsPath = (v: VolumeRef) => `${volPath(v)}/snapshots`
  const snapPath = (v: VolumeRef, s: string) => `${snapsPath(v)}${path`/${s}`}`

  const { calls: volumes, write } = collection(http, ops, {
    collection: (pool: string) => path`/1.0/storage-pools/${pool}/volumes`,
    item: volPath,
    schema: StorageVolume,
    toPut: (v: StorageVolume): StorageVolumePut => ({ description: v.description, config: v.config })
  })

  /** The volumes (not their snapshots, which some servers list too) under `base`. */
  const listUnder = (base: string, options: ListOptions | undefined) =>
    http.sync(
      {
        method: "GET",
        path: options?.type === undefined ? base : `${base}${path`/${options.type}`}`,
        query: {
          recursion: 1,
          ...(options?.allProjects ? { "all-projects": true } : {}),
          ...(options?.filter === undefined ? {} : { filter: options.filter })
        }
      },
      arrayOf(StorageVolume)
    ).pipe(Effect.map((vols) => vols.filter((v) => !v.name.includes("/"))))

  const list = (pool: string, options?: ListOptions) => listUnder(path`/1.0/storage-pools/${pool}/volumes`, options)

  const listNames = (pool: string, options?: { readonly type?: VolumeType | undefined }) =>
    http.sync(
      {
        method: "GET",
        path: options?.type === undefined
          ? path`/1.0/storage-pools/${pool}/volumes`
          : path`/1.0/storage-pools/${pool}/volumes/${options.type}`
      },
      arrayOf(Schema.String)
    ).pipe(Effect.map((urls) => urls.flatMap((u) => volumeFromUrl(u) ?? [])))

  const create = (pool: string, options: CreateOptions) => {
    const type = options.type ?? "custom"
    return Effect.zipRight(
      write({
        method: "POST",
        path: path`/1.0/storage-pools/${pool}/volumes/${type}`,
        body: defined({
          name: options.name,
          type,
          content_type: options.contentType,
          description: options.description,
          config: options.config ?? {}
        })
      }),
      volumes.get({ pool, name: options.name, type })
    )
  }

  const copyRequest = (source: VolumeRef, target: CopyOptions): LxdRequest => ({
    method: "POST",
    path: path`/1.0/storage-pools/${target.pool}/volumes/custom`,
    body: defined({
      name: target.name,
      type: "custom",
      description: target.description,
      config: target.config,
      source: defined({
        type: "copy",
        pool: source.pool,
        name: source.name,
        volume_only: target.volumeOnly
      })
    })
  })

  const copyOperation = (source: VolumeRef, target: CopyOptions) => ops.startOperation(copyRequest(source, target))

  const copy = (source: VolumeRef, target: CopyOptions) =>
    Effect.gen(function*() {
      const op = yield* copyOperation(source, target)
      yield* waitStarted(ops, op, copyRequest(source, target))
      return yield* volumes.get({ pool: target.pool, name: target.name })
    })

  const move = (v: VolumeRef, target: MoveOptions) =>
    Effect.gen(function*() {
      if (target.project !== undefined) yield* http.requireExtension("storage_volume_project_move")
      const name = target.name ?? v.name
      yield* write({
        method: "POST",
        path: volPath(v),
        body: defined({ name, pool: target.pool, project: target.project })
      })
      const moved = volumes.get({ pool: target.pool, name, type: v.type })
      return yield* (target.project === undefined ? moved : withProject(moved, target.project))
    })

  // --- snapshots ---------------------------------------------------------------

  const { calls: snaps, write: snapWrite } = collection(http, ops, {
    collection: snapsPath,
    item: snapPath,
    schema: StorageVolumeSnapshot,
    toPut: (s: StorageVolumeSnapshot): StorageVolumeSnapshotPut => ({
      description: s.description,
      expires_at: s.expires_at
    })
  })
  const snapNames = snaps.listNames
  const snapGet = snaps.get

  const snapCreate = (v: VolumeRef, options?: SnapshotCreateOptions) =>
    Effect.gen(function*() {
      const before = options?.name === undefined ? yield* snapNames(v) : []
      const expiresAt = options?.expiresAt instanceof Date ? options.expiresAt.toISOString() : options?.expiresAt
      // not through the builder's `write`: the operation's resources name the snapshot
      const outcome = yield* ops.run({
        method: "POST",
        path: snapsPath(v),
        body: defined({ name: options?.name, expires_at: expiresAt })
      })
      // newer servers name the snapshot in the operation's resources
      let name = options?.name ?? snapshotNamed(outcome)
      if (name === undefined) {
        const after = yield* snapNames(v)
        name = after.find((n) => !before.includes(n)) ?? after[after.length - 1] ?? ""
      }
      return yield* snapGet(v, name)
    })

  const snapshots: Snapshots = {
    ...snaps,
    create: snapCreate,
    restore: (v, s) => snapWrite({ method: "PUT", path: volPath(v), body: { restore: s } })
  }

  const listAll = (options?: ListOptions) =>
    Effect.zipRight(http.requireExtension("storage_volumes_all"), listUnder("/1.0/storage-volumes", options))

  return StorageVolumes.of(traced("StorageVolumes", {
    ...volumes,
    listAll,
    list,
    listNames,
    create,
    copy,
    copyOperation,
    move,
    state: (v) =>
      Effect.zipRight(
        http.requireExtension("storage_volume_state"),
        http.sync({ method: "GET", path: `${volPath(v)}/state` }, StorageVolumeState)
      ),
    snapshots
  }))
})

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<StorageVolumes, never, LxdHttp | Operations> = Layer.effect(StorageVolumes, make)
