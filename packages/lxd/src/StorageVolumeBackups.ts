/**
 * Backups of custom storage volumes
 * (`/1.0/storage-pools/<pool>/volumes/custom/<volume>/backups`): list, get, create, rename
 * and delete the backups the server keeps, export one as a stream of bytes, and create a
 * volume from a backup tarball, an ISO image or a plain tarball (each streamed, never
 * buffered). Every call checks its API extension first (`custom_volume_backup`;
 * `custom_volume_iso` for ISO images, `import_custom_volume_tar` for tarballs) and fails
 * with `ExtensionNotAvailable`, without a request, on a server that lacks it.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { NodeFileSystem } from "@effect/platform-node"
 * import { FileSystem } from "@effect/platform"
 * import { Lxd, StorageVolumeBackups } from "effect-lxd"
 *
 * const program = Effect.gen(function* () {
 *   const fs = yield* FileSystem.FileSystem
 *   const backups = yield* StorageVolumeBackups.StorageVolumeBackups
 *   const data = { pool: "default", name: "data" }
 *   const backup = yield* backups.create(data, { volumeOnly: true })
 *   yield* backups.export(data, backup.name).pipe(Stream.run(fs.sink("data.tar.gz")))
 *   yield* backups.delete(data, backup.name)
 *   // later, or on another server: a new volume from the tarball
 *   yield* backups.import("default", fs.stream("data.tar.gz"), { name: "data-restored" })
 * })
 *
 * export const main = () =>
 *   Effect.runPromise(program.pipe(Effect.provide(Lxd.layerConfig()), Effect.provide(NodeFileSystem.layer)))
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { createBackup, exportBackup, startBackup, volumeBackupBody, volumeImportHeaders } from "./internal/backups.js"
import { VolumeBackup } from "./internal/models/backup.js"
import { arrayOf } from "./internal/models/fields.js"
import { StorageVolume } from "./internal/models/storage-volume.js"
import { path } from "./internal/path.js"
import { traced } from "./internal/tracing.js"
import type { ExtensionNotAvailable, RequestError } from "./LxdError.js"
import { LxdHttp } from "./LxdHttp.js"
import { type Operation, Operations } from "./Operations.js"
import type { VolumeRef } from "./StorageVolumes.js"

export {
  /**
   * A backup of a custom volume, kept on the server until exported or deleted.
   *
   * @since 0.1.0
   * @category models
   */
  VolumeBackup
}

/**
 * @since 0.1.0
 * @category options
 */
export interface BackupCreateOptions {
  /** The backup's name; the server picks one (`backup0`, ...) when absent. */
  readonly name?: string | undefined
  readonly expiresAt?: Date | string | undefined
  /** Leave the volume's snapshots out. */
  readonly volumeOnly?: boolean | undefined
  /** Use the storage driver's own format (faster, but only importable on the same driver). */
  readonly optimizedStorage?: boolean | undefined
  readonly compressionAlgorithm?: string | undefined
}

/**
 * @since 0.1.0
 * @category options
 */
export interface ImportOptions {
  /** The new custom volume's name. */
  readonly name: string
  /** The size in bytes, when known (sent as `Content-Length`). */
  readonly contentLength?: number | undefined
}

type Fails<A> = Effect.Effect<A, RequestError | ExtensionNotAvailable>

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** The volume's backups, as objects. */
  readonly list: (volume: VolumeRef) => Fails<ReadonlyArray<VolumeBackup>>
  readonly get: (volume: VolumeRef, backup: string) => Fails<VolumeBackup>
  /** Make a backup on the server, wait for it and return it. */
  readonly create: (volume: VolumeRef, options?: BackupCreateOptions) => Fails<VolumeBackup>
  /**
   * Start making a backup and return the operation without waiting (for
   * `Progress.track`); `create` is this, a wait and a read of the backup.
   *
   * Unlike instance backups, neither LXD 5.0 nor Incus 6.0 reports progress for a volume
   * backup (not even for one that takes seconds): the operation has no metadata until it
   * ends, so `track` reports nothing and returns when the backup is made.
   */
  readonly createOperation: (volume: VolumeRef, options?: BackupCreateOptions) => Fails<Operation>
  readonly rename: (volume: VolumeRef, backup: string, newName: string) => Fails<void>
  readonly delete: (volume: VolumeRef, backup: string) => Fails<void>
  /** The backup tarball as it streams from the server. */
  readonly export: (
    volume: VolumeRef,
    backup: string
  ) => Stream.Stream<Uint8Array, RequestError | ExtensionNotAvailable>
  /** Create a custom volume in `pool` from a backup tarball (streamed) and return it. */
  readonly import: <E = never>(
    pool: string,
    data: Stream.Stream<Uint8Array, E> | Uint8Array,
    options: ImportOptions
  ) => Effect.Effect<StorageVolume, RequestError | ExtensionNotAvailable | E>
  /** Create a custom volume of content type `iso` from an ISO image (extension `custom_volume_iso`). */
  readonly importIso: <E = never>(
    pool: string,
    data: Stream.Stream<Uint8Array, E> | Uint8Array,
    options: ImportOptions
  ) => Effect.Effect<StorageVolume, RequestError | ExtensionNotAvailable | E>
  /** Create a custom volume from a plain tarball of its files (extension `import_custom_volume_tar`). */
  readonly importTarball: <E = never>(
    pool: string,
    data: Stream.Stream<Uint8Array, E> | Uint8Array,
    options: ImportOptions
  ) => Effect.Effect<StorageVolume, RequestError | ExtensionNotAvailable | E>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class StorageVolumeBackups
  extends Context.Tag("effect-lxd/StorageVolumeBackups")<StorageVolumeBackups, Service>()
{}

