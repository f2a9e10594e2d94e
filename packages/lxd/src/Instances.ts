/**
 * Instances (`/1.0/instances`): containers and virtual machines. List, get, create (from
 * an image, from nothing, as a copy, from a remote image server), update with ETags,
 * rename, delete, state and lifecycle (start, stop, restart, freeze, unfreeze), publish as
 * an image, restore a snapshot, log files, the console log, image metadata and templates,
 * backups (export and import as streams), and copies or moves to another server.
 *
 * Every call that starts work on the server waits for it; the `...Operation` variants
 * return the operation instead, for callers who want to watch or cancel it.
 *
 * `containers` and `virtualMachines` are the same service narrowed to one instance type:
 * their listings ask the server for that type only, and `get` refuses an instance of the
 * other type with `NotFound`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Instances, Lxd } from "effect-lxd"
 *
 * const program = Effect.gen(function* () {
 *   const instances = yield* Instances.Instances
 *   const c = yield* instances.create({ name: "web1", source: { type: "image", alias: "debian/12" }, start: true })
 *   const state = yield* instances.state(c.name)
 *   console.log(state.status, state.memory?.usage)
 *   yield* instances.stop(c.name, { force: true })
 *   yield* instances.delete(c.name)
 * })
 *
 * // building the layer connects; the connection is closed when the program ends
 * export const main = () => Effect.runPromise(program.pipe(Effect.provide(Lxd.layerConfig())))
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { clearConsoleLog as clearConsole, readConsoleLog } from "./internal/consoleLog.js"
import { traced } from "./internal/tracing.js"
import { isoDate, type PublishOptions, publishImage } from "./internal/images-publish.js"
import { type Filter, filterExpression } from "./internal/instances-query.js"
import { createdName, remoteEndpoint } from "./internal/instances-remote.js"
import { optionalConfig, optionalDevices, optionalStrings } from "./internal/models/fields.js"
import { type Image, ImageMetadata } from "./internal/models/image.js"
import { Snapshot } from "./internal/models/snapshot.js"
import { nameFromUrl, path } from "./internal/path.js"
import { optimisticUpdate, type UpdateOptions, writeJson } from "./internal/update.js"
import { LxdHttp, type LxdRequest, type Service as LxdHttpService } from "./LxdHttp.js"
import { DecodeError, InvalidArgument, NotFound, type RequestError } from "./LxdError.js"
import { make as makeOperations, type Operation, Operations, type Outcome } from "./Operations.js"

export type {
  /**
   * A server-side filter: LXD's expression, or field/value pairs joined with `and`.
   *
   * @since 0.1.0
   * @category models
   */
  Filter,
  /**
   * Options of a publish (aliases, public, properties, compression, expiry).
   *
   * @since 0.1.0
   * @category options
   */
  PublishOptions
}

// -----------------------------------------------------------------------------
// Models
// -----------------------------------------------------------------------------

/**
 * `container` or `virtual-machine`.
 *
 * @since 0.1.0
 * @category models
 */
export type InstanceType = "container" | "virtual-machine"

/**
 * An instance (`GET /1.0/instances/<name>`).
 *
 * @since 0.1.0
 * @category models
 */
export class Instance extends Schema.Class<Instance>("effect-lxd/Instance")({
  name: Schema.String,
  /** `container` or `virtual-machine`. */
  type: Schema.optionalWith(Schema.String, { default: () => "container" }),
  /** `Running`, `Stopped`, `Frozen`, `Error`, ... */
  status: Schema.String,
  status_code: Schema.Number,
  architecture: Schema.String,
  config: optionalConfig,
  devices: optionalDevices,
  ephemeral: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  profiles: optionalStrings,
  stateful: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  description: Schema.optionalWith(Schema.String, { default: () => "" }),
  created_at: Schema.String,
  last_used_at: Schema.optional(Schema.String),
  /** The cluster member (`none` when not clustered). */
  location: Schema.optional(Schema.String),
  project: Schema.optional(Schema.String),
  /** `config` with the profiles applied. */
  expanded_config: optionalConfig,
  /** `devices` with the profiles applied. */
  expanded_devices: optionalDevices
}) {}

const Num = Schema.optionalWith(Schema.Number, { default: () => 0 })

/**
 * One address of a network interface.
 *
 * @since 0.1.0
 * @category models
 */
export const NetworkAddress = Schema.Struct({
  family: Schema.String,
  address: Schema.String,
  netmask: Schema.String,
  scope: Schema.String
})

/**
 * A network interface inside an instance, with its addresses and counters.
 *
 * @since 0.1.0
 * @category models
 */
export const NetworkState = Schema.Struct({
  addresses: Schema.optionalWith(Schema.Array(NetworkAddress), { nullable: true, default: () => [] }),
  counters: Schema.optional(Schema.Struct({
    bytes_received: Num,
    bytes_sent: Num,
    packets_received: Num,
    packets_sent: Num,
    errors_received: Num,
    errors_sent: Num,
    packets_dropped_outbound: Num,
    packets_dropped_inbound: Num
  })),
  hwaddr: Schema.optionalWith(Schema.String, { default: () => "" }),
  host_name: Schema.optionalWith(Schema.String, { default: () => "" }),
  mtu: Num,
  state: Schema.optionalWith(Schema.String, { default: () => "" }),
  type: Schema.optionalWith(Schema.String, { default: () => "" })
})

