/**
 * The connection to an LXD or Incus server: the transport (unix socket, or HTTPS with a
 * client certificate), the JSON envelope, websockets, and the server's identity.
 *
 * Building the layer proves the connection (`GET /1.0` under a timeout), so a wrong
 * socket, a bad certificate or an unreachable server fails at layer build with a
 * `TransportError`, before any resource call is made.
 *
 * Every resource service goes through this one; it is also the escape hatch for any
 * endpoint the typed services do not cover yet (`send`, `sync`, `raw`, `websocket`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { LxdHttp } from "effect-lxd"
 *
 * const program = Effect.gen(function* () {
 *   const lxd = yield* LxdHttp.LxdHttp
 *   const info = yield* lxd.serverInfo
 *   console.log(info.environment?.server_version, lxd.dialect)
 * })
 *
 * Effect.runPromise(program.pipe(Effect.provide(LxdHttp.layerUnix())))
 * ```
 *
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Undici from "@effect/platform-node/Undici"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FiberRef from "effect/FiberRef"
import { dual, pipe } from "effect/Function"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import type * as Tls from "node:tls"
import { decodeEnvelope, Operation } from "./internal/envelope.js"
import { queryString, type QueryValue, resourceLabel, withoutQuery } from "./internal/path.js"
import * as WebSocketInternal from "./internal/websocket.js"
import { version } from "./internal/version.js"
import {
  DecodeError,
  ExtensionNotAvailable,
  LXDAPIException,
  NotFound,
  type RequestError,
  TransportError
} from "./LxdError.js"

export {
  /**
   * The background operation object, as LXD returns it.
   *
   * @since 0.1.0
   * @category models
   */
  Operation
}

/**
 * A websocket frame (binary data, or a text frame; LXD marks end of stream with an empty
 * text frame).
 *
 * @since 0.1.0
 * @category models
 */
export type WebSocketMessage = WebSocketInternal.WebSocketMessage

/**
 * An open, scoped websocket with backpressure on incoming frames.
 *
 * @since 0.1.0
 * @category models
 */
export type LxdWebSocket = WebSocketInternal.LxdWebSocket

/**
 * How many websockets this process has open right now (all connections). Useful to prove
 * in tests that nothing leaks.
 *
 * @since 0.1.0
 * @category utils
 */
export const openWebSocketCount: () => number = WebSocketInternal.openWebSocketCount

// -----------------------------------------------------------------------------
// Server info
// -----------------------------------------------------------------------------

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
 * Which server family answers: `lxd` or `incus`. Decides header names (`X-LXD-*` or
 * `X-Incus-*`) and socket defaults; everything else is decided by API extensions.
 *
 * @since 0.1.0
 * @category models
 */
export type Dialect = "lxd" | "incus"

// -----------------------------------------------------------------------------
// Requests and responses
// -----------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category models
 */
export type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD"

/**
 * A request body that is not JSON: raw bytes or a stream of bytes.
 *
 * @since 0.1.0
 * @category models
 */
export interface RawBody<E = never> {
  readonly contentType: string
  readonly data: Uint8Array | Stream.Stream<Uint8Array, E>
  readonly contentLength?: number | undefined
}

/**
 * A request to the LXD API. Build `path` with encoded segments (the typed services do);
 * `query` values are encoded here.
 *
 * @since 0.1.0
 * @category models
 */
export interface LxdRequest<E = never> {
  readonly method: Method
  /** The path, starting with `/1.0`. Every name in it must already be percent-encoded. */
  readonly path: string
  readonly query?: Readonly<Record<string, QueryValue>> | undefined
  /** A JSON body. */
  readonly body?: unknown
  /** A raw body (file contents, image tarballs). Takes precedence over `body`. */
  readonly raw?: RawBody<E> | undefined
  readonly headers?: Readonly<Record<string, string>> | undefined
  /** Sent as `If-Match`: the server refuses with 412 if the object changed. */
  readonly etag?: string | undefined
  /**
   * The project for this call. Defaults to the one set with `withProject`; `null` sends
   * none (for server-wide endpoints).
   */
  readonly project?: string | null | undefined
  /** The cluster member for this call. Defaults to the one set with `withTarget`; `null` sends none. */
  readonly target?: string | null | undefined
}

