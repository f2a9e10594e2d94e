/**
 * Projects (`/1.0/projects`): separate namespaces for instances, images, profiles,
 * volumes and networks, with their own limits.
 *
 * Which resources a project keeps to itself is its *features* config
 * (`features.profiles`, `features.storage.volumes`, ...); `create` takes them typed. Run
 * any code inside a project with `Lxd.withProject(name)`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Lxd, Projects } from "effect-lxd"
 *
 * const program = Effect.gen(function* () {
 *   const projects = yield* Projects.Projects
 *   yield* projects.create({ name: "staging", features: { profiles: true, storageVolumes: true } })
 *   const state = yield* projects.state("staging")
 *   console.log(state.resources["instances"])
 * })
 * // everything in `work` then runs in the project:
 * // Lxd.withProject("staging")(work)
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { traced } from "./internal/tracing.js"
import { optionalConfig, optionalString, optionalStrings } from "./internal/models/fields.js"
import { path } from "./internal/path.js"
import { defined, exists, listNames, run } from "./internal/resource.js"
import { optimisticUpdate, type UpdateOptions } from "./internal/update.js"
import { LxdHttp } from "./LxdHttp.js"
import type { ExtensionNotAvailable, RequestError } from "./LxdError.js"
import { Operations } from "./Operations.js"

/**
 * A project as LXD returns it.
 *
 * @since 0.1.0
 * @category models
 */
export class Project extends Schema.Class<Project>("effect-lxd/Project")({
  name: Schema.String,
  description: optionalString,
  config: optionalConfig,
  used_by: optionalStrings
}) {}

/**
 * One resource's usage and limit in a project (`-1` means no limit).
 *
 * @since 0.1.0
 * @category models
 */
export const ProjectStateResource = Schema.Struct({
  Limit: Schema.Number,
  Usage: Schema.Number
})

/**
 * `GET /1.0/projects/<name>/state`: usage and limits per resource (`containers`, `cpu`,
 * `disk`, `instances`, `memory`, `networks`, `processes`, `virtual-machines`, ...).
 *
 * @since 0.1.0
 * @category models
 */
export class ProjectState extends Schema.Class<ProjectState>("effect-lxd/ProjectState")({
  resources: Schema.optionalWith(Schema.Record({ key: Schema.String, value: ProjectStateResource }), {
    default: () => ({})
  })
}) {}

/**
 * The writable fields of a project.
 *
 * @since 0.1.0
 * @category models
 */
export interface ProjectPut {
  readonly description: string
  readonly config: Readonly<Record<string, string>>
}

/**
 * Which resources a project keeps to itself (each maps to a `features.*` config key).
 * Features can only change while the project is empty.
 *
 * @since 0.1.0
 * @category models
 */
export interface ProjectFeatures {
  /** `features.images` */
  readonly images?: boolean | undefined
  /** `features.profiles` */
  readonly profiles?: boolean | undefined
  /** `features.storage.volumes` */
  readonly storageVolumes?: boolean | undefined
  /** `features.storage.buckets` (servers with `storage_buckets`) */
  readonly storageBuckets?: boolean | undefined
  /** `features.networks` */
  readonly networks?: boolean | undefined
  /** `features.networks.zones` (servers with `projects_networks_zones`) */
  readonly networkZones?: boolean | undefined
}

const featureKeys: Record<keyof ProjectFeatures, string> = {
  images: "features.images",
  profiles: "features.profiles",
  storageVolumes: "features.storage.volumes",
  storageBuckets: "features.storage.buckets",
  networks: "features.networks",
  networkZones: "features.networks.zones"
}

/**
 * The `features.*` config keys for a set of features.
 *
 * @since 0.1.0
 * @category utils
 */
export const featuresConfig = (features: ProjectFeatures): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const [key, configKey] of Object.entries(featureKeys)) {
    const value = features[key as keyof ProjectFeatures]
    if (value !== undefined) out[configKey] = value ? "true" : "false"
  }
  return out
}

/**
 * @since 0.1.0
 * @category options
 */
