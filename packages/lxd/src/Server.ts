/**
 * The server itself: its description (`GET /1.0`), its configuration, its hardware
 * resources, and the trust flow for a new HTTPS client (`authenticate`).
 *
 * @example
 * ```ts
 * import { Effect, Redacted } from "effect"
 * import { Server } from "effect-lxd"
 *
 * // an HTTPS client that is not trusted yet presents a token once
 * const trustMe = (token: string) =>
 *   Effect.flatMap(Server.Server, (server) => server.authenticate({ token: Redacted.make(token) }))
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { tokenApi } from "./internal/models/auth.js"
import * as Models from "./internal/models/resources.js"
import { traced } from "./internal/tracing.js"
import { optimisticUpdate, type UpdateOptions, writeJson } from "./internal/update.js"
import { type ExtensionNotAvailable, InvalidArgument, type RequestError } from "./LxdError.js"
import { LxdHttp, ServerInfo } from "./LxdHttp.js"
import { Operations } from "./Operations.js"

export {
  /**
   * `GET /1.0`.
   *
   * @since 0.1.0
   * @category models
   */
  ServerInfo
}

/**
 * The writable part of the server (`PUT /1.0`): its configuration keys.
 *
 * @since 0.1.0
 * @category models
 */
export interface ServerPut {
  readonly config: Readonly<Record<string, unknown>>
}

/**
 * `GET /1.0/resources`: the host's hardware, typed in full (`cpu.sockets[].cores[].threads`,
 * `memory.nodes`, `gpu.cards`, `network.cards[].ports`, `storage.disks[].partitions`,
 * `usb.devices`, `pci.devices`, `system.firmware`, and Incus's `load`). Every field below the
 * top level is optional, and nested objects and lists may be `null`: servers leave out what
 * they cannot detect or what their extensions predate.
 *
 * @since 0.1.0
 * @category models
 */
export class Resources extends Schema.Class<Resources>("effect-lxd/Resources")({
  cpu: Models.ResourcesCPU,
  memory: Models.ResourcesMemory,
  gpu: Schema.optional(Schema.NullOr(Models.ResourcesGPU)),
  network: Schema.optional(Schema.NullOr(Models.ResourcesNetwork)),
  storage: Schema.optional(Schema.NullOr(Models.ResourcesStorage)),
  usb: Schema.optional(Schema.NullOr(Models.ResourcesUSB)),
  pci: Schema.optional(Schema.NullOr(Models.ResourcesPCI)),
  system: Schema.optional(Schema.NullOr(Models.ResourcesSystem)),
  /** Incus only (extension `resources_load`). */
  load: Schema.optional(Schema.NullOr(Models.ResourcesLoad))
}) {}

/**
 * One configuration key as `GET /1.0/metadata/configuration` describes it (`shortdesc`,
 * `longdesc`, `type`, `default`, `scope`, `liveupdate`, `condition`, `required`, ...).
 *
 * @since 0.1.0
 * @category models
 */
export const ConfigKeyMetadata = Schema.Struct({
  shortdesc: Schema.optional(Schema.String),
  longdesc: Schema.optional(Schema.String),
  type: Schema.optional(Schema.String),
  default: Schema.optional(Schema.String),
  defaultdesc: Schema.optional(Schema.String),
  initialvaluedesc: Schema.optional(Schema.String),
  scope: Schema.optional(Schema.String),
  liveupdate: Schema.optional(Schema.String),
  condition: Schema.optional(Schema.String),
  required: Schema.optional(Schema.String),
  managed: Schema.optional(Schema.String),
  resource: Schema.optional(Schema.String)
})

/**
 * `GET /1.0/metadata/configuration` (extension `metadata_configuration`): every
 * configuration key the server knows, by entity (`instance`, `server`, `project`, ...) and
 * group, as LXD generates it for its documentation; and (LXD, extension
 * `metadata_configuration_entity_types`) the entity types with their entitlements.
 *
 * @since 0.1.0
 * @category models
 */
export class ConfigurationMetadata extends Schema.Class<ConfigurationMetadata>("effect-lxd/ConfigurationMetadata")({
  configs: Schema.optionalWith(
    Schema.Record({
      key: Schema.String,
      value: Schema.Record({
        key: Schema.String,
        value: Schema.Struct({
          keys: Schema.optionalWith(
            Schema.NullOr(Schema.Array(Schema.Record({ key: Schema.String, value: ConfigKeyMetadata }))),
            { default: () => [] }
          )
        })
      })
    }),
    { default: () => ({}) }
  ),
  entities: Schema.optional(
    Schema.Record({
      key: Schema.String,
      value: Schema.Struct({
        project_specific: Schema.optional(Schema.Boolean),
        entitlements: Schema.optional(
          Schema.NullOr(
            Schema.Array(Schema.Struct({ name: Schema.String, description: Schema.optional(Schema.String) }))
          )
        )
      })
    })
  )
}) {}

/**
 * How to become trusted: the trust password (LXD 5.x only) or a trust token made with
 * `Certificates.createToken` (or `lxc config trust add`), or, on LXD 6.2+, with
 * `Auth.identities.createTlsToken` (or `lxc auth identity create tls/<name>`).
 *
 * @since 0.1.0
 * @category models
 */
