/**
 * Instances (`/1.0/instances`): containers and virtual machines. List, get, create (from
 * an image, from nothing, as a copy, from a remote image server), update with ETags,
 * rename, delete, state and lifecycle (start, stop, restart, freeze, unfreeze), publish as
 * an image, restore a snapshot, copy on this server, and log files.
 *
 * The rest of an instance has modules of its own: backups in `InstanceBackups`, image
 * metadata and templates in `InstanceMetadata`, the console and its log in
 * `InstanceConsole`, copies and moves to another server in `Migration`.
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
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { collection } from "./internal/collection.js"
import { publishImage, publishOperation, type PublishOptions } from "./internal/images-publish.js"
import {
  copiedInstance,
  copyCreateOptions,
  createBody,
  createdInstanceName,
  instancePath,
  listQuery,
  needsSourceProfiles,
  stateBody,
  toPut,
  validateCreate,
  wrongType
} from "./internal/instances-body.js"
import { makeExtraCalls, type RebuildSource, requireCopyExtensions } from "./internal/instances-extra.js"
import type { Filter } from "./internal/instances-query.js"
import { Backup } from "./internal/models/backup.js"
import type { Image } from "./internal/models/image.js"
import { DiskState, Instance, InstanceState, NetworkAddress, NetworkState } from "./internal/models/instance.js"
import { Snapshot } from "./internal/models/snapshot.js"
import { nameFromUrl, path } from "./internal/path.js"
import { waitStarted } from "./internal/started.js"
import { readText } from "./internal/text.js"
import { traced } from "./internal/tracing.js"
import type { ExtensionNotAvailable, InvalidArgument, RequestError } from "./LxdError.js"
import { LxdHttp, type LxdRequest } from "./LxdHttp.js"
import { type Operation, Operations } from "./Operations.js"
import type * as Resource from "./Resource.js"

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
  PublishOptions,
  /**
   * What `rebuild` rebuilds an instance from: an image source, or `{ type: "none" }`.
   *
   * @since 0.1.0
   * @category models
   */
  RebuildSource
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

