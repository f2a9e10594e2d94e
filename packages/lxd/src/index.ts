/**
 * effect-lxd: an Effect client for the LXD and Incus REST API.
 *
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 */
export * as Lxd from "./Lxd.js"

/**
 * @since 0.1.0
 */
export * as LxdHttp from "./LxdHttp.js"

/**
 * How bytes reach the server: an `HttpClient` pointed at it and a websocket opener (the
 * unix socket, HTTPS, or your own client).
 *
 * @since 0.1.0
 */
export * as LxdTransport from "./LxdTransport.js"

/**
 * @since 0.1.0
 */
export * as LxdError from "./LxdError.js"

/**
 * @since 0.1.0
 */
export * as Operations from "./Operations.js"

/**
 * @since 0.1.0
 */
export * as Server from "./Server.js"

/**
 * @since 0.1.0
 */
export * as Certificates from "./Certificates.js"

/**
 * Access management (`/1.0/auth`): identities, groups, permissions, identity provider
 * groups, and trust tokens of fine-grained TLS identities.
 *
 * @since 0.1.0
 */
export * as Auth from "./Auth.js"

/**
 * @since 0.1.0
 */
export * as Exec from "./Exec.js"

/**
 * Connect from the `lxc` (or `incus`) client's own configuration: its remotes and certificates.
 *
 * @since 0.1.0
 */
export * as CliConfig from "./CliConfig.js"

/**
 * Commands that outlive the program that started them, found again by their operation.
 *
 * @since 0.1.0
 */
export * as DetachedExec from "./DetachedExec.js"

/**
 * @since 0.1.0
 */
export * as Cluster from "./Cluster.js"

/**
 * @since 0.1.0
 */
export * as Instances from "./Instances.js"

/**
 * Backups of instances: create, list, export as a stream, import.
 *
 * @since 0.1.0
 */
export * as InstanceBackups from "./InstanceBackups.js"

/**
 * An instance's image metadata and templates.
 *
 * @since 0.1.0
 */
export * as InstanceMetadata from "./InstanceMetadata.js"

/**
 * Copies and moves of instances, and copies of images, to another server.
 *
 * @since 0.1.0
 */
export * as Migration from "./Migration.js"

/**
 * @since 0.1.0
 */
export * as Snapshots from "./Snapshots.js"

/**
 * @since 0.1.0
 */
export * as Images from "./Images.js"

/**
 * The calls every collection offers (`list`, `listNames`, `get`, `exists`, `create`,
 * `put`, `patch`, `update`, `rename`, `delete`), declared once: each resource service
 * extends these interfaces.
 *
 * @since 0.1.0
 */
export * as Resource from "./Resource.js"

/**
 * @since 0.1.0
 */
export * as Profiles from "./Profiles.js"

/**
 * @since 0.1.0
 */
export * as Projects from "./Projects.js"

/**
 * @since 0.1.0
 */
export * as Networks from "./Networks.js"

/**
 * @since 0.1.0
 */
export * as NetworkAcls from "./NetworkAcls.js"

/**
 * @since 0.1.0
 */
export * as NetworkZones from "./NetworkZones.js"

/**
 * @since 0.1.0
 */
export * as StoragePools from "./StoragePools.js"

/**
 * @since 0.1.0
 */
export * as StorageVolumes from "./StorageVolumes.js"

/**
 * Backups of custom storage volumes: create, list, rename, delete, export as a stream,
 * import from a backup tarball, an ISO image or a plain tarball.
 *
 * @since 0.1.0
 */
export * as StorageVolumeBackups from "./StorageVolumeBackups.js"

/**
 * @since 0.1.0
 */
export * as StorageBuckets from "./StorageBuckets.js"

/**
 * @since 0.1.0
 */
export * as Warnings from "./Warnings.js"

/**
 * @since 0.1.0
 */
export * as Metrics from "./Metrics.js"

/**
 * @since 0.1.0
 */
export * as Files from "./Files.js"

/**
 * @since 0.1.0
 */
export * as Events from "./Events.js"

/**
 * @since 0.1.0
 */
export * as InstanceConsole from "./InstanceConsole.js"

/**
 * Instances that live in a Scope, and launches that wait until the instance is ready.
 *
 * @since 0.1.0
 */
export * as Launch from "./Launch.js"

/**
 * Readiness conditions for `Launch`: running, an address, a command, your own Effect.
 *
 * @since 0.1.0
 */
export * as Readiness from "./Readiness.js"

/**
 * Progress of long work as typed values: from operations (through events) and counted
 * for file transfers, with a display format like `lxc`'s.
 *
 * @since 0.1.0
 */
export * as Progress from "./Progress.js"
