/**
 * The image models, shared by `Images` (which re-exports them), `Instances` (an
 * instance's image metadata, publishing) and `Snapshots` (publishing).
 */
import * as Schema from "effect/Schema"
import { optionalConfig, optionalStrings } from "./fields.js"

/** An alias as listed inside an image. */
export const ImageAliasEntry = Schema.Struct({
  name: Schema.String,
  description: Schema.optionalWith(Schema.String, { default: () => "" })
})

/** Where a cached or auto-updating image comes from. */
export const ImageSource = Schema.Struct({
  alias: Schema.optional(Schema.String),
  certificate: Schema.optional(Schema.String),
  protocol: Schema.optional(Schema.String),
  server: Schema.optional(Schema.String),
  image_type: Schema.optional(Schema.String)
})

/** An image (`GET /1.0/images/<fingerprint>`). */
export class Image extends Schema.Class<Image>("effect-lxd/Image")({
  fingerprint: Schema.String,
  architecture: Schema.String,
  aliases: Schema.optionalWith(Schema.Array(ImageAliasEntry), { nullable: true, default: () => [] }),
  auto_update: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  cached: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  created_at: Schema.optional(Schema.String),
  expires_at: Schema.optional(Schema.String),
  last_used_at: Schema.optional(Schema.String),
  uploaded_at: Schema.optional(Schema.String),
  filename: Schema.optionalWith(Schema.String, { default: () => "" }),
  properties: optionalConfig,
  public: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  size: Schema.Number,
  /** `container` or `virtual-machine`. */
  type: Schema.optionalWith(Schema.String, { default: () => "container" }),
  update_source: Schema.optional(Schema.NullOr(ImageSource)),
  profiles: optionalStrings,
  project: Schema.optional(Schema.String)
}) {}

/** A template of an image (or of an instance's image metadata). */
export const ImageTemplate = Schema.Struct({
  when: optionalStrings,
  create_only: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  template: Schema.String,
  properties: optionalConfig
})

/** An image's `metadata.yaml` (also what `Instances.metadata` reads and writes). */
export class ImageMetadata extends Schema.Class<ImageMetadata>("effect-lxd/ImageMetadata")({
  architecture: Schema.String,
  creation_date: Schema.Number,
  expiry_date: Schema.optionalWith(Schema.Number, { default: () => 0 }),
  properties: optionalConfig,
  templates: Schema.optionalWith(Schema.Record({ key: Schema.String, value: ImageTemplate }), {
    nullable: true,
    default: () => ({})
  })
}) {}
