/**
 * The instance calls that need an API extension the oldest servers lack: rebuilding an
 * instance from another image (or as empty), the state change of every instance of a
 * project at once, and the extension checks of the copy options. Used by `Instances`.
 */
import * as Effect from "effect/Effect"
import type { InstanceSource, StateAction, StateOptions } from "../Instances.js"
import { type ExtensionNotAvailable, InvalidArgument, type RequestError } from "../LxdError.js"
import type { Service as Http } from "../LxdHttp.js"
import type { Service as Ops } from "../Operations.js"
import { copyExtensions, instancePath, sourceBody, stateBody } from "./instances-body.js"

/** What an instance can be rebuilt from: an image, or nothing (an empty root file system). */
export type RebuildSource = Extract<InstanceSource, { readonly type: "image" | "none" }>

/** The body of `POST /1.0/instances/<name>/rebuild`. Secrets are unwrapped here: never log it. */
export const rebuildBody = (source: RebuildSource): Record<string, unknown> => ({ source: sourceBody(source) })

/** The source when it can rebuild an instance, otherwise why not (before any request). */
export const validateRebuild = (source: RebuildSource): Effect.Effect<RebuildSource, InvalidArgument> =>
  source.type === "image" && source.alias === undefined && source.fingerprint === undefined &&
    source.properties === undefined
    ? Effect.fail(
      new InvalidArgument({ argument: "source", reason: "an image source needs an alias, a fingerprint or properties" })
    )
    : Effect.succeed(source)

/** The body of `PUT /1.0/instances`: one state change for every instance of the project. */
export const bulkStateBody = (action: StateAction, options: StateOptions | undefined) => ({
  state: stateBody(action, options)
})

/** Fail with `ExtensionNotAvailable` unless the server has every extension in `names`. */
export const requireAll = (
  http: Http,
  names: ReadonlyArray<string>
): Effect.Effect<void, ExtensionNotAvailable> => Effect.forEach(names, http.requireExtension, { discard: true })

/** Check that the server can honour a copy's `refresh` and `allowInconsistent`. */
export const requireCopyExtensions = (
  http: Http,
  options: { readonly refresh?: boolean | undefined; readonly allowInconsistent?: boolean | undefined } | undefined
): Effect.Effect<void, ExtensionNotAvailable> => requireAll(http, copyExtensions(options))

/**
 * `rebuild` and `changeStateAll` of `Instances`, on one connection.
 */
export const makeExtraCalls = (http: Http, ops: Ops) => ({
  rebuild: (name: string, source: RebuildSource): Effect.Effect<
    void,
    RequestError | ExtensionNotAvailable | InvalidArgument
  > =>
    Effect.gen(function*() {
      const valid = yield* validateRebuild(source)
      yield* http.requireExtension("instances_rebuild")
      yield* ops.run({ method: "POST", path: `${instancePath(name)}/rebuild`, body: rebuildBody(valid) })
    }),
  changeStateAll: (
    action: StateAction,
    options?: StateOptions
  ): Effect.Effect<void, RequestError | ExtensionNotAvailable> =>
    Effect.zipRight(
      http.requireExtension("instance_bulk_state_change"),
      Effect.asVoid(ops.run({ method: "PUT", path: "/1.0/instances", body: bulkStateBody(action, options) }))
    )
})
