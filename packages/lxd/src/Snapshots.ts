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
import { collection } from "./internal/collection.js"
import { isoDate, publishImage, type PublishOptions } from "./internal/images-publish.js"
import { ConfigMap, DeviceMap } from "./internal/models/fields.js"
import type { Image } from "./internal/models/image.js"
import { Snapshot } from "./internal/models/snapshot.js"
import { nameFromUrl, path } from "./internal/path.js"
import { traced } from "./internal/tracing.js"
import { checkNewName } from "./internal/validation.js"
import { DecodeError, InvalidArgument, type RequestError } from "./LxdError.js"
import { LxdHttp } from "./LxdHttp.js"
import { type Operation, Operations } from "./Operations.js"
import type * as Resource from "./Resource.js"

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
export interface Service
  extends
    Resource.Readable<Snapshot, [instance: string]>,
    Resource.Writable<SnapshotPut, [instance: string]>,
    Resource.Renamable<[instance: string]>,
    Resource.Deletable<[instance: string]>
{
  /** Take a snapshot and wait for it; returns it (with the server's name when none was given). */
  readonly create: (
    instance: string,
    options?: CreateOptions
  ) => Effect.Effect<Snapshot, RequestError | InvalidArgument>
  /** Start taking a snapshot; returns the operation without waiting. */
  readonly createOperation: (instance: string, options?: CreateOptions) => Effect.Effect<Operation, RequestError>
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

/**
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Service, never, LxdHttp | Operations> = Effect.gen(function*() {
  const http = yield* LxdHttp
  const ops = yield* Operations
  const listPath = (instance: string) => path`/1.0/instances/${instance}/snapshots`
  const snapPath = (instance: string, name: string) => path`/1.0/instances/${instance}/snapshots/${name}`

  const { calls: crud } = collection(http, ops, {
    collection: listPath,
    item: snapPath,
    schema: Snapshot,
    // a snapshot that never expires reads without `expires_at`; the server writes it as the zero time
    toPut: (snapshot): SnapshotPut => ({ expires_at: snapshot.expires_at ?? "0001-01-01T00:00:00Z" }),
    // `PATCH` on a snapshot is not on every server: `patch` reads, merges and `PUT`s
    patch: { via: "PUT", merged: [] }
  })
  const { get, list } = crud

  const createBody = (options: CreateOptions | undefined) => ({
    ...(options?.name === undefined ? {} : { name: options.name }),
    stateful: options?.stateful ?? false,
    ...(options?.expiresAt === undefined ? {} : { expires_at: isoDate(options.expiresAt) })
  })

  const create = (instance: string, options?: CreateOptions) =>
    Effect.gen(function*() {
      yield* checkCreate(options)
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

  const checkCreate = (options: CreateOptions | undefined) =>
    options?.name === undefined ? Effect.void : checkNewName(options.name, "snapshot name")

  const createOperation = (instance: string, options?: CreateOptions) =>
    Effect.zipRight(
      checkCreate(options),
      ops.startOperation({ method: "POST", path: listPath(instance), body: createBody(options) })
    )

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
    ...crud,
    create,
    createOperation,
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
