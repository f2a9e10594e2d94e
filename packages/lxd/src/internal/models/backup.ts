/**
 * The backup model, shared by `InstanceBackups` (which re-exports it) and `Instances` (an
 * instance read with recursion carries its backups).
 */
import * as Schema from "effect/Schema"

/** A backup of an instance, kept on the server until exported or deleted. */
export class Backup extends Schema.Class<Backup>("effect-lxd/Backup")({
  name: Schema.String,
  created_at: Schema.String,
  expires_at: Schema.optional(Schema.String),
  instance_only: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  optimized_storage: Schema.optionalWith(Schema.Boolean, { default: () => false })
}) {}

/** A backup of a custom storage volume, kept on the server until exported or deleted. */
export class VolumeBackup extends Schema.Class<VolumeBackup>("effect-lxd/VolumeBackup")({
  name: Schema.String,
  created_at: Schema.String,
  expires_at: Schema.optional(Schema.String),
  volume_only: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  optimized_storage: Schema.optionalWith(Schema.Boolean, { default: () => false })
}) {}
