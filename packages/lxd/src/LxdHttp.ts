/**
 * LXD's protocol over a transport: the JSON envelope, typed errors, background-operation
 * answers, project and target scoping, raw bodies and websockets, and the server's
 * identity and API extensions.
 *
 * `LxdHttp` speaks through the `LxdTransport` in its context (the unix socket, HTTPS, or
 * any `HttpClient`), so every resource service works unchanged over any of them. Building
 * the layer proves the connection (`GET /1.0` under a timeout): a wrong socket, a bad
 * certificate or an unreachable server fails right there with a `TransportError`.
 *
 * Every request is checked before it is sent (`InvalidArgument` for a path segment that
 * is empty, `.`, `..` or holds a control character), is bounded in time (`requestTimeout`
 * until the answer starts, `idleTimeout` between chunks of a raw body) and in size
 * (`maxResponseBytes` for JSON answers).
 *
 * It is also the escape hatch for endpoints the typed services do not cover (`send`,
 * `sync`, `raw`, `websocket`).
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { LxdHttp } from "effect-lxd"
 *
 * const program = Effect.gen(function* () {
 *   const lxd = yield* LxdHttp.LxdHttp
 *   const info = yield* lxd.serverInfo
 *   console.log(info.environment?.server_version, lxd.dialect)
 *   const names = yield* lxd.sync({ method: "GET", path: "/1.0/instances" }, Schema.Array(Schema.String))
 *   console.log(names)
 * })
 *
 * export const main = () => Effect.runPromise(program.pipe(Effect.provide(LxdHttp.layerUnix())))
 * ```
 *
 * @since 0.1.0
 */
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import { dual } from "effect/Function"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Bulk from "./internal/bulk.js"
import * as ConnectionSettings from "./internal/connectionConfig.js"
import { Operation } from "./internal/envelope.js"
import type { QueryValue } from "./internal/path.js"
import * as PreconnectInternal from "./internal/preconnect.js"
import { type Bounds, makeRequests } from "./internal/protocol.js"
import * as Scoping from "./internal/scoping.js"
import { detectDialect, ServerEnvironment, ServerInfo, StorageDriver } from "./internal/serverInfo.js"
import * as UpgradeInternal from "./internal/upgrade.js"
import { userAgent as defaultUserAgent } from "./internal/version.js"
import * as WebSocketInternal from "./internal/websocket.js"
import { ExtensionNotAvailable, type RequestError, TransportError } from "./LxdError.js"
import * as LxdTransport from "./LxdTransport.js"
import type { Dialect, LxdWebSocket, UpgradedSocket } from "./LxdTransport.js"

export {
  /**
   * Which server family answers: `lxd` or `incus`. Decides header names (`X-LXD-*` or
   * `X-Incus-*`) and socket defaults; everything else is decided by API extensions.
   *
   * @since 0.1.0
   * @category models
   */
  type Dialect,
  /**
   * @since 0.1.0
   * @category options
   */
  type HttpsOptions as HttpsTransportOptions,
  /**
   * @since 0.1.0
   * @category models
   */
  type LxdWebSocket,
  /**
   * @since 0.1.0
   * @category options
   */
  type UnixOptions as UnixTransportOptions,
  /**
   * @since 0.1.0
   * @category models
   */
  type UpgradedSocket,
  /**
   * @since 0.1.0
   * @category models
   */
  type WebSocketMessage
} from "./LxdTransport.js"

export type {
  /**
   * A query value: a string, number or boolean, or several strings (the key repeats).
   * `undefined` leaves the key out.
   *
   * @since 0.1.0
   * @category models
   */
  QueryValue
}

export {
  /**
   * Which server family answers, from `GET /1.0`. Trusted clients see
   * `environment.server`; untrusted ones only the extension list.
   *
   * @since 0.1.0
   * @category utils
   */
  detectDialect,
  /**
   * The background operation object, as LXD returns it.
   *
   * @since 0.1.0
   * @category models
   */
  Operation,
  /**
   * The `environment` section of `GET /1.0` (trusted clients only).
   *
   * @since 0.1.0
   * @category models
   */
  ServerEnvironment,
  /**
   * `GET /1.0`: what the server says about itself.
   *
   * @since 0.1.0
   * @category models
   */
  ServerInfo,
  /**
   * A storage driver the server supports.
   *
   * @since 0.1.0
   * @category models
   */
  StorageDriver
}