/**
 * Disk usage of one device.
 *
 * @since 0.1.0
 * @category models
 */
export const DiskState = Schema.Struct({
  usage: Num,
  /** Incus and newer LXD only. */
  total: Schema.optional(Schema.Number)
})

/**
 * The running state of an instance (`GET /1.0/instances/<name>/state`).
 *
 * @since 0.1.0
 * @category models
 */
export class InstanceState extends Schema.Class<InstanceState>("effect-lxd/InstanceState")({
  status: Schema.String,
  status_code: Schema.Number,
  disk: Schema.optionalWith(Schema.Record({ key: Schema.String, value: DiskState }), {
    nullable: true,
    default: () => ({})
  }),
  memory: Schema.optional(Schema.Struct({
    usage: Num,
    usage_peak: Num,
    swap_usage: Num,
    swap_usage_peak: Num,
    /** Incus and newer LXD only. */
    total: Schema.optional(Schema.Number)
  })),
  /** Interfaces by name (empty when stopped). */
  network: Schema.optionalWith(Schema.Record({ key: Schema.String, value: NetworkState }), {
    nullable: true,
    default: () => ({})
  }),
  pid: Num,
  processes: Num,
  cpu: Schema.optional(Schema.Struct({
    /** CPU time used, in nanoseconds. */
    usage: Num,
    allocated_time: Schema.optional(Schema.Number)
  })),
  started_at: Schema.optional(Schema.String)
}) {}

/**
 * A backup of an instance, kept on the server until exported or deleted.
 *
 * @since 0.1.0
 * @category models
 */
export class Backup extends Schema.Class<Backup>("effect-lxd/Backup")({
  name: Schema.String,
  created_at: Schema.String,
  expires_at: Schema.optional(Schema.String),
  instance_only: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  optimized_storage: Schema.optionalWith(Schema.Boolean, { default: () => false })
}) {}

/**
 * An instance with its state, snapshots and backups (`recursion=1` on one instance,
 * `recursion=2` on the list).
 *
 * @since 0.1.0
 * @category models
 */
export class InstanceFull extends Instance.extend<InstanceFull>("effect-lxd/InstanceFull")({
  state: Schema.optionalWith(InstanceState, { nullable: true }),
  snapshots: Schema.optionalWith(Schema.Array(Snapshot), { nullable: true, default: () => [] }),
  backups: Schema.optionalWith(Schema.Array(Backup), { nullable: true, default: () => [] })
}) {}

/**
 * The writable fields of an instance (`PUT /1.0/instances/<name>`).
 *
 * @since 0.1.0
 * @category models
 */
export interface InstancePut {
  readonly architecture?: string | undefined
  readonly config: Readonly<Record<string, string>>
  readonly devices: Readonly<Record<string, Readonly<Record<string, string>>>>
  readonly ephemeral: boolean
  readonly profiles: ReadonlyArray<string>
  readonly description: string
}

// -----------------------------------------------------------------------------
// Options
// -----------------------------------------------------------------------------

/**
 * Where a new instance comes from.
 *
 * - `image`: a local image by `alias` or `fingerprint` (or `properties`), or a remote one
 *   when `server` is set (`protocol` `simplestreams` or `lxd`).
 * - `none`: an empty instance.
 * - `copy`: a copy of another instance (`c1`) or snapshot (`c1/snap0`) on this server.
 * - `migration`: pull from another server's migration operation (what `copyTo` does).
 *
 * @since 0.1.0
 * @category models
 */
export type InstanceSource =
  | {
    readonly type: "image"
    readonly alias?: string | undefined
    readonly fingerprint?: string | undefined
    readonly properties?: Readonly<Record<string, string>> | undefined
    readonly server?: string | undefined
    readonly protocol?: "simplestreams" | "lxd" | undefined
    readonly secret?: Redacted.Redacted<string> | undefined
    readonly certificate?: string | undefined
    readonly project?: string | undefined
  }
  | { readonly type: "none" }
  | {
    readonly type: "copy"
    /** `c1`, or `c1/snap0` for a snapshot. */
    readonly source: string
    /** Leave the snapshots behind. */
    readonly instanceOnly?: boolean | undefined
    readonly project?: string | undefined
  }
  | {
    readonly type: "migration"
    /** The source operation's absolute URL. */
    readonly operation: string
    readonly secrets: Readonly<Record<string, Redacted.Redacted<string>>>
    /** The source server's certificate (PEM). */
    readonly certificate?: string | undefined
    readonly instanceOnly?: boolean | undefined
    readonly live?: boolean | undefined
  }

/**
 * @since 0.1.0
 * @category options
 */
