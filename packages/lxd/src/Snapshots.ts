/**
 * Instance snapshots (`/1.0/instances/<name>/snapshots`): list, get, create (stateless
 * or stateful, with an expiry), rename, update, delete, restore, publish as an image,
 * and copy into a new instance.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Snapshots } from "effect-lxd"
 *
 * // snapshot, break something, roll back
 * const safely = <A, E, R>(instance: string, risky: Effect.Effect<A, E, R>) =>
 *   Effect.gen(function* () {
 *     const snapshots = yield* Snapshots.Snapshots
 *     const snap = yield* snapshots.create(instance, { name: "before" })
 *     return yield* risky.pipe(Effect.tapError(() => snapshots.restore(instance, snap.name)))
 *   })
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { isoDate, publishImage, type PublishOptions } from "./internal/images-publish.js"
import { ConfigMap, DeviceMap } from "./internal/models/fields.js"
import type { Image } from "./internal/models/image.js"
import { Snapshot } from "./internal/models/snapshot.js"
import { nameFromUrl, path } from "./internal/path.js"
import { traced } from "./internal/tracing.js"
import { optimisticUpdate, type UpdateOptions, writeJson } from "./internal/update.js"
import { DecodeError, InvalidArgument, type RequestError } from "./LxdError.js"
import { LxdHttp } from "./LxdHttp.js"
import { type Operation, Operations } from "./Operations.js"

export type {
  /**
   * Options of a publish (aliases, public, properties, compression, expiry).
   *
   * @since 0.1.0
   * @category options
   */
  PublishOptions
}

export {
  /**
   * Configuration keys and values (`config`, `expanded_config`).
   *
   * @since 0.1.0
   * @category models
   */
  ConfigMap,
  /**
   * Devices by name, each a map of its settings (`devices`, `expanded_devices`).
   *
   * @since 0.1.0
   * @category models
   */
  DeviceMap,
  /**
   * A snapshot of an instance.
   *
   * @since 0.1.0
   * @category models
   */
  Snapshot
}

/**
 * The writable fields of a snapshot.
 *
 * @since 0.1.0
 * @category models
 */
export interface SnapshotPut {
  readonly expires_at: string
}

/**
 * @since 0.1.0
 * @category options
 */
export interface CreateOptions {
  /** The snapshot's name; the server picks one (`snap0`, `snap1`, ...) when absent. */
  readonly name?: string | undefined
  /** Keep the running state (needs CRIU on the server for containers). */
  readonly stateful?: boolean | undefined
  /** When the server deletes the snapshot by itself. */
  readonly expiresAt?: Date | string | undefined
}

/**
 * @since 0.1.0
 * @category options
 */
