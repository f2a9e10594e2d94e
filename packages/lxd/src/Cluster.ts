/**
 * Clustering (`/1.0/cluster`): the cluster itself (get, enable, join, the cluster
 * certificate), its members (list, get, update, rename, delete, evacuate and restore,
 * join tokens) and cluster groups.
 *
 * Calls here are server-wide: they ignore `Lxd.withProject`. Member calls name the member
 * in the path; to send any other call to one member, wrap it in `Lxd.withTarget(member)`
 * (for example, to create an instance on a chosen member).
 *
 * @example
 * ```ts
 * import { Effect, Redacted } from "effect"
 * import { Cluster } from "effect-lxd"
 *
 * // on the first server: turn clustering on, then invite a second one
 * const invite = Effect.gen(function* () {
 *   const cluster = yield* Cluster.Cluster
 *   yield* cluster.enable("node1")
 *   const token = yield* cluster.members.createToken("node2")
 *   return token // hand Redacted.value(token.token) to node2, which calls cluster.join
 * })
 *
 * // later: take node2 out of service and bring it back
 * const maintenance = Effect.gen(function* () {
 *   const cluster = yield* Cluster.Cluster
 *   yield* cluster.members.evacuate("node2")
 *   yield* cluster.members.restore("node2")
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
import * as tokens from "./internal/clusterTokens.js"
import { collection } from "./internal/collection.js"
import { ConfigMap, stringsOrNull } from "./internal/models/fields.js"
import { path } from "./internal/path.js"
import { traced } from "./internal/tracing.js"
import { DecodeError, type ExtensionNotAvailable, InvalidArgument, type RequestError } from "./LxdError.js"
import { certificateFingerprint, LxdHttp } from "./LxdHttp.js"
import { Operations } from "./Operations.js"
import type * as Resource from "./Resource.js"

// -----------------------------------------------------------------------------
// Models
// -----------------------------------------------------------------------------

/**
 * A configuration key a joining member must provide (e.g. the `source` of a storage
 * pool). `GET /1.0/cluster` lists them with an empty `value`.
 *
 * @since 0.1.0
 * @category models
 */
export class ClusterMemberConfigKey extends Schema.Class<ClusterMemberConfigKey>("effect-lxd/ClusterMemberConfigKey")({
  entity: Schema.String,
  name: Schema.String,
  key: Schema.String,
  value: Schema.optionalWith(Schema.String, { default: () => "" }),
  description: Schema.optionalWith(Schema.String, { default: () => "" })
}) {}

/**
 * `GET /1.0/cluster` (LXD's `api.Cluster`): whether clustering is on, the answering
 * member's name, and the keys a joining member must provide.
 *
 * @since 0.1.0
 * @category models
 */
export class ClusterInfo extends Schema.Class<ClusterInfo>("effect-lxd/ClusterInfo")({
  server_name: Schema.optionalWith(Schema.String, { default: () => "" }),
  enabled: Schema.Boolean,
  member_config: Schema.optionalWith(Schema.NullOr(Schema.Array(ClusterMemberConfigKey)), { default: () => null })
}) {}

/**
 * A cluster member (`/1.0/cluster/members/<name>`). `status` is `Online`, `Offline`,
 * `Evacuated` (or `Blocked` on newer servers).
 *
 * @since 0.1.0
 * @category models
 */
export class ClusterMember extends Schema.Class<ClusterMember>("effect-lxd/ClusterMember")({
  server_name: Schema.String,
  url: Schema.String,
  database: Schema.Boolean,
  status: Schema.String,
  message: Schema.optionalWith(Schema.String, { default: () => "" }),
  architecture: Schema.optional(Schema.String),
  roles: stringsOrNull,
  failure_domain: Schema.optionalWith(Schema.String, { default: () => "" }),
  description: Schema.optionalWith(Schema.String, { default: () => "" }),
  config: Schema.optionalWith(Schema.NullOr(ConfigMap), { default: () => null }),
  groups: stringsOrNull
}) {}

/**
 * The writable fields of a cluster member (`PUT` replaces them all).
 *
 * @since 0.1.0
 * @category models
 */
