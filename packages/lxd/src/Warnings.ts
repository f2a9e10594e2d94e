/**
 * Warnings (`/1.0/warnings`, extension `warnings`): problems the server noticed
 * (missing kernel features, failed background tasks), with their status.
 *
 * `list` shows the warnings of every project unless the call runs under
 * `Lxd.withProject`. Acknowledging a warning hides it from `lxc warning list` until it
 * happens again.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Warnings } from "effect-lxd"
 *
 * const ackAll = Effect.gen(function* () {
 *   const warnings = yield* Warnings.Warnings
 *   for (const w of yield* warnings.list()) {
 *     if (w.status === "new") yield* warnings.acknowledge(w.uuid)
 *   }
 * })
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { arrayOf, optionalString } from "./internal/models/fields.js"
import { path } from "./internal/path.js"
import { run } from "./internal/resource.js"
import { traced } from "./internal/tracing.js"
import type { ExtensionNotAvailable, RequestError } from "./LxdError.js"
import { LxdHttp } from "./LxdHttp.js"
import { Operations } from "./Operations.js"

/**
 * A warning's status.
 *
 * @since 0.1.0
 * @category models
 */
export type WarningStatus = "new" | "acknowledged" | "resolved"

/**
 * A warning as LXD returns it.
 *
 * @since 0.1.0
 * @category models
 */
export class Warning extends Schema.Class<Warning>("effect-lxd/Warning")({
  uuid: Schema.String,
  /** `new`, `acknowledged` or `resolved`. */
  status: Schema.String,
  /** What kind of problem, e.g. `Couldn't find the CGroup blkio.weight`. */
  type: Schema.String,
  /** How many times it happened. */
  count: Schema.optionalWith(Schema.Number, { default: () => 0 }),
  first_seen_at: optionalString,
  last_seen_at: optionalString,
  last_message: optionalString,
  /** `low`, `moderate` or `high`. */
  severity: optionalString,
  /** Empty for server-wide warnings. */
  project: optionalString,
  location: optionalString,
  /** The object the warning is about, if any. */
  entity_url: optionalString
}) {}

type Fails<A> = Effect.Effect<A, RequestError | ExtensionNotAvailable>

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** Every warning (of the current project under `withProject`, else of all). */
  readonly list: () => Fails<ReadonlyArray<Warning>>
  readonly get: (uuid: string) => Fails<Warning>
  /** Set a warning's status to `acknowledged`. */
  readonly acknowledge: (uuid: string) => Fails<void>
  /** Set a warning's status (`new` to un-acknowledge). */
  readonly setStatus: (uuid: string, status: WarningStatus) => Fails<void>
  /** Remove a warning (it comes back if the problem happens again). */
  readonly delete: (uuid: string) => Fails<void>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class Warnings extends Context.Tag("effect-lxd/Warnings")<Warnings, Service>() {}

/**
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Service, never, LxdHttp | Operations> = Effect.gen(function*() {
  const http = yield* LxdHttp
  const ops = yield* Operations
  const need = http.requireExtension("warnings")
  // a warning is addressed by its uuid alone, whatever its project
  const one = (uuid: string) => ({ path: path`/1.0/warnings/${uuid}`, project: null }) as const

  const setStatus = (uuid: string, status: WarningStatus) =>
    Effect.zipRight(need, run(ops, { method: "PUT", ...one(uuid), body: { status } }))

  return Warnings.of(traced("Warnings", {
    list: () =>
      Effect.zipRight(
        need,
        http.sync({ method: "GET", path: "/1.0/warnings", query: { recursion: 1 } }, arrayOf(Warning))
      ),
    get: (uuid) => Effect.zipRight(need, http.sync({ method: "GET", ...one(uuid) }, Warning)),
    acknowledge: (uuid) => setStatus(uuid, "acknowledged"),
    setStatus,
    delete: (uuid) => Effect.zipRight(need, run(ops, { method: "DELETE", ...one(uuid) }))
  }))
})

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Warnings, never, LxdHttp | Operations> = Layer.effect(Warnings, make)
