/**
 * Networks (`/1.0/networks`) and what hangs off a network: its state, DHCP leases,
 * address forwards, load balancers and peers.
 *
 * Calls apply to the current project (`Lxd.withProject`). Sub-resources check their API
 * extension first and fail with `ExtensionNotAvailable` on servers without it
 * (`network_forward`, `network_load_balancer`, `network_peer`). The network driver may
 * still refuse: a bridge has no load balancers or peers (those are OVN features), which
 * the server reports as `LXDAPIException`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Networks } from "effect-lxd"
 *
 * const program = Effect.gen(function* () {
 *   const networks = yield* Networks.Networks
 *   yield* networks.create({
 *     name: "br-test",
 *     config: { "ipv4.address": "198.51.100.1/24", "ipv4.nat": "false", "ipv6.address": "none" }
 *   })
 *   yield* networks.forwards.create("br-test", {
 *     listen_address: "203.0.113.10",
 *     ports: [{ protocol: "tcp", listen_port: "80", target_address: "198.51.100.20", target_port: "8080" }]
 *   })
 *   const state = yield* networks.state("br-test")
 *   console.log(state.addresses, yield* networks.leases("br-test"))
 * })
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { collection } from "./internal/collection.js"
import { arrayOf, optionalConfig, optionalString, optionalStrings } from "./internal/models/fields.js"
import { path } from "./internal/path.js"
import { defined } from "./internal/resource.js"
import { traced } from "./internal/tracing.js"
import type { ExtensionNotAvailable, RequestError } from "./LxdError.js"
import { LxdHttp } from "./LxdHttp.js"
import { Operations } from "./Operations.js"
import type * as Resource from "./Resource.js"

// -----------------------------------------------------------------------------
// Models
// -----------------------------------------------------------------------------

/**
 * A network as LXD returns it (managed or not).
 *
 * @since 0.1.0
 * @category models
 */
export class Network extends Schema.Class<Network>("effect-lxd/Network")({
  name: Schema.String,
  description: optionalString,
  /** `bridge`, `macvlan`, `sriov`, `ovn`, `physical`, or for unmanaged ones `loopback`, `unknown`, ... */
  type: Schema.String,
  config: optionalConfig,
  managed: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  /** `Created`, `Pending`, `Errored`, ... (empty for unmanaged networks). */
  status: optionalString,
  locations: optionalStrings,
  used_by: optionalStrings,
  project: Schema.optional(Schema.String)
}) {}

/**
 * The writable fields of a network.
 *
 * @since 0.1.0
 * @category models
 */
export interface NetworkPut {
  readonly description: string
  readonly config: Readonly<Record<string, string>>
}

/**
 * An address on a network interface.
 *
 * @since 0.1.0
 * @category models
 */
export const NetworkStateAddress = Schema.Struct({
  family: Schema.String,
  address: Schema.String,
  netmask: Schema.String,
  scope: Schema.String
})

/**
 * Traffic counters of a network interface.
 *
 * @since 0.1.0
 * @category models
 */
export const NetworkStateCounters = Schema.Struct({
  bytes_received: Schema.optionalWith(Schema.Number, { default: () => 0 }),
  bytes_sent: Schema.optionalWith(Schema.Number, { default: () => 0 }),
  packets_received: Schema.optionalWith(Schema.Number, { default: () => 0 }),
  packets_sent: Schema.optionalWith(Schema.Number, { default: () => 0 }),
  errors_received: Schema.optional(Schema.Number),
  errors_sent: Schema.optional(Schema.Number),
  packets_dropped_outbound: Schema.optional(Schema.Number),
  packets_dropped_inbound: Schema.optional(Schema.Number)
})

/**
 * `GET /1.0/networks/<name>/state`: the host interface as the kernel sees it. The
 * driver-specific parts (`bond`, `bridge`, `vlan`, `ovn`) are kept as sent.
 *
 * @since 0.1.0
 * @category models
 */