/**
 * A successful answer: `Sync` (the object itself) or `Async` (a background operation was
 * started; wait on it with `Operations`).
 *
 * @since 0.1.0
 * @category models
 */
export type LxdResponse =
  | {
    readonly _tag: "Sync"
    readonly status: number
    readonly metadata: unknown
    readonly etag: string | undefined
    readonly location: string | undefined
  }
  | {
    readonly _tag: "Async"
    readonly status: number
    readonly operation: Operation
  }

/**
 * A raw (non-JSON) answer, e.g. file contents or an image export. The body is read as it
 * arrives; it must be consumed inside the scope it was opened in.
 *
 * @since 0.1.0
 * @category models
 */
export interface RawResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: Stream.Stream<Uint8Array, TransportError>
}

// -----------------------------------------------------------------------------
// Scoping
// -----------------------------------------------------------------------------

/**
 * The project applied to calls in the current fiber (none means the server's default).
 *
 * @since 0.1.0
 * @category scoping
 */
export const currentProject: FiberRef.FiberRef<Option.Option<string>> = FiberRef.unsafeMake(Option.none())

/**
 * The cluster member applied to calls in the current fiber.
 *
 * @since 0.1.0
 * @category scoping
 */
export const currentTarget: FiberRef.FiberRef<Option.Option<string>> = FiberRef.unsafeMake(Option.none())

/**
 * Run an effect with every LXD call in it scoped to a project (events and websockets too).
 *
 * @example
 * ```ts
 * const inStaging = LxdHttp.withProject("staging")(instances.list())
 * ```
 *
 * @since 0.1.0
 * @category scoping
 */
export const withProject: {
  (project: string): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, project: string): Effect.Effect<A, E, R>
} = dual(
  2,
  <A, E, R>(self: Effect.Effect<A, E, R>, project: string): Effect.Effect<A, E, R> =>
    Effect.locally(self, currentProject, Option.some(project))
)

/**
 * Run an effect with every LXD call in it sent to one cluster member (`?target=`).
 *
 * @since 0.1.0
 * @category scoping
 */
export const withTarget: {
  (member: string): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, member: string): Effect.Effect<A, E, R>
} = dual(
  2,
  <A, E, R>(self: Effect.Effect<A, E, R>, member: string): Effect.Effect<A, E, R> =>
    Effect.locally(self, currentTarget, Option.some(member))
)

/**
 * The same as `withProject`, for streams.
 *
 * @since 0.1.0
 * @category scoping
 */
export const withProjectStream = (project: string) => <A, E, R>(self: Stream.Stream<A, E, R>): Stream.Stream<A, E, R> =>
  Stream.unwrapScoped(Effect.as(Effect.locallyScoped(currentProject, Option.some(project)), self))

// -----------------------------------------------------------------------------
// Service
// -----------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** Where this connection goes, e.g. `unix:/var/lib/lxd/unix.socket` or `https://127.0.0.1:8443`. */
  readonly address: string
  /** `lxd` or `incus`, from `environment.server` (or the socket path for untrusted views). */
  readonly dialect: Dialect
  /** The prefix of LXD's custom headers: `X-LXD` or `X-Incus`. */
  readonly headerPrefix: "X-LXD" | "X-Incus"
  /** `GET /1.0` as cached at connection (or at the last `refreshServerInfo`). */
  readonly serverInfo: Effect.Effect<ServerInfo>
  /** Read `GET /1.0` again (after a trust change, a config change, an upgrade). */
  readonly refreshServerInfo: Effect.Effect<ServerInfo, RequestError>
  /** Whether the server advertises an API extension. */
  readonly hasExtension: (extension: string) => Effect.Effect<boolean>
  /** Fail with `ExtensionNotAvailable` unless the server advertises the extension. */
  readonly requireExtension: (extension: string) => Effect.Effect<void, ExtensionNotAvailable>
  /** Send a request and decode the envelope. Error envelopes fail (404 as `NotFound`). */
  readonly send: <E = never>(request: LxdRequest<E>) => Effect.Effect<LxdResponse, RequestError | E>
  /** Send a request that must answer `sync`, and decode its metadata with `schema`. */
  readonly sync: <A, I, E = never>(
    request: LxdRequest<E>,
    schema: Schema.Schema<A, I, never>
  ) => Effect.Effect<A, RequestError | E>
  /** Like `sync`, also returning the `ETag` header (for `If-Match` on a later update). */
  readonly syncWithEtag: <A, I>(
    request: LxdRequest,
    schema: Schema.Schema<A, I, never>
  ) => Effect.Effect<{ readonly value: A; readonly etag: string | undefined }, RequestError>
  /** Send a request whose answer is not JSON (files, exports, logs). Error envelopes still fail. */
  readonly raw: <E = never>(request: LxdRequest<E>) => Effect.Effect<RawResponse, RequestError | E, Scope.Scope>
  /** Open a websocket on an API path (project and target applied as for requests). */
  readonly websocket: (
    path: string,
    query?: Readonly<Record<string, QueryValue>>
  ) => Effect.Effect<LxdWebSocket, TransportError, Scope.Scope>
}