export {
  /**
   * A backup of an instance (as `InstanceFull` lists them; `InstanceBackups` manages them).
   *
   * @since 0.1.0
   * @category models
   */
  Backup,
  /**
   * The JSON body of `POST /1.0/instances` for the options (exposed for tests and for
   * callers that send it themselves). Secrets are unwrapped here: never log the result.
   *
   * @since 0.1.0
   * @category utils
   */
  createBody,
  /**
   * Disk usage of one device.
   *
   * @since 0.1.0
   * @category models
   */
  DiskState,
  /**
   * An instance (`GET /1.0/instances/<name>`).
   *
   * @since 0.1.0
   * @category models
   */
  Instance,
  /**
   * The running state of an instance (`GET /1.0/instances/<name>/state`).
   *
   * @since 0.1.0
   * @category models
   */
  InstanceState,
  /**
   * One address of a network interface.
   *
   * @since 0.1.0
   * @category models
   */
  NetworkAddress,
  /**
   * A network interface inside an instance, with its addresses and counters.
   *
   * @since 0.1.0
   * @category models
   */
  NetworkState
}

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
 * - `migration`: pull from another server's migration operation (what
 *   `Migration.copyInstance` does).
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
    /** Update an existing copy with what changed (extension `container_incremental_copy`). */
    readonly refresh?: boolean | undefined
    /** Carry on past files that change during the copy (extension `instance_allow_inconsistent_copy`). */
    readonly allowInconsistent?: boolean | undefined
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
    /** Update an existing instance on the target with what changed (extension `container_incremental_copy`). */
    readonly refresh?: boolean | undefined
    /** Carry on past files that change during the transfer (extension `instance_allow_inconsistent_copy`). */
    readonly allowInconsistent?: boolean | undefined
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
  /**
   * Update an existing instance named `newName` with what changed since the last copy
   * instead of failing because it exists (extension `container_incremental_copy`).
   */
  readonly refresh?: boolean | undefined
  /** Carry on past files that change during the copy (extension `instance_allow_inconsistent_copy`). */
  readonly allowInconsistent?: boolean | undefined
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
  readonly listFull: (
    options?: Omit<ListFullOptions, "type">
  ) => Effect.Effect<ReadonlyArray<InstanceFull>, RequestError>
  /** Fails with `NotFound` when the instance is of the other type. */
  readonly get: (name: string) => Effect.Effect<Instance, RequestError>
  readonly exists: (name: string) => Effect.Effect<boolean, RequestError>
  readonly create: (options: Omit<CreateOptions, "type">) => Effect.Effect<Instance, RequestError | InvalidArgument>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Service
  extends
    Resource.Readable<Instance>,
    Resource.Writable<InstancePut>,
    Resource.Renamable,
    Resource.Creatable<Instance, CreateOptions>
{
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
  /**
   * Delete the instance. LXD refuses a running one (`LXDAPIException`); with
   * `force: true` it is stopped forcefully first (what `lxc delete --force` does).
   */
  readonly delete: (
    name: string,
    options?: { readonly force?: boolean | undefined }
  ) => Effect.Effect<void, RequestError>
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
  /**
   * Start publishing the instance as an image and return the operation without waiting
   * (for `Progress.track`); the new image's fingerprint is in the finished operation's
   * `metadata.fingerprint` (`Images.fingerprintOf`). `publish` is this and a wait.
   *
   * LXD 5.0 and Incus 6.0 report the packing as `create_image_from_container_pack_progress`
   * (`Image pack: 45% (12.34MB/s)`) with a `progress` object (`stage`
   * `create_image_from_container_pack`, percent, speed; the bytes processed at 100%).
   *
   * @example
   * ```ts
   * import { Console, Effect } from "effect"
   * import { Images, Instances, Progress } from "effect-lxd"
   *
   * const publish = Effect.gen(function* () {
   *   const instances = yield* Instances.Instances
   *   const done = yield* Progress.track(
   *     instances.publishOperation("web1", { aliases: ["web-golden"] }),
   *     (p) => Console.log(Progress.format(p)) // Image pack: 45% (12.34MB/s)
   *   )
   *   return yield* Images.fingerprintOf({ _tag: "Async", status: 202, operation: done }, {
   *     method: "POST",
   *     path: "/1.0/images"
   *   })
   * })
   * ```
   */
  readonly publishOperation: (name: string, options?: PublishOptions) => Effect.Effect<Operation, RequestError>
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
  ) => Effect.Effect<Instance, RequestError | InvalidArgument | ExtensionNotAvailable>
  /**
   * Start the copy of `copy` and return its operation without waiting (for
   * `Progress.track`); `copy` is this, a wait, and a read of the copy.
   *
   * With a `dir` storage pool neither LXD 5.0 nor Incus 6.0 reports progress for a copy
   * on the same server: the operation carries no metadata until it ends, so `track`
   * reports nothing and returns when the copy is done.
   */
  readonly copyOperation: (
    name: string,
    newName: string,
    options?: CopyOptions
  ) => Effect.Effect<Operation, RequestError | InvalidArgument | ExtensionNotAvailable>
  /** Names of the instance's log files (`lxc.log`, ...). */
  readonly logs: (name: string) => Effect.Effect<ReadonlyArray<string>, RequestError>
  /** One log file, as text. */
  readonly log: (name: string, file: string) => Effect.Effect<string, RequestError>
  /** The same calls, containers only. */
  readonly containers: TypedView
  /** The same calls, virtual machines only. */
  readonly virtualMachines: TypedView

  // --- calls that need newer extensions (internal/instances-extra.ts) ---
  /**
   * Replace the (stopped) instance's root file system with a fresh one from an image, or
   * an empty one (`{ type: "none" }`), keeping its name, configuration, devices and
   * snapshots (extension `instances_rebuild`).
   */
  readonly rebuild: (
    name: string,
    source: RebuildSource
  ) => Effect.Effect<void, RequestError | ExtensionNotAvailable | InvalidArgument>
  /**
   * Change the state of every instance of the current project at once (`PUT /1.0/instances`,
   * extension `instance_bulk_state_change`); waits until the server has done them all.
   */
  readonly changeStateAll: (
    action: StateAction,
    options?: StateOptions
  ) => Effect.Effect<void, RequestError | ExtensionNotAvailable>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class Instances extends Context.Tag("effect-lxd/Instances")<Instances, Service>() {}

// -----------------------------------------------------------------------------
// Constructor
// -----------------------------------------------------------------------------

/** The calls a typed view narrows. */
type ViewCalls = Pick<Service, "listNames" | "list" | "listFull" | "get" | "create">

/** `containers` or `virtualMachines`: the calls of `calls`, for one instance type. */
const typedView = (calls: ViewCalls, type: InstanceType): TypedView => ({
  type,
  listNames: (options) => calls.listNames({ ...options, type }),
  list: (options) => calls.list({ ...options, type }),
  listFull: (options) => calls.listFull({ ...options, type }),
  get: (name) =>
    Effect.flatMap(
      calls.get(name),
      (instance) =>
        instance.type === type ? Effect.succeed(instance) : Effect.fail(wrongType(name, type, instance.type))
    ),
  exists: (name) =>
    calls.get(name).pipe(
      Effect.map((instance) => instance.type === type),
      Effect.catchTag("NotFound", () => Effect.succeed(false))
    ),
  create: (options) => calls.create({ ...options, type })
})

const createRequest = (options: CreateOptions): LxdRequest => ({
  method: "POST",
  path: "/1.0/instances",
  body: createBody(options),
  ...(options.target === undefined ? {} : { target: options.target })
})