export class NetworkState extends Schema.Class<NetworkState>("effect-lxd/NetworkState")({
  addresses: Schema.optionalWith(Schema.NullOr(Schema.Array(NetworkStateAddress)), { default: () => [] }),
  counters: Schema.optional(NetworkStateCounters),
  hwaddr: optionalString,
  mtu: Schema.optionalWith(Schema.Number, { default: () => 0 }),
  /** `up` or `down`. */
  state: Schema.String,
  type: optionalString,
  bond: Schema.optional(Schema.Unknown),
  bridge: Schema.optional(Schema.Unknown),
  vlan: Schema.optional(Schema.Unknown),
  ovn: Schema.optional(Schema.Unknown)
}) {}

/**
 * A DHCP lease (or static allocation, or the gateway itself) on a managed network.
 *
 * @since 0.1.0
 * @category models
 */
export class NetworkLease extends Schema.Class<NetworkLease>("effect-lxd/NetworkLease")({
  hostname: optionalString,
  hwaddr: optionalString,
  address: Schema.String,
  /** `static`, `dynamic` or `gateway`. */
  type: Schema.String,
  location: Schema.optional(Schema.String),
  project: Schema.optional(Schema.String)
}) {}

/**
 * A port mapping of a network forward.
 *
 * @since 0.1.0
 * @category models
 */
export const NetworkForwardPort = Schema.Struct({
  description: optionalString,
  /** `tcp` or `udp`. */
  protocol: Schema.String,
  /** A port, a range (`80-90`) or a list (`80,443`). */
  listen_port: Schema.String,
  target_port: optionalString,
  target_address: Schema.String
})

/**
 * @since 0.1.0
 * @category models
 */
export type NetworkForwardPort = typeof NetworkForwardPort.Encoded

/**
 * An address forward (`/1.0/networks/<n>/forwards/<listen_address>`): traffic to
 * `listen_address` goes to `config["target_address"]` by default, or per port.
 *
 * @since 0.1.0
 * @category models
 */
export class NetworkForward extends Schema.Class<NetworkForward>("effect-lxd/NetworkForward")({
  listen_address: Schema.String,
  description: optionalString,
  config: optionalConfig,
  ports: Schema.optionalWith(Schema.NullOr(Schema.Array(NetworkForwardPort)), { default: () => [] }),
  location: Schema.optional(Schema.String)
}) {}

/**
 * The writable fields of a forward.
 *
 * @since 0.1.0
 * @category models
 */
export interface NetworkForwardPut {
  readonly description: string
  readonly config: Readonly<Record<string, string>>
  readonly ports: ReadonlyArray<NetworkForwardPort>
}

/**
 * @since 0.1.0
 * @category options
 */
export interface NetworkForwardCreate {
  readonly listen_address: string
  readonly description?: string | undefined
  readonly config?: Readonly<Record<string, string>> | undefined
  readonly ports?: ReadonlyArray<NetworkForwardPort> | undefined
}

/**
 * A backend of a load balancer.
 *
 * @since 0.1.0
 * @category models
 */
export const NetworkLoadBalancerBackend = Schema.Struct({
  name: Schema.String,
  description: optionalString,
  target_address: Schema.String,
  target_port: optionalString
})

/**
 * A port of a load balancer, spread over named backends.
 *
 * @since 0.1.0
 * @category models
 */
export const NetworkLoadBalancerPort = Schema.Struct({
  description: optionalString,
  protocol: Schema.String,
  listen_port: Schema.String,
  target_backend: optionalStrings
})

/**
 * A load balancer (`/1.0/networks/<n>/load-balancers/<listen_address>`; OVN networks,
 * extension `network_load_balancer`).
 *
 * @since 0.1.0
 * @category models
 */
