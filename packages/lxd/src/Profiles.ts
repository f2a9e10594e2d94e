/**
 * Profiles (`/1.0/profiles`): reusable configuration and devices for instances.
 *
 * Calls apply to the current project (`Lxd.withProject`). Profile updates became
 * background operations on newer LXD (`storage_and_profile_operations`); every write
 * here waits for the work either way.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Profiles } from "effect-lxd"
 *
 * const program = Effect.gen(function* () {
 *   const profiles = yield* Profiles.Profiles
 *   yield* profiles.create({ name: "small", config: { "limits.memory": "256MiB" } })
 *   yield* profiles.update("small", (p) => ({ ...p, config: { ...p.config, "limits.cpu": "1" } }))
 *   const small = yield* profiles.get("small")
 *   console.log(small.config, small.used_by)
 * })
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { traced } from "./internal/tracing.js"
import { optionalConfig, optionalDevices, optionalString, optionalStrings } from "./internal/models/fields.js"
import { path } from "./internal/path.js"
import { defined, exists, listNames, run } from "./internal/resource.js"
import { optimisticUpdate, type UpdateOptions } from "./internal/update.js"
import { LxdHttp } from "./LxdHttp.js"
import type { RequestError } from "./LxdError.js"
import { Operations } from "./Operations.js"

/**
 * A profile as LXD returns it.
 *
 * @since 0.1.0
 * @category models
 */
export class Profile extends Schema.Class<Profile>("effect-lxd/Profile")({
  name: Schema.String,
  description: optionalString,
  config: optionalConfig,
  devices: optionalDevices,
  /** URLs of the instances (and other resources) using the profile. */
  used_by: optionalStrings,
  project: Schema.optional(Schema.String)
}) {}

/**
 * The writable fields of a profile (`PUT` replaces all three).
 *
 * @since 0.1.0
 * @category models
 */
export interface ProfilePut {
  readonly description: string
  readonly config: Readonly<Record<string, string>>
  readonly devices: Readonly<Record<string, Readonly<Record<string, string>>>>
}

/**
 * @since 0.1.0
 * @category options
 */
export interface CreateOptions {
  readonly name: string
  readonly description?: string | undefined
  readonly config?: Readonly<Record<string, string>> | undefined
  readonly devices?: Readonly<Record<string, Readonly<Record<string, string>>>> | undefined
}

/**
 * @since 0.1.0
 * @category options
 */
export interface ListOptions {
  /** List the profiles of every project (extension `profiles_all_projects`). */
  readonly allProjects?: boolean | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** Every profile, in full. */
  readonly list: (options?: ListOptions) => Effect.Effect<ReadonlyArray<Profile>, RequestError>
  /** The names of every profile. */
  readonly listNames: Effect.Effect<ReadonlyArray<string>, RequestError>
  /** `GET /1.0/profiles/<name>`. */
  readonly get: (name: string) => Effect.Effect<Profile, RequestError>
  /** `true` if the profile exists. */
  readonly exists: (name: string) => Effect.Effect<boolean, RequestError>
  /** Create a profile and return it as the server stored it. */
  readonly create: (options: CreateOptions) => Effect.Effect<Profile, RequestError>
  /** Replace the writable fields (`PUT`), optionally guarded by an ETag. */
  readonly put: (
    name: string,
    body: ProfilePut,
    options?: { readonly etag?: string | undefined }
  ) => Effect.Effect<void, RequestError>
  /** Change some fields (`PATCH`): `config` and `devices` keys are merged. */
  readonly patch: (name: string, changes: Partial<ProfilePut>) => Effect.Effect<void, RequestError>
  /** Read with the ETag, apply `f`, write back with `If-Match`; retries on 412. */
  readonly update: (
    name: string,
    f: (current: ProfilePut) => ProfilePut,
    options?: UpdateOptions
  ) => Effect.Effect<void, RequestError>
  /** Rename a profile (the `default` profile cannot be renamed). */
  readonly rename: (name: string, newName: string) => Effect.Effect<void, RequestError>
  /** Delete a profile (fails while instances use it). */
  readonly delete: (name: string) => Effect.Effect<void, RequestError>
  /** The URLs of what uses the profile (`used_by`). */
  readonly usedBy: (name: string) => Effect.Effect<ReadonlyArray<string>, RequestError>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class Profiles extends Context.Tag("effect-lxd/Profiles")<Profiles, Service>() {}

/**
 * The writable part of a profile.
 *
 * @since 0.1.0
 * @category utils
 */
export const toPut = (p: Profile): ProfilePut => ({ description: p.description, config: p.config, devices: p.devices })

/**
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Service, never, LxdHttp | Operations> = Effect.gen(function*() {
  const http = yield* LxdHttp
  const ops = yield* Operations
  const one = (name: string) => path`/1.0/profiles/${name}`

  const list = (options?: ListOptions) =>
    http.sync(
      {
        method: "GET",
        path: "/1.0/profiles",
        query: { recursion: 1, ...(options?.allProjects ? { "all-projects": true } : {}) }
      },
      Schema.Array(Profile)
    )

  const get = (name: string) => http.sync({ method: "GET", path: one(name) }, Profile)

  const create = (options: CreateOptions) =>
    Effect.zipRight(
      run(ops, {
        method: "POST",
        path: "/1.0/profiles",
        body: defined({
          name: options.name,
          description: options.description,
          config: options.config ?? {},
          devices: options.devices ?? {}
        })
      }),
      get(options.name)
    )

  const put = (name: string, body: ProfilePut, options?: { readonly etag?: string | undefined }) =>
    run(ops, { method: "PUT", path: one(name), body, etag: options?.etag })

  const patch = (name: string, changes: Partial<ProfilePut>) =>
    run(ops, { method: "PATCH", path: one(name), body: changes })

  const update = (name: string, f: (current: ProfilePut) => ProfilePut, options?: UpdateOptions) =>
    optimisticUpdate(
      Effect.map(http.syncWithEtag({ method: "GET", path: one(name) }, Profile), ({ etag, value }) => ({
        value: toPut(value),
        etag
      })),
      f,
      (body, etag) => put(name, body, { etag }),
      options
    )

  return Profiles.of(traced("Profiles", {
    list,
    listNames: listNames(http, { path: "/1.0/profiles" }),
    get,
    exists: (name) => exists(get(name)),
    create,
    put,
    patch,
    update,
    rename: (name, newName) => run(ops, { method: "POST", path: one(name), body: { name: newName } }),
    delete: (name) => run(ops, { method: "DELETE", path: one(name) }),
    usedBy: (name) => Effect.map(get(name), (p) => p.used_by)
  }))
})

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Profiles, never, LxdHttp | Operations> = Layer.effect(Profiles, make)
