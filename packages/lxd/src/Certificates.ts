/**
 * The server's trust store (`/1.0/certificates`): list, get, add, update, delete, and
 * trust tokens for new clients.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Certificates } from "effect-lxd"
 *
 * const invite = Effect.gen(function* () {
 *   const certificates = yield* Certificates.Certificates
 *   const token = yield* certificates.createToken({ name: "laptop" })
 *   // hand Redacted.value(token.token) to the new client; it calls Server.authenticate
 *   return token
 * })
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { collection } from "./internal/collection.js"
import { path } from "./internal/path.js"
import { traced } from "./internal/tracing.js"
import { checkFingerprint } from "./internal/validation.js"
import { DecodeError, InvalidArgument, type RequestError } from "./LxdError.js"
import { certificateFingerprint, LxdHttp } from "./LxdHttp.js"
import { Operations } from "./Operations.js"
import type * as Resource from "./Resource.js"

/**
 * A trusted certificate.
 *
 * @since 0.1.0
 * @category models
 */
export class Certificate extends Schema.Class<Certificate>("effect-lxd/Certificate")({
  name: Schema.String,
  type: Schema.String,
  /** Extension `certificate_project` (absent before it: not restricted). */
  restricted: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  projects: Schema.optionalWith(Schema.NullOr(Schema.Array(Schema.String)), { default: () => null }),
  certificate: Schema.optionalWith(Schema.String, { default: () => "" }),
  fingerprint: Schema.String,
  description: Schema.optional(Schema.String)
}) {}

/**
 * The writable fields of a certificate (`PUT /1.0/certificates/<fingerprint>`).
 *
 * @since 0.1.0
 * @category models
 */
export interface CertificatePut {
  readonly name: string
  readonly type: string
  readonly restricted: boolean
  readonly projects: ReadonlyArray<string>
  readonly certificate?: string | undefined
  readonly description?: string | undefined
}

/**
 * @since 0.1.0
 * @category options
 */
export interface AddOptions {
  /** The certificate to trust, PEM encoded. */
  readonly certificate: string
  readonly name?: string | undefined
  /** `client` (default) or `metrics`. */
  readonly type?: "client" | "metrics" | undefined
  /** Restrict the certificate to `projects`. */
  readonly restricted?: boolean | undefined
  readonly projects?: ReadonlyArray<string> | undefined
  readonly description?: string | undefined
}

/**
 * A trust token for a new client. `token` is what the client presents (to
 * `Server.authenticate`, or `lxc remote add`); keep it secret.
 *
 * @since 0.1.0
 * @category models
 */
