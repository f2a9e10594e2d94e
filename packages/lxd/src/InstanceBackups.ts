/**
 * Backups of instances (`/1.0/instances/<name>/backups`): list, get, create, rename and
 * delete the backups the server keeps, export one as a stream of bytes, and create an
 * instance from a backup tarball (streamed, never buffered).
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { NodeFileSystem } from "@effect/platform-node"
 * import { FileSystem } from "@effect/platform"
 * import { InstanceBackups, Lxd } from "effect-lxd"
 *
 * const program = Effect.gen(function* () {
 *   const fs = yield* FileSystem.FileSystem
 *   const backups = yield* InstanceBackups.InstanceBackups
 *   const backup = yield* backups.create("web1", { instanceOnly: true })
 *   yield* backups.export("web1", backup.name).pipe(Stream.run(fs.sink("web1.tar.gz")))
 *   yield* backups.delete("web1", backup.name)
 *   // later, or on another server: a new instance from the tarball
 *   yield* backups.import(fs.stream("web1.tar.gz"), { name: "web1-restored" })
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
import * as Schema from "effect/Schema"
import type * as Stream from "effect/Stream"
import {
  backupBody,
  createBackup,
  exportBackup as exportBackup_,
  importHeaders,
  startBackup
} from "./internal/backups.js"
import { createdInstanceName, instancePath } from "./internal/instances-body.js"
import { fileBody, saveAnswer } from "./internal/localFiles.js"
import { Backup } from "./internal/models/backup.js"
import { Instance } from "./internal/models/instance.js"
import { path } from "./internal/path.js"
import { traced } from "./internal/tracing.js"
import type { RequestError } from "./LxdError.js"
import { LxdHttp, type RawBody } from "./LxdHttp.js"
import { type Operation, Operations } from "./Operations.js"

export {
  /**
   * A backup of an instance, kept on the server until exported or deleted.
   *
   * @since 0.1.0
   * @category models
   */
  Backup
}

/**
 * @since 0.1.0
 * @category options
 */
export interface CreateOptions {
  /** The backup's name; the server picks one (`backup0`, ...) when absent. */
  readonly name?: string | undefined
  readonly expiresAt?: Date | string | undefined
  /** Leave the snapshots out. */
  readonly instanceOnly?: boolean | undefined
  /** Use the storage driver's own format (faster, but only importable on the same driver). */
  readonly optimizedStorage?: boolean | undefined
  readonly compressionAlgorithm?: string | undefined
}

/**
 * @since 0.1.0
 * @category options
 */
