/**
 * LXD's access management (`/1.0/auth`): identities by authentication method (and the
 * current one), authorization groups with their permissions, the permissions a server
 * offers, and the groups of an identity provider. Fine-grained TLS identities and their
 * trust tokens (LXD 6.2+) are here too; a client trusts itself with such a token through
 * `Server.authenticate`, the same call as for `/1.0/certificates` tokens.
 *
 * Every call needs the API extension `access_management` (creating, deleting and trust
 * tokens of TLS identities need `access_management_tls`, bearer identities `auth_bearer`)
 * and fails with `ExtensionNotAvailable`, sending nothing, on a server without it: LXD 5.0
 * and Incus have none of them. The calls are server-wide (they ignore `Lxd.withProject`).
 *
 * @example
 * ```ts
 * import { Effect, Redacted } from "effect"
 * import { Auth } from "effect-lxd"
 *
 * const program = Effect.gen(function* () {
 *   const auth = yield* Auth.Auth
 *   yield* auth.groups.create({
 *     name: "viewers",
 *     permissions: [{ entity_type: "project", url: "/1.0/projects/default", entitlement: "viewer" }]
 *   })
 *   const token = yield* auth.identities.createTlsToken({ name: "ci", groups: ["viewers"] })
 *   // hand Redacted.value(token.token) to the new client; it calls Server.authenticate
 *   const me = yield* auth.identities.current
 *   console.log(me.effective_groups, Redacted.isRedacted(token.token))
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
import {
  AuthenticationMethod,
  AuthGroup,
  type AuthGroupPut,
  encodeToken,
  Identity,
  IdentityInfo,
  IdentityProviderGroup,
  type IdentityProviderGroupPut,
  type IdentityPut,
  Permission,
  PermissionInfo,
  type PermissionInput,
  TokenMetadata
} from "./internal/models/auth.js"
import { arrayOf } from "./internal/models/fields.js"
import { path } from "./internal/path.js"
import { traced } from "./internal/tracing.js"
import { checkName } from "./internal/validation.js"
import { DecodeError, type ExtensionNotAvailable, InvalidArgument, type RequestError } from "./LxdError.js"
import { certificateFingerprint, LxdHttp } from "./LxdHttp.js"
import { Operations } from "./Operations.js"
import type * as Resource from "./Resource.js"

export {
  /**
   * How an identity authenticates: `tls`, `oidc` or `bearer`.
   *
   * @since 0.1.0
   * @category models
   */
  AuthenticationMethod,
  /**
   * An authorization group: its permissions and its members (identities by method,
   * identity provider groups).
   *
   * @since 0.1.0
   * @category models
   */
  AuthGroup,
  /**
   * The writable fields of a group.
   *
   * @since 0.1.0
   * @category models
   */
  type AuthGroupPut,
  /**
   * An identity (a TLS client, an OIDC user, a bearer token holder).
   *
   * @since 0.1.0
   * @category models
   */
  Identity,
  /**
   * The identity of the caller, with its effective groups and permissions.
   *
   * @since 0.1.0
   * @category models
   */
  IdentityInfo,
  /**
   * A group of the identity provider, mapped to LXD groups.
   *
   * @since 0.1.0
   * @category models
   */
  IdentityProviderGroup,
  /**
   * The writable fields of an identity provider group.
   *
   * @since 0.1.0
   * @category models
   */
  type IdentityProviderGroupPut,
  /**
   * The writable fields of an identity: its groups.
   *
   * @since 0.1.0
   * @category models
   */
  type IdentityPut,
  /**
   * An entitlement on an entity.
   *
   * @since 0.1.0
   * @category models
   */
  Permission,
  /**
   * A permission with the groups holding it.
   *
   * @since 0.1.0
   * @category models
   */
  PermissionInfo,
  /**
   * A permission as written (`entity_type`, `url`, `entitlement`).
   *
   * @since 0.1.0
   * @category models
   */
  type PermissionInput
}

/**
 * How an identity is named in a call: its authentication method and its name or
 * identifier (fingerprint, e-mail address, UUID).
 *
 * @since 0.1.0
 * @category models
 */
export type IdentityRef = [method: AuthenticationMethod, nameOrId: string]

/**
 * A trust token for a new fine-grained TLS identity. The client presents `token` to
 * `Server.authenticate` (or `lxc remote add <name> <token>`); keep it secret.
 *
 * @since 0.1.0
 * @category models
 */
