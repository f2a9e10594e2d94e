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
import type { DownloadOptions } from "./Images.js"
import type { CopyOptions } from "./Instances.js"
import { createImageOn, imageCopyAliases, imageCopyBody, imageSecret } from "./internal/images-remote.js"
import { copyExtensions, createBody, instancePath } from "./internal/instances-body.js"
import { requireAll } from "./internal/instances-extra.js"
import {
  migrationSecrets,
  type MigrationSettings,
  migrationSourceBody,
  migrationTargetOptions,
  remoteEndpoint,
  remoteEndpoints,
  tryEachUrl
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
  /** `copyInstance` (keeping `volatile.*` keys), then delete the instance here. */
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
  /** `copyVolume`, then delete the volume here. */
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

  /**
   * The target pulls from `sourceOp` (the source's migration operation), trying each of
   * the source's addresses in turn, while the source operation is waited on; a failure
   * cancels the source operation (it would otherwise wait for connections).
   */
  const pull = (
    target: LxdHttpService,
    sourceOp: Operation,
    urls: ReadonlyArray<string>,
    create: (url: string) => Effect.Effect<unknown, RequestError | ExtensionNotAvailable>
  ) =>
    Effect.all([
      tryEachUrl(urls, create),
      ops.wait(sourceOp)
    ], { concurrency: 2, discard: true }).pipe(
      Effect.tapError(() => Effect.ignore(ops.cancel(sourceOp.id)))
    )

  /** Copy an instance, or one of its snapshots, to `target` over the migration protocol. */
  const migrate = (
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
      const wanted = (url: string) =>
        migrationTargetOptions(settings, snapshotOptions, move, {
          endpoint: { url, certificate: endpoints.certificate },
          operationId: sourceOp.id,
          secrets: migrationSecrets(sourceOp.metadata)
        })
      yield* pull(
        target,
        sourceOp,
        endpoints.urls,
        (url) => targetOps.run({ method: "POST", path: "/1.0/instances", body: createBody(wanted(url)) })
      )
      return yield* target.sync({ method: "GET", path: instancePath(options?.name ?? name) }, Instance)
    })

  const copyInstance = (name: string, target: LxdHttpService, options?: CopyInstanceOptions) =>
    migrate(name, undefined, target, options, false)

  const moveInstance = (name: string, target: LxdHttpService, options?: CopyInstanceOptions) =>
    Effect.tap(
      migrate(name, undefined, target, options, true),
      () => ops.run({ method: "DELETE", path: instancePath(name) })
    )

  const copySnapshot = (instance: string, snapshot: string, target: LxdHttpService, options?: CopyInstanceOptions) =>
    migrate(instance, snapshot, target, options, false)

  const copyVolume = (volume: VolumeRef, target: LxdHttpService, options?: CopyVolumeOptions) =>
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
      yield* pull(target, sourceOp, endpoints.urls, (url) =>
        targetOps.run({
          method: "POST",
          path: path`/1.0/storage-pools/${pool}/volumes/custom`,
          body: volumeCreateBody(source, name, options, {
            endpoint: { url, certificate: endpoints.certificate },
            operationId: sourceOp.id,
            secrets
          })
        }))
      return yield* target.sync({ method: "GET", path: volumePath({ pool, name }) }, StorageVolume)
    })

  const moveVolume = (volume: VolumeRef, target: LxdHttpService, options?: CopyVolumeOptions) =>
    Effect.tap(copyVolume(volume, target, options), () => ops.run({ method: "DELETE", path: volumePath(volume) }))

  const copyImage = (fingerprint: string, target: LxdHttpService, options?: CopyImageOptions) =>
    Effect.gen(function*() {
      const image = yield* http.sync({ method: "GET", path: path`/1.0/images/${fingerprint}` }, Image)
      const endpoint = yield* remoteEndpoint(http)
      const secret = image.public ? undefined : yield* imageSecret(http, image.fingerprint)
      const body = imageCopyBody(image, endpoint, secret?.secret, options)
      return yield* createImageOn(target, yield* opsOn(target), body, imageCopyAliases(image, options)).pipe(
        // the secret is single-use for the target; revoke it whatever happened
        Effect.ensuring(
          secret === undefined || secret.operationId === ""
            ? Effect.void
            : Effect.ignore(ops.cancel(secret.operationId))
        )
      )
    })

  return Migration.of({
    ...traced("Migration", { copyInstance, moveInstance, copySnapshot }, { nameAttribute: "lxd.instance" }),
    ...traced(
      "Migration",
      { relocate: (name: string, options: RelocateOptions) => relocate(http, ops, name, options) },
      {
        nameAttribute: "lxd.instance"
      }
    ),
    ...traced("Migration", { copyVolume, moveVolume }),
    ...traced("Migration", { copyImage }, { nameAttribute: "lxd.image" })
  })
})

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Migration, never, LxdHttp | Operations> = Layer.effect(Migration, make)
