/**
 * How bytes reach the server: an `HttpClient` already pointed at it (base URL and
 * `User-Agent` applied) and a websocket opener. `LxdHttp` speaks LXD's protocol on top of
 * whatever transport the context holds, so the transport can be swapped: the unix socket,
 * HTTPS with a client certificate, a client with your own middleware (retries, logging,
 * a proxy), or an in-memory server in tests.
 *
 * @example
 * ```ts
 * import { HttpClient } from "@effect/platform"
 * import { Effect, Layer } from "effect"
 * import { Lxd, LxdHttp, LxdTransport } from "effect-lxd"
 *
 * // log every request the library sends, then speak LXD over it
 * const Logged = LxdTransport.layerUnix().pipe(
 *   LxdTransport.transformClient(HttpClient.tapRequest((request) => Effect.logDebug(request.method, request.url)))
 * )
 * const LxdLive = Lxd.layer(LxdHttp.layer().pipe(Layer.provide(Logged)))
 * ```
 *
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as NodeTransport from "./internal/nodeTransport.js"
import type * as UpgradeInternal from "./internal/upgrade.js"
import { userAgent as defaultUserAgent } from "./internal/version.js"
import type * as WebSocketInternal from "./internal/websocket.js"
import type { TransportError } from "./LxdError.js"

/**
 * Which server family answers: `lxd` or `incus`.
 *
 * @since 0.1.0
 * @category models
 */
export type Dialect = "lxd" | "incus"

/**
 * A websocket frame (binary data, or a text frame; LXD marks the end of a stream with an
 * empty text frame).
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
 * What the protocol asks a websocket opener for: a path with its query (already
 * encoded, starting with `/1.0`) and headers.
 *
 * @since 0.1.0
 * @category models
 */
export interface WebSocketRequest {
  readonly path: string
  readonly headers: Readonly<Record<string, string>>
}

/**
 * A connection taken over from HTTP after `101 Switching Protocols` (SFTP), scoped.
 *
 * @since 0.1.0
 * @category models
 */
export type UpgradedSocket = UpgradeInternal.UpgradedSocket

/**
 * The server's answer to an upgrade request: the connection, or the refusal with its
 * status, headers and body (LXD's error envelope).
 *
 * @since 0.1.0
 * @category models
 */
export type UpgradeAnswer = UpgradeInternal.UpgradeAnswer

/**
 * What the protocol asks for when it switches a connection to another protocol: a path
 * with its query (already encoded, starting with `/1.0`), the protocol named in
 * `Upgrade`, and headers.
 *
 * @since 0.1.0
 * @category models
 */
export interface UpgradeRequest {
  readonly path: string
  readonly protocol: string
  readonly headers: Readonly<Record<string, string>>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** Where the transport goes, for messages: `unix:/var/lib/lxd/unix.socket`, `https://127.0.0.1:8443`. */
  readonly address: string
  /** A client whose requests carry paths only (`/1.0/instances`); it adds the server's address. */
  readonly client: HttpClient.HttpClient
  /** Open a websocket on an API path; the socket lives until the scope closes. */
  readonly websocket: (request: WebSocketRequest) => Effect.Effect<LxdWebSocket, TransportError, Scope.Scope>
  /**
   * Open a fresh connection, send `GET <path>` with `Upgrade: <protocol>` and hand back
   * the connection after a 101 (it lives until the scope closes) or the refusal.
   * Optional: transports without it (in-memory clients) cannot reach SFTP.
   */
  readonly upgrade?:
    | ((request: UpgradeRequest) => Effect.Effect<UpgradeAnswer, TransportError, Scope.Scope>)
    | undefined
  /**
   * Start `count` connections for websockets now, before their paths are known, and
   * give an opener that uses them: each websocket it opens takes one that is still sound
   * (its handshakes may be under way), or dials as `websocket` does when none is left.
   * Connections not taken when the scope closes are destroyed. An exec knows how many
   * sockets it will attach before it sends its request: over HTTPS their TCP and TLS
   * handshakes then run while the request is in flight. Optional: without it every
   * websocket is dialled when it is opened.
   */
  readonly preconnectWebsockets?:
    | ((count: number) => Effect.Effect<Service["websocket"], never, Scope.Scope>)
    | undefined
}