export interface IdentityToken {
  /** The encoded token. */
  readonly token: Redacted.Redacted<string>
  /** The name of the pending identity. */
  readonly clientName: string
  /** The server certificate's fingerprint (the client checks it). */
  readonly fingerprint: string
  readonly addresses: ReadonlyArray<string>
  readonly expiresAt: string | undefined
}

/**
 * @since 0.1.0
 * @category options
 */
export interface CreateTlsOptions {
  readonly name: string
  /** The client's certificate, PEM encoded. */
  readonly certificate: string
  /** Groups the identity is a member of from the start. */
  readonly groups?: ReadonlyArray<string> | undefined
}

/**
 * @since 0.1.0
 * @category options
 */
export interface CreateTokenOptions {
  /** The name of the pending identity (and of the client once it is trusted). */
  readonly name: string
  readonly groups?: ReadonlyArray<string> | undefined
}

/**
 * @since 0.1.0
 * @category options
 */
export interface CreateGroupOptions {
  readonly name: string
  readonly description?: string | undefined
  readonly permissions?: ReadonlyArray<PermissionInput> | undefined
}

/**
 * @since 0.1.0
 * @category options
 */
export interface CreateIdentityProviderGroupOptions {
  readonly name: string
  /** The LXD groups the identity provider's group maps to. */
  readonly groups?: ReadonlyArray<string> | undefined
}

/**
 * @since 0.1.0
 * @category options
 */
export interface PermissionsOptions {
  /** Only the permissions on entities of this type (`server`, `project`, `instance`, ...). */
  readonly entityType?: string | undefined
  /** Only those on entities of this project. */
  readonly project?: string | undefined
}

type Gated<A> = Effect.Effect<A, RequestError>

/**
 * Identities (`/1.0/auth/identities`), addressed by `(method, nameOrId)`. `patch` and
 * `update` change the identity's groups; they write the whole view with `PUT` and
 * `If-Match` (LXD's `PATCH` only adds groups), retried on 412.
 *
 * @since 0.1.0
 * @category models
 */
export interface Identities
  extends
    Resource.Readable<Identity, [], ExtensionNotAvailable, IdentityRef>,
    Resource.Writable<IdentityPut, [], ExtensionNotAvailable, IdentityRef>,
    Resource.Deletable<[], ExtensionNotAvailable, IdentityRef>
{
  /** Every identity, in full, or those of one authentication method. */
  readonly list: (method?: AuthenticationMethod) => Gated<ReadonlyArray<Identity>>
  /** The identity the connection authenticates as (`GET /1.0/auth/identities/current`). */
  readonly current: Gated<IdentityInfo>
  /**
   * Trust a client certificate as a fine-grained TLS identity (extension
   * `access_management_tls`); answers the identity as stored.
   */
  readonly createTls: (options: CreateTlsOptions) => Effect.Effect<Identity, RequestError>
  /**
   * Create a pending TLS identity and a token a new client trusts itself with (extension
   * `access_management_tls`). The pending identity is listed with type
   * `Client certificate (pending)` until the token is used; deleting it revokes the token.
   */
  readonly createTlsToken: (options: CreateTokenOptions) => Effect.Effect<IdentityToken, RequestError>
}

/**
 * Authorization groups (`/1.0/auth/groups`). `patch` and `update` write with `PUT` and
 * `If-Match` (LXD's group `PATCH` only adds permissions), retried on 412: `patch(name, {
 * permissions })` replaces the permissions, `patch(name, { description })` keeps them.
 *
 * @since 0.1.0
 * @category models
 */
export interface Groups
  extends Resource.Collection<AuthGroup, AuthGroupPut, CreateGroupOptions, [], ExtensionNotAvailable>
{
  /** Add a permission to a group (no change if it has it). */
  readonly grant: (name: string, permission: PermissionInput) => Gated<void>
  /** Remove a permission from a group (no change if it lacks it). */
  readonly revoke: (name: string, permission: PermissionInput) => Gated<void>
}

/**
 * Identity provider groups (`/1.0/auth/identity-provider-groups`): what an OIDC groups
 * claim maps to. `patch` and `update` write with `PUT` and `If-Match`.
 *
 * @since 0.1.0
 * @category models
 */
export interface IdentityProviderGroups extends
  Resource.Collection<
    IdentityProviderGroup,
    IdentityProviderGroupPut,
    CreateIdentityProviderGroupOptions,
    [],
    ExtensionNotAvailable
  >
{}

