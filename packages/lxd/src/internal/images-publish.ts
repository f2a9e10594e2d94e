/**
 * Creating an image through `POST /1.0/images`: the fingerprint the operation reports,
 * the alias bodies, and publishing an instance or a snapshot as an image (shared by
 * `Images`, `Instances.publish` and `Snapshots.publish`).
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type { AliasSpec } from "../Images.js"
import { DecodeError, type RequestError } from "../LxdError.js"
import type { Service as LxdHttpService } from "../LxdHttp.js"
import type { Outcome, Service as OperationsService } from "../Operations.js"
import type { Operation } from "./envelope.js"
import { Image } from "./models/image.js"
import { path } from "./path.js"
import { waitStarted } from "./started.js"

const FingerprintMetadata = Schema.Struct({ fingerprint: Schema.String })

/** The fingerprint an image creation produced (`metadata.fingerprint` of its operation). */
export const fingerprintOf = (
  outcome: Outcome,
  origin: { readonly method: string; readonly path: string }
): Effect.Effect<string, DecodeError> => {
  const metadata = outcome._tag === "Async" ? outcome.operation.metadata : outcome.metadata
  return Schema.decodeUnknown(FingerprintMetadata)(metadata).pipe(
    Effect.map((m) => m.fingerprint),
    Effect.mapError(() => new DecodeError({ ...origin, reason: "the image operation did not report a fingerprint" }))
  )
}

/** The body of an alias to create: a bare name gets an empty description. */
export const aliasBody = (a: AliasSpec): { readonly name: string; readonly description: string } =>
  typeof a === "string" ? { name: a, description: "" } : { name: a.name, description: a.description ?? "" }

/** Options of a publish. */
export interface PublishOptions {
  /** Aliases for the new image. */
  readonly aliases?: ReadonlyArray<AliasSpec> | undefined
  readonly public?: boolean | undefined
  /** Image properties (`os`, `release`, `description`, ...). */
  readonly properties?: Readonly<Record<string, string>> | undefined
  readonly filename?: string | undefined
  /** e.g. `gzip`, `xz`, `none`. */
  readonly compressionAlgorithm?: string | undefined
  /** When the image expires (ISO 8601 or a Date). */
  readonly expiresAt?: Date | string | undefined
}

export const isoDate = (d: Date | string): string => typeof d === "string" ? d : d.toISOString()

/** The body of `POST /1.0/images` that publishes an instance or a snapshot. */
export const publishBody = (
  source: { readonly type: "instance" | "snapshot"; readonly name: string },
  options: PublishOptions | undefined
): Record<string, unknown> => ({
  source: { type: source.type, name: source.name },
  public: options?.public ?? false,
  ...(options?.properties === undefined ? {} : { properties: options.properties }),
  ...(options?.filename === undefined ? {} : { filename: options.filename }),
  ...(options?.compressionAlgorithm === undefined ? {} : { compression_algorithm: options.compressionAlgorithm }),
  ...(options?.expiresAt === undefined ? {} : { expires_at: isoDate(options.expiresAt) }),
  ...(options?.aliases === undefined || options.aliases.length === 0
    ? {}
    : { aliases: options.aliases.map(aliasBody) })
})

const publishOrigin = { method: "POST", path: "/1.0/images" } as const

/** Start publishing an instance or a snapshot as an image; the operation, not waited for. */
export const publishOperation = (
  ops: OperationsService,
  source: { readonly type: "instance" | "snapshot"; readonly name: string },
  options: PublishOptions | undefined
): Effect.Effect<Operation, RequestError> =>
  ops.startOperation({ ...publishOrigin, body: publishBody(source, options) })

/** Publish an instance or a snapshot as an image, wait, and return the image. */
export const publishImage = (
  http: LxdHttpService,
  ops: OperationsService,
  source: { readonly type: "instance" | "snapshot"; readonly name: string },
  options: PublishOptions | undefined
): Effect.Effect<Image, RequestError> =>
  Effect.gen(function*() {
    const op = yield* publishOperation(ops, source, options)
    const outcome = yield* waitStarted(ops, op, publishOrigin)
    const fingerprint = yield* fingerprintOf(outcome, publishOrigin)
    return yield* http.sync({ method: "GET", path: path`/1.0/images/${fingerprint}` }, Image)
  })