export class NetworkLoadBalancer extends Schema.Class<NetworkLoadBalancer>("effect-lxd/NetworkLoadBalancer")({
  listen_address: Schema.String,
  description: optionalString,
  config: optionalConfig,
  backends: Schema.optionalWith(Schema.NullOr(Schema.Array(NetworkLoadBalancerBackend)), { default: () => [] }),
  ports: Schema.optionalWith(Schema.NullOr(Schema.Array(NetworkLoadBalancerPort)), { default: () => [] }),
  location: Schema.optional(Schema.String)
}) {}

/**
 * The writable fields of a load balancer.
 *
 * @since 0.1.0
 * @category models
 */
export interface NetworkLoadBalancerPut {
  readonly description: string
  readonly config: Readonly<Record<string, string>>
  readonly backends: ReadonlyArray<typeof NetworkLoadBalancerBackend.Encoded>
  readonly ports: ReadonlyArray<typeof NetworkLoadBalancerPort.Encoded>
}

/**
 * @since 0.1.0
 * @category options
 */
export interface NetworkLoadBalancerCreate extends Partial<NetworkLoadBalancerPut> {
  readonly listen_address: string
}

/**
 * A peering between two OVN networks (extension `network_peer`).
 *
 * @since 0.1.0
 * @category models
 */
export class NetworkPeer extends Schema.Class<NetworkPeer>("effect-lxd/NetworkPeer")({
  name: Schema.String,
  description: optionalString,
  config: optionalConfig,
  target_project: optionalString,
  target_network: optionalString,
  /** `Pending` until the other side peers back, then `Created`. */
  status: optionalString,
  used_by: optionalStrings
}) {}

/**
 * The writable fields of a peer.
 *
 * @since 0.1.0
 * @category models
 */
export interface NetworkPeerPut {
  readonly description: string
  readonly config: Readonly<Record<string, string>>
}

/**
 * @since 0.1.0
 * @category options
 */
export interface NetworkPeerCreate {
  readonly name: string
  readonly target_network: string
  readonly target_project?: string | undefined
  readonly description?: string | undefined
  readonly config?: Readonly<Record<string, string>> | undefined
}

/**
 * @since 0.1.0
 * @category options
 */
export interface CreateOptions {
  readonly name: string
  /** Default `bridge`. */
  readonly type?: string | undefined
  readonly description?: string | undefined
  /**
   * Network config. For a bridge, give `ipv4.address`/`ipv6.address` explicitly (`none`,
   * or an address with prefix): `auto` makes LXD probe for a free private subnet.
   */
  readonly config?: Readonly<Record<string, string>> | undefined
}

// -----------------------------------------------------------------------------
// Service
// -----------------------------------------------------------------------------

/**
 * A sub-resource of a network (forwards, load balancers, peers), keyed by a listen address
 * or a name: a `Resource.Fixed` collection under the network (no `rename`).
 *
 * @since 0.1.0
 * @category models
 */
export interface SubResource<A, Put, Create>
  extends Resource.Fixed<A, Put, Create, [network: string], ExtensionNotAvailable>
{}

/**
 * The calls of `Resource.Collection` on networks, plus their state, leases and
 * sub-resources.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service extends Resource.Collection<Network, NetworkPut, CreateOptions> {
  /** Every network (managed and not), in full. */
  readonly list: (options?: {
    /** Networks of every project (extension `networks_all_projects`). */
    readonly allProjects?: boolean | undefined
  }) => Effect.Effect<ReadonlyArray<Network>, RequestError>
  /** The host interface's state (extension `network_state`). */
  readonly state: (name: string) => Effect.Effect<NetworkState, RequestError | ExtensionNotAvailable>
  /** DHCP leases of a managed network (extension `network_leases`). */
  readonly leases: (name: string) => Effect.Effect<ReadonlyArray<NetworkLease>, RequestError | ExtensionNotAvailable>
  /** Address forwards (extension `network_forward`), keyed by listen address. */
  readonly forwards: SubResource<NetworkForward, NetworkForwardPut, NetworkForwardCreate>
  /** Load balancers (extension `network_load_balancer`), keyed by listen address. */
  readonly loadBalancers: SubResource<NetworkLoadBalancer, NetworkLoadBalancerPut, NetworkLoadBalancerCreate>
  /** Peers (extension `network_peer`), keyed by name. */
  readonly peers: SubResource<NetworkPeer, NetworkPeerPut, NetworkPeerCreate>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class Networks extends Context.Tag("effect-lxd/Networks")<Networks, Service>() {}

