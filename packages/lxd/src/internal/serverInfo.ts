/**
 * What `GET /1.0` says about the server, and what follows from it (the dialect).
 */
import * as Schema from "effect/Schema"
import type { Dialect } from "../LxdTransport.js"

/**
 * A storage driver the server supports.
 *
 * @since 0.1.0
 * @category models
 */
export const StorageDriver = Schema.Struct({
  Name: Schema.String,
  Version: Schema.String,
  Remote: Schema.Boolean
})

/**
 * The `environment` section of `GET /1.0` (trusted clients only).
 *
 * @since 0.1.0
 * @category models
 */
export class ServerEnvironment extends Schema.Class<ServerEnvironment>("effect-lxd/ServerEnvironment")({
  addresses: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] }),
  architectures: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] }),
  certificate: Schema.optional(Schema.String),
  certificate_fingerprint: Schema.optional(Schema.String),
  driver: Schema.optional(Schema.String),
  driver_version: Schema.optional(Schema.String),
  firewall: Schema.optional(Schema.String),
  kernel: Schema.optional(Schema.String),
  kernel_architecture: Schema.optional(Schema.String),
  kernel_features: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String })),
  kernel_version: Schema.optional(Schema.String),
  lxc_features: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String })),
  os_name: Schema.optional(Schema.String),
  os_version: Schema.optional(Schema.String),
  project: Schema.optional(Schema.String),
  server: Schema.String,
  server_clustered: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  server_event_mode: Schema.optional(Schema.String),
  server_name: Schema.optional(Schema.String),
  server_pid: Schema.optional(Schema.Number),
  server_version: Schema.String,
  storage: Schema.optional(Schema.String),
  storage_version: Schema.optional(Schema.String),
  storage_supported_drivers: Schema.optional(Schema.Array(StorageDriver))
}) {}

/**
 * `GET /1.0`: what the server says about itself. Untrusted clients get the short view
 * (no `environment`, `auth: "untrusted"`).
 *
 * @since 0.1.0
 * @category models
 */
export class ServerInfo extends Schema.Class<ServerInfo>("effect-lxd/ServerInfo")({
  api_extensions: Schema.Array(Schema.String),
  api_status: Schema.String,
  api_version: Schema.String,
  auth: Schema.String,
  auth_methods: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] }),
  auth_user_name: Schema.optional(Schema.String),
  auth_user_method: Schema.optional(Schema.String),
  client_certificate: Schema.optional(Schema.Boolean),
  public: Schema.Boolean,
  config: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.Unknown }), {
    default: () => ({})
  }),
  environment: Schema.optional(ServerEnvironment)
}) {
  /**
   * `true` when the server trusts this client.
   *
   * @since 0.1.0
   */
  get trusted(): boolean {
    return this.auth === "trusted"
  }
}

/**
 * Which server family answers. Trusted clients see `environment.server`; untrusted ones
 * only the extension list, where Incus's renamed dev-incus extensions give it away.
 *
 * @since 0.1.0
 * @category utils
 */
export const detectDialect = (info: ServerInfo): Dialect => {
  if (info.environment !== undefined) return info.environment.server === "incus" ? "incus" : "lxd"
  return info.api_extensions.includes("restrict_dev_incus") || info.api_extensions.includes("dev_incus_events")
    ? "incus"
    : "lxd"
}