export interface CreateOptions {
  /** The name; the server picks one when absent (read back from the finished operation). */
  readonly name?: string | undefined
  readonly source: InstanceSource
  /** Default `container`. */
  readonly type?: InstanceType | undefined
  /** Profiles; LXD applies `default` when absent. Pass `[]` for none. */
  readonly profiles?: ReadonlyArray<string> | undefined
  readonly devices?: Readonly<Record<string, Readonly<Record<string, string>>>> | undefined
  readonly config?: Readonly<Record<string, string>> | undefined
  /** Deleted by the server when it stops. */
  readonly ephemeral?: boolean | undefined
  readonly description?: string | undefined
  /** A cloud instance type (`t2.micro`, `c2-m4`) the server maps to limits. */
  readonly instanceType?: string | undefined
  readonly architecture?: string | undefined
  /** The cluster member to create it on (overrides `Lxd.withTarget`). */
  readonly target?: string | undefined
  /** Start it once created. */
  readonly start?: boolean | undefined
}

/**
 * @since 0.1.0
 * @category options
 */
export interface ListOptions {
  readonly filter?: Filter | undefined
  /** Instances of every project (`instance_all_projects`). */
  readonly allProjects?: boolean | undefined
  /** Only this instance type (`?instance-type=`). */
  readonly type?: InstanceType | undefined
}

/**
 * @since 0.1.0
 * @category options
 */
export interface ListFullOptions extends ListOptions {
  /**
   * Only these state fields (`state.disk`, `state.network`; `[]` for none), which saves the
   * server expensive work. Needs `instances_state_selective_recursion`; on servers without
   * it the full state comes back (as pylxd does, the option is then ignored).
   */
  readonly fields?: ReadonlyArray<string> | undefined
}

/**
 * @since 0.1.0
 * @category options
 */
export interface StateOptions {
  /** How long a clean stop or restart may take before LXD gives up (default 30 s). */
  readonly timeout?: Duration.DurationInput | undefined
  /** Kill instead of a clean shutdown (stop, restart). */
  readonly force?: boolean | undefined
  /** Save or restore the running state (needs CRIU for containers). */
  readonly stateful?: boolean | undefined
}

/**
 * The state changes of `PUT /1.0/instances/<name>/state`.
 *
 * @since 0.1.0
 * @category models
 */
export type StateAction = "start" | "stop" | "restart" | "freeze" | "unfreeze"

/**
 * @since 0.1.0
 * @category options
 */
export interface CopyOptions {
  /** Leave the snapshots behind. */
  readonly instanceOnly?: boolean | undefined
  /** Replace the copy's profiles. */
  readonly profiles?: ReadonlyArray<string> | undefined
  /** Config keys set on the copy (over the source's). */
  readonly config?: Readonly<Record<string, string>> | undefined
  /** Replace the copy's devices. */
  readonly devices?: Readonly<Record<string, Readonly<Record<string, string>>>> | undefined
  readonly ephemeral?: boolean | undefined
  readonly description?: string | undefined
}

/**
 * @since 0.1.0
 * @category options
 */
export interface MigrateOptions extends CopyOptions {
  /** The name on the target (default: the same). */
  readonly name?: string | undefined
  /** Live migration of a running instance (needs CRIU). */
  readonly live?: boolean | undefined
  /** Keep `volatile.*` keys (default: kept for a move, dropped for a copy). */
  readonly keepVolatile?: boolean | undefined
}

/**
 * @since 0.1.0
 * @category options
 */