export interface TrustToken {
  /** The encoded token. */
  readonly token: Redacted.Redacted<string>
  /** The operation that holds the token; cancelling it revokes the token. */
  readonly operationId: string
  readonly clientName: string
  /** The server certificate's fingerprint (the client checks it). */
  readonly fingerprint: string
  readonly addresses: ReadonlyArray<string>
  readonly expiresAt: string | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Service
  extends
    Resource.Readable<Certificate, [], InvalidArgument>,
    Resource.Writable<CertificatePut, [], InvalidArgument>,
    Resource.Deletable<[], InvalidArgument>
{
  /** Every trusted certificate, in full. */
  readonly list: () => Effect.Effect<ReadonlyArray<Certificate>, RequestError>
  /** The fingerprints of the trusted certificates. */
  readonly listNames: () => Effect.Effect<ReadonlyArray<string>, RequestError>
  /** Trust a certificate; returns its fingerprint. */
  readonly add: (options: AddOptions) => Effect.Effect<string, RequestError | InvalidArgument>
  /** Create a trust token for a client named `name` (extension `certificate_token`). */
  readonly createToken: (options: {
    readonly name: string
    readonly restricted?: boolean | undefined
    readonly projects?: ReadonlyArray<string> | undefined
  }) => Effect.Effect<TrustToken, RequestError>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class Certificates extends Context.Tag("effect-lxd/Certificates")<Certificates, Service>() {}

const TokenMetadata = Schema.Struct({
  addresses: Schema.optionalWith(Schema.NullOr(Schema.Array(Schema.String)), { default: () => null }),
  fingerprint: Schema.String,
  secret: Schema.String,
  // LXD says `expiresAt`, Incus `expires_at`
  expiresAt: Schema.optional(Schema.String),
  expires_at: Schema.optional(Schema.String),
  request: Schema.optional(Schema.Struct({ name: Schema.optional(Schema.String) }))
})

const pemToBase64Der = (pem: string): string =>
  pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, "").replace(/\s+/g, "")

/**
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Service, never, LxdHttp | Operations> = Effect.gen(function*() {
  const http = yield* LxdHttp
  const ops = yield* Operations
  const certPath = (fp: string) => path`/1.0/certificates/${fp}`
  const global = { project: null, target: null } as const

  const { calls } = collection(http, ops, {
    collection: () => "/1.0/certificates",
    item: certPath,
    schema: Certificate,
    toPut: (c: Certificate): CertificatePut => ({
      name: c.name,
      type: c.type,
      restricted: c.restricted,
      projects: c.projects ?? [],
      ...(c.description === undefined ? {} : { description: c.description })
    }),
    scope: "cluster"
  })
  // a fingerprint is checked before it goes into a path
  const checked =
    <Args extends [string, ...Array<unknown>], B, E>(f: (...args: Args) => Effect.Effect<B, E>) => (...args: Args) =>
      Effect.zipRight(checkFingerprint(args[0]), f(...args))

  const add = (options: AddOptions) =>
    Effect.gen(function*() {
      let fingerprint: string
      try {
        fingerprint = certificateFingerprint(options.certificate)
      } catch {
        return yield* Effect.fail(
          new InvalidArgument({ argument: "certificate", reason: "not a PEM encoded X.509 certificate" })
        )
      }
      yield* ops.run({
        method: "POST",
        path: "/1.0/certificates",
        ...global,
        body: {
          type: options.type ?? "client",
          certificate: pemToBase64Der(options.certificate),
          ...(options.name === undefined ? {} : { name: options.name }),
          restricted: options.restricted ?? false,
          projects: options.projects ?? [],
          ...(options.description === undefined ? {} : { description: options.description })
        }
      })
      return fingerprint
    })

  const createToken = (options: {
    readonly name: string
    readonly restricted?: boolean | undefined
    readonly projects?: ReadonlyArray<string> | undefined
  }) =>
    Effect.gen(function*() {
      const started = yield* ops.start({
        method: "POST",
        path: "/1.0/certificates",
        ...global,
        body: {
          name: options.name,
          type: "client",
          token: true,
          restricted: options.restricted ?? false,
          projects: options.projects ?? []
        }
      })
      if (started._tag !== "Async") {
        return yield* Effect.fail(
          new DecodeError({
            method: "POST",
            path: "/1.0/certificates",
            reason: "expected a token operation, got a synchronous answer"
          })
        )
      }
      const op = started.operation
      const meta = yield* Schema.decodeUnknown(TokenMetadata)(op.metadata).pipe(
        // never quote the metadata: it holds the secret
        Effect.mapError(() =>
          new DecodeError({
            method: "POST",
            path: "/1.0/certificates",
            reason: "token operation metadata is malformed"
          })
        )
      )
      const expiresAt = meta.expiresAt ?? meta.expires_at
      const encoded = Buffer.from(
        JSON.stringify({
          client_name: options.name,
          fingerprint: meta.fingerprint,
          addresses: meta.addresses ?? [],
          secret: meta.secret,
          ...(expiresAt === undefined ? {} : { expires_at: expiresAt })
        })
      ).toString("base64")
      return {
        token: Redacted.make(encoded),
        operationId: op.id,
        clientName: options.name,
        fingerprint: meta.fingerprint,
        addresses: meta.addresses ?? [],
        expiresAt
      } satisfies TrustToken
    })

  return Certificates.of(traced("Certificates", {
    list: calls.list,
    listNames: calls.listNames,
    get: checked(calls.get),
    exists: checked(calls.exists),
    add,
    put: checked(calls.put),
    patch: checked(calls.patch),
    update: checked(calls.update),
    delete: checked(calls.delete),
    createToken
  }, { nameAttribute: "lxd.fingerprint" }))
})

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Certificates, never, LxdHttp | Operations> = Layer.effect(Certificates, make)
