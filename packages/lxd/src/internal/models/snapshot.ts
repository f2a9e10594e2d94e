/**
 * The snapshot model, shared by `Snapshots` (which re-exports it) and `Instances` (an
 * instance read with recursion carries its snapshots).
 */
import * as Schema from "effect/Schema"
import { optionalConfig, optionalDevices, optionalStrings } from "./fields.js"

/** A snapshot of an instance. */
export class Snapshot extends Schema.Class<Snapshot>("effect-lxd/Snapshot")({
  /** The snapshot's own name (`snap0`), without the instance's. */
  name: Schema.String,
  created_at: Schema.String,
  /** `0001-01-01T00:00:00Z` when the snapshot never expires. */
  expires_at: Schema.optional(Schema.String),
  last_used_at: Schema.optional(Schema.String),
  stateful: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  architecture: Schema.optional(Schema.String),
  config: optionalConfig,
  devices: optionalDevices,
  ephemeral: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  expanded_config: optionalConfig,
  expanded_devices: optionalDevices,
  profiles: optionalStrings,
  /** Disk usage in bytes (-1 when the storage driver cannot tell). */
  size: Schema.optional(Schema.Number),
  description: Schema.optional(Schema.String)
}) {}