export interface ClusterMemberPut {
  readonly description: string
  readonly config: Readonly<Record<string, string>>
  readonly failure_domain: string
  readonly groups: ReadonlyArray<string>
  readonly roles: ReadonlyArray<string>
}

/**
 * System information of a member, part of `ClusterMemberState`. `logical_cpus` comes
 * from LXD only (Incus 6.0 leaves it out).
 *
 * @since 0.1.0
 * @category models
 */
export class ClusterMemberSysInfo extends Schema.Class<ClusterMemberSysInfo>("effect-lxd/ClusterMemberSysInfo")({
  uptime: Schema.optional(Schema.Number),
  load_averages: Schema.optionalWith(Schema.NullOr(Schema.Array(Schema.Number)), { default: () => null }),
  total_ram: Schema.optional(Schema.Number),
  free_ram: Schema.optional(Schema.Number),
  shared_ram: Schema.optional(Schema.Number),
  buffered_ram: Schema.optional(Schema.Number),
  total_swap: Schema.optional(Schema.Number),
  free_swap: Schema.optional(Schema.Number),
  processes: Schema.optional(Schema.Number),
  logical_cpus: Schema.optional(Schema.Number)
}) {}

/**
 * `GET /1.0/cluster/members/<name>/state` (extension `cluster_member_state`): the
 * member's system load and the state of its storage pools.
 *
 * @since 0.1.0
 * @category models
 */
export class ClusterMemberState extends Schema.Class<ClusterMemberState>("effect-lxd/ClusterMemberState")({
  sysinfo: Schema.optional(ClusterMemberSysInfo),
  storage_pools: Schema.optionalWith(Schema.NullOr(Schema.Record({ key: Schema.String, value: Schema.Unknown })), {
    default: () => null
  })
}) {}

/**
 * A cluster group (extension `clustering_groups`): a named set of members that
 * instances can target (`target=@group`).
 *
 * @since 0.1.0
 * @category models
 */
export class ClusterGroup extends Schema.Class<ClusterGroup>("effect-lxd/ClusterGroup")({
  name: Schema.String,
  description: Schema.optionalWith(Schema.String, { default: () => "" }),
  members: stringsOrNull,
  used_by: stringsOrNull
}) {}

/**
 * The writable fields of a cluster group.
 *
 * @since 0.1.0
 * @category models
 */
export interface ClusterGroupPut {
  readonly description: string
  readonly members: ReadonlyArray<string>
}

/**
 * The body of `PUT /1.0/cluster` (LXD's `api.ClusterPut`), for `put`. `enable` and `join`
 * build it for you.
 *
 * @since 0.1.0
 * @category models
 */
export interface ClusterPut {
  readonly server_name?: string | undefined
  readonly enabled?: boolean | undefined
  readonly server_address?: string | undefined
  readonly cluster_address?: string | undefined
  readonly cluster_certificate?: string | undefined
  readonly cluster_token?: string | undefined
  readonly member_config?: ReadonlyArray<MemberConfigValue> | undefined
}

/**
 * A value for one of the keys `ClusterInfo.member_config` lists.
 *
 * @since 0.1.0
 * @category models
 */
export interface MemberConfigValue {
  readonly entity: string
  readonly name: string
  readonly key: string
  readonly value: string
}

/**
 * A join token for a new member, as `lxc cluster add` prints it. `token` is what the
 * new member presents (to `join`); keep it secret.
 *
 * @since 0.1.0
 * @category models
 */
export interface JoinToken {
  /** The encoded token. */
  readonly token: Redacted.Redacted<string>
  /** The operation that holds the token; `members.revokeToken` cancels it. */
  readonly operationId: string
  /** The name the new member must join under. */
  readonly serverName: string
  /** Fingerprint of the cluster certificate (the joining member checks it). */
  readonly fingerprint: string
  /** Addresses of the members the new member can join through. */
  readonly addresses: ReadonlyArray<string>
  readonly expiresAt: string | undefined
}