export interface BackupOptions {
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
 * The instance calls that make sense for one instance type (`containers`,
 * `virtualMachines`).
 *
 * @since 0.1.0
 * @category models
 */
export interface TypedView {
  readonly type: InstanceType
  readonly listNames: (options?: Omit<ListOptions, "type">) => Effect.Effect<ReadonlyArray<string>, RequestError>
  readonly list: (options?: Omit<ListOptions, "type">) => Effect.Effect<ReadonlyArray<Instance>, RequestError>
  readonly listFull: (options?: Omit<ListFullOptions, "type">) => Effect.Effect<ReadonlyArray<InstanceFull>, RequestError>
  /** Fails with `NotFound` when the instance is of the other type. */
  readonly get: (name: string) => Effect.Effect<Instance, RequestError>
  readonly exists: (name: string) => Effect.Effect<boolean, RequestError>
  readonly create: (options: Omit<CreateOptions, "type">) => Effect.Effect<Instance, RequestError | InvalidArgument>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** Names of the instances. With `allProjects`, names can repeat across projects. */
  readonly listNames: (options?: ListOptions) => Effect.Effect<ReadonlyArray<string>, RequestError>
  /** The instances as objects (`recursion=1`). */
  readonly list: (options?: ListOptions) => Effect.Effect<ReadonlyArray<Instance>, RequestError>
  /** The instances with state, snapshots and backups (`recursion=2`). */
  readonly listFull: (options?: ListFullOptions) => Effect.Effect<ReadonlyArray<InstanceFull>, RequestError>
  readonly get: (name: string) => Effect.Effect<Instance, RequestError>
  /** One instance with its state, snapshots and backups. */
  readonly getFull: (name: string) => Effect.Effect<InstanceFull, RequestError>
  readonly exists: (name: string) => Effect.Effect<boolean, RequestError>
  /** Create an instance and wait for it (and start it with `start: true`). */
  readonly create: (options: CreateOptions) => Effect.Effect<Instance, RequestError | InvalidArgument>
  /** Start creating an instance; returns the operation without waiting. */
  readonly createOperation: (options: CreateOptions) => Effect.Effect<Operation, RequestError | InvalidArgument>
  /** Replace the writable fields (optionally guarded by an ETag). */
  readonly put: (
    name: string,
    body: InstancePut,
    options?: { readonly etag?: string | undefined }
  ) => Effect.Effect<void, RequestError>
  /** Change some fields (`PATCH`): config keys and devices are merged. */
  readonly patch: (name: string, changes: Partial<InstancePut>) => Effect.Effect<void, RequestError>
  /** Read with the ETag, apply `f`, write back; retries on 412. */
  readonly update: (
    name: string,
    f: (current: InstancePut) => InstancePut,
    options?: UpdateOptions
  ) => Effect.Effect<void, RequestError>
  readonly rename: (name: string, newName: string) => Effect.Effect<void, RequestError>
  /**
   * Delete the instance. LXD refuses a running one (`LXDAPIException`); with
   * `force: true` it is stopped forcefully first (what `lxc delete --force` does).
   */
  readonly delete: (name: string, options?: { readonly force?: boolean | undefined }) => Effect.Effect<void, RequestError>
  readonly state: (name: string) => Effect.Effect<InstanceState, RequestError>
  /** Change the state and wait for it. */
  readonly changeState: (name: string, action: StateAction, options?: StateOptions) => Effect.Effect<void, RequestError>
  /** Start a state change; returns the operation without waiting. */
  readonly changeStateOperation: (
    name: string,
    action: StateAction,
    options?: StateOptions
  ) => Effect.Effect<Operation, RequestError>
  readonly start: (name: string, options?: StateOptions) => Effect.Effect<void, RequestError>
  readonly stop: (name: string, options?: StateOptions) => Effect.Effect<void, RequestError>
  readonly restart: (name: string, options?: StateOptions) => Effect.Effect<void, RequestError>
  readonly freeze: (name: string) => Effect.Effect<void, RequestError>
  readonly unfreeze: (name: string) => Effect.Effect<void, RequestError>
  /** Publish the instance as an image (stop it first: LXD does not publish a running one). */
  readonly publish: (name: string, options?: PublishOptions) => Effect.Effect<Image, RequestError>
  /** Roll the instance back to one of its snapshots. */
  readonly restoreSnapshot: (
    name: string,
    snapshot: string,
    options?: { readonly stateful?: boolean | undefined }
  ) => Effect.Effect<void, RequestError>
  /** Copy the instance on this server. */
  readonly copy: (
    name: string,
    newName: string,
    options?: CopyOptions
  ) => Effect.Effect<Instance, RequestError | InvalidArgument>
  /** Names of the instance's log files (`lxc.log`, ...). */
  readonly logs: (name: string) => Effect.Effect<ReadonlyArray<string>, RequestError>
  /** One log file, as text. */
  readonly log: (name: string, file: string) => Effect.Effect<string, RequestError>
  /** The console ring buffer, as text. */
  readonly consoleLog: (name: string) => Effect.Effect<string, RequestError>
  readonly clearConsoleLog: (name: string) => Effect.Effect<void, RequestError>
  /** The instance's image metadata (`metadata.yaml`). */
  readonly metadata: (name: string) => Effect.Effect<ImageMetadata, RequestError>
  readonly putMetadata: (
    name: string,
    metadata: typeof ImageMetadata.Encoded,
    options?: { readonly etag?: string | undefined }
  ) => Effect.Effect<void, RequestError>
  /** Read the metadata with its ETag, apply `f`, write back; retries on 412. */
  readonly updateMetadata: (
    name: string,
    f: (current: ImageMetadata) => typeof ImageMetadata.Encoded,
    options?: UpdateOptions
  ) => Effect.Effect<void, RequestError>
  /** Names of the instance's template files. */
  readonly templates: (name: string) => Effect.Effect<ReadonlyArray<string>, RequestError>
  /** One template file, as text. */
  readonly template: (name: string, file: string) => Effect.Effect<string, RequestError>
  /** Create or replace a template file. */
  readonly putTemplate: (name: string, file: string, content: string | Uint8Array) => Effect.Effect<void, RequestError>
  readonly deleteTemplate: (name: string, file: string) => Effect.Effect<void, RequestError>
  readonly backups: (name: string) => Effect.Effect<ReadonlyArray<Backup>, RequestError>
  readonly backup: (name: string, backup: string) => Effect.Effect<Backup, RequestError>
  /** Make a backup on the server and wait for it. */
  readonly createBackup: (name: string, options?: BackupOptions) => Effect.Effect<Backup, RequestError>
  readonly renameBackup: (name: string, backup: string, newName: string) => Effect.Effect<void, RequestError>
  readonly deleteBackup: (name: string, backup: string) => Effect.Effect<void, RequestError>
  /** The backup tarball as it streams from the server. */
  readonly exportBackup: (name: string, backup: string) => Stream.Stream<Uint8Array, RequestError>
  /** Create an instance from a backup tarball (streamed, not buffered). */
  readonly importBackup: <E = never>(
    data: Stream.Stream<Uint8Array, E> | Uint8Array,
    options?: ImportOptions
  ) => Effect.Effect<Instance, RequestError | E>
  /**
   * Copy a (stopped) instance to another server: the target pulls it from this one over
   * LXD's migration protocol. This server must be reachable from the target over HTTPS.
   */
  readonly copyTo: (
    target: LxdHttpService,
    name: string,
    options?: MigrateOptions
  ) => Effect.Effect<Instance, RequestError | InvalidArgument>
  /** `copyTo`, then delete the instance here. */
  readonly moveTo: (
    target: LxdHttpService,
    name: string,
    options?: MigrateOptions
  ) => Effect.Effect<Instance, RequestError | InvalidArgument>
  /** The same calls, containers only. */
  readonly containers: TypedView
  /** The same calls, virtual machines only. */
  readonly virtualMachines: TypedView
}

/**
 * @since 0.1.0
 * @category tags
 */
export class Instances extends Context.Tag("effect-lxd/Instances")<Instances, Service>() {}

// -----------------------------------------------------------------------------
// Request bodies
// -----------------------------------------------------------------------------

const sourceBody = (source: InstanceSource): Record<string, unknown> => {
  switch (source.type) {
    case "none":
      return { type: "none" }
    case "image":
      return {
        type: "image",
        ...(source.alias === undefined ? {} : { alias: source.alias }),
        ...(source.fingerprint === undefined ? {} : { fingerprint: source.fingerprint }),
        ...(source.properties === undefined ? {} : { properties: source.properties }),
        ...(source.server === undefined
          ? {}
          : { server: source.server, protocol: source.protocol ?? "simplestreams", mode: "pull" }),
        ...(source.secret === undefined ? {} : { secret: Redacted.value(source.secret) }),
        ...(source.certificate === undefined ? {} : { certificate: source.certificate }),
        ...(source.project === undefined ? {} : { project: source.project })
      }
    case "copy":
      return {
        type: "copy",
        source: source.source,
        ...(source.instanceOnly === undefined
          ? {}
          : { instance_only: source.instanceOnly, container_only: source.instanceOnly }),
        ...(source.project === undefined ? {} : { project: source.project })
      }
    case "migration":
      return {
        type: "migration",
        mode: "pull",
        operation: source.operation,
        secrets: Object.fromEntries(Object.entries(source.secrets).map(([k, v]) => [k, Redacted.value(v)])),
        ...(source.certificate === undefined ? {} : { certificate: source.certificate }),
        ...(source.instanceOnly === undefined
          ? {}
          : { instance_only: source.instanceOnly, container_only: source.instanceOnly }),
        ...(source.live === undefined ? {} : { live: source.live })
      }
  }
}

/**
 * The JSON body of `POST /1.0/instances` for `options` (exposed for tests and for callers
 * that send it themselves). Secrets are unwrapped here: never log the result.
 *
 * @since 0.1.0
 * @category utils
 */
export const createBody = (options: CreateOptions): Record<string, unknown> => ({
  ...(options.name === undefined ? {} : { name: options.name }),
  type: options.type ?? "container",
  source: sourceBody(options.source),
  ...(options.profiles === undefined ? {} : { profiles: options.profiles }),
  ...(options.devices === undefined ? {} : { devices: options.devices }),
  ...(options.config === undefined ? {} : { config: options.config }),
  ...(options.ephemeral === undefined ? {} : { ephemeral: options.ephemeral }),
  ...(options.description === undefined ? {} : { description: options.description }),
  ...(options.instanceType === undefined ? {} : { instance_type: options.instanceType }),
  ...(options.architecture === undefined ? {} : { architecture: options.architecture })
})

const toPut = (i: Instance): InstancePut => ({
  architecture: i.architecture,
  config: i.config,
  devices: i.devices,
  ephemeral: i.ephemeral,
  profiles: i.profiles,
  description: i.description
})

const seconds = (d: Duration.DurationInput): number => Math.round(Duration.toSeconds(Duration.decode(d)))

const withoutVolatile = (config: Readonly<Record<string, string>>): Record<string, string> =>
  Object.fromEntries(Object.entries(config).filter(([k]) => !k.startsWith("volatile.")))

// -----------------------------------------------------------------------------
// Constructor
// -----------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Service, never, LxdHttp | Operations> = Effect.gen(function*() {
  const http = yield* LxdHttp
  const ops = yield* Operations
  const instPath = (name: string) => path`/1.0/instances/${name}`