/**
 * The connection service.
 *
 * @since 0.1.0
 * @category tags
 */
export class LxdHttp extends Context.Tag("effect-lxd/LxdHttp")<LxdHttp, Service>() {}

// -----------------------------------------------------------------------------
// Options
// -----------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category options
 */
export interface CommonOptions {
  /** How long building the layer may take to reach the server. Default 10 seconds. */
  readonly connectTimeout?: Duration.DurationInput | undefined
  /** Replaces the `User-Agent` header (default `effect-lxd/<version>`). */
  readonly userAgent?: string | undefined
}

/**
 * @since 0.1.0
 * @category options
 */
export interface UnixOptions extends CommonOptions {
  /**
   * The socket path. When absent it is discovered: `LXD_SOCKET`, `$LXD_DIR/unix.socket`,
   * `/var/snap/lxd/common/lxd/unix.socket`, `/var/lib/lxd/unix.socket`, then for Incus
   * `INCUS_SOCKET`, `$INCUS_DIR/unix.socket`, `/run/incus/unix.socket`,
   * `/var/lib/incus/unix.socket`. The first that exists wins.
   */
  readonly socketPath?: string | undefined
  /** Look only for this server family's sockets during discovery. */
  readonly dialect?: Dialect | undefined
}

/**
 * @since 0.1.0
 * @category options
 */
export interface HttpsOptions extends CommonOptions {
  /** The server's base URL, e.g. `https://127.0.0.1:8443`. */
  readonly url: string
  /** The client certificate (PEM). */
  readonly cert: string
  /** The client key (PEM). */
  readonly key: Redacted.Redacted<string> | string
  /**
   * The server certificate (PEM) to pin: the connection (HTTP and websockets) is accepted
   * only if the server presents exactly this certificate, whatever its host names.
   */
  readonly serverCert?: string | undefined
  /** A CA (PEM) to verify the server against, instead of the system's. */
  readonly ca?: string | undefined
  /**
   * Turn off server verification entirely. Never the default; only for first contact
   * with a server whose certificate you cannot get otherwise.
   */
  readonly insecureSkipVerify?: true | undefined
}

const DEFAULT_CONNECT_TIMEOUT = Duration.seconds(10)
const WEBSOCKET_OPEN_TIMEOUT_MS = 10_000

const lxdSocketCandidates = (env: NodeJS.ProcessEnv): Array<string> => [
  ...(env.LXD_SOCKET ? [env.LXD_SOCKET] : []),
  ...(env.LXD_DIR ? [`${env.LXD_DIR}/unix.socket`] : []),
  "/var/snap/lxd/common/lxd/unix.socket",
  "/var/lib/lxd/unix.socket"
]

const incusSocketCandidates = (env: NodeJS.ProcessEnv): Array<string> => [
  ...(env.INCUS_SOCKET ? [env.INCUS_SOCKET] : []),
  ...(env.INCUS_DIR ? [`${env.INCUS_DIR}/unix.socket`] : []),
  "/run/incus/unix.socket",
  "/var/lib/incus/unix.socket"
]