/**
 * The contents of an encoded join token (`decodeJoinToken`). The secret stays redacted.
 *
 * @since 0.1.0
 * @category models
 */
export interface DecodedJoinToken {
  readonly serverName: string
  readonly fingerprint: string
  readonly addresses: ReadonlyArray<string>
  readonly expiresAt: string | undefined
  readonly secret: Redacted.Redacted<string>
}

// -----------------------------------------------------------------------------
// Options
// -----------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category options
 */
export interface JoinOptions {
  /** A join token for this server, from `members.createToken` on a cluster member. */
  readonly token: Redacted.Redacted<string> | string
  /**
   * The cluster certificate (PEM), as the member at `clusterAddress` presents it. It is
   * checked against the token's fingerprint before anything is sent.
   */
  readonly clusterCertificate: string
  /** This server's address for cluster traffic, `host:port` (becomes its HTTPS address). */
  readonly serverAddress: string
  /** The member to join through, `host:port`. Default: the token's first address. */
  readonly clusterAddress?: string | undefined
  /** The name to join under. Default: the one in the token. */
  readonly serverName?: string | undefined
  /**
   * Values for the keys `ClusterInfo.member_config` of the cluster lists (an empty value
   * takes the default, e.g. for a `dir` pool's `source`).
   */
  readonly memberConfig?: ReadonlyArray<MemberConfigValue> | undefined
}

/**
 * @since 0.1.0
 * @category options
 */
export interface EvacuateOptions {
  /**
   * How to move instances away: `stop`, `migrate`, `live-migrate` (extension
   * `clustering_evacuation_mode`). Default: each instance's `cluster.evacuate` setting.
   */
  readonly mode?: string | undefined
  /** Evacuate even below the voter majority (extension `clustering_evacuation_force`). */
  readonly force?: boolean | undefined
}

/**
 * @since 0.1.0
 * @category options
 */
export interface CreateGroupOptions {
  readonly name: string
  readonly description?: string | undefined
  readonly members?: ReadonlyArray<string> | undefined
}

// -----------------------------------------------------------------------------
// Service
// -----------------------------------------------------------------------------

/**
 * Cluster members (`/1.0/cluster/members`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Members
  extends Resource.Readable<ClusterMember>, Resource.Writable<ClusterMemberPut>, Resource.Renamable, Resource.Deletable
{
  /**
   * Remove a member from the cluster. `force` removes it from the database even when it
   * cannot be reached (it is then not told to leave).
   */
  readonly delete: (
    name: string,
    options?: { readonly force?: boolean | undefined }
  ) => Effect.Effect<void, RequestError>
  /** Move instances off a member and mark it `Evacuated` (extension `clustering_evacuation`). */
  readonly evacuate: (
    name: string,
    options?: EvacuateOptions
  ) => Effect.Effect<void, RequestError | ExtensionNotAvailable>
  /** Bring an evacuated member back and return its instances (extension `clustering_evacuation`). */
  readonly restore: (
    name: string,
    options?: { readonly mode?: string | undefined }
  ) => Effect.Effect<void, RequestError | ExtensionNotAvailable>
  /** System and storage state of a member (extension `cluster_member_state`). */
  readonly state: (name: string) => Effect.Effect<ClusterMemberState, RequestError | ExtensionNotAvailable>
  /** Create a join token for a new member called `serverName` (extension `clustering_join_token`). */
  readonly createToken: (serverName: string) => Effect.Effect<JoinToken, RequestError | ExtensionNotAvailable>
  /**
   * Revoke a join token that has not been used yet: the `JoinToken`, or the id of the
   * operation that holds it. The encoded token (a secret) is refused, never sent.
   */
  readonly revokeToken: (token: JoinToken | string) => Effect.Effect<void, RequestError | InvalidArgument>
}