  const listQuery = (options: ListOptions | undefined, recursion: number | string) => ({
    recursion,
    filter: filterExpression(options?.filter),
    ...(options?.type === undefined ? {} : { "instance-type": options.type }),
    ...(options?.allProjects ? { "all-projects": true } : {})
  })

  const listNames = (options?: ListOptions) =>
    http.sync({ method: "GET", path: "/1.0/instances", query: listQuery(options, 0) }, Schema.Array(Schema.String))
      .pipe(Effect.map((urls) => urls.map(nameFromUrl)))

  const list = (options?: ListOptions) =>
    http.sync({ method: "GET", path: "/1.0/instances", query: listQuery(options, 1) }, Schema.Array(Instance))

  const listFull = (options?: ListFullOptions) =>
    Effect.gen(function*() {
      const selective = options?.fields !== undefined &&
        (yield* http.hasExtension("instances_state_selective_recursion"))
      const recursion = selective ? `2;fields=${options.fields!.join(",")}` : 2
      return yield* http.sync(
        { method: "GET", path: "/1.0/instances", query: listQuery(options, recursion) },
        Schema.Array(InstanceFull)
      )
    })

  const get = (name: string) => http.sync({ method: "GET", path: instPath(name) }, Instance)

  const getFull = (name: string) =>
    http.sync({ method: "GET", path: instPath(name), query: { recursion: 1 } }, InstanceFull)

