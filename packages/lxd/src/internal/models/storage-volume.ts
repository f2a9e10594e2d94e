/**
 * The storage volume model, shared by `StorageVolumes` (which re-exports it),
 * `StorageVolumeBackups` (an import answers with the new volume) and `Migration` (a volume
 * copied to another server is read back there).
 */
import * as Schema from "effect/Schema"
import { optionalConfig, optionalString, optionalStrings, OptionalTime } from "./fields.js"

/** A storage volume as LXD returns it. */
export class StorageVolume extends Schema.Class<StorageVolume>("effect-lxd/StorageVolume")({
  name: Schema.String,
  type: Schema.String,
  description: optionalString,
  config: optionalConfig,
  /** URLs of the instances and profiles that use the volume. */
  used_by: optionalStrings,
  /** `filesystem`, `block` or `iso`. */
  content_type: optionalString,
  location: Schema.optional(Schema.String),
  project: Schema.optional(Schema.String),
  pool: Schema.optional(Schema.String),
  /** `null` when the server does not record it (LXD 5.0 sends a zero time). */
  created_at: OptionalTime
}) {}