/**
 * The socket paths discovery tries, in order.
 *
 * @since 0.1.0
 * @category utils
 */
export const socketCandidates = (dialect?: Dialect, env: NodeJS.ProcessEnv = process.env): ReadonlyArray<string> =>
  dialect === "lxd"
    ? lxdSocketCandidates(env)
    : dialect === "incus"
    ? incusSocketCandidates(env)
    : [...lxdSocketCandidates(env), ...incusSocketCandidates(env)]

const isSocket = (p: string): boolean => {
  try {
    return Fs.statSync(p).isSocket()
  } catch {
    return false
  }
}

/**
 * The SHA-256 fingerprint (lower-case hex, no colons) of a PEM certificate, as LXD
 * names certificates.
 *
 * @since 0.1.0
 * @category utils
 */
export const certificateFingerprint = (pem: string): string =>
  new Crypto.X509Certificate(pem).fingerprint256.replace(/:/g, "").toLowerCase()

// -----------------------------------------------------------------------------
// Implementation
// -----------------------------------------------------------------------------

interface Transport {
  readonly address: string
  readonly baseUrl: string
  readonly dispatcher: Undici.Dispatcher
  readonly websocketUrl: (pathAndQuery: string) => string
  readonly websocketOptions: Record<string, unknown>
  readonly socketPath: string | undefined
}

const makeTransport = (
  options:
    | { readonly _tag: "Unix"; readonly socketPath: string }
    | { readonly _tag: "Https"; readonly options: HttpsOptions }
): Effect.Effect<Transport, TransportError, Scope.Scope> =>
  Effect.gen(function*() {
    if (options._tag === "Unix") {
      const socketPath = options.socketPath
      const dispatcher = yield* Effect.acquireRelease(
        Effect.sync(() => new Undici.Agent({ connect: { socketPath } })),
        (agent) => Effect.promise(() => agent.destroy().catch(() => undefined))
      )
      return {
        address: `unix:${socketPath}`,
        baseUrl: "http://lxd",
        dispatcher,
        websocketUrl: (pathAndQuery) => `ws+unix:${socketPath}:${pathAndQuery}`,
        websocketOptions: {},
        socketPath
      }
    }
    const o = options.options
    const url = new URL(o.url)
    if (url.protocol !== "https:") {
      return yield* Effect.fail(
        new TransportError({
          address: o.url,
          method: "GET",
          path: "/1.0",
          reason: `only https:// URLs are supported (got ${url.protocol})`
        })
      )
    }
    const tls: {
      cert: string
      key: string
      rejectUnauthorized: boolean
      minVersion: Tls.SecureVersion
      ca?: string
      checkServerIdentity?: (host: string, cert: Tls.PeerCertificate) => Error | undefined
    } = {
      cert: o.cert,
      key: Redacted.isRedacted(o.key) ? Redacted.value(o.key) : o.key,
      rejectUnauthorized: o.insecureSkipVerify !== true,
      minVersion: "TLSv1.2"
    }
    if (o.serverCert !== undefined && o.insecureSkipVerify !== true) {
      let pinned: string
      try {
        pinned = certificateFingerprint(o.serverCert)
      } catch (cause) {
        return yield* Effect.fail(
          new TransportError({
            address: o.url,
            method: "GET",
            path: "/1.0",
            reason: "the pinned server certificate is not a valid PEM certificate",
            cause
          })
        )
      }
      tls.ca = o.serverCert
      // the pin replaces host-name checks: LXD certificates rarely name the address dialled
      tls.checkServerIdentity = (_host, cert) =>
        cert.fingerprint256.replace(/:/g, "").toLowerCase() === pinned
          ? undefined
          : new Error(`server certificate ${cert.fingerprint256} does not match the pinned certificate`)
    } else if (o.ca !== undefined) {
      tls.ca = o.ca
    }
    const dispatcher = yield* Effect.acquireRelease(
      Effect.sync(() => new Undici.Agent({ connect: { ...tls } })),
      (agent) => Effect.promise(() => agent.destroy().catch(() => undefined))
    )
    const base = `${url.protocol}//${url.host}`
    return {
      address: base,
      baseUrl: base,
      dispatcher,
      websocketUrl: (pathAndQuery) => `wss://${url.host}${pathAndQuery}`,
      websocketOptions: { ...tls },
      socketPath: undefined
    }
  })