  const exists = (name: string) =>
    get(name).pipe(Effect.as(true), Effect.catchTag("NotFound", () => Effect.succeed(false)))

  const stateRequest = (name: string, action: StateAction, options?: StateOptions): LxdRequest => ({
    method: "PUT",
    path: `${instPath(name)}/state`,
    body: {
      action,
      // LXD reads a missing timeout as 0, which turns a clean stop into a kill
      timeout: options?.timeout === undefined ? 30 : seconds(options.timeout),
      force: options?.force ?? false,
      stateful: options?.stateful ?? false
    }
  })

  const changeState = (name: string, action: StateAction, options?: StateOptions) =>
    Effect.asVoid(ops.run(stateRequest(name, action, options)))

  const changeStateOperation = (name: string, action: StateAction, options?: StateOptions) => {
    const request = stateRequest(name, action, options)
    return ops.startOperation(request)
  }

  const validateCreate = (options: CreateOptions) =>
    options.name !== undefined && (options.name.length === 0 || options.name.includes("/"))
      ? Effect.fail(new InvalidArgument({ argument: "name", reason: "must be non-empty and without '/'" }))
      : options.source.type === "image" && options.source.alias === undefined &&
          options.source.fingerprint === undefined && options.source.properties === undefined
      ? Effect.fail(new InvalidArgument({ argument: "source", reason: "an image source needs an alias, a fingerprint or properties" }))
      : Effect.void

  const createRequest = (options: CreateOptions): LxdRequest => ({
    method: "POST",
    path: "/1.0/instances",
    body: createBody(options),
    ...(options.target === undefined ? {} : { target: options.target })
  })

  const nameOf = (
    outcome: Outcome,
    wanted: string | undefined,
    exclude: string | undefined
  ): Effect.Effect<string, DecodeError> => {
    if (wanted !== undefined) return Effect.succeed(wanted)
    const named = createdName(outcome, "instances", exclude)
    return named === undefined
      ? Effect.fail(
        new DecodeError({
          method: "POST",
          path: "/1.0/instances",
          reason: "the server did not say which name it gave the new instance"
        })
      )
      : Effect.succeed(named)
  }

  /**
   * LXD 5.0 gives a copy no profiles (and so no root disk) unless the request names
   * them: like `lxc copy`, default to the source's profiles.
   */
  const withCopyProfiles = (options: CreateOptions) =>
    options.source.type !== "copy" || options.profiles !== undefined || options.source.project !== undefined
      ? Effect.succeed(options)
      : Effect.map(
        get(options.source.source.split("/")[0]!),
        (source): CreateOptions => ({ ...options, profiles: source.profiles })
      )

  const create = (given: CreateOptions) =>
    Effect.gen(function*() {
      yield* validateCreate(given)
      const options = yield* withCopyProfiles(given)
      const outcome = yield* ops.run(createRequest(options))
      const copied = options.source.type === "copy" ? options.source.source.split("/")[0] : undefined
      const name = yield* nameOf(outcome, options.name, copied)
      if (options.start) yield* changeState(name, "start")
      return yield* get(name)
    })

  const createOperation = (given: CreateOptions) =>
    Effect.gen(function*() {
      yield* validateCreate(given)
      const request = createRequest(yield* withCopyProfiles(given))
      return yield* ops.startOperation(request)
    })

  const put = (name: string, body: InstancePut, options?: { readonly etag?: string | undefined }) =>
    writeJson(ops, "PUT", instPath(name), body, options?.etag)

  const patch = (name: string, changes: Partial<InstancePut>) =>
    writeJson(ops, "PATCH", instPath(name), changes, undefined)

  const update = (name: string, f: (current: InstancePut) => InstancePut, options?: UpdateOptions) =>
    optimisticUpdate(
      Effect.map(http.syncWithEtag({ method: "GET", path: instPath(name) }, Instance), ({ etag, value }) => ({
        value: toPut(value),
        etag
      })),
      f,
      (body, etag) => writeJson(ops, "PUT", instPath(name), body, etag),
      options
    )

  const rename = (name: string, newName: string) =>
    Effect.asVoid(ops.run({ method: "POST", path: instPath(name), body: { name: newName } }))

  const del = (name: string, options?: { readonly force?: boolean | undefined }) =>
    Effect.gen(function*() {
      if (options?.force) {
        const current = yield* state(name)
        if (current.status_code !== 102) yield* changeState(name, "stop", { force: true })
      }
      yield* ops.run({ method: "DELETE", path: instPath(name) })
    })

  const state = (name: string) => http.sync({ method: "GET", path: `${instPath(name)}/state` }, InstanceState)

