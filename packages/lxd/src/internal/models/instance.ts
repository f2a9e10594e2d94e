/**
 * The instance models (the instance and its running state), shared by `Instances` (which re-exports it), `InstanceBackups` (an
 * import answers with the new instance) and `Migration` (a copy answers with the instance
 * on the target).
 */
import * as Schema from "effect/Schema"
import { optionalConfig, optionalDevices, optionalStrings } from "./fields.js"

/** An instance (`GET /1.0/instances/<name>`). */
export class Instance extends Schema.Class<Instance>("effect-lxd/Instance")({
  name: Schema.String,
  /** `container` or `virtual-machine`. */
  type: Schema.optionalWith(Schema.String, { default: () => "container" }),
  /** `Running`, `Stopped`, `Frozen`, `Error`, ... */
  status: Schema.String,
  status_code: Schema.Number,
  architecture: Schema.String,
  config: optionalConfig,
  devices: optionalDevices,
  ephemeral: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  profiles: optionalStrings,
  stateful: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  description: Schema.optionalWith(Schema.String, { default: () => "" }),
  created_at: Schema.String,
  last_used_at: Schema.optional(Schema.String),
  /** The cluster member (`none` when not clustered). */
  location: Schema.optional(Schema.String),
  project: Schema.optional(Schema.String),
  /** `config` with the profiles applied. */
  expanded_config: optionalConfig,
  /** `devices` with the profiles applied. */
  expanded_devices: optionalDevices
}) {}

const Num = Schema.optionalWith(Schema.Number, { default: () => 0 })

/** One address of a network interface. */
export const NetworkAddress = Schema.Struct({
  family: Schema.String,
  address: Schema.String,
  netmask: Schema.String,
  scope: Schema.String
})

/** A network interface inside an instance, with its addresses and counters. */
export const NetworkState = Schema.Struct({
  addresses: Schema.optionalWith(Schema.Array(NetworkAddress), { nullable: true, default: () => [] }),
  counters: Schema.optional(Schema.Struct({
    bytes_received: Num,
    bytes_sent: Num,
    packets_received: Num,
    packets_sent: Num,
    errors_received: Num,
    errors_sent: Num,
    packets_dropped_outbound: Num,
    packets_dropped_inbound: Num
  })),
  hwaddr: Schema.optionalWith(Schema.String, { default: () => "" }),
  host_name: Schema.optionalWith(Schema.String, { default: () => "" }),
  mtu: Num,
  state: Schema.optionalWith(Schema.String, { default: () => "" }),
  type: Schema.optionalWith(Schema.String, { default: () => "" })
})

/** Disk usage of one device. */
export const DiskState = Schema.Struct({
  usage: Num,
  /** Incus and newer LXD only. */
  total: Schema.optional(Schema.Number)
})

/** The running state of an instance (`GET /1.0/instances/<name>/state`). */
export class InstanceState extends Schema.Class<InstanceState>("effect-lxd/InstanceState")({
  status: Schema.String,
  status_code: Schema.Number,
  disk: Schema.optionalWith(Schema.Record({ key: Schema.String, value: DiskState }), {
    nullable: true,
    default: () => ({})
  }),
  memory: Schema.optional(Schema.Struct({
    usage: Num,
    usage_peak: Num,
    swap_usage: Num,
    swap_usage_peak: Num,
    /** Incus and newer LXD only. */
    total: Schema.optional(Schema.Number)
  })),
  /** Interfaces by name (empty when stopped). */
  network: Schema.optionalWith(Schema.Record({ key: Schema.String, value: NetworkState }), {
    nullable: true,
    default: () => ({})
  }),
  pid: Num,
  processes: Num,
  cpu: Schema.optional(Schema.Struct({
    /** CPU time used, in nanoseconds. */
    usage: Num,
    allocated_time: Schema.optional(Schema.Number)
  })),
  started_at: Schema.optional(Schema.String)
}) {}
