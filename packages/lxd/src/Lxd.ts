/**
 * The front door: one layer that gives every effect-lxd service over one connection.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Lxd, Server } from "effect-lxd"
 *
 * const program = Effect.gen(function* () {
 *   const server = yield* Server.Server
 *   const info = yield* server.info
 *   console.log(info.environment?.server_version)
 * })
 *
 * // building the layer connects; the connection is closed when the program ends
 * export const main = () => Effect.runPromise(program.pipe(Effect.provide(Lxd.layerUnix())))
 * ```
 *
 * @since 0.1.0
 */
import type * as ConfigError from "effect/ConfigError"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Auth from "./Auth.js"
import * as Certificates from "./Certificates.js"
import * as CliConfig from "./CliConfig.js"
import * as Cluster from "./Cluster.js"
import * as DetachedExec from "./DetachedExec.js"
import * as Events from "./Events.js"
import * as Exec from "./Exec.js"
import * as Files from "./Files.js"
import * as Images from "./Images.js"
import * as InstanceBackups from "./InstanceBackups.js"
import * as InstanceConsole from "./InstanceConsole.js"
import * as InstanceMetadata from "./InstanceMetadata.js"
import * as Instances from "./Instances.js"
import * as Launch from "./Launch.js"
import * as LxdHttp from "./LxdHttp.js"
import * as Metrics from "./Metrics.js"
import * as Migration from "./Migration.js"
import * as NetworkAcls from "./NetworkAcls.js"
import * as Networks from "./Networks.js"
import * as NetworkZones from "./NetworkZones.js"
import * as Operations from "./Operations.js"
import * as Profiles from "./Profiles.js"
import * as Projects from "./Projects.js"
import * as Server from "./Server.js"
import * as Snapshots from "./Snapshots.js"
import * as StorageBuckets from "./StorageBuckets.js"
import * as StoragePools from "./StoragePools.js"
import * as StorageVolumeBackups from "./StorageVolumeBackups.js"
import * as StorageVolumes from "./StorageVolumes.js"
import * as Warnings from "./Warnings.js"

/**
 * Every service `layer` provides.
 *
 * @since 0.1.0
 * @category models
 */
export type Services =
  | LxdHttp.LxdHttp
  | Operations.Operations
  | Instances.Instances
  | InstanceBackups.InstanceBackups
  | InstanceMetadata.InstanceMetadata
  | Migration.Migration
  | Snapshots.Snapshots
  | Images.Images
  | Server.Server
  | Certificates.Certificates
  | Auth.Auth
  | Cluster.Cluster
  | Exec.Exec
  | DetachedExec.DetachedExec
  | Files.Files
  | Events.Events
  | InstanceConsole.InstanceConsole
  | Profiles.Profiles
  | Projects.Projects
  | Networks.Networks
  | NetworkAcls.NetworkAcls
  | NetworkZones.NetworkZones
  | StoragePools.StoragePools
  | StorageVolumes.StorageVolumes
  | StorageVolumeBackups.StorageVolumeBackups
  | StorageBuckets.StorageBuckets
  | Warnings.Warnings
  | Metrics.Metrics
  | Launch.Launch

/**
 * The errors building a connection can fail with.
 *
 * @since 0.1.0
 * @category models
 */
export type ConnectError = LxdHttp.ConnectError

const resourceServices = Layer
  .mergeAll(
    Server.layer,
    Certificates.layer,
    Auth.layer,
    Exec.layer,
    DetachedExec.layer,
    Files.layer,
    Events.layer,
    InstanceConsole.layer,
    Cluster.layer,
    Instances.layer,
    InstanceBackups.layer,
    InstanceMetadata.layer,
    Migration.layer,
    Snapshots.layer,
    Images.layer,
    Profiles.layer,
    Projects.layer,
    Networks.layer,
    NetworkAcls.layer,
    NetworkZones.layer,
    StoragePools.layer,
    StorageVolumes.layer,
    StorageVolumeBackups.layer,
    StorageBuckets.layer,
    Warnings.layer,
    Metrics.layer
  )
  .pipe(Layer.provideMerge(Operations.layer))

/**
 * Every resource service, built on an `LxdHttp` you provide; `Launch`, built on
 * `Instances` and `DetachedExec`, gets them from the same layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerServices: Layer.Layer<Exclude<Services, LxdHttp.LxdHttp>, never, LxdHttp.LxdHttp> = Launch
  .layer
  .pipe(Layer.provideMerge(resourceServices))

/**
 * Every service over the given connection layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = <E, R>(connection: Layer.Layer<LxdHttp.LxdHttp, E, R>): Layer.Layer<Services, E, R> =>
  layerServices.pipe(Layer.provideMerge(connection))

/**
 * Every service over the unix socket (discovered when not given).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerUnix = (options?: LxdHttp.UnixOptions): Layer.Layer<Services, ConnectError> =>
  layer(LxdHttp.layerUnix(options))

/**
 * Every service over HTTPS with a client certificate.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerHttps = (options: LxdHttp.HttpsOptions): Layer.Layer<Services, ConnectError> =>
  layer(LxdHttp.layerHttps(options))

/**
 * Every service, connected with settings from configuration (see `LxdHttp.config`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  settings?: Effect.Effect<LxdHttp.ConnectionConfig, ConfigError.ConfigError>
): Layer.Layer<Services, ConnectError | ConfigError.ConfigError> => layer(LxdHttp.layerConfig(settings))

/**
 * Every service, connected the way the `lxc` client is (or, with `dialect: "incus"`,
 * the `incus` client): the default remote of its `config.yml` (or `remote`), its
 * certificates, and the remote's project. See `CliConfig`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Instances, Lxd } from "effect-lxd"
 *
 * const names = Effect.flatMap(Instances.Instances, (instances) => instances.listNames())
 * export const main = () => Effect.runPromise(names.pipe(Effect.provide(Lxd.layerFromCli())))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerFromCli = (
  options?: CliConfig.Options
): Layer.Layer<Services, ConnectError | ConfigError.ConfigError> => layer(CliConfig.layer(options))

/**
 * Scope every LXD call in an effect to a project.
 *
 * @since 0.1.0
 * @category scoping
 */
export const withProject = LxdHttp.withProject

/**
 * Send every LXD call in an effect to one cluster member.
 *
 * @since 0.1.0
 * @category scoping
 */
export const withTarget = LxdHttp.withTarget
