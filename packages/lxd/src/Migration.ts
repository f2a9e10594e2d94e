/**
 * Work that spans two servers: copy or move an instance to another server (the target
 * pulls it over LXD's migration protocol), and copy an image to another server (a private
 * image travels with a one-off secret). The other server is given as its `LxdHttp.Service`
 * (another connection); this server must be reachable from it over HTTPS
 * (`core.https_address`), and the target pins this server's certificate.
 *
 * @example
 * ```ts
 * import { Context, Effect, Layer } from "effect"
 * import { Lxd, LxdHttp, Migration } from "effect-lxd"
 *
 * const program = Effect.gen(function* () {
 *   const migration = yield* Migration.Migration
 *   // the target: a second connection, here from the INCUS_* settings
 *   const target = Context.get(yield* Layer.build(LxdHttp.layerConfig(LxdHttp.config("INCUS"))), LxdHttp.LxdHttp)
 *   yield* migration.copyInstance("web1", target, { name: "web1-copy", instanceOnly: true })
 *   yield* migration.moveInstance("web2", target)
 * })
 *
 * export const main = () => Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(Lxd.layerConfig())))
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type { DownloadOptions } from "./Images.js"
import type { CopyOptions } from "./Instances.js"
import { finishImageOn, imageCopyAliases, imageCopyBody, imageSecret, imagesOrigin } from "./internal/images-remote.js"
import { copyExtensions, createBody, instancePath } from "./internal/instances-body.js"
import { requireAll } from "./internal/instances-extra.js"
import {
  migrationSecrets,
  type MigrationSettings,
  migrationSourceBody,
  migrationTargetOptions,
  remoteEndpoint,
  remoteEndpoints,
  runTransfer,
  startTransfer,
  type Transfer
} from "./internal/instances-remote.js"
import { Image } from "./internal/models/image.js"
import { Instance } from "./internal/models/instance.js"
import { Snapshot } from "./internal/models/snapshot.js"
import { StorageVolume } from "./internal/models/storage-volume.js"
import { path } from "./internal/path.js"
import { relocate } from "./internal/relocate.js"
import { traced } from "./internal/tracing.js"
import { volumeCreateBody, volumeMigrationExtensions, volumePath } from "./internal/volumes-remote.js"
import type { ExtensionNotAvailable, InvalidArgument, RequestError } from "./LxdError.js"
import { LxdHttp, type Service as LxdHttpService } from "./LxdHttp.js"
import { make as makeOperations, type Operation, Operations } from "./Operations.js"
import type { VolumeRef } from "./StorageVolumes.js"

/**
 * @since 0.1.0
 * @category options
 */
export interface CopyInstanceOptions extends CopyOptions {
  /** The name on the target (default: the same). */
  readonly name?: string | undefined
  /** Live migration of a running instance (needs CRIU). */
  readonly live?: boolean | undefined
  /** Keep `volatile.*` keys (default: kept for a move, dropped for a copy). */
  readonly keepVolatile?: boolean | undefined
  /**
   * Update an existing instance of that name on the target with what changed since the
   * last copy, instead of failing because it exists (extension `container_incremental_copy`
   * on both servers).
   */
  readonly refresh?: boolean | undefined
  /**
   * Carry on past files that change while they are read (extension
   * `instance_allow_inconsistent_copy` on both servers).
   */
  readonly allowInconsistent?: boolean | undefined
}

/**
 * Where `relocate` moves an instance inside its server or cluster. Name at least one of
 * `member`, `pool` and `project`; they combine.
 *
 * @since 0.1.0
 * @category options
 */
export interface RelocateOptions {
  /** The cluster member to move it to (sent as `?target=`; extension `clustering`). */
  readonly member?: string | undefined
  /** The storage pool for its root disk (extension `instance_pool_move`). */
  readonly pool?: string | undefined
  /** The project to move it to (extension `instance_project_move`). */
  readonly project?: string | undefined
  /** Its name at the new place (default: the same). */
  readonly name?: string | undefined
  /** Leave the snapshots behind. */
  readonly instanceOnly?: boolean | undefined
  /** Carry on past files that change during the move (extension `instance_allow_inconsistent_copy`). */
  readonly allowInconsistent?: boolean | undefined
}

/**
 * Where a custom volume goes on another server.
 *
 * @since 0.1.0
 * @category options
 */