  const restoreSnapshot = (name: string, snapshot: string, options?: { readonly stateful?: boolean | undefined }) =>
    Effect.asVoid(ops.run({
      method: "PUT",
      path: instPath(name),
      body: { restore: snapshot, stateful: options?.stateful ?? false }
    }))

  const copy = (name: string, newName: string, options?: CopyOptions) =>
    create({
      name: newName,
      source: { type: "copy", source: name, instanceOnly: options?.instanceOnly },
      ...(options?.profiles === undefined ? {} : { profiles: options.profiles }),
      ...(options?.config === undefined ? {} : { config: options.config }),
      ...(options?.devices === undefined ? {} : { devices: options.devices }),
      ...(options?.ephemeral === undefined ? {} : { ephemeral: options.ephemeral }),
      ...(options?.description === undefined ? {} : { description: options.description })
    })

  const readText = (request: LxdRequest) =>
    Effect.scoped(Effect.flatMap(http.raw(request), (response) =>
      response.body.pipe(Stream.decodeText(), Stream.mkString)))

  const logs = (name: string) =>
    http.sync({ method: "GET", path: `${instPath(name)}/logs` }, Schema.Array(Schema.String)).pipe(
      Effect.map((urls) => urls.map(nameFromUrl))
    )

  const log = (name: string, file: string) =>
    readText({ method: "GET", path: path`/1.0/instances/${name}/logs/${file}` })

  const consoleLog = (name: string) => readConsoleLog(http, name)

  const clearConsoleLog = (name: string) => clearConsole(http, name)

  const metadataPath = (name: string) => `${instPath(name)}/metadata`

  const metadata = (name: string) => http.sync({ method: "GET", path: metadataPath(name) }, ImageMetadata)

  const putMetadata = (
    name: string,
    body: typeof ImageMetadata.Encoded,
    options?: { readonly etag?: string | undefined }
  ) => writeJson(ops, "PUT", metadataPath(name), body, options?.etag)

  const updateMetadata = (
    name: string,
    f: (current: ImageMetadata) => typeof ImageMetadata.Encoded,
    options?: UpdateOptions
  ) =>
    optimisticUpdate(
      http.syncWithEtag({ method: "GET", path: metadataPath(name) }, ImageMetadata),
      f,
      (body, etag) => writeJson(ops, "PUT", metadataPath(name), body, etag),
      options
    )

  const templatesPath = (name: string) => `${instPath(name)}/metadata/templates`

  const templates = (name: string) =>
    http.sync({ method: "GET", path: templatesPath(name) }, Schema.Array(Schema.String))

  const template = (name: string, file: string) =>
    readText({ method: "GET", path: templatesPath(name), query: { path: file } })

  const putTemplate = (name: string, file: string, content: string | Uint8Array) =>
    Effect.asVoid(http.send({
      method: "POST",
      path: templatesPath(name),
      query: { path: file },
      raw: {
        contentType: "application/octet-stream",
        data: typeof content === "string" ? new TextEncoder().encode(content) : content
      }
    }))

  const deleteTemplate = (name: string, file: string) =>
    Effect.asVoid(http.send({ method: "DELETE", path: templatesPath(name), query: { path: file } }))

  const backupPath = (name: string, backup: string) => path`/1.0/instances/${name}/backups/${backup}`

  const backups = (name: string) =>
    http.sync({ method: "GET", path: `${instPath(name)}/backups`, query: { recursion: 1 } }, Schema.Array(Backup))

  const backup = (name: string, b: string) => http.sync({ method: "GET", path: backupPath(name, b) }, Backup)

  const createBackup = (name: string, options?: BackupOptions) =>
    Effect.gen(function*() {
      const request: LxdRequest = {
        method: "POST",
        path: `${instPath(name)}/backups`,
        body: {
          ...(options?.name === undefined ? {} : { name: options.name }),
          ...(options?.expiresAt === undefined ? {} : { expires_at: isoDate(options.expiresAt) }),
          instance_only: options?.instanceOnly ?? false,
          container_only: options?.instanceOnly ?? false,
          optimized_storage: options?.optimizedStorage ?? false,
          ...(options?.compressionAlgorithm === undefined ? {} : { compression_algorithm: options.compressionAlgorithm })
        }
      }
      const outcome = yield* ops.run(request)
      const backupName = options?.name ?? createdName(outcome, "backups")
      if (backupName === undefined) {
        return yield* Effect.fail(
          new DecodeError({ method: "POST", path: request.path, reason: "the server did not name the new backup" })
        )
      }
      return yield* backup(name, backupName)
    })

  const renameBackup = (name: string, b: string, newName: string) =>
    Effect.asVoid(ops.run({ method: "POST", path: backupPath(name, b), body: { name: newName } }))

  const deleteBackup = (name: string, b: string) => Effect.asVoid(ops.run({ method: "DELETE", path: backupPath(name, b) }))

  const exportBackup = (name: string, b: string) =>
    Stream.unwrapScoped(
      Effect.map(http.raw({ method: "GET", path: `${backupPath(name, b)}/export` }), (response) => response.body)
    )

