/**
 * Work that spans two servers: copy or move an instance to another server (the target
 * pulls it over LXD's migration protocol), and copy an image to another server (a private
 * image travels with a one-off secret). The other server is given as its `LxdHttp.Service`
 * (another connection); this server must be reachable from it over HTTPS
 * (`core.https_address`), and the target pins this server's certificate.
 *
 * @example
 * ```ts
 * import { Context, Effect, Layer } from "effect"
 * import { Lxd, LxdHttp, Migration } from "effect-lxd"
 *
 * const program = Effect.gen(function* () {
 *   const migration = yield* Migration.Migration
 *   // the target: a second connection, here from the INCUS_* settings
 *   const target = Context.get(yield* Layer.build(LxdHttp.layerConfig(LxdHttp.config("INCUS"))), LxdHttp.LxdHttp)
 *   yield* migration.copyInstance("web1", target, { name: "web1-copy", instanceOnly: true })
 *   yield* migration.moveInstance("web2", target)
 * })
 *
 * export const main = () => Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(Lxd.layerConfig())))
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { DownloadOptions } from "./Images.js"
import type { CopyOptions } from "./Instances.js"
import { createImageOn, imageCopyAliases, imageCopyBody, imageSecret } from "./internal/images-remote.js"
import { createBody, instancePath } from "./internal/instances-body.js"
import {
  migrationSecrets,
  migrationSourceBody,
  migrationTargetOptions,
  remoteEndpoint
} from "./internal/instances-remote.js"
import { Image } from "./internal/models/image.js"
import { Instance } from "./internal/models/instance.js"
import { path } from "./internal/path.js"
import { traced } from "./internal/tracing.js"
import type { InvalidArgument, RequestError } from "./LxdError.js"
import { LxdHttp, type Service as LxdHttpService } from "./LxdHttp.js"
import { make as makeOperations, Operations } from "./Operations.js"

/**
 * @since 0.1.0
 * @category options
 */
export interface CopyInstanceOptions extends CopyOptions {
  /** The name on the target (default: the same). */
  readonly name?: string | undefined
  /** Live migration of a running instance (needs CRIU). */
  readonly live?: boolean | undefined
  /** Keep `volatile.*` keys (default: kept for a move, dropped for a copy). */
  readonly keepVolatile?: boolean | undefined
}

/**
 * @since 0.1.0
 * @category options
 */
export interface CopyImageOptions extends DownloadOptions {
  /** Copy the image's aliases too (in addition to `aliases`). */
  readonly copyAliases?: boolean | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /**
   * Copy a (stopped) instance to `target`: the target pulls it from this server over
   * LXD's migration protocol. Returns the instance as the target has it.
   */
  readonly copyInstance: (
    name: string,
    target: LxdHttpService,
    options?: CopyInstanceOptions
  ) => Effect.Effect<Instance, RequestError | InvalidArgument>
  /** `copyInstance` (keeping `volatile.*` keys), then delete the instance here. */
  readonly moveInstance: (
    name: string,
    target: LxdHttpService,
    options?: CopyInstanceOptions
  ) => Effect.Effect<Instance, RequestError | InvalidArgument>
  /**
   * Copy an image to `target`: the target pulls it from this server. A private image
   * travels with a one-off secret, revoked once the copy is done or has failed.
   */
  readonly copyImage: (
    fingerprint: string,
    target: LxdHttpService,
    options?: CopyImageOptions
  ) => Effect.Effect<Image, RequestError | InvalidArgument>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class Migration extends Context.Tag("effect-lxd/Migration")<Migration, Service>() {}

/**
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Service, never, LxdHttp | Operations> = Effect.gen(function*() {
  const http = yield* LxdHttp
  const ops = yield* Operations
  const opsOn = (target: LxdHttpService) => Effect.provideService(makeOperations, LxdHttp, target)

  const migrate = (name: string, target: LxdHttpService, options: CopyInstanceOptions | undefined, move: boolean) =>
    Effect.gen(function*() {
      const source = yield* http.sync({ method: "GET", path: instancePath(name) }, Instance)
      const endpoint = yield* remoteEndpoint(http)
      const targetOps = yield* opsOn(target)
      const sourceOp = yield* ops.startOperation({
        method: "POST",
        path: instancePath(name),
        body: migrationSourceBody(options)
      })
      const wanted = migrationTargetOptions(source, options, move, {
        endpoint,
        operationId: sourceOp.id,
        secrets: migrationSecrets(sourceOp.metadata)
      })
      yield* Effect.all([
        targetOps.run({ method: "POST", path: "/1.0/instances", body: createBody(wanted) }),
        ops.wait(sourceOp)
      ], { concurrency: 2, discard: true }).pipe(
        // a target that failed leaves the source operation waiting for connections
        Effect.tapError(() => Effect.ignore(ops.cancel(sourceOp.id)))
      )
      return yield* target.sync({ method: "GET", path: instancePath(wanted.name ?? name) }, Instance)
    })

  const copyInstance = (name: string, target: LxdHttpService, options?: CopyInstanceOptions) =>
    migrate(name, target, options, false)

  const moveInstance = (name: string, target: LxdHttpService, options?: CopyInstanceOptions) =>
    Effect.tap(migrate(name, target, options, true), () => ops.run({ method: "DELETE", path: instancePath(name) }))

  const copyImage = (fingerprint: string, target: LxdHttpService, options?: CopyImageOptions) =>
    Effect.gen(function*() {
      const image = yield* http.sync({ method: "GET", path: path`/1.0/images/${fingerprint}` }, Image)
      const endpoint = yield* remoteEndpoint(http)
      const secret = image.public ? undefined : yield* imageSecret(http, image.fingerprint)
      const body = imageCopyBody(image, endpoint, secret?.secret, options)
      return yield* createImageOn(target, yield* opsOn(target), body, imageCopyAliases(image, options)).pipe(
        // the secret is single-use for the target; revoke it whatever happened
        Effect.ensuring(
          secret === undefined || secret.operationId === ""
            ? Effect.void
            : Effect.ignore(ops.cancel(secret.operationId))
        )
      )
    })

  return Migration.of({
    ...traced("Migration", { copyInstance, moveInstance }, { nameAttribute: "lxd.instance" }),
    ...traced("Migration", { copyImage }, { nameAttribute: "lxd.image" })
  })
})

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Migration, never, LxdHttp | Operations> = Layer.effect(Migration, make)