export interface CopyVolumeOptions {
  /** The pool on the target (default: the source's pool name). */
  readonly pool?: string | undefined
  /** The name on the target (default: the same). */
  readonly name?: string | undefined
  /** Leave the volume's snapshots behind. */
  readonly volumeOnly?: boolean | undefined
  readonly description?: string | undefined
  /** Config keys set on the copy (over the source's). */
  readonly config?: Readonly<Record<string, string>> | undefined
  /** Update an existing volume on the target with what changed (extension `custom_volume_refresh`). */
  readonly refresh?: boolean | undefined
}

/**
 * @since 0.1.0
 * @category options
 */
export interface CopyImageOptions extends DownloadOptions {
  /** Copy the image's aliases too (in addition to `aliases`). */
  readonly copyAliases?: boolean | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /**
   * Copy a (stopped) instance to `target`: the target pulls it from this server over
   * LXD's migration protocol. Returns the instance as the target has it.
   */
  readonly copyInstance: (
    name: string,
    target: LxdHttpService,
    options?: CopyInstanceOptions
  ) => Effect.Effect<Instance, RequestError | InvalidArgument | ExtensionNotAvailable>
  /**
   * Start `copyInstance` and return the TARGET's operation (the one that carries the
   * transfer's progress) without waiting. Use it inside a scope: a fiber in that scope
   * follows the source's migration operation, cancels it when the target's operation
   * fails, and cancels both when the scope closes before the end. Track it with
   * `Progress.trackOn(target, ...)` (the operation lives on the target) or wait for it
   * with the target's `Operations.wait`; the instance is then on the target.
   *
   * One code path: `copyInstance` prepares the same transfer (checks, source operation,
   * the target's request) and follows it the same way; it differs in one thing only. When
   * the target's operation fails, `copyInstance` asks again with the source's next
   * address (a new target operation), which no single operation handle can follow; this
   * variant sends the target the first address the target accepts a request for, and its
   * operation's failure is the copy's.
   *
   * Progress: LXD 5.0 and Incus 6.0 report the transfer on the target's operation as
   * `fs_progress`, one part after the other (each snapshot, then the instance, named as
   * on the target): `web1/snap0: 21.28MB (21.12MB/s)` (stage `fs`, bytes so far and
   * speed, no percent),
   * once a second, so a part sent in less than a second reports nothing.
   *
   * @example
   * ```ts
   * import { Console, Effect } from "effect"
   * import { type LxdHttp, Migration, Progress } from "effect-lxd"
   *
   * const copyWithProgress = (target: LxdHttp.Service) =>
   *   Effect.gen(function* () {
   *     const migration = yield* Migration.Migration
   *     yield* Progress.trackOn(
   *       target,
   *       migration.copyInstanceOperation("web1", target, { name: "web1-copy" }),
   *       (p) => Console.log(Progress.format(p))
   *     )
   *   })
   * ```
   */
  readonly copyInstanceOperation: (
    name: string,
    target: LxdHttpService,
    options?: CopyInstanceOptions
  ) => Effect.Effect<Operation, RequestError | InvalidArgument | ExtensionNotAvailable, Scope.Scope>
  /**
   * `copyInstance` (keeping `volatile.*` keys), then delete the instance here.
   *
   * There is no `moveInstanceOperation`: a move is two operations on two servers (the
   * target's copy, then the delete here), and no one operation stands for both. Track
   * `copyInstanceOperation` with `keepVolatile: true`, then delete the instance.
   */
  readonly moveInstance: (
    name: string,
    target: LxdHttpService,
    options?: CopyInstanceOptions
  ) => Effect.Effect<Instance, RequestError | InvalidArgument | ExtensionNotAvailable>
  /**
   * Copy one snapshot of an instance to `target` as a new instance (named `options.name`,
   * default the instance's name), with the snapshot's configuration.
   */
  readonly copySnapshot: (
    instance: string,
    snapshot: string,
    target: LxdHttpService,
    options?: CopyInstanceOptions
  ) => Effect.Effect<Instance, RequestError | InvalidArgument | ExtensionNotAvailable>
  /**
   * Start `copySnapshot` and return the target's operation without waiting, in a scope,
   * like `copyInstanceOperation` (same progress, same single address).
   */
  readonly copySnapshotOperation: (
    instance: string,
    snapshot: string,
    target: LxdHttpService,
    options?: CopyInstanceOptions
  ) => Effect.Effect<Operation, RequestError | InvalidArgument | ExtensionNotAvailable, Scope.Scope>
  /**
   * Move an instance inside this server or cluster: to another cluster member, storage
   * pool or project (`lxc move --target / --storage / --target-project`), with LXD's
   * migration fields on `POST /1.0/instances/<name>`. Stop the instance first. On a server
   * without `instance_pool_move` / `instance_project_move` it copies the instance (keeping
   * its `volatile.*` keys) and deletes the original, as `lxc` does. Returns the instance at
   * its new place.
   */
  readonly relocate: (
    name: string,
    options: RelocateOptions
  ) => Effect.Effect<Instance, RequestError | InvalidArgument | ExtensionNotAvailable>
  /**
   * Copy a custom volume (with its snapshots unless `volumeOnly`) to `target`: the target
   * pulls it from this server over the migration protocol (extension
   * `storage_api_remote_volume_handling` on both). Returns the volume as the target has it.
   */
  readonly copyVolume: (
    volume: VolumeRef,
    target: LxdHttpService,
    options?: CopyVolumeOptions
  ) => Effect.Effect<StorageVolume, RequestError | InvalidArgument | ExtensionNotAvailable>
  /**
   * Start `copyVolume` and return the target's operation without waiting, in a scope, like
   * `copyInstanceOperation` (same following of the source, same single address).
   *
   * Progress: the target's operation reports `fs_progress` on LXD 5.0 and Incus 6.0
   * (`default_data: 12.95MB (12.93MB/s)`, the pool and the volume's name on the target:
   * stage `fs`, bytes and speed) once a second, so a small volume reports nothing.
   */
  readonly copyVolumeOperation: (
    volume: VolumeRef,
    target: LxdHttpService,
    options?: CopyVolumeOptions
  ) => Effect.Effect<Operation, RequestError | InvalidArgument | ExtensionNotAvailable, Scope.Scope>
  /**
   * `copyVolume`, then delete the volume here. No `...Operation` variant, for the reason
   * given at `moveInstance`: track `copyVolumeOperation`, then delete the volume.
   */
  readonly moveVolume: (
    volume: VolumeRef,
    target: LxdHttpService,
    options?: CopyVolumeOptions
  ) => Effect.Effect<StorageVolume, RequestError | InvalidArgument | ExtensionNotAvailable>
  /**
   * Copy an image to `target`: the target pulls it from this server. A private image
   * travels with a one-off secret, revoked once the copy is done or has failed.
   */
  readonly copyImage: (
    fingerprint: string,
    target: LxdHttpService,
    options?: CopyImageOptions
  ) => Effect.Effect<Image, RequestError | InvalidArgument>
  /**
   * Start `copyImage` and return the target's download operation without waiting, in a
   * scope: a private image's secret is revoked when that operation ends or the scope
   * closes. `copyImage` is exactly this and a wait (an image is pulled from one address).
   * Aliases are added by `copyImage` after the wait (here: `Images.addAlias` on the
   * target); the fingerprint is the finished operation's `metadata.fingerprint`.
   *
   * Progress: the target reports `download_progress` (`45% (12.34MB/s)`) on LXD 5.0 and
   * Incus 6.0.
   */
  readonly copyImageOperation: (
    fingerprint: string,
    target: LxdHttpService,
    options?: Omit<CopyImageOptions, "aliases" | "copyAliases">
  ) => Effect.Effect<Operation, RequestError | InvalidArgument, Scope.Scope>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class Migration extends Context.Tag("effect-lxd/Migration")<Migration, Service>() {}

/**
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Service, never, LxdHttp | Operations> = Effect.gen(function*() {
  const http = yield* LxdHttp
  const ops = yield* Operations
  const opsOn = (target: LxdHttpService) => Effect.provideService(makeOperations, LxdHttp, target)

  /** The source's side of a migration: its operation, waited for (never cancelled by an interruption), or cancelled. */
  const sourceSide = (sourceOp: Operation) => ({
    sourceDone: Effect.asVoid(ops.wait(sourceOp, { cancelOnInterrupt: false })),
    abandon: Effect.ignore(ops.cancel(sourceOp.id)),
    release: Effect.void
  })