  const importBackup = <E = never>(data: Stream.Stream<Uint8Array, E> | Uint8Array, options?: ImportOptions) =>
    Effect.gen(function*() {
      const prefix = http.headerPrefix
      const headers: Record<string, string> = {}
      if (options?.name !== undefined) headers[`${prefix}-Name`] = options.name
      if (options?.pool !== undefined) headers[`${prefix}-Pool`] = options.pool
      const outcome = yield* ops.run<E>({
        method: "POST",
        path: "/1.0/instances",
        headers,
        raw: {
          contentType: "application/octet-stream",
          data,
          contentLength: options?.contentLength ?? (data instanceof Uint8Array ? data.byteLength : undefined)
        }
      })
      const name = yield* nameOf(outcome, options?.name, undefined)
      return yield* get(name)
    })

  const publish = (name: string, options?: PublishOptions) =>
    publishImage(http, ops, { type: "instance", name }, options)

  const migrate = (target: LxdHttpService, name: string, options: MigrateOptions | undefined, keepVolatile: boolean) =>
    Effect.gen(function*() {
      const source = yield* get(name)
      const endpoint = yield* remoteEndpoint(http)
      const targetOps = yield* Effect.provideService(makeOperations, LxdHttp, target)
      const request: LxdRequest = {
        method: "POST",
        path: instPath(name),
        body: {
          migration: true,
          live: options?.live ?? false,
          instance_only: options?.instanceOnly ?? false,
          container_only: options?.instanceOnly ?? false
        }
      }
      const sourceOp = yield* ops.startOperation(request)
      const secrets: Record<string, Redacted.Redacted<string>> = {}
      for (const [k, v] of Object.entries(sourceOp.metadata ?? {})) {
        if (typeof v === "string") secrets[k] = Redacted.make(v)
      }
      const config = options?.keepVolatile ?? keepVolatile ? source.config : withoutVolatile(source.config)
      const targetName = options?.name ?? name
      const targetRequest: LxdRequest = {
        method: "POST",
        path: "/1.0/instances",
        body: createBody({
          name: targetName,
          type: source.type === "virtual-machine" ? "virtual-machine" : "container",
          architecture: source.architecture,
          config: { ...config, ...options?.config },
          devices: options?.devices ?? source.devices,
          profiles: options?.profiles ?? source.profiles,
          ephemeral: options?.ephemeral ?? source.ephemeral,
          description: options?.description ?? source.description,
          source: {
            type: "migration",
            operation: `${endpoint.url}/1.0/operations/${encodeURIComponent(sourceOp.id)}`,
            secrets,
            certificate: endpoint.certificate,
            instanceOnly: options?.instanceOnly ?? false,
            live: options?.live ?? false
          }
        })
      }
      yield* Effect.all([targetOps.run(targetRequest), ops.wait(sourceOp)], { concurrency: 2, discard: true }).pipe(
        // a target that failed leaves the source operation waiting for connections
        Effect.tapError(() => Effect.ignore(ops.cancel(sourceOp.id)))
      )
      return yield* target.sync({ method: "GET", path: instPath(targetName) }, Instance)
    })

  const copyTo = (target: LxdHttpService, name: string, options?: MigrateOptions) => migrate(target, name, options, false)

  const moveTo = (target: LxdHttpService, name: string, options?: MigrateOptions) =>
    Effect.tap(migrate(target, name, options, true), () => del(name))

  const view = (type: InstanceType): TypedView => {
    const label = type === "container" ? "Container" : "Virtual machine"
    return {
      type,
      listNames: (options) => listNames({ ...options, type }),
      list: (options) => list({ ...options, type }),
      listFull: (options) => listFull({ ...options, type }),
      get: (name) =>
        Effect.flatMap(get(name), (instance) =>
          instance.type === type
            ? Effect.succeed(instance)
            : Effect.fail(
              new NotFound({
                method: "GET",
                path: instPath(name),
                resource: `${label} "${name}"`,
                serverMessage: `the instance is a ${instance.type}, not a ${type}`
              })
            )),
      exists: (name) =>
        get(name).pipe(
          Effect.map((instance) => instance.type === type),
          Effect.catchTag("NotFound", () => Effect.succeed(false))
        ),
      create: (options) => create({ ...options, type })
    }
  }

  return Instances.of(traced("Instances", {
    listNames,
    list,
    listFull,
    get,
    getFull,
    exists,
    create,
    createOperation,
    put,
    patch,
    update,
    rename,
    delete: del,
    state,
    changeState,
    changeStateOperation,
    start: (name, options) => changeState(name, "start", options),
    stop: (name, options) => changeState(name, "stop", options),
    restart: (name, options) => changeState(name, "restart", options),
    freeze: (name) => changeState(name, "freeze"),
    unfreeze: (name) => changeState(name, "unfreeze"),
    publish,
    restoreSnapshot,
    copy,
    logs,
    log,
    consoleLog,
    clearConsoleLog,
    metadata,
    putMetadata,
    updateMetadata,
    templates,
    template,
    putTemplate,
    deleteTemplate,
    backups,
    backup,
    createBackup,
    renameBackup,
    deleteBackup,
    exportBackup,
    importBackup,
    copyTo,
    moveTo,
    containers: view("container"),
    virtualMachines: view("virtual-machine")
  }, { nameAttribute: "lxd.instance" }))
})

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Instances, never, LxdHttp | Operations> = Layer.effect(Instances, make)