/**
 * Cluster groups (`/1.0/cluster/groups`, extension `clustering_groups`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Groups
  extends Resource.Collection<ClusterGroup, ClusterGroupPut, CreateGroupOptions, [], ExtensionNotAvailable>
{}

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** `GET /1.0/cluster`. */
  readonly get: Effect.Effect<ClusterInfo, RequestError>
  /**
   * Turn a standalone server into the first member of a new cluster, named `serverName`
   * (extension `clustering`). The server needs a non-wildcard `core.https_address`.
   */
  readonly enable: (serverName: string) => Effect.Effect<void, RequestError | ExtensionNotAvailable>
  /** Join this server to an existing cluster with a join token (extension `clustering_join`). */
  readonly join: (
    options: JoinOptions
  ) => Effect.Effect<void, RequestError | ExtensionNotAvailable | InvalidArgument>
  /** `PUT /1.0/cluster` with a body of your own (waits when it answers with an operation). */
  readonly put: (body: ClusterPut) => Effect.Effect<void, RequestError>
  /**
   * Replace the certificate and key every member presents (extension
   * `clustering_update_cert`).
   */
  readonly updateCertificate: (options: {
    readonly certificate: string
    readonly key: Redacted.Redacted<string> | string
  }) => Effect.Effect<void, RequestError | ExtensionNotAvailable>
  readonly members: Members
  readonly groups: Groups
}

/**
 * The cluster service.
 *
 * @since 0.1.0
 * @category tags
 */
export class Cluster extends Context.Tag("effect-lxd/Cluster")<Cluster, Service>() {}

// -----------------------------------------------------------------------------
// Join tokens
// -----------------------------------------------------------------------------

/**
 * Read an encoded join token (base64 JSON). Fails with `InvalidArgument`, without quoting
 * the token, when it is not one.
 *
 * @since 0.1.0
 * @category utils
 */
export const decodeJoinToken: (
  token: Redacted.Redacted<string> | string
) => Effect.Effect<DecodedJoinToken, InvalidArgument> = tokens.decodeJoinToken

// -----------------------------------------------------------------------------
// Implementation
// -----------------------------------------------------------------------------

const global = { project: null, target: null } as const

