/**
 * Moving an instance inside one server or cluster (`Migration.relocate`): to another
 * cluster member, storage pool or project, with LXD's migration fields on
 * `POST /1.0/instances/<name>`; and, for a server without `instance_pool_move` or
 * `instance_project_move`, the copy-then-delete the `lxc` client falls back to.
 */
import * as Effect from "effect/Effect"
import { type ExtensionNotAvailable, InvalidArgument, type RequestError } from "../LxdError.js"
import type { Service as Http } from "../LxdHttp.js"
import type { RelocateOptions } from "../Migration.js"
import type { Service as Ops } from "../Operations.js"
import { createBody, instancePath } from "./instances-body.js"
import { Instance } from "./models/instance.js"

type Devices = Readonly<Record<string, Readonly<Record<string, string>>>>

/** The options when they name somewhere to go, otherwise why not (before any request). */
export const validateRelocate = (options: RelocateOptions): Effect.Effect<RelocateOptions, InvalidArgument> =>
  options.member === undefined && options.pool === undefined && options.project === undefined
    ? Effect.fail(
      new InvalidArgument({
        argument: "options",
        reason: "name a member, a pool or a project to move to (a plain rename is Instances.rename)"
      })
    )
    : options.name !== undefined && (options.name.length === 0 || options.name.includes("/"))
    ? Effect.fail(new InvalidArgument({ argument: "name", reason: "must be non-empty and without '/'" }))
    : Effect.succeed(options)

/** The body of the server-side move: `POST /1.0/instances/<name>` with `migration: true`. */
export const relocateBody = (name: string, options: RelocateOptions): Record<string, unknown> => ({
  name: options.name ?? name,
  migration: true,
  live: false,
  ...(options.pool === undefined ? {} : { pool: options.pool }),
  ...(options.project === undefined ? {} : { project: options.project }),
  ...(options.instanceOnly === undefined
    ? {}
    : { instance_only: options.instanceOnly, container_only: options.instanceOnly }),
  ...(options.allowInconsistent === undefined ? {} : { allow_inconsistent: options.allowInconsistent })
})

/** The API extensions a server-side move needs for these options. */
export const relocateExtensions = (options: RelocateOptions): ReadonlyArray<string> => [
  ...(options.member === undefined ? [] : ["clustering"]),
  ...(options.pool === undefined ? [] : ["instance_pool_move"]),
  ...(options.project === undefined ? [] : ["instance_project_move"]),
  ...(options.allowInconsistent ? ["instance_allow_inconsistent_copy"] : [])
]

/**
 * The instance's own devices with its root disk on `pool`: the root disk device (from the
 * instance or, when it comes from a profile, from the expanded devices) is copied into the
 * instance's devices with the new pool.
 */
export const devicesOnPool = (local: Devices, expanded: Devices, pool: string): Devices => {
  const isRoot = (d: Readonly<Record<string, string>>) => d["type"] === "disk" && d["path"] === "/"
  const key = Object.keys(local).find((k) => isRoot(local[k]!)) ??
    Object.keys(expanded).find((k) => isRoot(expanded[k]!)) ?? "root"
  const root = local[key] ?? expanded[key] ?? { type: "disk", path: "/" }
  return { ...local, [key]: { ...root, pool } }
}

/** The temporary name of the copy when a pool move keeps name and project. */
export const relocatingName = (name: string): string => `${name.slice(0, 50)}-relocating`

/**
 * What `lxc` does on a server that cannot move across pools or projects itself: copy the
 * instance (keeping its `volatile.*` keys) to the new pool or project, delete the
 * original, and rename the copy when it had to take a temporary name.
 */
export const relocateByCopy = (
  http: Http,
  ops: Ops,
  name: string,
  options: RelocateOptions
): Effect.Effect<void, RequestError | ExtensionNotAvailable> =>
  Effect.gen(function*() {
    if (options.project !== undefined) yield* http.requireExtension("container_copy_project")
    const source = yield* http.sync({ method: "GET", path: instancePath(name) }, Instance)
    const finalName = options.name ?? name
    const temporary = options.project === undefined && finalName === name
    const copyName = temporary ? relocatingName(name) : finalName
    yield* ops.run({
      method: "POST",
      path: "/1.0/instances",
      ...(options.project === undefined ? {} : { project: options.project }),
      body: createBody({
        name: copyName,
        type: source.type === "virtual-machine" ? "virtual-machine" : "container",
        source: {
          type: "copy",
          source: name,
          instanceOnly: options.instanceOnly,
          allowInconsistent: options.allowInconsistent,
          ...(source.project === undefined ? {} : { project: source.project })
        },
        profiles: source.profiles,
        devices: options.pool === undefined
          ? source.devices
          : devicesOnPool(source.devices, source.expanded_devices, options.pool),
        config: source.config,
        ephemeral: source.ephemeral,
        description: source.description
      })
    })
    yield* ops.run({ method: "DELETE", path: instancePath(name) })
    if (temporary) yield* ops.run({ method: "POST", path: instancePath(copyName), body: { name: finalName } })
  })

/**
 * Move an instance inside its server or cluster and read it back at its new place: the
 * server-side move when the server has the extensions, otherwise (pool or project only)
 * the copy-then-delete fallback.
 */
export const relocate = (
  http: Http,
  ops: Ops,
  name: string,
  given: RelocateOptions
): Effect.Effect<Instance, RequestError | ExtensionNotAvailable | InvalidArgument> =>
  Effect.gen(function*() {
    const options = yield* validateRelocate(given)
    const needed = relocateExtensions(options)
    const missing = yield* Effect.filter(needed, (e) => Effect.map(http.hasExtension(e), (has) => !has))
    const fallback = options.member === undefined && missing.length > 0 &&
      missing.every((e) => e === "instance_pool_move" || e === "instance_project_move")
    if (fallback) {
      yield* relocateByCopy(http, ops, name, options)
    } else {
      yield* Effect.forEach(needed, http.requireExtension, { discard: true })
      // LXD 5.0 moves the project but ignores `?target=` when both come in one request:
      // change member first, then pool and project
      const steps: ReadonlyArray<RelocateOptions> =
        options.member !== undefined && (options.pool !== undefined || options.project !== undefined)
          ? [
            { member: options.member, name: options.name, instanceOnly: options.instanceOnly },
            { ...options, member: undefined, name: undefined }
          ]
          : [options]
      let current = name
      for (const step of steps) {
        yield* ops.run({
          method: "POST",
          path: instancePath(current),
          body: relocateBody(current, step),
          ...(step.member === undefined ? {} : { target: step.member })
        })
        current = step.name ?? current
      }
    }
    return yield* http.sync(
      {
        method: "GET",
        path: instancePath(options.name ?? name),
        ...(options.project === undefined ? {} : { project: options.project })
      },
      Instance
    )
  })