/**
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Service, never, LxdHttp | Operations> = Effect.gen(function*() {
  const http = yield* LxdHttp
  const ops = yield* Operations
  const one = (name: string) => path`/1.0/networks/${name}`

  const { calls: networks, listWhere } = collection(http, ops, {
    collection: () => "/1.0/networks",
    item: one,
    schema: Network,
    toPut: (n: Network): NetworkPut => ({ description: n.description, config: n.config }),
    createBody: (options: CreateOptions) =>
      defined({
        name: options.name,
        type: options.type ?? "bridge",
        description: options.description,
        config: options.config ?? {}
      }),
    createdName: (options) => options.name
  })

  const sub = <A, I, Put, Create>(options: {
    readonly segment: string
    readonly extension: string
    readonly schema: Schema.Schema<A, I, never>
    readonly toPut: (a: A) => Put
    readonly key: (create: Create) => string
    readonly body: (create: Create) => unknown
  }): SubResource<A, Put, Create> => {
    const { calls: { rename: _, ...calls } } = collection(http, ops, {
      collection: (network: string) => `${one(network)}/${options.segment}`,
      item: (network: string, key: string) => `${one(network)}/${options.segment}${path`/${key}`}`,
      schema: options.schema,
      toPut: options.toPut,
      extension: options.extension,
      createBody: options.body,
      createdName: options.key
    })
    return calls
  }

  return Networks.of(traced("Networks", {
    ...networks,
    list: (options) => listWhere([], options?.allProjects ? { "all-projects": true } : {}),
    state: (name) =>
      Effect.zipRight(
        http.requireExtension("network_state"),
        http.sync({ method: "GET", path: `${one(name)}/state` }, NetworkState)
      ),
    leases: (name) =>
      Effect.zipRight(
        http.requireExtension("network_leases"),
        http.sync({ method: "GET", path: `${one(name)}/leases` }, arrayOf(NetworkLease))
      ),
    forwards: sub({
      segment: "forwards",
      extension: "network_forward",
      schema: NetworkForward,
      toPut: (f): NetworkForwardPut => ({ description: f.description, config: f.config, ports: f.ports ?? [] }),
      key: (c: NetworkForwardCreate) => c.listen_address,
      body: (c: NetworkForwardCreate) =>
        defined({
          listen_address: c.listen_address,
          description: c.description,
          config: c.config ?? {},
          ports: c.ports ?? []
        })
    }),
    loadBalancers: sub({
      segment: "load-balancers",
      extension: "network_load_balancer",
      schema: NetworkLoadBalancer,
      toPut: (lb): NetworkLoadBalancerPut => ({
        description: lb.description,
        config: lb.config,
        backends: lb.backends ?? [],
        ports: lb.ports ?? []
      }),
      key: (c: NetworkLoadBalancerCreate) => c.listen_address,
      body: (c: NetworkLoadBalancerCreate) =>
        defined({
          listen_address: c.listen_address,
          description: c.description,
          config: c.config ?? {},
          backends: c.backends ?? [],
          ports: c.ports ?? []
        })
    }),
    peers: sub({
      segment: "peers",
      extension: "network_peer",
      schema: NetworkPeer,
      toPut: (p): NetworkPeerPut => ({ description: p.description, config: p.config }),
      key: (c: NetworkPeerCreate) => c.name,
      body: (c: NetworkPeerCreate) =>
        defined({
          name: c.name,
          description: c.description,
          config: c.config ?? {},
          target_project: c.target_project,
          target_network: c.target_network
        })
    })
  }))
})

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Networks, never, LxdHttp | Operations> = Layer.effect(Networks, make)