  /**
   * A copy of an instance, or one of its snapshots, to `target` over the migration
   * protocol, ready to start (the source's migration operation is started here), with
   * the read of the result on the target.
   */
  const instanceTransfer = (
    name: string,
    snapshot: string | undefined,
    target: LxdHttpService,
    options: CopyInstanceOptions | undefined,
    move: boolean
  ) =>
    Effect.gen(function*() {
      yield* requireAll(http, copyExtensions(options))
      yield* requireAll(target, copyExtensions(options))
      const instance = yield* http.sync({ method: "GET", path: instancePath(name) }, Instance)
      const settings: MigrationSettings = snapshot === undefined ? instance : {
        ...(yield* http.sync({ method: "GET", path: path`/1.0/instances/${name}/snapshots/${snapshot}` }, Snapshot)),
        name,
        type: instance.type,
        description: instance.description,
        architecture: instance.architecture
      }
      const endpoints = yield* remoteEndpoints(http)
      const targetOps = yield* opsOn(target)
      const sourceOp = yield* ops.startOperation(
        snapshot === undefined
          ? { method: "POST", path: instancePath(name), body: migrationSourceBody(options) }
          : {
            method: "POST",
            path: path`/1.0/instances/${name}/snapshots/${snapshot}`,
            body: { name: options?.name ?? name, migration: true, live: false }
          }
      )
      const snapshotOptions = snapshot === undefined ? options : { ...options, instanceOnly: true }
      const transfer: Transfer = {
        targetOps,
        urls: endpoints.urls,
        request: (url) => ({
          method: "POST",
          path: "/1.0/instances",
          body: createBody(migrationTargetOptions(settings, snapshotOptions, move, {
            endpoint: { url, certificate: endpoints.certificate },
            operationId: sourceOp.id,
            secrets: migrationSecrets(sourceOp.metadata)
          }))
        }),
        ...sourceSide(sourceOp)
      }
      return {
        transfer,
        readBack: target.sync({ method: "GET", path: instancePath(options?.name ?? name) }, Instance)
      }
    })

