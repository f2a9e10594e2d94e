/**
 * Pure helpers of `Instances` (and of `InstanceBackups` and `Migration`, which create
 * instances too): request bodies, validation, and the name a creation produced. Nothing
 * here talks to a server.
 */
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import type {
  CopyOptions,
  CreateOptions,
  InstancePut,
  InstanceSource,
  InstanceType,
  ListOptions,
  StateAction,
  StateOptions
} from "../Instances.js"
import { DecodeError, InvalidArgument, NotFound } from "../LxdError.js"
import type { Outcome } from "../Operations.js"
import { filterExpression } from "./instances-query.js"
import type { Instance } from "./models/instance.js"
import { nameFromUrl, path } from "./path.js"
import { checkNewName } from "./validation.js"

/** `/1.0/instances/<name>`, the name as one encoded segment. */
export const instancePath = (name: string): string => path`/1.0/instances/${name}`

/** `instance_only`, and LXD's older spelling `container_only`, when given. */
const instanceOnlyFields = (instanceOnly: boolean | undefined): Record<string, boolean> =>
  instanceOnly === undefined ? {} : { instance_only: instanceOnly, container_only: instanceOnly }

/** `refresh` and `allow_inconsistent`, when given. */
const copyFlagFields = (
  source: { readonly refresh?: boolean | undefined; readonly allowInconsistent?: boolean | undefined }
): Record<string, boolean> => ({
  ...(source.refresh === undefined ? {} : { refresh: source.refresh }),
  ...(source.allowInconsistent === undefined ? {} : { allow_inconsistent: source.allowInconsistent })
})

/**
 * The API extensions a copy or migration needs for the options it was given: `refresh`
 * needs `container_incremental_copy`, `allowInconsistent` needs
 * `instance_allow_inconsistent_copy` (a server without them would ignore the field).
 */
export const copyExtensions = (
  options: { readonly refresh?: boolean | undefined; readonly allowInconsistent?: boolean | undefined } | undefined
): ReadonlyArray<string> => [
  ...(options?.refresh ? ["container_incremental_copy"] : []),
  ...(options?.allowInconsistent ? ["instance_allow_inconsistent_copy"] : [])
]

/** The `source` object of `POST /1.0/instances`. Secrets are unwrapped here. */
export const sourceBody = (source: InstanceSource): Record<string, unknown> => {
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
        ...instanceOnlyFields(source.instanceOnly),
        ...(source.project === undefined ? {} : { project: source.project }),
        ...copyFlagFields(source)
      }
    case "migration":
      return {
        type: "migration",
        mode: "pull",
        operation: source.operation,
        secrets: Object.fromEntries(Object.entries(source.secrets).map(([k, v]) => [k, Redacted.value(v)])),
        ...(source.certificate === undefined ? {} : { certificate: source.certificate }),
        ...instanceOnlyFields(source.instanceOnly),
        ...(source.live === undefined ? {} : { live: source.live }),
        ...copyFlagFields(source)
      }
  }
}

/** The JSON body of `POST /1.0/instances`. Secrets are unwrapped here: never log it. */
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

/** The options when they can create an instance, otherwise why not. */
export const validateCreate = (options: CreateOptions): Either.Either<CreateOptions, InvalidArgument> =>
  Either.flatMap(
    options.name === undefined ? Either.right(undefined) : checkNewName(options.name),
    () =>
      options.source.type === "image" && options.source.alias === undefined &&
        options.source.fingerprint === undefined && options.source.properties === undefined
        ? Either.left(
          new InvalidArgument({
            argument: "source",
            reason: "an image source needs an alias, a fingerprint or properties"
          })
        )
        : Either.right(options)
  )

/** The instance a `copy` source copies (`c1` for `c1/snap0`), otherwise `undefined`. */
export const copiedInstance = (source: InstanceSource): string | undefined =>
  source.type === "copy" ? source.source.split("/")[0] : undefined

/**
 * Whether a creation must be sent with the source's profiles: LXD 5.0 gives a copy no
 * profiles (and so no root disk) unless the request names them, so like `lxc copy` a copy
 * within one project defaults to the source's.
 */