const transportError = (address: string, method: string, path: string, cause: unknown): TransportError => {
  const reason = describeCause(cause)
  return new TransportError({ address, method, path: withoutQuery(path), reason, cause })
}

const describeCause = (cause: unknown): string => {
  // platform wraps undici errors; dig out the innermost message with a code when present
  let current: unknown = cause
  const parts: Array<string> = []
  for (let depth = 0; depth < 5 && current !== undefined && current !== null; depth++) {
    if (typeof current === "object") {
      const c = current as { message?: unknown; code?: unknown; cause?: unknown }
      if (typeof c.message === "string" && c.message.length > 0 && !parts.includes(c.message)) {
        parts.push(typeof c.code === "string" ? `${c.message} (${c.code})` : c.message)
      }
      current = c.cause
    } else {
      parts.push(String(current))
      break
    }
  }
  return parts.length === 0 ? "unknown transport failure" : parts[parts.length - 1]!
}

const apiError = (
  method: string,
  path: string,
  status: number,
  errorCode: number,
  serverMessage: string
): NotFound | LXDAPIException => {
  const p = withoutQuery(path)
  const resource = resourceLabel(p)
  if (status === 404 || errorCode === 404) {
    return new NotFound({ method, path: p, serverMessage, ...(resource === undefined ? {} : { resource }) })
  }
  return new LXDAPIException({
    method,
    path: p,
    status,
    errorCode,
    serverMessage,
    ...(resource === undefined ? {} : { resource })
  })
}

/**
 * Map an error envelope (or a plain HTTP failure) to `NotFound` / `LXDAPIException`.
 *
 * @since 0.1.0
 * @category utils
 */
export const errorFromEnvelope = apiError

const decodeError = (method: string, path: string, error: ParseResult.ParseError | string): DecodeError =>
  new DecodeError({
    method,
    path: withoutQuery(path),
    reason: typeof error === "string" ? error : ParseResult.TreeFormatter.formatErrorSync(error)
  })

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