  const instancesOrigin = { method: "POST", path: "/1.0/instances" } as const

  const migrate = (
    name: string,
    snapshot: string | undefined,
    target: LxdHttpService,
    options: CopyInstanceOptions | undefined,
    move: boolean
  ) =>
    Effect.gen(function*() {
      const { readBack, transfer } = yield* instanceTransfer(name, snapshot, target, options, move)
      yield* runTransfer(transfer, instancesOrigin)
      return yield* readBack
    })

  const copyInstance = (name: string, target: LxdHttpService, options?: CopyInstanceOptions) =>
    migrate(name, undefined, target, options, false)

  const copyInstanceOperation = (name: string, target: LxdHttpService, options?: CopyInstanceOptions) =>
    Effect.flatMap(instanceTransfer(name, undefined, target, options, false), ({ transfer }) => startTransfer(transfer))

  const moveInstance = (name: string, target: LxdHttpService, options?: CopyInstanceOptions) =>
    Effect.tap(
      migrate(name, undefined, target, options, true),
      () => ops.run({ method: "DELETE", path: instancePath(name) })
    )

  const copySnapshot = (instance: string, snapshot: string, target: LxdHttpService, options?: CopyInstanceOptions) =>
    migrate(instance, snapshot, target, options, false)

  const copySnapshotOperation = (
    instance: string,
    snapshot: string,
    target: LxdHttpService,
    options?: CopyInstanceOptions
  ) =>
    Effect.flatMap(
      instanceTransfer(instance, snapshot, target, options, false),
      ({ transfer }) => startTransfer(transfer)
    )

