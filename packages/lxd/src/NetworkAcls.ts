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
import { traced } from "./internal/tracing.js"
import { optionalConfig, optionalString, optionalStrings } from "./internal/models/fields.js"
import { path } from "./internal/path.js"
import { crud, defined } from "./internal/resource.js"
import type { UpdateOptions } from "./internal/update.js"
import { LxdHttp } from "./LxdHttp.js"
import type { ExtensionNotAvailable, RequestError } from "./LxdError.js"
import { Operations } from "./Operations.js"

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
export interface Service {
  /** Every ACL, in full. */
  readonly list: (options?: {
    /** ACLs of every project (extension `network_acls_all_projects`). */
    readonly allProjects?: boolean | undefined
  }) => Fails<ReadonlyArray<NetworkACL>>
  readonly listNames: Fails<ReadonlyArray<string>>
  readonly get: (name: string) => Fails<NetworkACL>
  readonly exists: (name: string) => Fails<boolean>
  /** Create an ACL and return it as the server stored it. */
  readonly create: (options: CreateOptions) => Fails<NetworkACL>
  readonly put: (name: string, body: NetworkACLPut, options?: { readonly etag?: string | undefined }) => Fails<void>
  /** Change some fields (`PATCH`): the others (rules too) are kept, `config` keys are merged. */
  readonly patch: (name: string, changes: Partial<NetworkACLPut>) => Fails<void>
  /** Read with the ETag, apply `f`, write back with `If-Match`; retries on 412. */
  readonly update: (name: string, f: (current: NetworkACLPut) => NetworkACLPut, options?: UpdateOptions) => Fails<void>
  readonly rename: (name: string, newName: string) => Fails<void>
  /** Delete an ACL (fails while a network or NIC uses it). */
  readonly delete: (name: string) => Fails<void>
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
  const ops = yield* Operations
  const one = (name: string) => path`/1.0/network-acls/${name}`
  const acls = crud({
    http,
    ops,
    schema: NetworkACL,
    extension: "network_acl",
    toPut: (a: NetworkACL): NetworkACLPut => ({
      description: a.description,
      ingress: a.ingress ?? [],
      egress: a.egress ?? [],
      config: a.config
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

  const putBody = (body: Partial<NetworkACLPut>) =>
    defined({
      ...body,
      ingress: body.ingress === undefined ? undefined : normalise(body.ingress),
      egress: body.egress === undefined ? undefined : normalise(body.egress)
    })

  return NetworkAcls.of(traced("NetworkAcls", {
    list: (options) => acls.list("/1.0/network-acls", options?.allProjects ? { "all-projects": true } : {}),
    listNames: acls.listNames("/1.0/network-acls"),
    get: (name) => acls.get(one(name)),
    exists: (name) => acls.exists(one(name)),
    create: (options) =>
      acls.create(
        "/1.0/network-acls",
        defined({
          name: options.name,
          description: options.description,
          ingress: normalise(options.ingress ?? []),
          egress: normalise(options.egress ?? []),
          config: options.config ?? {}
        }),
        one(options.name)
      ),
    put: (name, body, options) =>
      acls.put(
        one(name),
        { ...body, ingress: normalise(body.ingress), egress: normalise(body.egress) },
        options?.etag
      ),
    patch: (name, changes) => acls.patch(one(name), putBody(changes)),
    update: (name, f, options) =>
      acls.update(one(name), (current) => {
        const next = f(current)
        return { ...next, ingress: normalise(next.ingress), egress: normalise(next.egress) }
      }, options),
    rename: (name, newName) => acls.rename(one(name), newName),
    delete: (name) => acls.delete(one(name)),
    log
  }))
})

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<NetworkAcls, never, LxdHttp | Operations> = Layer.effect(NetworkAcls, make)