export interface ImportOptions {
  /** The new instance's name (default: the one in the backup). */
  readonly name?: string | undefined
  /** The storage pool to restore into. */
  readonly pool?: string | undefined
  /** The size in bytes, when known (sent as `Content-Length`). */
  readonly contentLength?: number | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** The instance's backups, as objects. */
  readonly list: (instance: string) => Effect.Effect<ReadonlyArray<Backup>, RequestError>
  readonly get: (instance: string, backup: string) => Effect.Effect<Backup, RequestError>
  /** Make a backup on the server and wait for it. */
  readonly create: (instance: string, options?: CreateOptions) => Effect.Effect<Backup, RequestError>
  /**
   * Start making a backup and return the operation without waiting (for
   * `Progress.track`); `create` is this, a wait and a read of the backup.
   *
   * LXD 5.0 and Incus 6.0 report `create_backup_progress` (`17.33MB (17.24MB/s)`: stage
   * `create_backup`, bytes read so far and speed, no percent) once a second, so a backup
   * that takes less than a second reports nothing.
   *
   * @example
   * ```ts
   * import { Console, Effect } from "effect"
   * import { InstanceBackups, Progress } from "effect-lxd"
   *
   * const nightly = Effect.gen(function* () {
   *   const backups = yield* InstanceBackups.InstanceBackups
   *   yield* Progress.track(
   *     backups.createOperation("web1", { name: "nightly", instanceOnly: true }),
   *     (p) => Console.log(Progress.format(p)) // create_backup: 17.33MB (17.24MB/s)
   *   )
   *   return yield* backups.get("web1", "nightly")
   * })
   * ```
   */
  readonly createOperation: (instance: string, options?: CreateOptions) => Effect.Effect<Operation, RequestError>
  readonly rename: (instance: string, backup: string, newName: string) => Effect.Effect<void, RequestError>
  readonly delete: (instance: string, backup: string) => Effect.Effect<void, RequestError>
  /** The backup tarball as it streams from the server. */
  readonly export: (instance: string, backup: string) => Stream.Stream<Uint8Array, RequestError>
  /**
   * The backup tarball saved into the local file at `path` (created or truncated, mode
   * 0600): what `lxc export` does after making the backup. The Node transports write it
   * with a few reused buffers; a transfer that fails or is interrupted leaves no file.
   */
  readonly exportTo: (instance: string, backup: string, path: string) => Effect.Effect<void, RequestError>
  /** Create an instance from a backup tarball (streamed, not buffered) and return it. */
  readonly import: <E = never>(
    data: Stream.Stream<Uint8Array, E> | Uint8Array,
    options?: ImportOptions
  ) => Effect.Effect<Instance, RequestError | E>
  /**
   * `import` of a backup tarball in a local file (`lxc import`): the Node transports send
   * it straight from the file. A failed read of the file is an `InvalidArgument`.
   */
  readonly importFile: (
    path: string,
    options?: Omit<ImportOptions, "contentLength">
  ) => Effect.Effect<Instance, RequestError>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class InstanceBackups extends Context.Tag("effect-lxd/InstanceBackups")<InstanceBackups, Service>() {}

const backupsPath = (instance: string) => path`/1.0/instances/${instance}/backups`
const backupPath = (instance: string, backup: string) => path`/1.0/instances/${instance}/backups/${backup}`

/**
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Service, never, LxdHttp | Operations> = Effect.gen(function*() {
  const http = yield* LxdHttp
  const ops = yield* Operations

  const list = (instance: string) =>
    http.sync({ method: "GET", path: backupsPath(instance), query: { recursion: 1 } }, Schema.Array(Backup))

  const get = (instance: string, backup: string) =>
    http.sync({ method: "GET", path: backupPath(instance, backup) }, Backup)

  const create = (instance: string, options?: CreateOptions) =>
    createBackup(http, ops, backupsPath(instance), backupBody(options), Backup)

  const rename = (instance: string, backup: string, newName: string) =>
    Effect.asVoid(ops.run({ method: "POST", path: backupPath(instance, backup), body: { name: newName } }))

  const del = (instance: string, backup: string) =>
    Effect.asVoid(ops.run({ method: "DELETE", path: backupPath(instance, backup) }))

  const exportBackup = (instance: string, backup: string) => exportBackup_(http, backupPath(instance, backup))

  const importRaw = <E>(raw: RawBody<E>, options: ImportOptions | undefined) =>
    Effect.gen(function*() {
      const outcome = yield* ops.run<E>({
        method: "POST",
        path: "/1.0/instances",
        headers: importHeaders(http.headerPrefix, options),
        raw
      })
      const name = yield* createdInstanceName(outcome, options?.name, undefined)
      return yield* http.sync({ method: "GET", path: instancePath(name) }, Instance)
    })

  const importBackup = <E = never>(data: Stream.Stream<Uint8Array, E> | Uint8Array, options?: ImportOptions) =>
    importRaw({
      contentType: "application/octet-stream",
      data,
      contentLength: options?.contentLength ?? (data instanceof Uint8Array ? data.byteLength : undefined)
    }, options)

  const importFile = (local: string, options?: Omit<ImportOptions, "contentLength">) =>
    Effect.flatMap(fileBody(local, "application/octet-stream"), (raw) => importRaw(raw, options))

  const exportTo = (instance: string, backup: string, local: string) =>
    Effect.scoped(
      Effect.flatMap(
        http.raw({ method: "GET", path: `${backupPath(instance, backup)}/export`, bulk: true }),
        (response) => Effect.asVoid(saveAnswer(response, local))
      )
    )

  return InstanceBackups.of(traced("InstanceBackups", {
    list,
    get,
    create,
    createOperation: (instance, options) => startBackup(ops, backupsPath(instance), backupBody(options)),
    rename,
    delete: del,
    export: exportBackup,
    exportTo,
    import: importBackup,
    importFile
  }, { nameAttribute: "lxd.instance" }))
})

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<InstanceBackups, never, LxdHttp | Operations> = Layer.effect(InstanceBackups, make)