/**
 * How many websockets this process has open right now (all connections). Useful to prove
 * in tests that nothing leaks.
 *
 * @since 0.1.0
 * @category utils
 */
export const openWebSocketCount: () => number = WebSocketInternal.openWebSocketCount

/**
 * How many upgraded connections (SFTP sessions) this process has open right now (all
 * connections). Useful to prove in tests that nothing leaks.
 *
 * @since 0.1.0
 * @category utils
 */
export const openUpgradedSocketCount: () => number = UpgradeInternal.openUpgradedSocketCount

/**
 * How many connections of the bulk path (file pushes and pulls, see `RawBody.file` and
 * `LxdRequest.bulk`) this process has open right now (all connections). Useful to prove
 * in tests that nothing leaks.
 *
 * @since 0.1.0
 * @category utils
 */
export const openBulkConnectionCount: () => number = Bulk.openBulkConnectionCount

/**
 * How many connections dialled ahead for websockets (`preconnectWebsockets`) this process
 * holds right now that no websocket has taken yet (all connections). Useful to prove in
 * tests that nothing leaks; a connection a websocket has taken counts in
 * `openWebSocketCount`.
 *
 * @since 0.1.0
 * @category utils
 */
export const openPreconnectedSocketCount: () => number = PreconnectInternal.openPreconnectedSocketCount

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
  /**
   * The local file `data` reads, when the body is one (`contentLength` is then its size).
   * A transport with a bulk path (the Node transports) sends the file itself, with a few
   * reused buffers, and reports a failed read with `readFailed`; any other sends `data`.
   */
  readonly file?: {
    readonly path: string
    readonly readFailed: (cause: unknown) => E
    /** Sees each piece of the file as it is read (e.g. to hash it), on either path. */
    readonly observe?: ((piece: Uint8Array) => void) | undefined
  } | undefined
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
  /**
   * How long the server may take to start answering, counted once the request body is
   * sent. Defaults to the connection's `requestTimeout`.
   */
  readonly timeout?: Duration.DurationInput | undefined
  /**
   * For `raw`: the answer is large and will most likely be written out with
   * `RawResponse.writeTo`. A transport with a bulk path (the Node transports) then reads
   * it on a connection of its own into reused buffers; its `body` stream is then read
   * whole (at most `maxResponseBytes`), so use `writeTo` for the large ones.
   */
  readonly bulk?: boolean | undefined
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
  /**
   * The body handed to `write` batch by batch (read it this way or through `body`, not
   * both). Each batch is awaited before the next is handed over, and its buffers may be
   * reused once the promise resolves, so `write` must be done with them by then (a
   * `FileHandle.writev` is). A rejected write fails with `writeFailed`. Succeeds with the
   * number of bytes written.
   */
  readonly writeTo: <W>(
    write: (pieces: ReadonlyArray<Uint8Array>) => Promise<void>,
    writeFailed: (cause: unknown) => W
  ) => Effect.Effect<number, TransportError | W>
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
export const currentProject: FiberRef.FiberRef<Option.Option<string>> = Scoping.currentProject

/**
 * The cluster member applied to calls in the current fiber.
 *
 * @since 0.1.0
 * @category scoping
 */
export const currentTarget: FiberRef.FiberRef<Option.Option<string>> = Scoping.currentTarget

