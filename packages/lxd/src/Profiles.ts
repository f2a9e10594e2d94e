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
import { collection } from "./internal/collection.js"
import { optionalConfig, optionalDevices, optionalString, optionalStrings } from "./internal/models/fields.js"
import { path } from "./internal/path.js"
import { defined } from "./internal/resource.js"
import { traced } from "./internal/tracing.js"
import type { RequestError } from "./LxdError.js"
import { LxdHttp } from "./LxdHttp.js"
import { Operations } from "./Operations.js"
import type * as Resource from "./Resource.js"

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
 * The calls of `Resource.Collection` (`patch` changes only the given fields; `config`
 * and `devices` keys are merged), plus `usedBy`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service extends Resource.Collection<Profile, ProfilePut, CreateOptions> {
  /** Every profile, in full (of every project with `allProjects`). */
  readonly list: (options?: ListOptions) => Effect.Effect<ReadonlyArray<Profile>, RequestError>
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
  const { calls: profiles, listWhere } = collection(yield* LxdHttp, yield* Operations, {
    collection: () => "/1.0/profiles",
    item: (name: string) => path`/1.0/profiles/${name}`,
    schema: Profile,
    toPut,
    createBody: (options: CreateOptions) =>
      defined({
        name: options.name,
        description: options.description,
        config: options.config ?? {},
        devices: options.devices ?? {}
      }),
    createdName: (options) => options.name,
    // LXD's profile PATCH merges the keys of both maps
    patch: { merged: ["config", "devices"] }
  })

  return Profiles.of(traced("Profiles", {
    ...profiles,
    list: (options) => listWhere([], options?.allProjects ? { "all-projects": true } : {}),
    usedBy: (name) => Effect.map(profiles.get(name), (p) => p.used_by)
  }))
})

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Profiles, never, LxdHttp | Operations> = Layer.effect(Profiles, make)
