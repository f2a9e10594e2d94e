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
import { traced } from "./internal/tracing.js"
import { optimisticUpdate, type UpdateOptions, writeJson } from "./internal/update.js"
import { InvalidArgument, type RequestError } from "./LxdError.js"
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

const Count = Schema.optional(Schema.Number)

/**
 * `GET /1.0/resources`: the host's hardware. The main totals are typed; the detailed
 * inventories (PCI, USB, GPUs, NICs, disks) are kept as LXD sends them.
 *
 * @since 0.1.0
 * @category models
 */
export class Resources extends Schema.Class<Resources>("effect-lxd/Resources")({
  cpu: Schema.Struct({
    architecture: Schema.optional(Schema.String),
    total: Count,
    sockets: Schema.optional(Schema.Array(Schema.Unknown))
  }),
  memory: Schema.Struct({
    used: Count,
    total: Count,
    hugepages_total: Count,
    hugepages_used: Count
  }),
  gpu: Schema.optional(Schema.Unknown),
  network: Schema.optional(Schema.Unknown),
  storage: Schema.optional(Schema.Unknown),
  usb: Schema.optional(Schema.Unknown),
  pci: Schema.optional(Schema.Unknown),
  system: Schema.optional(Schema.Unknown)
}) {}

/**
 * How to become trusted: the trust password (LXD 5.x only) or a trust token made with
 * `Certificates.createToken` (or `lxc config trust add`).
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
  /** `GET /1.0/resources`. */
  readonly resources: Effect.Effect<Resources, RequestError>
  /**
   * Become trusted over HTTPS, by trust password or token, then refresh the cached
   * server info. Succeeds at once if the client is trusted already. Secrets never appear
   * in errors or logs.
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

  const resources = http.sync({ method: "GET", path: "/1.0/resources", project: null }, Resources)

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

  return Server.of(traced("Server", { info, put, patch, update, resources, authenticate }))
})

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Server, never, LxdHttp | Operations> = Layer.effect(Server, make)