const stateRequest = (name: string, action: StateAction, options: StateOptions | undefined): LxdRequest => ({
  method: "PUT",
  path: `${instancePath(name)}/state`,
  body: stateBody(action, options)
})

/**
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Service, never, LxdHttp | Operations> = Effect.gen(function*() {
  const http = yield* LxdHttp
  const ops = yield* Operations

  const { calls: crud, listNamesWhere, listWhere } = collection(http, ops, {
    collection: () => "/1.0/instances",
    item: instancePath,
    schema: Instance,
    toPut,
    // LXD's instance PATCH merges the keys of both maps
    patch: { merged: ["config", "devices"] }
  })

  const listNames = (options?: ListOptions) => {
    const { recursion: _, ...query } = listQuery(options, 0)
    return listNamesWhere([], query)
  }

  const list = (options?: ListOptions) => listWhere([], listQuery(options, 1))

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

  const get = crud.get

  const getFull = (name: string) =>
    http.sync({ method: "GET", path: instancePath(name), query: { recursion: 1 } }, InstanceFull)

  const changeState = (name: string, action: StateAction, options?: StateOptions) =>
    Effect.asVoid(ops.run(stateRequest(name, action, options)))

  const changeStateOperation = (name: string, action: StateAction, options?: StateOptions) =>
    ops.startOperation(stateRequest(name, action, options))

  /** Valid options, with a copy's profiles defaulting to its source's. */
  const prepareCreate = (given: CreateOptions) =>
    Effect.flatMap(validateCreate(given), (options) =>
      needsSourceProfiles(options)
        ? Effect.map(
          get(copiedInstance(options.source)!),
          (source): CreateOptions => ({ ...options, profiles: source.profiles })
        )
        : Effect.succeed(options))

  const create = (given: CreateOptions) =>
    Effect.gen(function*() {
      const options = yield* prepareCreate(given)
      const outcome = yield* ops.run(createRequest(options))
      const name = yield* createdInstanceName(outcome, options.name, copiedInstance(options.source))
      if (options.start) yield* changeState(name, "start")
      return yield* get(name)
    })

  const createOperation = (given: CreateOptions) =>
    Effect.flatMap(prepareCreate(given), (options) => ops.startOperation(createRequest(options)))

  const copyOperation = (name: string, newName: string, options?: CopyOptions) =>
    Effect.zipRight(requireCopyExtensions(http, options), createOperation(copyCreateOptions(name, newName, options)))

  const copy = (name: string, newName: string, options?: CopyOptions) =>
    Effect.gen(function*() {
      const op = yield* copyOperation(name, newName, options)
      yield* waitStarted(ops, op, { method: "POST", path: "/1.0/instances" })
      return yield* get(newName)
    })

  const state = (name: string) => http.sync({ method: "GET", path: `${instancePath(name)}/state` }, InstanceState)

  const del = (name: string, options?: { readonly force?: boolean | undefined }) =>
    Effect.gen(function*() {
      if (options?.force) {
        const current = yield* state(name)
        if (current.status_code !== 102) yield* changeState(name, "stop", { force: true })
      }
      yield* ops.run({ method: "DELETE", path: instancePath(name) })
    })

  const calls = { listNames, list, listFull, get, create }

  return Instances.of(traced(
    "Instances",
    {
      ...calls,
      getFull,
      exists: crud.exists,
      createOperation,
      put: crud.put,
      patch: crud.patch,
      update: crud.update,
      rename: crud.rename,
      delete: del,
      state,
      changeState,
      changeStateOperation,
      start: (name, options) => changeState(name, "start", options),
      stop: (name, options) => changeState(name, "stop", options),
      restart: (name, options) => changeState(name, "restart", options),
      freeze: (name) => changeState(name, "freeze"),
      unfreeze: (name) => changeState(name, "unfreeze"),
      publish: (name, options) => publishImage(http, ops, { type: "instance", name }, options),
      publishOperation: (name, options) => publishOperation(ops, { type: "instance", name }, options),
      restoreSnapshot: (name, snapshot, options) =>
        Effect.asVoid(
          ops.run({
            method: "PUT",
            path: instancePath(name),
            body: { restore: snapshot, stateful: options?.stateful ?? false }
          })
        ),
      copy,
      copyOperation,
      logs: (name) =>
        http.sync({ method: "GET", path: `${instancePath(name)}/logs` }, Schema.Array(Schema.String)).pipe(
          Effect.map((urls) => urls.map(nameFromUrl))
        ),
      log: (name, file) => readText(http, { method: "GET", path: path`/1.0/instances/${name}/logs/${file}` }),
      containers: typedView(calls, "container"),
      virtualMachines: typedView(calls, "virtual-machine"),
      // --- calls that need newer extensions (internal/instances-extra.ts) ---
      ...makeExtraCalls(http, ops)
    } satisfies Service,
    { nameAttribute: "lxd.instance" }
  ))
})

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Instances, never, LxdHttp | Operations> = Layer.effect(Instances, make)
