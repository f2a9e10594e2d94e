/**
 * Images that come from elsewhere: the body of a pull from a remote source, creating an
 * image on a given server from such a body, and the one-off secret that lets another
 * server read a private image. Shared by `Images` (downloads, secrets) and `Migration`
 * (copies to another server).
 */
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type { AliasSpec, DownloadOptions, ImageSecret, RemoteSource } from "../Images.js"
import { DecodeError, type RequestError } from "../LxdError.js"
import type { Service as LxdHttpService } from "../LxdHttp.js"
import type { CopyImageOptions } from "../Migration.js"
import type { Service as OperationsService } from "../Operations.js"
import type { Operation } from "./envelope.js"
import { aliasBody, fingerprintOf } from "./images-publish.js"
import type { RemoteEndpoint } from "./instances-remote.js"
import { Image } from "./models/image.js"
import { path } from "./path.js"
import { waitStarted } from "./started.js"

/** The JSON body of `POST /1.0/images` pulling from `source`. Secrets are unwrapped here. */
export const remoteImageBody = (source: RemoteSource, options: DownloadOptions | undefined) => ({
  public: options?.public ?? false,
  auto_update: options?.autoUpdate ?? false,
  source: {
    type: "image",
    mode: "pull",
    server: source.server,
    protocol: source.protocol,
    ...(source.alias === undefined ? {} : { alias: source.alias }),
    ...(source.fingerprint === undefined ? {} : { fingerprint: source.fingerprint }),
    ...(source.secret === undefined ? {} : { secret: Redacted.value(source.secret) }),
    ...(source.certificate === undefined ? {} : { certificate: source.certificate }),
    ...(source.imageType === undefined ? {} : { image_type: source.imageType }),
    ...(source.project === undefined ? {} : { project: source.project })
  }
})

/**
 * The body that makes another server pull `image` from this one (at `endpoint`): its
 * flags and properties unless `options` say otherwise.
 */
export const imageCopyBody = (
  image: Image,
  endpoint: RemoteEndpoint,
  secret: Redacted.Redacted<string> | undefined,
  options: CopyImageOptions | undefined
) => ({
  ...remoteImageBody({
    server: endpoint.url,
    protocol: "lxd",
    fingerprint: image.fingerprint,
    certificate: endpoint.certificate,
    imageType: image.type,
    ...(secret === undefined ? {} : { secret })
  }, options),
  public: options?.public ?? image.public,
  auto_update: options?.autoUpdate ?? image.auto_update,
  properties: image.properties,
  filename: image.filename
})

/** The aliases a copy of `image` gets: the ones asked for, and with `copyAliases` its own. */
export const imageCopyAliases = (image: Image, options: CopyImageOptions | undefined): ReadonlyArray<AliasSpec> => [
  ...(options?.aliases ?? []),
  ...(options?.copyAliases ? image.aliases : [])
]

/** `POST /1.0/images` of an image creation (a pull, a publish). */
export const imagesOrigin = { method: "POST", path: "/1.0/images" } as const

/** Start creating an image on `onOps`'s server from a JSON body; the operation, not waited for. */
export const startImageOn = (
  onOps: OperationsService,
  body: Record<string, unknown>
): Effect.Effect<Operation, RequestError> => onOps.startOperation({ ...imagesOrigin, body })

/**
 * Wait for an image creation `op` on `on`, add the aliases, and return the image (what
 * every waiting image creation does after its start).
 */
export const finishImageOn = (
  on: LxdHttpService,
  onOps: OperationsService,
  op: Operation,
  aliases: ReadonlyArray<AliasSpec>
): Effect.Effect<Image, RequestError> =>
  Effect.gen(function*() {
    const outcome = yield* waitStarted(onOps, op, imagesOrigin)
    const fp = yield* fingerprintOf(outcome, imagesOrigin)
    for (const a of aliases) {
      const { description, name } = aliasBody(a)
      yield* on.send({ method: "POST", path: "/1.0/images/aliases", body: { name, target: fp, description } })
    }
    return yield* on.sync({ method: "GET", path: path`/1.0/images/${fp}` }, Image)
  })

/** Create an image on `on` from a JSON body, wait, add the aliases, return the image. */
export const createImageOn = (
  on: LxdHttpService,
  onOps: OperationsService,
  body: Record<string, unknown>,
  aliases: ReadonlyArray<AliasSpec>
): Effect.Effect<Image, RequestError> =>
  Effect.flatMap(startImageOn(onOps, body), (op) => finishImageOn(on, onOps, op, aliases))

const SecretMetadata = Schema.Struct({ secret: Schema.String, fingerprint: Schema.optional(Schema.String) })

/** Ask `http` for a secret that lets an untrusted client (or another server) read image `fp`. */
export const imageSecret = (http: LxdHttpService, fp: string): Effect.Effect<ImageSecret, RequestError> =>
  Effect.gen(function*() {
    const p = path`/1.0/images/${fp}/secret`
    const response = yield* http.send({ method: "POST", path: p, body: {} })
    const op: Operation | undefined = response._tag === "Async" ? response.operation : undefined
    const meta = yield* Schema.decodeUnknown(SecretMetadata)(
      response._tag === "Async" ? op?.metadata : response.metadata
    )
      .pipe(
        // never quote the metadata: it holds the secret
        Effect.mapError(() => new DecodeError({ method: "POST", path: p, reason: "no secret in the answer" }))
      )
    return {
      secret: Redacted.make(meta.secret),
      fingerprint: meta.fingerprint ?? fp,
      operationId: op?.id ?? ""
    } satisfies ImageSecret
  })