/**
 * Run an effect with every LXD call in it scoped to a project (events and websockets too).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Instances, LxdHttp } from "effect-lxd"
 *
 * const inStaging = Effect.flatMap(Instances.Instances, (instances) => instances.list()).pipe(
 *   LxdHttp.withProject("staging")
 * )
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
  /**
   * An opener like `websocket` for the next `count` websockets, whose connections are
   * started now: over HTTPS their TCP and TLS handshakes run while, say, the request
   * that creates the sockets is in flight (an exec knows how many it will attach). Each
   * websocket opened takes one; once they are used up it dials as `websocket` does.
   * Connections not taken are closed with the scope. Transports without the capability
   * (`LxdTransport.Service.preconnectWebsockets`) give `websocket` itself.
   */
  readonly preconnectWebsockets: (
    count: number
  ) => Effect.Effect<
    (
      path: string,
      query?: Readonly<Record<string, QueryValue>>
    ) => Effect.Effect<LxdWebSocket, TransportError, Scope.Scope>,
    never,
    Scope.Scope
  >
  /**
   * Switch a fresh connection to another protocol (`Upgrade: <protocol>`, e.g. `sftp`
   * on `/1.0/instances/<name>/sftp`); project and target apply as for requests. The
   * connection lives until the scope closes. A refusal fails like every other error answer
   * (404 as `NotFound`).
   */
  readonly upgrade: (
    path: string,
    protocol: string,
    query?: Readonly<Record<string, QueryValue>>
  ) => Effect.Effect<UpgradedSocket, RequestError, Scope.Scope>
  /**
   * Whether the transport can switch protocols (`upgrade`): the Node transports can, an
   * in-memory client cannot. Absent counts as no.
   */
  readonly canUpgrade?: boolean | undefined
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
 * How the protocol bounds each call. Every bound ends as a `TransportError` (time) or a
 * `DecodeError` (size) that says which bound was reached.
 *
 * @since 0.1.0
 * @category options
 */
export interface ProtocolOptions {
  /** How long building the layer may take to reach the server. Default 10 seconds. */
  readonly connectTimeout?: Duration.DurationInput | undefined
  /**
   * How long the server may take to answer a request, counted from the moment its body
   * has been sent: until the headers of a raw answer, until the whole of a JSON answer.
   * Default 2 minutes (above the 10 s long polls of operation waits, which set their own).
   * Over the unix and HTTPS transports a JSON call's bound is timed with the process's own
   * timers, not Effect's `Clock` (as the closing of their connections is).
   */
  readonly requestTimeout?: Duration.DurationInput | undefined
  /** How long a raw answer (a file, an export) may stall between two chunks. Default 1 minute. */
  readonly idleTimeout?: Duration.DurationInput | undefined
  /** The largest JSON answer read, in bytes. Default 64 MiB; raw answers are streamed and unbounded. */
  readonly maxResponseBytes?: number | undefined
}

/**
 * Connecting over the unix socket: where, and how calls are bounded.
 *
 * @since 0.1.0
 * @category options
 */
export interface UnixOptions extends LxdTransport.UnixOptions, ProtocolOptions {}

/**
 * Connecting over HTTPS: where, with which certificates, and how calls are bounded.
 *
 * @since 0.1.0
 * @category options
 */
export interface HttpsOptions extends LxdTransport.HttpsOptions, ProtocolOptions {}

/**
 * The connection settings `layerConfig` reads.
 *
 * @since 0.1.0
 * @category options
 */
export type ConnectionConfig = ConnectionSettings.ConnectionConfig

/**
 * What building the connection can fail with.
 *
 * @since 0.1.0
 * @category errors
 */
export type ConnectError = RequestError

const DEFAULT_CONNECT_TIMEOUT = Duration.seconds(10)
const DEFAULT_REQUEST_TIMEOUT = Duration.minutes(2)
const DEFAULT_IDLE_TIMEOUT = Duration.minutes(1)
const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024

// -----------------------------------------------------------------------------
// Implementation
// -----------------------------------------------------------------------------

