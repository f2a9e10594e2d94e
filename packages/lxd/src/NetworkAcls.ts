/**
 * Network ACLs (`/1.0/network-acls`, extension `network_acl`): ingress and egress rules
 * that networks and NICs refer to by name (`security.acls`).
 *
 * Calls apply to the current project (`Lxd.withProject`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { NetworkAcls, Networks } from "effect-lxd"
 *
 * const program = Effect.gen(function* () {
 *   const acls = yield* NetworkAcls.NetworkAcls
 *   const networks = yield* Networks.Networks
 *   yield* acls.create({
 *     name: "web",
 *     ingress: [{ action: "allow", protocol: "tcp", destination_port: "80,443", state: "enabled" }]
 *   })
 *   yield* networks.patch("br-test", { config: { "security.acls": "web" } })
 * })
 * ```
 *
 * @since 0.1.0
 */
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { collection } from "./internal/collection.js"
import { optionalConfig, optionalString, optionalStrings } from "./internal/models/fields.js"
import { path } from "./internal/path.js"
import { defined } from "./internal/resource.js"
import { traced } from "./internal/tracing.js"
import type { ExtensionNotAvailable, RequestError } from "./LxdError.js"
import { LxdHttp } from "./LxdHttp.js"
import { Operations } from "./Operations.js"
import type * as Resource from "./Resource.js"

/**
 * One ACL rule. Empty strings mean "any".
 *
 * @since 0.1.0
 * @category models
 */
export const NetworkACLRule = Schema.Struct({
  /** `allow`, `allow-stateless`, `drop` or `reject`. */
  action: Schema.String,
  source: optionalString,
  destination: optionalString,
  /** `icmp4`, `icmp6`, `tcp`, `udp`, or empty. */
  protocol: optionalString,
  source_port: optionalString,
  destination_port: optionalString,
  icmp_type: optionalString,
  icmp_code: optionalString,
  description: optionalString,
  /** `enabled`, `disabled` or `logged`. */
  state: optionalString
})

/**
 * A rule as written (only `action` is required; `state` defaults to `enabled` here).
 *
 * @since 0.1.0
 * @category models
 */
export type NetworkACLRule = Partial<typeof NetworkACLRule.Encoded> & { readonly action: string }

/**
 * A network ACL as LXD returns it.
 *
 * @since 0.1.0
 * @category models
 */
export class NetworkACL extends Schema.Class<NetworkACL>("effect-lxd/NetworkACL")({
  name: Schema.String,
  description: optionalString,
  ingress: Schema.optionalWith(Schema.NullOr(Schema.Array(NetworkACLRule)), { default: () => [] }),
  egress: Schema.optionalWith(Schema.NullOr(Schema.Array(NetworkACLRule)), { default: () => [] }),
  config: optionalConfig,
  /** URLs of the networks and instances that use the ACL. */
  used_by: optionalStrings,
  project: Schema.optional(Schema.String)
}) {}

/**
 * The writable fields of an ACL.
 *
 * @since 0.1.0
 * @category models
 */
export interface NetworkACLPut {
  readonly description: string
  readonly ingress: ReadonlyArray<NetworkACLRule>
  readonly egress: ReadonlyArray<NetworkACLRule>
  readonly config: Readonly<Record<string, string>>
}

/**
 * @since 0.1.0
 * @category options
 */
export interface CreateOptions {
  readonly name: string
  readonly description?: string | undefined
  readonly ingress?: ReadonlyArray<NetworkACLRule> | undefined
  readonly egress?: ReadonlyArray<NetworkACLRule> | undefined
  readonly config?: Readonly<Record<string, string>> | undefined
}

type Fails<A> = Effect.Effect<A, RequestError | ExtensionNotAvailable>

/**
 * @since 0.1.0
 * @category models
 */
export interface Service
  extends Resource.Collection<NetworkACL, NetworkACLPut, CreateOptions, [], ExtensionNotAvailable>
{
  /** Every ACL, in full. */
  readonly list: (options?: {
    /** ACLs of every project (extension `network_acls_all_projects`). */
    readonly allProjects?: boolean | undefined
  }) => Fails<ReadonlyArray<NetworkACL>>
  /**
   * The ACL's log (rules in `logged` state), as text (extension `network_acl_log`). Only
   * OVN networks produce one; for other networks the server refuses with
   * `LXDAPIException`.
   */
  readonly log: (name: string) => Fails<string>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class NetworkAcls extends Context.Tag("effect-lxd/NetworkAcls")<NetworkAcls, Service>() {}

const normalise = (rules: ReadonlyArray<NetworkACLRule>) => rules.map((r) => ({ state: "enabled", ...r }))

/**
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Service, never, LxdHttp | Operations> = Effect.gen(function*() {
  const http = yield* LxdHttp
  const one = (name: string) => path`/1.0/network-acls/${name}`
  const { calls: acls, listWhere } = collection(http, yield* Operations, {
    collection: () => "/1.0/network-acls",
    item: one,
    schema: NetworkACL,
    extension: "network_acl",
    toPut: (a: NetworkACL): NetworkACLPut => ({
      description: a.description,
      ingress: a.ingress ?? [],
      egress: a.egress ?? [],
      config: a.config
    }),
    createBody: (options: CreateOptions) =>
      defined({
        name: options.name,
        description: options.description,
        ingress: normalise(options.ingress ?? []),
        egress: normalise(options.egress ?? []),
        config: options.config ?? {}
      }),
    createdName: (options) => options.name,
    // rules are sent with their state (LXD 5.0 refuses a rule without one)
    writeBody: (body) =>
      defined({
        ...body,
        ingress: body.ingress === undefined ? undefined : normalise(body.ingress),
        egress: body.egress === undefined ? undefined : normalise(body.egress)
      })
  })

  const log = (name: string) =>
    Effect.zipRight(
      http.requireExtension("network_acl_log"),
      Effect.scoped(
        Effect.flatMap(http.raw({ method: "GET", path: `${one(name)}/log` }), (response) =>
          Effect.map(
            Stream.runCollect(response.body),
            (chunks) => Buffer.concat(Chunk.toReadonlyArray(chunks)).toString("utf8")
          ))
      )
    )

  return NetworkAcls.of(traced("NetworkAcls", {
    ...acls,
    list: (options) => listWhere([], options?.allProjects ? { "all-projects": true } : {}),
    log
  }))
})

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<NetworkAcls, never, LxdHttp | Operations> = Layer.effect(NetworkAcls, make)