  /** A copy of a custom volume to `target`, ready to start, with the read of the result there. */
  const volumeTransfer = (volume: VolumeRef, target: LxdHttpService, options: CopyVolumeOptions | undefined) =>
    Effect.gen(function*() {
      for (const server of [http, target]) yield* requireAll(server, volumeMigrationExtensions(options))
      const source = yield* http.sync({ method: "GET", path: volumePath(volume) }, StorageVolume)
      const endpoints = yield* remoteEndpoints(http)
      const targetOps = yield* opsOn(target)
      const sourceOp = yield* ops.startOperation({
        method: "POST",
        path: volumePath(volume),
        body: { name: volume.name, migration: true, volume_only: options?.volumeOnly ?? false }
      })
      const pool = options?.pool ?? volume.pool
      const name = options?.name ?? volume.name
      const secrets = migrationSecrets(sourceOp.metadata)
      const transfer: Transfer = {
        targetOps,
        urls: endpoints.urls,
        request: (url) => ({
          method: "POST",
          path: path`/1.0/storage-pools/${pool}/volumes/custom`,
          body: volumeCreateBody(source, name, options, {
            endpoint: { url, certificate: endpoints.certificate },
            operationId: sourceOp.id,
            secrets
          })
        }),
        ...sourceSide(sourceOp)
      }
      return {
        transfer,
        origin: { method: "POST", path: path`/1.0/storage-pools/${pool}/volumes/custom` },
        readBack: target.sync({ method: "GET", path: volumePath({ pool, name }) }, StorageVolume)
      }
    })

  const copyVolume = (volume: VolumeRef, target: LxdHttpService, options?: CopyVolumeOptions) =>
    Effect.gen(function*() {
      const { origin, readBack, transfer } = yield* volumeTransfer(volume, target, options)
      yield* runTransfer(transfer, origin)
      return yield* readBack
    })

  const copyVolumeOperation = (volume: VolumeRef, target: LxdHttpService, options?: CopyVolumeOptions) =>
    Effect.flatMap(volumeTransfer(volume, target, options), ({ transfer }) => startTransfer(transfer))

  const moveVolume = (volume: VolumeRef, target: LxdHttpService, options?: CopyVolumeOptions) =>
    Effect.tap(copyVolume(volume, target, options), () => ops.run({ method: "DELETE", path: volumePath(volume) }))

  /**
   * A copy of an image to `target`, ready to start: the target pulls it from this
   * server's endpoint; a private image's one-off secret is made here and revoked at the end.
   */
  const imageTransfer = (fingerprint: string, target: LxdHttpService, options: CopyImageOptions | undefined) =>
    Effect.gen(function*() {
      const image = yield* http.sync({ method: "GET", path: path`/1.0/images/${fingerprint}` }, Image)
      const endpoint = yield* remoteEndpoint(http)
      const targetOps = yield* opsOn(target)
      const secret = image.public ? undefined : yield* imageSecret(http, image.fingerprint)
      // the secret is single-use for the target; revoke it whatever happened
      const revoke = secret === undefined || secret.operationId === ""
        ? Effect.void
        : Effect.ignore(ops.cancel(secret.operationId))
      const transfer: Transfer = {
        targetOps,
        urls: [endpoint.url],
        request: () => ({ ...imagesOrigin, body: imageCopyBody(image, endpoint, secret?.secret, options) }),
        sourceDone: Effect.void,
        abandon: Effect.void,
        release: revoke
      }
      return { transfer, image, targetOps }
    })

  const copyImageOperation = (fingerprint: string, target: LxdHttpService, options?: CopyImageOptions) =>
    Effect.flatMap(imageTransfer(fingerprint, target, options), ({ transfer }) => startTransfer(transfer))

  // one address only: the copy is its variant and a wait
  const copyImage = (fingerprint: string, target: LxdHttpService, options?: CopyImageOptions) =>
    Effect.scoped(Effect.gen(function*() {
      const { image, targetOps, transfer } = yield* imageTransfer(fingerprint, target, options)
      const op = yield* startTransfer(transfer)
      return yield* finishImageOn(target, targetOps, op, imageCopyAliases(image, options))
    }))

  return Migration.of({
    ...traced(
      "Migration",
      { copyInstance, copyInstanceOperation, moveInstance, copySnapshot, copySnapshotOperation },
      { nameAttribute: "lxd.instance" }
    ),
    ...traced(
      "Migration",
      { relocate: (name: string, options: RelocateOptions) => relocate(http, ops, name, options) },
      {
        nameAttribute: "lxd.instance"
      }
    ),
    ...traced("Migration", { copyVolume, copyVolumeOperation, moveVolume }),
    ...traced("Migration", { copyImage, copyImageOperation }, { nameAttribute: "lxd.image" })
  })
})

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Migration, never, LxdHttp | Operations> = Layer.effect(Migration, make)