/**
 * The protocol over the transport in the context. Proves the connection with `GET /1.0`
 * under the connect timeout and caches the answer.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: ProtocolOptions = {}
): Effect.Effect<Service, RequestError, LxdTransport.LxdTransport> =>
  Effect.gen(function*() {
    const transport = yield* LxdTransport.LxdTransport
    const address = transport.address
    const bounds: Bounds = {
      request: Duration.decode(options.requestTimeout ?? DEFAULT_REQUEST_TIMEOUT),
      idle: Duration.decode(options.idleTimeout ?? DEFAULT_IDLE_TIMEOUT),
      maxBytes: options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES
    }

    // the gates of `makeRequests` read the server info once it is known (GET /1.0 has none)
    const known: { info: ServerInfo | undefined } = { info: undefined }
    const requireExtension = (extension: string) =>
      Effect.suspend(() => {
        const info = known.info
        return info === undefined || info.api_extensions.includes(extension)
          ? Effect.void
          : Effect.fail(
            new ExtensionNotAvailable({
              extension,
              server: info.environment?.server ?? detectDialect(info),
              ...(info.environment === undefined ? {} : { serverVersion: info.environment.server_version })
            })
          )
      })

    const { preconnectWebsockets, raw, send, sync, syncWithEtag, timedOut, upgrade, websocket } = makeRequests(
      transport,
      bounds,
      requireExtension
    )

    const fetchInfo = Effect.tap(
      sync({ method: "GET", path: "/1.0", project: null, target: null }, ServerInfo),
      (info) =>
        Effect.sync(() => {
          known.info = info
        })
    )

    const connectTimeout = Duration.decode(options.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT)
    const initial = yield* fetchInfo.pipe(
      Effect.timeoutFail({
        duration: connectTimeout,
        onTimeout: () => timedOut({ method: "GET", path: "/1.0" }, "no answer", connectTimeout)
      })
    )
    const infoRef = yield* Ref.make(initial)
    const dialect = detectDialect(initial)

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
      websocket,
      preconnectWebsockets,
      upgrade,
      canUpgrade: transport.upgrade !== undefined
    })
  })

/**
 * The protocol over the `LxdTransport` in the context.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: ProtocolOptions = {}): Layer.Layer<LxdHttp, RequestError, LxdTransport.LxdTransport> =>
  Layer.effect(LxdHttp, make(options))

/**
 * Connect over the unix socket (discovered when not given).
 *
 * @example
 * ```ts
 * import { LxdHttp } from "effect-lxd"
 *
 * const LxdLive = LxdHttp.layerUnix() // discovery
 * const IncusLive = LxdHttp.layerUnix({ socketPath: "/var/lib/incus/unix.socket" })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerUnix = (options: UnixOptions = {}): Layer.Layer<LxdHttp, ConnectError> =>
  Layer.provide(layer(options), LxdTransport.layerUnix(options))

/**
 * Connect over HTTPS with a client certificate. Verification is on: pin the server's
 * certificate with `serverCert` (honoured by websockets too), or give a `ca`.
 *
 * @example
 * ```ts
 * import { Redacted } from "effect"
 * import { LxdHttp } from "effect-lxd"
 * import * as Fs from "node:fs"
 *
 * // reads the certificates when called
 * export const LxdLive = () =>
 *   LxdHttp.layerHttps({
 *     url: "https://127.0.0.1:8443",
 *     cert: Fs.readFileSync("client.crt", "utf8"),
 *     key: Redacted.make(Fs.readFileSync("client.key", "utf8")),
 *     serverCert: Fs.readFileSync("server.crt", "utf8")
 *   })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerHttps = (options: HttpsOptions): Layer.Layer<LxdHttp, ConnectError> =>
  Layer.provide(layer(options), LxdTransport.layerHttps(options))

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
  ConnectionSettings.read(prefix)

/**
 * Connect with settings from configuration; see `config` for the variables.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  settings: Effect.Effect<ConnectionConfig, ConfigError.ConfigError> = config()
): Layer.Layer<LxdHttp, ConnectError | ConfigError.ConfigError> =>
  Layer.unwrapEffect(
    Effect.map(settings, (connection) => connection._tag === "Unix" ? layerUnix(connection) : layerHttps(connection))
  )

/**
 * The `User-Agent` effect-lxd sends unless told otherwise (never `Mozilla`-like, which
 * would switch LXD to its browser rules).
 *
 * @since 0.1.0
 * @category utils
 */
export const userAgent: string = defaultUserAgent

/**
 * The SHA-256 fingerprint (lower-case hex, no colons) of a PEM certificate, as LXD
 * names certificates.
 *
 * @since 0.1.0
 * @category utils
 */
export const certificateFingerprint: (pem: string) => string = LxdTransport.certificateFingerprint

/**
 * The socket paths discovery tries, in order.
 *
 * @since 0.1.0
 * @category utils
 */
export const socketCandidates: (dialect?: LxdTransport.Dialect, env?: NodeJS.ProcessEnv) => ReadonlyArray<string> =
  LxdTransport.socketCandidates

/**
 * Open a connection that lives in the current scope (for a second client beside the
 * application's layer, e.g. checking what an untrusted certificate sees).
 *
 * @since 0.1.0
 * @category constructors
 */
export const connect = (connection: ConnectionConfig): Effect.Effect<Service, ConnectError, Scope.Scope> =>
  Effect.map(
    Layer.build(connection._tag === "Unix" ? layerUnix(connection) : layerHttps(connection)),
    Context.get(LxdHttp)
  )