/**
 * The permissions the server offers (`/1.0/auth/permissions`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Permissions {
  /** Every permission that can be granted, with the groups that hold it. */
  readonly list: (options?: PermissionsOptions) => Effect.Effect<ReadonlyArray<PermissionInfo>, RequestError>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  readonly identities: Identities
  readonly groups: Groups
  readonly permissions: Permissions
  readonly identityProviderGroups: IdentityProviderGroups
}

/**
 * @since 0.1.0
 * @category tags
 */
export class Auth extends Context.Tag("effect-lxd/Auth")<Auth, Service>() {}

const global = { project: null, target: null } as const

const samePermission = (a: PermissionInput, b: PermissionInput): boolean =>
  a.entity_type === b.entity_type && a.url === b.url && a.entitlement === b.entitlement

const writablePermission = (p: PermissionInput): PermissionInput => ({
  entity_type: p.entity_type,
  url: p.url,
  entitlement: p.entitlement
})

/**
 * The permissions with `permission` added (the same list if it is there already).
 *
 * @since 0.1.0
 * @category utils
 */
export const withPermission = (
  permissions: ReadonlyArray<PermissionInput>,
  permission: PermissionInput
): ReadonlyArray<PermissionInput> =>
  permissions.some((p) => samePermission(p, permission))
    ? permissions
    : [...permissions, writablePermission(permission)]

/**
 * The permissions without `permission`.
 *
 * @since 0.1.0
 * @category utils
 */
export const withoutPermission = (
  permissions: ReadonlyArray<PermissionInput>,
  permission: PermissionInput
): ReadonlyArray<PermissionInput> => permissions.filter((p) => !samePermission(p, permission))

