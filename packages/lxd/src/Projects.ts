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
import { collection } from "./internal/collection.js"
import { optionalConfig, optionalString, optionalStrings } from "./internal/models/fields.js"
import { path } from "./internal/path.js"
import { defined } from "./internal/resource.js"
import { traced } from "./internal/tracing.js"
import type { ExtensionNotAvailable, RequestError } from "./LxdError.js"
import { LxdHttp } from "./LxdHttp.js"
import { Operations } from "./Operations.js"
import type * as Resource from "./Resource.js"

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
export interface Service extends Omit<Resource.Collection<Project, ProjectPut, CreateOptions>, "delete"> {
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
  const one = (name: string) => path`/1.0/projects/${name}`
  const { calls: projects, write } = collection(http, yield* Operations, {
    collection: () => "/1.0/projects",
    item: one,
    schema: Project,
    toPut,
    createBody: (options: CreateOptions) =>
      defined({
        name: options.name,
        description: options.description,
        config: { ...options.config, ...(options.features ? featuresConfig(options.features) : {}) }
      }),
    createdName: (options) => options.name,
    // projects are server-wide: never send `?project=` for them
    scope: "server"
  })

  return Projects.of(traced("Projects", {
    ...projects,
    delete: (name, options) =>
      Effect.zipRight(
        options?.force ? http.requireExtension("projects_force_delete") : Effect.void,
        write({ method: "DELETE", path: one(name), ...(options?.force ? { query: { force: "true" } } : {}) })
      ),
    state: (name) =>
      Effect.zipRight(
        http.requireExtension("project_usage"),
        http.sync({ method: "GET", path: `${one(name)}/state`, project: null }, ProjectState)
      )
  }))
})

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Projects, never, LxdHttp | Operations> = Layer.effect(Projects, make)