const volumePath = (v: VolumeRef) => path`/1.0/storage-pools/${v.pool}/volumes/${v.type ?? "custom"}/${v.name}`
const backupsPath = (v: VolumeRef) => `${volumePath(v)}/backups`
const backupPath = (v: VolumeRef, backup: string) => `${backupsPath(v)}${path`/${backup}`}`

/** LXD 5.0 names a volume's backups `<volume>/<backup>`: keep the backup's own name. */
const ownName = (b: VolumeBackup): VolumeBackup =>
  b.name.includes("/") ? new VolumeBackup({ ...b, name: b.name.slice(b.name.lastIndexOf("/") + 1) }) : b

/**
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Service, never, LxdHttp | Operations> = Effect.gen(function*() {
  const http = yield* LxdHttp
  const ops = yield* Operations
  const gate = http.requireExtension("custom_volume_backup")

  const list = (v: VolumeRef) =>
    Effect.zipRight(
      gate,
      http.sync({ method: "GET", path: backupsPath(v), query: { recursion: 1 } }, arrayOf(VolumeBackup))
    ).pipe(Effect.map((all) => all.map(ownName)))

  const get = (v: VolumeRef, backup: string) =>
    Effect.zipRight(gate, http.sync({ method: "GET", path: backupPath(v, backup) }, VolumeBackup)).pipe(
      Effect.map(ownName)
    )

  const create = (v: VolumeRef, options?: BackupCreateOptions) =>
    Effect.zipRight(gate, createBackup(http, ops, backupsPath(v), volumeBackupBody(options), VolumeBackup)).pipe(
      Effect.map(ownName)
    )

  const importAs =
    (kind: "backup" | "iso" | "tar", extension: string) =>
    <E = never>(pool: string, data: Stream.Stream<Uint8Array, E> | Uint8Array, options: ImportOptions) =>
      Effect.gen(function*() {
        yield* http.requireExtension(extension)
        yield* ops.run<E>({
          method: "POST",
          path: path`/1.0/storage-pools/${pool}/volumes/custom`,
          headers: volumeImportHeaders(http.headerPrefix, options.name, kind),
          raw: {
            contentType: "application/octet-stream",
            data,
            contentLength: options.contentLength ?? (data instanceof Uint8Array ? data.byteLength : undefined)
          }
        })
        return yield* http.sync(
          { method: "GET", path: volumePath({ pool, name: options.name, type: "custom" }) },
          StorageVolume
        )
      })

  return StorageVolumeBackups.of(traced("StorageVolumeBackups", {
    list,
    get,
    create,
    createOperation: (v, options) => Effect.zipRight(gate, startBackup(ops, backupsPath(v), volumeBackupBody(options))),
    rename: (v, backup, newName) =>
      Effect.zipRight(
        gate,
        Effect.asVoid(ops.run({ method: "POST", path: backupPath(v, backup), body: { name: newName } }))
      ),
    delete: (v, backup) =>
      Effect.zipRight(gate, Effect.asVoid(ops.run({ method: "DELETE", path: backupPath(v, backup) }))),
    export: (v, backup) => Stream.unwrap(Effect.as(gate, exportBackup(http, backupPath(v, backup)))),
    import: importAs("backup", "custom_volume_backup"),
    importIso: importAs("iso", "custom_volume_iso"),
    importTarball: importAs("tar", "import_custom_volume_tar")
  }))
})

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<StorageVolumeBackups, never, LxdHttp | Operations> = Layer.effect(
  StorageVolumeBackups,
  make
)