export interface CopyOptions {
  readonly profiles?: ReadonlyArray<string> | undefined
  readonly config?: Readonly<Record<string, string>> | undefined
  readonly devices?: Readonly<Record<string, Readonly<Record<string, string>>>> | undefined
  readonly ephemeral?: boolean | undefined
  readonly description?: string | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** Names of the instance's snapshots. */
  readonly listNames: (instance: string) => Effect.Effect<ReadonlyArray<string>, RequestError>
  /** The instance's snapshots, as objects. */
  readonly list: (instance: string) => Effect.Effect<ReadonlyArray<Snapshot>, RequestError>
  readonly get: (instance: string, name: string) => Effect.Effect<Snapshot, RequestError>
  readonly exists: (instance: string, name: string) => Effect.Effect<boolean, RequestError>
  /** Take a snapshot and wait for it; returns it (with the server's name when none was given). */
  readonly create: (
    instance: string,
    options?: CreateOptions
  ) => Effect.Effect<Snapshot, RequestError | InvalidArgument>
  /** Start taking a snapshot; returns the operation without waiting. */
  readonly createOperation: (instance: string, options?: CreateOptions) => Effect.Effect<Operation, RequestError>
  readonly rename: (instance: string, name: string, newName: string) => Effect.Effect<void, RequestError>
  readonly put: (
    instance: string,
    name: string,
    body: SnapshotPut,
    options?: { readonly etag?: string | undefined }
  ) => Effect.Effect<void, RequestError>
  /** Read with the ETag, apply `f`, write back; retries on 412. */
  readonly update: (
    instance: string,
    name: string,
    f: (current: SnapshotPut) => SnapshotPut,
    options?: UpdateOptions
  ) => Effect.Effect<void, RequestError>
  readonly delete: (instance: string, name: string) => Effect.Effect<void, RequestError>
  /** Roll the instance back to the snapshot. */
  readonly restore: (
    instance: string,
    name: string,
    options?: { readonly stateful?: boolean | undefined }
  ) => Effect.Effect<void, RequestError>
  /** Publish the snapshot as an image. */
  readonly publish: (instance: string, name: string, options?: PublishOptions) => Effect.Effect<Image, RequestError>
  /** Make a new instance from the snapshot; returns the new instance's name. */
  readonly copy: (
    instance: string,
    name: string,
    newInstance: string,
    options?: CopyOptions
  ) => Effect.Effect<string, RequestError>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class Snapshots extends Context.Tag("effect-lxd/Snapshots")<Snapshots, Service>() {}

const checkName = (name: string) =>
  name.length === 0 || name.includes("/")
    ? Effect.fail(new InvalidArgument({ argument: "snapshot name", reason: "must be non-empty and without '/'" }))
    : Effect.void

/**
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Service, never, LxdHttp | Operations> = Effect.gen(function*() {
  const http = yield* LxdHttp
  const ops = yield* Operations
  const listPath = (instance: string) => path`/1.0/instances/${instance}/snapshots`
  const snapPath = (instance: string, name: string) => path`/1.0/instances/${instance}/snapshots/${name}`

  const listNames = (instance: string) =>
    http.sync({ method: "GET", path: listPath(instance) }, Schema.Array(Schema.String)).pipe(
      Effect.map((urls) => urls.map(nameFromUrl))
    )

  const list = (instance: string) =>
    http.sync({ method: "GET", path: listPath(instance), query: { recursion: 1 } }, Schema.Array(Snapshot))

  const get = (instance: string, name: string) => http.sync({ method: "GET", path: snapPath(instance, name) }, Snapshot)

  const createBody = (options: CreateOptions | undefined) => ({
    ...(options?.name === undefined ? {} : { name: options.name }),
    stateful: options?.stateful ?? false,
    ...(options?.expiresAt === undefined ? {} : { expires_at: isoDate(options.expiresAt) })
  })

  const create = (instance: string, options?: CreateOptions) =>
    Effect.gen(function*() {
      if (options?.name !== undefined) yield* checkName(options.name)
      const outcome = yield* ops.run({ method: "POST", path: listPath(instance), body: createBody(options) })
      if (options?.name !== undefined) return yield* get(instance, options.name)
      // LXD 5.0 and Incus 6.0 do not name the new snapshot in the operation: the newest one is it
      const entity = outcome._tag === "Async" ? outcome.operation.metadata?.["entity_url"] : undefined
      if (typeof entity === "string" && entity.length > 0) return yield* get(instance, nameFromUrl(entity))
      const all = yield* list(instance)
      const newest = [...all].sort((a, b) => a.created_at.localeCompare(b.created_at)).pop()
      if (newest === undefined) {
        return yield* Effect.fail(
          new DecodeError({ method: "POST", path: listPath(instance), reason: "the new snapshot is not listed" })
        )
      }
      return newest
    })

  const createOperation = (instance: string, options?: CreateOptions) =>
    ops.startOperation({ method: "POST", path: listPath(instance), body: createBody(options) })

  const rename = (instance: string, name: string, newName: string) =>
    Effect.asVoid(ops.run({ method: "POST", path: snapPath(instance, name), body: { name: newName } }))

  const put = (instance: string, name: string, body: SnapshotPut, options?: { readonly etag?: string | undefined }) =>
    writeJson(ops, "PUT", snapPath(instance, name), body, options?.etag)

  const update = (instance: string, name: string, f: (current: SnapshotPut) => SnapshotPut, options?: UpdateOptions) =>
    optimisticUpdate(
      Effect.map(
        http.syncWithEtag({ method: "GET", path: snapPath(instance, name) }, Snapshot),
        ({ etag, value }) => ({ value: { expires_at: value.expires_at ?? "0001-01-01T00:00:00Z" }, etag })
      ),
      f,
      (body, etag) => writeJson(ops, "PUT", snapPath(instance, name), body, etag),
      options
    )

  const del = (instance: string, name: string) =>
    Effect.asVoid(ops.run({ method: "DELETE", path: snapPath(instance, name) }))

  const restore = (instance: string, name: string, options?: { readonly stateful?: boolean | undefined }) =>
    Effect.asVoid(ops.run({
      method: "PUT",
      path: path`/1.0/instances/${instance}`,
      body: { restore: name, stateful: options?.stateful ?? false }
    }))

  const publish = (instance: string, name: string, options?: PublishOptions) =>
    publishImage(http, ops, { type: "snapshot", name: `${instance}/${name}` }, options)

  const copy = (instance: string, name: string, newInstance: string, options?: CopyOptions) =>
    Effect.gen(function*() {
      // LXD 5.0 gives a copy no profiles unless told: default to the snapshot's, as `lxc copy` does
      const profiles = options?.profiles ?? (yield* get(instance, name)).profiles
      yield* ops.run({
        method: "POST",
        path: "/1.0/instances",
        body: {
          name: newInstance,
          source: { type: "copy", source: `${instance}/${name}` },
          profiles,
          ...(options?.config === undefined ? {} : { config: options.config }),
          ...(options?.devices === undefined ? {} : { devices: options.devices }),
          ...(options?.ephemeral === undefined ? {} : { ephemeral: options.ephemeral }),
          ...(options?.description === undefined ? {} : { description: options.description })
        }
      })
      return newInstance
    })

  return Snapshots.of(traced("Snapshots", {
    listNames,
    list,
    get,
    exists: (instance, name) =>
      get(instance, name).pipe(Effect.as(true), Effect.catchTag("NotFound", () => Effect.succeed(false))),
    create,
    createOperation,
    rename,
    put,
    update,
    delete: del,
    restore,
    publish,
    copy
  }, { nameAttribute: "lxd.instance" }))
})

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Snapshots, never, LxdHttp | Operations> = Layer.effect(Snapshots, make)
