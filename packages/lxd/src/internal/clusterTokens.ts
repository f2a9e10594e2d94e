/**
 * Cluster join tokens: reading an encoded token, making one from the token operation's
 * metadata, and the body of the `PUT /1.0/cluster` that joins with one. Pure; the
 * secret is never quoted in an error.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type { DecodedJoinToken, JoinOptions, JoinToken } from "../Cluster.js"
import { DecodeError, InvalidArgument } from "../LxdError.js"

/** An operation id: what `revokeToken` accepts instead of the (secret) encoded token. */
export const OPERATION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

const TokenOperationMetadata = Schema.Struct({
  serverName: Schema.optional(Schema.String),
  fingerprint: Schema.String,
  addresses: Schema.optionalWith(Schema.NullOr(Schema.Array(Schema.String)), { default: () => null }),
  secret: Schema.String,
  expiresAt: Schema.optional(Schema.String)
})

const EncodedJoinToken = Schema.parseJson(Schema.Struct({
  server_name: Schema.String,
  fingerprint: Schema.String,
  addresses: Schema.optionalWith(Schema.NullOr(Schema.Array(Schema.String)), { default: () => null }),
  secret: Schema.String,
  expires_at: Schema.optional(Schema.String)
}))

interface TokenFields {
  readonly serverName: string
  readonly fingerprint: string
  readonly addresses: ReadonlyArray<string>
  readonly secret: string
  readonly expiresAt: string | undefined
}

/** The token as `lxc cluster add` prints it: base64 of the JSON fields. */
export const encodeToken = (fields: TokenFields): string =>
  Buffer.from(JSON.stringify({
    server_name: fields.serverName,
    fingerprint: fields.fingerprint,
    addresses: fields.addresses,
    secret: fields.secret,
    ...(fields.expiresAt === undefined ? {} : { expires_at: fields.expiresAt })
  })).toString("base64")

/** Read an encoded join token; `InvalidArgument` (without the token) when it is not one. */
export const decodeJoinToken = (
  token: Redacted.Redacted<string> | string
): Effect.Effect<DecodedJoinToken, InvalidArgument> => {
  const raw = Redacted.isRedacted(token) ? Redacted.value(token) : token
  return Schema.decodeUnknown(EncodedJoinToken)(Buffer.from(raw.trim(), "base64").toString("utf8")).pipe(
    Effect.map((t): DecodedJoinToken => ({
      serverName: t.server_name,
      fingerprint: t.fingerprint,
      addresses: t.addresses ?? [],
      expiresAt: t.expires_at,
      secret: Redacted.make(t.secret)
    })),
    Effect.mapError(() => new InvalidArgument({ argument: "token", reason: "not a cluster join token" }))
  )
}

/** The join token from the metadata of the operation `POST /1.0/cluster/members` started. */
export const joinTokenOf = (
  origin: { readonly method: string; readonly path: string },
  operationId: string,
  metadata: unknown,
  serverName: string
): Either.Either<JoinToken, DecodeError> =>
  Either.map(
    Either.mapLeft(
      Schema.decodeUnknownEither(TokenOperationMetadata)(metadata),
      // never quote the metadata: it holds the secret
      () => new DecodeError({ ...origin, reason: "join token operation metadata is malformed" })
    ),
    (meta): JoinToken => {
      const fields: TokenFields = {
        serverName: meta.serverName ?? serverName,
        fingerprint: meta.fingerprint,
        addresses: meta.addresses ?? [],
        secret: meta.secret,
        expiresAt: meta.expiresAt
      }
      return {
        token: Redacted.make(encodeToken(fields)),
        operationId,
        serverName: fields.serverName,
        fingerprint: fields.fingerprint,
        addresses: fields.addresses,
        expiresAt: fields.expiresAt
      }
    }
  )

/**
 * The body of the `PUT /1.0/cluster` that joins, once the token is read and the cluster
 * certificate's fingerprint (`presented`) is known; `InvalidArgument` when they disagree or
 * no address to join through is known.
 *
 * `explicit`: the server reads the token in `cluster_token` only (Incus, LXD with
 * `explicit_trust_token`). Older LXD (5.0) takes it in `cluster_password` and ignores
 * `cluster_token`, so it gets both.
 */
export const joinBody = (
  options: JoinOptions,
  decoded: DecodedJoinToken,
  presented: string,
  explicit: boolean
): Either.Either<Record<string, unknown>, InvalidArgument> => {
  if (presented !== decoded.fingerprint.toLowerCase()) {
    return Either.left(
      new InvalidArgument({
        argument: "clusterCertificate",
        reason: `fingerprint ${presented} does not match the token's ${decoded.fingerprint}`
      })
    )
  }
  const clusterAddress = options.clusterAddress ?? decoded.addresses[0]
  if (clusterAddress === undefined) {
    return Either.left(
      new InvalidArgument({ argument: "clusterAddress", reason: "not given and the token lists no address" })
    )
  }
  const token = Redacted.isRedacted(options.token) ? Redacted.value(options.token) : options.token
  return Either.right({
    server_name: options.serverName ?? decoded.serverName,
    enabled: true,
    server_address: options.serverAddress,
    cluster_address: clusterAddress,
    cluster_certificate: options.clusterCertificate,
    cluster_token: token,
    ...(explicit ? {} : { cluster_password: token }),
    member_config: options.memberConfig ?? []
  })
}