/**
 * Build the service: open the transport (an undici agent owned by the scope) and prove
 * the connection with `GET /1.0` under the connect timeout.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options:
    | ({ readonly _tag: "Unix" } & UnixOptions)
    | ({ readonly _tag: "Https" } & HttpsOptions)
): Effect.Effect<Service, TransportError | DecodeError | NotFound | LXDAPIException, Scope.Scope> =>
  Effect.gen(function*() {
    let socketPath: string | undefined
    if (options._tag === "Unix") {
      socketPath = options.socketPath
      if (socketPath === undefined) {
        const candidates = socketCandidates(options.dialect)
        socketPath = candidates.find(isSocket)
        if (socketPath === undefined) {
          return yield* Effect.fail(
            new TransportError({
              address: "unix",
              method: "GET",
              path: "/1.0",
              reason: `no LXD or Incus socket found (tried ${candidates.join(", ")})`
            })
          )
        }
      }
    }
    const transport = yield* makeTransport(
      options._tag === "Unix" ? { _tag: "Unix", socketPath: socketPath! } : { _tag: "Https", options }
    )
    const agentName = options.userAgent ?? userAgent
    // requests that carry a secret in their query (image secrets, untrusted operation
    // access) get no tracing span: spans record the full URL
    const client = HttpClient.withTracerDisabledWhen(
      NodeHttpClient.makeUndici(transport.dispatcher),
      (request) => /[?&]secret=/.test(request.url)
    )
    const address = transport.address

    const buildQuery = (request: { readonly query?: Readonly<Record<string, QueryValue>> | undefined; readonly project?: string | null | undefined; readonly target?: string | null | undefined }) =>
      Effect.gen(function*() {
        const query: Record<string, QueryValue> = { ...request.query }
        if (request.project !== null && query.project === undefined && query["all-projects"] === undefined) {
          const project = request.project ?? Option.getOrUndefined(yield* FiberRef.get(currentProject))
          if (project !== undefined) query.project = project
        }
        if (request.target !== null && query.target === undefined) {
          const target = request.target ?? Option.getOrUndefined(yield* FiberRef.get(currentTarget))
          if (target !== undefined) query.target = target
        }
        return query
      })

    const execute = <E>(request: LxdRequest<E>) =>
      Effect.gen(function*() {
        const query = yield* buildQuery(request)
        const pathAndQuery = request.path + queryString(query)
        const headers: Record<string, string> = { "user-agent": agentName, ...request.headers }
        if (request.etag !== undefined) headers["if-match"] = request.etag
        let req = HttpClientRequest.make(request.method)(transport.baseUrl + pathAndQuery, { headers })
        // a body stream that fails must surface with its own error, not as a transport error
        let bodyFailure: Option.Option<E> = Option.none()
        if (request.raw !== undefined) {
          const raw = request.raw
          if (raw.data instanceof Uint8Array) {
            req = HttpClientRequest.bodyUint8Array(req, raw.data, raw.contentType)
          } else {
            const body = raw.data.pipe(
              Stream.tapError((e) =>
                Effect.sync(() => {
                  bodyFailure = Option.some(e)
                })
              )
            )
            req = HttpClientRequest.bodyStream(req, body, {
              contentType: raw.contentType,
              ...(raw.contentLength === undefined ? {} : { contentLength: raw.contentLength })
            })
          }
        } else if (request.body !== undefined) {
          req = HttpClientRequest.bodyUint8Array(
            req,
            new TextEncoder().encode(JSON.stringify(request.body)),
            "application/json"
          )
        }
        const response = yield* client.execute(req).pipe(
          Effect.catchAll((cause): Effect.Effect<never, TransportError | E> =>
            Option.isSome(bodyFailure)
              ? Effect.fail(bodyFailure.value)
              : Effect.fail(transportError(address, request.method, request.path, cause))
          )
        )
        return response
      })

    const readText = (response: HttpClientResponse.HttpClientResponse, method: string, path: string) =>
      response.text.pipe(Effect.mapError((cause) => transportError(address, method, path, cause)))

    const interpret = (
      method: string,
      path: string,
      status: number,
      text: string,
      headers: Readonly<Record<string, string>>
    ): Effect.Effect<LxdResponse, RequestError> => {
      let json: unknown
      try {
        json = JSON.parse(text)
      } catch {
        if (status >= 400) {
          return Effect.fail(apiError(method, path, status, status, text.trim().slice(0, 500) || `HTTP ${status}`))
        }
        return Effect.fail(decodeError(method, path, `the body is not JSON (HTTP ${status})`))
      }
      const envelope = decodeEnvelope(json)
      if (Either.isLeft(envelope)) {
        return Effect.fail(decodeError(method, path, envelope.left))
      }
      const e = envelope.right
      switch (e.type) {
        case "error":
          return Effect.fail(apiError(method, path, status, e.error_code, e.error))
        case "async":
          return Effect.succeed({ _tag: "Async", status, operation: e.metadata })
        case "sync":
          return Effect.succeed({
            _tag: "Sync",
            status,
            metadata: e.metadata,
            etag: headers["etag"],
            location: headers["location"]
          })
      }
    }

    const send = <E = never>(request: LxdRequest<E>): Effect.Effect<LxdResponse, RequestError | E> =>
      Effect.scoped(
        Effect.gen(function*() {
          const response = yield* execute(request)
          const text = yield* readText(response, request.method, request.path)
          return yield* interpret(request.method, request.path, response.status, text, response.headers)
        })
      )

    const expectSync = (method: string, path: string, response: LxdResponse) =>
      response._tag === "Sync"
        ? Effect.succeed(response)
        : Effect.fail(decodeError(method, path, "expected a synchronous answer, got a background operation"))

    const decodeMetadata = <A, I>(schema: Schema.Schema<A, I, never>, method: string, path: string, metadata: unknown) =>
      Schema.decodeUnknown(schema, { onExcessProperty: "ignore" })(metadata).pipe(
        Effect.mapError((error) => decodeError(method, path, error))
      )

    const sync = <A, I, E = never>(request: LxdRequest<E>, schema: Schema.Schema<A, I, never>) =>
      send(request).pipe(
        Effect.flatMap((response) => expectSync(request.method, request.path, response)),
        Effect.flatMap((response) => decodeMetadata(schema, request.method, request.path, response.metadata))
      )

    const syncWithEtag = <A, I>(request: LxdRequest, schema: Schema.Schema<A, I, never>) =>
      send(request).pipe(
        Effect.flatMap((response) => expectSync(request.method, request.path, response)),
        Effect.flatMap((response) =>
          Effect.map(decodeMetadata(schema, request.method, request.path, response.metadata), (value) => ({
            value,
            etag: response.etag
          }))
        )
      )

    const raw = <E = never>(request: LxdRequest<E>): Effect.Effect<RawResponse, RequestError | E, Scope.Scope> =>
      Effect.gen(function*() {
        const response = yield* execute(request)
        if (response.status >= 400) {
          const text = yield* readText(response, request.method, request.path)
          // an error envelope fails here; anything else behind an error status fails as the status says
          yield* interpret(request.method, request.path, response.status, text, response.headers)
          return yield* Effect.fail(
            apiError(request.method, request.path, response.status, response.status, `HTTP ${response.status}`)
          )
        }
        return {
          status: response.status,
          headers: response.headers,
          body: Stream.mapError(response.stream, (cause) =>
            transportError(address, request.method, request.path, cause))
        }
      })

    const websocket = (path: string, query?: Readonly<Record<string, QueryValue>>) =>
      Effect.gen(function*() {
        const q = yield* buildQuery({ query })
        return yield* WebSocketInternal.open({
          url: transport.websocketUrl(path + queryString(q)),
          options: { ...transport.websocketOptions, headers: { "user-agent": agentName } },
          address,
          path,
          openTimeoutMs: WEBSOCKET_OPEN_TIMEOUT_MS
        })
      })

    const fetchInfo = sync({ method: "GET", path: "/1.0", project: null, target: null }, ServerInfo)

    const connectTimeout = options.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT
    const initial = yield* fetchInfo.pipe(
      Effect.timeoutFail({
        duration: connectTimeout,
        onTimeout: () =>
          new TransportError({
            address,
            method: "GET",
            path: "/1.0",
            reason: `no answer within ${Duration.format(connectTimeout)}`
          })
      })
    )
    const infoRef = yield* Ref.make(initial)

    const dialect = detectDialect(initial)

    const requireExtension = (extension: string) =>
      Effect.flatMap(Ref.get(infoRef), (info) =>
        info.api_extensions.includes(extension)
          ? Effect.void
          : Effect.fail(
            new ExtensionNotAvailable({
              extension,
              server: info.environment?.server ?? dialect,
              ...(info.environment === undefined ? {} : { serverVersion: info.environment.server_version })
            })
          ))

    return LxdHttp.of({
      address,
      dialect,
      headerPrefix: dialect === "incus" ? "X-Incus" : "X-LXD",
      serverInfo: Ref.get(infoRef),
      refreshServerInfo: Effect.tap(fetchInfo, (info) => Ref.set(infoRef, info)),
      hasExtension: (extension) => Effect.map(Ref.get(infoRef), (info) => info.api_extensions.includes(extension)),
      requireExtension,
      send,
      sync,
      syncWithEtag,
      raw,
      websocket
    })
  })

/**
 * Connect over the unix socket (discovered when not given).
 *
 * @example
 * ```ts
 * const LxdLive = LxdHttp.layerUnix()                       // discovery
 * const IncusLive = LxdHttp.layerUnix({ socketPath: "/var/lib/incus/unix.socket" })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerUnix = (
  options: UnixOptions = {}
): Layer.Layer<LxdHttp, TransportError | DecodeError | NotFound | LXDAPIException> =>
  Layer.scoped(LxdHttp, make({ _tag: "Unix", ...options }))

/**
 * Connect over HTTPS with a client certificate. Verification is on: pin the server's
 * certificate with `serverCert` (honoured by websockets too), or give a `ca`.
 *
 * @example
 * ```ts
 * import * as Fs from "node:fs"
 * const LxdLive = LxdHttp.layerHttps({
 *   url: "https://127.0.0.1:8443",
 *   cert: Fs.readFileSync("client.crt", "utf8"),
 *   key: Redacted.make(Fs.readFileSync("client.key", "utf8")),
 *   serverCert: Fs.readFileSync("server.crt", "utf8")
 * })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerHttps = (
  options: HttpsOptions
): Layer.Layer<LxdHttp, TransportError | DecodeError | NotFound | LXDAPIException> =>
  Layer.scoped(LxdHttp, make({ _tag: "Https", ...options }))

const readPem = (name: string): Config.Config<string> =>
  pipe(
    Config.string(name),
    Config.mapOrFail((file) => {
      try {
        return Either.right(Fs.readFileSync(file, "utf8"))
      } catch (cause) {
        // the error names the variable and the file; the file's contents never appear
        return Either.left(ConfigError.InvalidData([name], `cannot read ${file}: ${String(cause)}`))
      }
    })
  )

/**
 * The connection settings `layerConfig` reads.
 *
 * @since 0.1.0
 * @category options
 */
