/**
 * The models of LXD's access management (`/1.0/auth`, extensions `access_management` and
 * `access_management_tls`), shared by `Auth` (which re-exports them) and `Server`
 * (identity trust tokens). Field names are LXD's own; lists LXD marshals as `null` when
 * empty decode to `[]`.
 */
import * as Schema from "effect/Schema"
import { optionalString, optionalStrings } from "./fields.js"

/** How an identity authenticates: `tls` (client certificate), `oidc`, `bearer` (LXD 6.5+). */
export const AuthenticationMethod = Schema.Literal("tls", "oidc", "bearer")

/** How an identity authenticates. */
export type AuthenticationMethod = typeof AuthenticationMethod.Type

/**
 * One entitlement on one entity: `{ entity_type: "instance", url:
 * "/1.0/instances/c1?project=default", entitlement: "can_view" }`.
 */
export class Permission extends Schema.Class<Permission>("effect-lxd/Permission")({
  entity_type: Schema.String,
  url: Schema.String,
  entitlement: Schema.String
}) {}

/** A permission with the groups that hold it (`GET /1.0/auth/permissions?recursion=1`). */
export class PermissionInfo extends Schema.Class<PermissionInfo>("effect-lxd/PermissionInfo")({
  entity_type: Schema.String,
  url: Schema.String,
  entitlement: Schema.String,
  groups: optionalStrings
}) {}

const permissions = Schema.optionalWith(Schema.Array(Permission), { nullable: true, default: () => [] })

/** Identity identifiers by authentication method (`{ tls: [fingerprint, ...], oidc: [email, ...] }`). */
const IdentitiesByMethod = Schema.optionalWith(
  Schema.Record({ key: Schema.String, value: Schema.NullOr(Schema.Array(Schema.String)) }),
  { nullable: true, default: () => ({}) }
)

/** An authorization group: permissions, and the identities and IdP groups that are its members. */
export class AuthGroup extends Schema.Class<AuthGroup>("effect-lxd/AuthGroup")({
  name: Schema.String,
  description: optionalString,
  permissions,
  identities: IdentitiesByMethod,
  identity_provider_groups: optionalStrings,
  /** Extension `entities_with_entitlements`, with `with-access-entitlements` only. */
  access_entitlements: Schema.optional(Schema.NullOr(Schema.Array(Schema.String)))
}) {}

/** The writable fields of a group (`PUT /1.0/auth/groups/<name>`). */
export interface AuthGroupPut {
  readonly description: string
  readonly permissions: ReadonlyArray<PermissionInput>
}

/** A permission as written: the three fields of `Permission`. */
export interface PermissionInput {
  readonly entity_type: string
  readonly url: string
  readonly entitlement: string
}

/** An identity: a TLS client, an OIDC user, a bearer token holder. */
export class Identity extends Schema.Class<Identity>("effect-lxd/Identity")({
  authentication_method: Schema.String,
  /** `Client certificate`, `Client certificate (pending)`, `OIDC client`, ... */
  type: Schema.String,
  /** The certificate's fingerprint (TLS), the e-mail address (OIDC), a UUID (pending TLS, bearer). */
  id: Schema.String,
  name: optionalString,
  groups: optionalStrings,
  /** PEM, TLS identities only (extension `access_management_tls`). */
  tls_certificate: Schema.optional(Schema.String),
  /** Extension `access_management_expiry`. */
  expires_at: Schema.optional(Schema.String),
  access_entitlements: Schema.optional(Schema.NullOr(Schema.Array(Schema.String)))
}) {}

/** The identity the request came from (`GET /1.0/auth/identities/current`), with its effective rights. */
export class IdentityInfo extends Schema.Class<IdentityInfo>("effect-lxd/IdentityInfo")({
  authentication_method: Schema.String,
  type: Schema.String,
  id: Schema.String,
  name: optionalString,
  groups: optionalStrings,
  tls_certificate: Schema.optional(Schema.String),
  expires_at: Schema.optional(Schema.String),
  /** The groups it is in directly and through its identity provider's groups. */
  effective_groups: optionalStrings,
  effective_permissions: permissions,
  /** Extension `entities_with_entitlements`: permissions managed by group membership. */
  fine_grained: Schema.optional(Schema.Boolean),
  access_entitlements: Schema.optional(Schema.NullOr(Schema.Array(Schema.String)))
}) {}

/** The writable fields of an identity (`PUT /1.0/auth/identities/<method>/<id>`). */
export interface IdentityPut {
  readonly groups: ReadonlyArray<string>
}

/** A group of the identity provider (an OIDC claim value), mapped to LXD groups. */
export class IdentityProviderGroup extends Schema.Class<IdentityProviderGroup>("effect-lxd/IdentityProviderGroup")({
  name: Schema.String,
  groups: optionalStrings,
  access_entitlements: Schema.optional(Schema.NullOr(Schema.Array(Schema.String)))
}) {}

/** The writable fields of an identity provider group. */
export interface IdentityProviderGroupPut {
  readonly groups: ReadonlyArray<string>
}

/**
 * The metadata of a trust token (LXD's `api.CertificateAddToken`): the token handed to a
 * client is this, as JSON, in base64. `type` is set only by the identities API
 * (`access_management_tls`); a token without it belongs to `/1.0/certificates`.
 */
export const TokenMetadata = Schema.Struct({
  client_name: Schema.optional(Schema.String),
  fingerprint: Schema.String,
  addresses: Schema.optionalWith(Schema.Array(Schema.String), { nullable: true, default: () => [] }),
  secret: Schema.String,
  expires_at: Schema.optional(Schema.String),
  type: Schema.optional(Schema.String)
})

/** The metadata of a trust token. */
export type TokenMetadata = typeof TokenMetadata.Type

/**
 * Which API a trust token is for, read from the token: `identities` when it carries a
 * `type` (made by `POST /1.0/auth/identities/tls`), `certificates` otherwise, or when it
 * is not a token LXD encoded (a bare secret, LXD 5.0's trust password). The token is
 * never part of the answer.
 */
export const tokenApi = (token: string): "identities" | "certificates" => {
  let decoded: unknown
  try {
    decoded = JSON.parse(Buffer.from(token, "base64").toString("utf8"))
  } catch {
    return "certificates"
  }
  return typeof decoded === "object" && decoded !== null && "type" in decoded &&
      typeof decoded.type === "string" && decoded.type !== ""
    ? "identities"
    : "certificates"
}

/** Encode a token's metadata the way LXD's clients read it (base64 of the JSON). */
export const encodeToken = (metadata: TokenMetadata): string => Buffer.from(JSON.stringify(metadata)).toString("base64")