export const needsSourceProfiles = (options: CreateOptions): boolean =>
  options.source.type === "copy" && options.profiles === undefined && options.source.project === undefined

/** The creation `Instances.copy` asks for. */
export const copyCreateOptions = (name: string, newName: string, options: CopyOptions | undefined): CreateOptions => ({
  name: newName,
  source: {
    type: "copy",
    source: name,
    instanceOnly: options?.instanceOnly,
    ...(options?.refresh === undefined ? {} : { refresh: options.refresh }),
    ...(options?.allowInconsistent === undefined ? {} : { allowInconsistent: options.allowInconsistent })
  },
  ...(options?.profiles === undefined ? {} : { profiles: options.profiles }),
  ...(options?.config === undefined ? {} : { config: options.config }),
  ...(options?.devices === undefined ? {} : { devices: options.devices }),
  ...(options?.ephemeral === undefined ? {} : { ephemeral: options.ephemeral }),
  ...(options?.description === undefined ? {} : { description: options.description })
})

/** The query of `GET /1.0/instances` (`recursion` 0, 1, 2 or `2;fields=...`). */
export const listQuery = (options: ListOptions | undefined, recursion: number | string) => ({
  recursion,
  filter: filterExpression(options?.filter),
  ...(options?.type === undefined ? {} : { "instance-type": options.type }),
  ...(options?.allProjects ? { "all-projects": true } : {})
})

const seconds = (d: Duration.DurationInput): number => Math.round(Duration.toSeconds(Duration.decode(d)))

/** The body of `PUT /1.0/instances/<name>/state`. */
export const stateBody = (action: StateAction, options: StateOptions | undefined) => ({
  action,
  // LXD reads a missing timeout as 0, which turns a clean stop into a kill
  timeout: options?.timeout === undefined ? 30 : seconds(options.timeout),
  force: options?.force ?? false,
  stateful: options?.stateful ?? false
})

/** The writable fields of an instance as read. */
export const toPut = (i: Instance): InstancePut => ({
  architecture: i.architecture,
  config: i.config,
  devices: i.devices,
  ephemeral: i.ephemeral,
  profiles: i.profiles,
  description: i.description
})

/** What a typed view answers for an instance of the other type. */
export const wrongType = (name: string, wanted: InstanceType, actual: string): NotFound =>
  new NotFound({
    method: "GET",
    path: instancePath(name),
    resource: `${wanted === "container" ? "Container" : "Virtual machine"} "${name}"`,
    serverMessage: `the instance is a ${actual}, not a ${wanted}`
  })

/**
 * The name of what a finished creation made: `metadata.entity_url` where the server
 * sends it, otherwise the first URL of `resources[collection]` that is not `exclude`
 * (LXD 5.0 and Incus list the new instance there, and for a copy its source too).
 */
export const createdName = (
  outcome: Outcome,
  collection: string,
  exclude?: string | undefined
): string | undefined => {
  if (outcome._tag === "Sync") return outcome.location === undefined ? undefined : nameFromUrl(outcome.location)
  const op = outcome.operation
  const entity = op.metadata?.["entity_url"]
  if (typeof entity === "string" && entity.length > 0) return nameFromUrl(entity)
  const urls = op.resources?.[collection] ?? []
  const names = urls.map(nameFromUrl).filter((n) => n !== exclude)
  return names[0]
}

/**
 * The name of the instance a creation made: `wanted` when the caller chose it, otherwise
 * the one the server reports (a `DecodeError` when it reports none).
 */
export const createdInstanceName = (
  outcome: Outcome,
  wanted: string | undefined,
  exclude: string | undefined
): Either.Either<string, DecodeError> => {
  const name = wanted ?? createdName(outcome, "instances", exclude)
  return name === undefined
    ? Either.left(
      new DecodeError({
        method: "POST",
        path: "/1.0/instances",
        reason: "the server did not say which name it gave the new instance"
      })
    )
    : Either.right(name)
}