export interface CreateOptions {
  readonly name: string
  readonly description?: string | undefined
  /** Any project config (`limits.*`, `restricted.*`, `features.*`). */
  readonly config?: Readonly<Record<string, string>> | undefined
  /** Features, merged over `config`. */
  readonly features?: ProjectFeatures | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** Every project, in full. */
  readonly list: Effect.Effect<ReadonlyArray<Project>, RequestError>
  /** The names of every project. */
  readonly listNames: Effect.Effect<ReadonlyArray<string>, RequestError>
  readonly get: (name: string) => Effect.Effect<Project, RequestError>
  readonly exists: (name: string) => Effect.Effect<boolean, RequestError>
  /** Create a project and return it as the server stored it. */
  readonly create: (options: CreateOptions) => Effect.Effect<Project, RequestError>
  /** Replace the writable fields (`PUT`), optionally guarded by an ETag. */
  readonly put: (
    name: string,
    body: ProjectPut,
    options?: { readonly etag?: string | undefined }
  ) => Effect.Effect<void, RequestError>
  /** Change some fields (`PATCH`); `config` keys are merged. */
  readonly patch: (name: string, changes: Partial<ProjectPut>) => Effect.Effect<void, RequestError>
  /** Read with the ETag, apply `f`, write back with `If-Match`; retries on 412. */
  readonly update: (
    name: string,
    f: (current: ProjectPut) => ProjectPut,
    options?: UpdateOptions
  ) => Effect.Effect<void, RequestError>
  readonly rename: (name: string, newName: string) => Effect.Effect<void, RequestError>
  /**
   * Delete a project. It must be empty, unless `force` is set: then the server deletes
   * everything in it first (extension `projects_force_delete`, else
   * `ExtensionNotAvailable`).
   */
  readonly delete: (
    name: string,
    options?: { readonly force?: boolean | undefined }
  ) => Effect.Effect<void, RequestError | ExtensionNotAvailable>
  /** Usage and limits (extension `project_usage`). */
  readonly state: (name: string) => Effect.Effect<ProjectState, RequestError | ExtensionNotAvailable>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class Projects extends Context.Tag("effect-lxd/Projects")<Projects, Service>() {}

/**
 * The writable part of a project.
 *
 * @since 0.1.0
 * @category utils
 */
export const toPut = (p: Project): ProjectPut => ({ description: p.description, config: p.config })

/**
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Service, never, LxdHttp | Operations> = Effect.gen(function*() {
  const http = yield* LxdHttp
  const ops = yield* Operations
  // projects are server-wide: never send `?project=` for them
  const global = { project: null } as const
  const one = (name: string) => path`/1.0/projects/${name}`

  const get = (name: string) => http.sync({ method: "GET", path: one(name), ...global }, Project)

  const put = (name: string, body: ProjectPut, options?: { readonly etag?: string | undefined }) =>
    run(ops, { method: "PUT", path: one(name), body, etag: options?.etag, ...global })

  const create = (options: CreateOptions) =>
    Effect.zipRight(
      run(ops, {
        method: "POST",
        path: "/1.0/projects",
        ...global,
        body: defined({
          name: options.name,
          description: options.description,
          config: { ...options.config, ...(options.features ? featuresConfig(options.features) : {}) }
        })
      }),
      get(options.name)
    )

  const del = (name: string, options?: { readonly force?: boolean | undefined }) =>
    Effect.zipRight(
      options?.force ? http.requireExtension("projects_force_delete") : Effect.void,
      run(ops, {
        method: "DELETE",
        path: one(name),
        ...global,
        ...(options?.force ? { query: { force: "true" } } : {})
      })
    )

  return Projects.of(traced("Projects", {
    list: http.sync({ method: "GET", path: "/1.0/projects", query: { recursion: 1 }, ...global }, Schema.Array(Project)),
    listNames: listNames(http, { path: "/1.0/projects", ...global }),
    get,
    exists: (name) => exists(get(name)),
    create,
    put,
    patch: (name, changes) => run(ops, { method: "PATCH", path: one(name), body: changes, ...global }),
    update: (name, f, options) =>
      optimisticUpdate(
        Effect.map(http.syncWithEtag({ method: "GET", path: one(name), ...global }, Project), ({ etag, value }) => ({
          value: toPut(value),
          etag
        })),
        f,
        (body, etag) => put(name, body, { etag }),
        options
      ),
    rename: (name, newName) => run(ops, { method: "POST", path: one(name), body: { name: newName }, ...global }),
    delete: del,
    state: (name) =>
      Effect.zipRight(
        http.requireExtension("project_usage"),
        http.sync({ method: "GET", path: path`/1.0/projects/${name}/state`, ...global }, ProjectState)
      )
  }))
})

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Projects, never, LxdHttp | Operations> = Layer.effect(Projects, make)