/**
 * The transport of the current connection.
 *
 * @since 0.1.0
 * @category tags
 */
export class LxdTransport extends Context.Tag("effect-lxd/LxdTransport")<LxdTransport, Service>() {}

/**
 * Options every Node transport takes.
 *
 * @since 0.1.0
 * @category options
 */
export interface CommonOptions {
  /** Replaces the `User-Agent` header (default `effect-lxd/<version>`). */
  readonly userAgent?: string | undefined
  /**
   * When the connection closes, how long requests still under way may take to finish
   * before the connection is cut. Default 15 seconds.
   */
  readonly closeTimeout?: Duration.DurationInput | undefined
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
   * with a server whose certificate you cannot get otherwise. Refused together with
   * `serverCert` (a pin is always checked).
   */
  readonly insecureSkipVerify?: true | undefined
}

/**
 * A transport from its parts.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (service: Service): Service => LxdTransport.of(service)

/**
 * A transport from the `HttpClient` in the context (with your middleware, or a test
 * double): requests get `baseUrl` and the `User-Agent` prepended.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromHttpClient = (options: {
  readonly baseUrl: string
  readonly address?: string | undefined
  readonly userAgent?: string | undefined
  readonly websocket: Service["websocket"]
  readonly upgrade?: Service["upgrade"]
  readonly preconnectWebsockets?: Service["preconnectWebsockets"]
}): Effect.Effect<Service, never, HttpClient.HttpClient> =>
  Effect.map(HttpClient.HttpClient, (client) =>
    make({
      address: options.address ?? options.baseUrl,
      client: HttpClient.mapRequest(client, (request) =>
        HttpClientRequest.setHeader(
          HttpClientRequest.prependUrl(request, options.baseUrl),
          "user-agent",
          options.userAgent ?? defaultUserAgent
        )),
      websocket: options.websocket,
      upgrade: options.upgrade,
      preconnectWebsockets: options.preconnectWebsockets
    }))

/**
 * The transport over the unix socket (discovered when no path is given). The undici
 * agent is closed with the layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerUnix = (options: UnixOptions = {}): Layer.Layer<LxdTransport, TransportError> =>
  Layer.scoped(LxdTransport, NodeTransport.unix(options))

/**
 * The transport over HTTPS with a client certificate. Verification is on: pin the
 * server's certificate with `serverCert`, or give a `ca`. The same TLS settings serve
 * HTTP and websockets.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerHttps = (options: HttpsOptions): Layer.Layer<LxdTransport, TransportError> =>
  Layer.scoped(LxdTransport, NodeTransport.https(options))

/**
 * Change the HTTP client of a transport layer (middleware: retries, logging, tracing
 * settings). Websockets are left as they are. The changed client carries every request:
 * the Node transports send JSON calls by a direct path, and local files by their bulk
 * path, only through their own, unchanged client.
 *
 * @since 0.1.0
 * @category combinators
 */
export const transformClient =
  (f: (client: HttpClient.HttpClient) => HttpClient.HttpClient) =>
  <E, R>(self: Layer.Layer<LxdTransport, E, R>): Layer.Layer<LxdTransport, E, R> =>
    Layer.map(self, (context) => {
      const transport = Context.get(context, LxdTransport)
      return Context.make(LxdTransport, make({ ...transport, client: f(transport.client) }))
    })

/**
 * The socket paths discovery tries, in order.
 *
 * @since 0.1.0
 * @category utils
 */
export const socketCandidates: (dialect?: Dialect, env?: NodeJS.ProcessEnv) => ReadonlyArray<string> =
  NodeTransport.socketCandidates

/**
 * The SHA-256 fingerprint (lower-case hex, no colons) of a PEM certificate, as LXD names
 * certificates.
 *
 * @since 0.1.0
 * @category utils
 */
export const certificateFingerprint: (pem: string) => string = NodeTransport.certificateFingerprint