export type Credentials =
  | { readonly password: Redacted.Redacted<string> }
  | { readonly token: Redacted.Redacted<string> }

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** `GET /1.0`, fresh (also refreshes the connection's cached copy). */
  readonly info: Effect.Effect<ServerInfo, RequestError>
  /** Replace the server configuration (`PUT /1.0`), optionally guarded by an ETag. */
  readonly put: (body: ServerPut, options?: { readonly etag?: string | undefined }) => Effect.Effect<void, RequestError>
  /** Change some configuration keys (`PATCH /1.0`); an empty string or `null` unsets a key. */
  readonly patch: (config: Readonly<Record<string, unknown>>) => Effect.Effect<void, RequestError>
  /** Read the configuration with its ETag, apply `f`, write it back; retries on 412. */
  readonly update: (
    f: (current: ServerPut) => ServerPut,
    options?: UpdateOptions
  ) => Effect.Effect<void, RequestError>
  /** `GET /1.0/resources` (extension `resources`). */
  readonly resources: Effect.Effect<Resources, RequestError>
  /**
   * `GET /1.0/metadata/configuration`: every configuration key the server knows, with its
   * description, type, default and scope (extension `metadata_configuration`; LXD 5.0
   * does not have it).
   */
  readonly configurationMetadata: Effect.Effect<ConfigurationMetadata, RequestError | ExtensionNotAvailable>
  /**
   * Become trusted over HTTPS, by trust password or token, then refresh the cached
   * server info. Succeeds at once if the client is trusted already. A token of a pending
   * TLS identity (it says so inside) goes to `/1.0/auth/identities/tls` and needs
   * `access_management_tls`; any other to `/1.0/certificates`. Secrets never appear in
   * errors or logs.
   */
  readonly authenticate: (
    credentials: Credentials,
    options?: { readonly name?: string | undefined }
  ) => Effect.Effect<ServerInfo, RequestError | InvalidArgument>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class Server extends Context.Tag("effect-lxd/Server")<Server, Service>() {}

const ConfigOnly = Schema.Struct({
  config: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.Unknown }), { default: () => ({}) })
})

/**
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Service, never, LxdHttp | Operations> = Effect.gen(function*() {
  const http = yield* LxdHttp
  const ops = yield* Operations

  const info = http.refreshServerInfo

  const put = (body: ServerPut, options?: { readonly etag?: string | undefined }) =>
    writeJson(ops, "PUT", "/1.0", body, options?.etag)

  const patch = (config: Readonly<Record<string, unknown>>) => writeJson(ops, "PATCH", "/1.0", { config }, undefined)

  const update = (f: (current: ServerPut) => ServerPut, options?: UpdateOptions) =>
    optimisticUpdate(
      http.syncWithEtag({ method: "GET", path: "/1.0", project: null, target: null }, ConfigOnly),
      f,
      (body, etag) => writeJson(ops, "PUT", "/1.0", body, etag),
      options
    )

  const resources = Effect.zipRight(
    http.requireExtension("resources"),
    http.sync({ method: "GET", path: "/1.0/resources", project: null }, Resources)
  )

  const configurationMetadata = Effect.zipRight(
    http.requireExtension("metadata_configuration"),
    http.sync(
      { method: "GET", path: "/1.0/metadata/configuration", project: null, target: null },
      ConfigurationMetadata
    )
  )

  const authenticate = (credentials: Credentials, options?: { readonly name?: string | undefined }) =>
    Effect.gen(function*() {
      const current = yield* http.serverInfo
      if (current.trusted) return current
      if (!http.address.startsWith("https://")) {
        return yield* Effect.fail(
          new InvalidArgument({
            argument: "connection",
            reason: "authenticate needs an HTTPS connection with a client certificate"
          })
        )
      }
      if ("token" in credentials && tokenApi(Redacted.value(credentials.token)) === "identities") {
        // a token of a pending TLS identity (LXD 6.2+): the server takes the certificate
        // of the TLS handshake, and no other field
        yield* http.requireExtension("access_management_tls")
        yield* ops.run({
          method: "POST",
          path: "/1.0/auth/identities/tls",
          body: { trust_token: Redacted.value(credentials.token) },
          project: null,
          target: null
        })
        return yield* http.refreshServerInfo
      }
      const body: Record<string, unknown> = { type: "client" }
      if (options?.name !== undefined) body.name = options.name
      if ("password" in credentials) {
        body.password = Redacted.value(credentials.password)
      } else if (http.dialect === "incus" || current.api_extensions.includes("explicit_trust_token")) {
        // Incus always took the token in `trust_token`, without advertising an extension
        body.trust_token = Redacted.value(credentials.token)
      } else {
        // LXD 5.0 takes the token in `password`
        body.password = Redacted.value(credentials.token)
      }
      yield* ops.run({ method: "POST", path: "/1.0/certificates", body, project: null, target: null })
      return yield* http.refreshServerInfo
    })

  return Server.of(traced("Server", { info, put, patch, update, resources, configurationMetadata, authenticate }))
})

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Server, never, LxdHttp | Operations> = Layer.effect(Server, make)