export type ConnectionConfig =
  | ({ readonly _tag: "Unix" } & UnixOptions)
  | ({ readonly _tag: "Https" } & HttpsOptions)

/**
 * Read connection settings from configuration (environment variables by default), with a
 * prefix (`LXD` by default, `INCUS` for Incus):
 *
 * - `<P>_HTTPS_URL` set: HTTPS with `<P>_CLIENT_CERT` and `<P>_CLIENT_KEY` (file paths),
 *   optional `<P>_SERVER_CERT` (pinned) or `<P>_CA`, and `<P>_INSECURE_SKIP_VERIFY=true`
 *   only if you must.
 * - otherwise the unix socket `<P>_SOCKET`, or discovery.
 *
 * @since 0.1.0
 * @category config
 */
export const config = (prefix: "LXD" | "INCUS" = "LXD"): Effect.Effect<ConnectionConfig, ConfigError.ConfigError> =>
  Effect.gen(function*() {
    const v = (s: string) => `${prefix}_${s}`
    const dialect: Dialect = prefix === "INCUS" ? "incus" : "lxd"
    const url = yield* Config.option(Config.string(v("HTTPS_URL")))
    if (Option.isNone(url)) {
      const socketPath = yield* Config.option(Config.string(v("SOCKET")))
      return { _tag: "Unix", dialect, ...(Option.isSome(socketPath) ? { socketPath: socketPath.value } : {}) }
    }
    const c = yield* Config.all({
      cert: readPem(v("CLIENT_CERT")),
      key: Config.map(readPem(v("CLIENT_KEY")), Redacted.make),
      serverCert: Config.option(readPem(v("SERVER_CERT"))),
      ca: Config.option(readPem(v("CA"))),
      insecure: Config.withDefault(Config.boolean(v("INSECURE_SKIP_VERIFY")), false)
    })
    return {
      _tag: "Https",
      url: url.value,
      cert: c.cert,
      key: c.key,
      ...(Option.isSome(c.serverCert) ? { serverCert: c.serverCert.value } : {}),
      ...(Option.isSome(c.ca) ? { ca: c.ca.value } : {}),
      ...(c.insecure ? { insecureSkipVerify: true as const } : {})
    }
  })

/**
 * Connect with settings from configuration; see `config` for the variables.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  settings: Effect.Effect<ConnectionConfig, ConfigError.ConfigError> = config()
): Layer.Layer<LxdHttp, TransportError | DecodeError | NotFound | LXDAPIException | ConfigError.ConfigError> =>
  Layer.scoped(LxdHttp, Effect.flatMap(settings, make))

/**
 * The `User-Agent` effect-lxd sends unless told otherwise (never `Mozilla`-like, which
 * would switch LXD to its browser rules).
 *
 * @since 0.1.0
 * @category utils
 */
export const userAgent = `effect-lxd/${version}`