/**
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Service, never, LxdHttp | Operations> = Effect.gen(function*() {
  const http = yield* LxdHttp
  const ops = yield* Operations
  const manage = http.requireExtension("access_management")
  const manageTls = Effect.zipRight(manage, http.requireExtension("access_management_tls"))
  // bearer identities came later than the rest (`auth_bearer`)
  const methodGate = (method: string) => method === "bearer" ? http.requireExtension("auth_bearer") : Effect.void

  // ---- identities -------------------------------------------------------------

  const identityPath = (method: AuthenticationMethod, id: string) => path`/1.0/auth/identities/${method}/${id}`
  const { calls: identityCalls } = collection(http, ops, {
    collection: () => "/1.0/auth/identities",
    item: identityPath,
    schema: Identity,
    extension: "access_management",
    toPut: (i: Identity): IdentityPut => ({ groups: i.groups }),
    scope: "cluster",
    patch: { via: "PUT", merged: [] }
  })
  // the method goes into the path: only the three LXD knows, each behind its extension
  const methodChecked = (method: AuthenticationMethod) =>
    Effect.zipRight(manage, Effect.zipRight(checkMethod(method), methodGate(method)))

  const listIdentities = (method?: AuthenticationMethod) =>
    method === undefined
      ? identityCalls.list()
      : Effect.zipRight(
        methodChecked(method),
        http.sync(
          { method: "GET", path: path`/1.0/auth/identities/${method}`, query: { recursion: 1 }, ...global },
          arrayOf(Identity)
        )
      )

  const current = Effect.zipRight(
    manage,
    http.sync({ method: "GET", path: "/1.0/auth/identities/current", ...global }, IdentityInfo)
  )

  const createTls = (options: CreateTlsOptions) =>
    Effect.gen(function*() {
      yield* checkName(options.name)
      let fingerprint: string
      try {
        fingerprint = certificateFingerprint(options.certificate)
      } catch {
        return yield* Effect.fail(
          new InvalidArgument({ argument: "certificate", reason: "not a PEM encoded X.509 certificate" })
        )
      }
      yield* manageTls
      yield* ops.run({
        method: "POST",
        path: "/1.0/auth/identities/tls",
        ...global,
        body: { name: options.name, certificate: options.certificate, groups: options.groups ?? [] }
      })
      // by fingerprint: names of TLS identities need not be unique
      return yield* identityCalls.get("tls", fingerprint)
    })

  const createTlsToken = (options: CreateTokenOptions) =>
    Effect.gen(function*() {
      yield* manageTls
      const answer = yield* http.send({
        method: "POST",
        path: "/1.0/auth/identities/tls",
        ...global,
        body: { name: options.name, token: true, groups: options.groups ?? [] }
      })
      const metadata = answer._tag === "Sync" ? answer.metadata : answer.operation.metadata
      const meta = yield* Schema.decodeUnknown(TokenMetadata)(metadata).pipe(
        // never quote the metadata: it holds the secret
        Effect.mapError(() =>
          new DecodeError({
            method: "POST",
            path: "/1.0/auth/identities/tls",
            reason: "the answer does not hold a trust token"
          })
        )
      )
      return {
        token: Redacted.make(encodeToken(meta)),
        clientName: meta.client_name ?? options.name,
        fingerprint: meta.fingerprint,
        addresses: meta.addresses,
        expiresAt: meta.expires_at
      } satisfies IdentityToken
    })

  const identities: Identities = {
    list: listIdentities,
    listNames: identityCalls.listNames,
    get: (method, id) => Effect.zipRight(methodChecked(method), identityCalls.get(method, id)),
    exists: (method, id) => Effect.zipRight(methodChecked(method), identityCalls.exists(method, id)),
    put: (method, id, body, options) =>
      Effect.zipRight(methodChecked(method), identityCalls.put(method, id, body, options)),
    patch: (method, id, changes) => Effect.zipRight(methodChecked(method), identityCalls.patch(method, id, changes)),
    update: (method, id, f, options) =>
      Effect.zipRight(methodChecked(method), identityCalls.update(method, id, f, options)),
    // deleting identities came with `access_management_tls`
    delete: (method, id) =>
      Effect.zipRight(Effect.zipRight(methodChecked(method), manageTls), identityCalls.delete(method, id)),
    current,
    createTls,
    createTlsToken
  }

  // ---- groups ---------------------------------------------------------------

  const { calls: groupCalls } = collection(http, ops, {
    collection: () => "/1.0/auth/groups",
    item: (name: string) => path`/1.0/auth/groups/${name}`,
    schema: AuthGroup,
    extension: "access_management",
    toPut: (g: AuthGroup): AuthGroupPut => ({
      description: g.description,
      permissions: g.permissions.map(writablePermission)
    }),
    createBody: (options: CreateGroupOptions) => ({
      name: options.name,
      description: options.description ?? "",
      permissions: (options.permissions ?? []).map(writablePermission)
    }),
    createdName: (options) => options.name,
    scope: "cluster",
    patch: { via: "PUT", merged: [] }
  })
  const groups: Groups = {
    ...groupCalls,
    grant: (name, permission) =>
      groupCalls.update(name, (g) => ({ ...g, permissions: withPermission(g.permissions, permission) })),
    revoke: (name, permission) =>
      groupCalls.update(name, (g) => ({ ...g, permissions: withoutPermission(g.permissions, permission) }))
  }

  // ---- identity provider groups -----------------------------------------------

  const { calls: idpGroups } = collection(http, ops, {
    collection: () => "/1.0/auth/identity-provider-groups",
    item: (name: string) => path`/1.0/auth/identity-provider-groups/${name}`,
    schema: IdentityProviderGroup,
    extension: "access_management",
    toPut: (g: IdentityProviderGroup): IdentityProviderGroupPut => ({ groups: g.groups }),
    createBody: (options: CreateIdentityProviderGroupOptions) => ({
      name: options.name,
      groups: options.groups ?? []
    }),
    createdName: (options) => options.name,
    scope: "cluster",
    patch: { via: "PUT", merged: [] }
  })

  // ---- permissions ------------------------------------------------------------

  const permissions: Permissions = {
    list: (options) =>
      Effect.zipRight(
        manage,
        http.sync({
          method: "GET",
          path: "/1.0/auth/permissions",
          query: {
            recursion: 1,
            ...(options?.entityType === undefined ? {} : { "entity-type": options.entityType }),
            ...(options?.project === undefined ? {} : { project: options.project })
          },
          ...global
        }, arrayOf(PermissionInfo))
      )
  }

  return Auth.of(traced("Auth", { identities, groups, permissions, identityProviderGroups: idpGroups }))
})

const checkMethod = (method: string): Effect.Effect<void, InvalidArgument> =>
  Schema.is(AuthenticationMethod)(method)
    ? Effect.void
    : Effect.fail(new InvalidArgument({ argument: "method", reason: "must be tls, oidc or bearer" }))

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Auth, never, LxdHttp | Operations> = Layer.effect(Auth, make)