/**
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Service, never, LxdHttp | Operations> = Effect.gen(function*() {
  const http = yield* LxdHttp
  const ops = yield* Operations

  const write = (method: "PUT" | "PATCH" | "POST" | "DELETE", p: string, body?: unknown, etag?: string) =>
    Effect.asVoid(ops.run({ method, path: p, ...global, ...(body === undefined ? {} : { body }), etag }))

  // ---- the cluster ----------------------------------------------------------

  const get = http.sync({ method: "GET", path: "/1.0/cluster", ...global }, ClusterInfo)

  const put = (body: ClusterPut) => write("PUT", "/1.0/cluster", body)

  const enable = (serverName: string) =>
    Effect.zipRight(http.requireExtension("clustering"), put({ server_name: serverName, enabled: true }))

  const join = (options: JoinOptions) =>
    Effect.gen(function*() {
      yield* http.requireExtension("clustering_join")
      const decoded = yield* tokens.decodeJoinToken(options.token)
      const presented = yield* Effect.try({
        try: () => certificateFingerprint(options.clusterCertificate),
        catch: () =>
          new InvalidArgument({ argument: "clusterCertificate", reason: "not a PEM encoded X.509 certificate" })
      })
      // Incus reads `cluster_token` without advertising `explicit_trust_token`
      const explicit = http.dialect === "incus" || (yield* http.hasExtension("explicit_trust_token"))
      yield* write("PUT", "/1.0/cluster", yield* tokens.joinBody(options, decoded, presented, explicit))
    })

  const updateCertificate = (options: {
    readonly certificate: string
    readonly key: Redacted.Redacted<string> | string
  }) =>
    Effect.zipRight(
      http.requireExtension("clustering_update_cert"),
      write("PUT", "/1.0/cluster/certificate", {
        cluster_certificate: options.certificate,
        cluster_certificate_key: Redacted.isRedacted(options.key) ? Redacted.value(options.key) : options.key
      })
    )

  // ---- members --------------------------------------------------------------

  const memberPath = (name: string) => path`/1.0/cluster/members/${name}`

  const { calls: { create: _, ...memberCalls }, write: memberWrite } = collection(http, ops, {
    collection: () => "/1.0/cluster/members",
    item: memberPath,
    schema: ClusterMember,
    toPut: (m: ClusterMember): ClusterMemberPut => ({
      description: m.description,
      config: m.config ?? {},
      failure_domain: m.failure_domain,
      groups: m.groups ?? [],
      roles: m.roles ?? []
    }),
    scope: "cluster",
    // LXD 5.0 treats the fields a PATCH leaves out as empty (and refuses to drop the
    // member's roles or groups), so every field goes out, `config` too
    patch: { merged: [] }
  })

  const members: Members = {
    ...memberCalls,
    listNames: () => Effect.map(memberCalls.list(), (all) => all.map((m) => m.server_name)),
    rename: (name, newName) => write("POST", memberPath(name), { server_name: newName }),
    delete: (name, options) =>
      memberWrite({
        method: "DELETE",
        path: memberPath(name),
        ...(options?.force === true ? { query: { force: 1 } } : {})
      }),
    evacuate: (name, options) =>
      Effect.gen(function*() {
        yield* http.requireExtension("clustering_evacuation")
        if (options?.mode !== undefined) yield* http.requireExtension("clustering_evacuation_mode")
        if (options?.force !== undefined) yield* http.requireExtension("clustering_evacuation_force")
        yield* write("POST", `${memberPath(name)}/state`, {
          action: "evacuate",
          ...(options?.mode === undefined ? {} : { mode: options.mode }),
          ...(options?.force === undefined ? {} : { force: options.force })
        })
      }),
    restore: (name, options) =>
      Effect.gen(function*() {
        yield* http.requireExtension("clustering_evacuation")
        if (options?.mode !== undefined) yield* http.requireExtension("clustering_evacuation_mode")
        yield* write("POST", `${memberPath(name)}/state`, {
          action: "restore",
          ...(options?.mode === undefined ? {} : { mode: options.mode })
        })
      }),
    state: (name) =>
      Effect.zipRight(
        http.requireExtension("cluster_member_state"),
        http.sync({ method: "GET", path: `${memberPath(name)}/state`, ...global }, ClusterMemberState)
      ),
    createToken: (serverName) =>
      Effect.gen(function*() {
        yield* http.requireExtension("clustering_join_token")
        const origin = { method: "POST", path: "/1.0/cluster/members" } as const
        const started = yield* ops.start({ ...origin, ...global, body: { server_name: serverName } })
        if (started._tag !== "Async") {
          return yield* new DecodeError({
            ...origin,
            reason: "expected a join token operation, got a synchronous answer"
          })
        }
        const op = started.operation
        return yield* tokens.joinTokenOf(origin, op.id, op.metadata, serverName)
      }),
    revokeToken: (token) =>
      typeof token !== "string"
        ? ops.cancel(token.operationId)
        : tokens.OPERATION_ID.test(token)
        ? ops.cancel(token)
        : Effect.fail(
          new InvalidArgument({
            argument: "token",
            // never echo it: an encoded join token is a secret
            reason: "give the JoinToken or its operation id (a UUID), not the encoded token"
          })
        )
  }

  // ---- groups ---------------------------------------------------------------

  const { calls: groups } = collection(http, ops, {
    collection: () => "/1.0/cluster/groups",
    item: (name: string) => path`/1.0/cluster/groups/${name}`,
    schema: ClusterGroup,
    extension: "clustering_groups",
    toPut: (g: ClusterGroup): ClusterGroupPut => ({ description: g.description, members: g.members ?? [] }),
    createBody: (options: CreateGroupOptions) => ({
      name: options.name,
      description: options.description ?? "",
      members: options.members ?? []
    }),
    createdName: (options) => options.name,
    scope: "cluster",
    // written with PUT (every field): LXD 5.0's group PATCH compares the ETag against a
    // different digest and always says 412
    patch: { via: "PUT", merged: [] }
  })

  return Cluster.of(
    traced("Cluster", { get, enable, join, put, updateCertificate, members, groups }, { unrecorded: ["revokeToken"] })
  )
})

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Cluster, never, LxdHttp | Operations> = Layer.effect(Cluster, make)
