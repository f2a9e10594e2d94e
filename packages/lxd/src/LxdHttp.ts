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
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FiberRef from "effect/FiberRef"
import { dual } from "effect/Function"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as ConnectionSettings from "./internal/connectionConfig.js"
import { decodeEnvelope, Operation } from "./internal/envelope.js"
import { checkRequestTarget } from "./internal/names.js"
import { queryString, type QueryValue } from "./internal/path.js"
import * as Scoping from "./internal/scoping.js"
import { detectDialect, ServerEnvironment, ServerInfo, StorageDriver } from "./internal/serverInfo.js"
import { userAgent as defaultUserAgent } from "./internal/version.js"
import * as WebSocketInternal from "./internal/websocket.js"
import {
  DecodeError,
  ExtensionNotAvailable,
  fromErrorAnswer,
  type InvalidArgument,
  type LXDAPIException,
  type NotFound,
  type RequestError,
  type RequestOrigin,
  TransportError
} from "./LxdError.js"
import * as LxdTransport from "./LxdTransport.js"
import type { Dialect, LxdWebSocket } from "./LxdTransport.js"

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
  type WebSocketMessage
} from "./LxdTransport.js"

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
  /**
   * How long the server may take to start answering, counted once the request body is
   * sent. Defaults to the connection's `requestTimeout`.
   */
  readonly timeout?: Duration.DurationInput | undefined
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
export type ConnectError = TransportError | DecodeError | NotFound | LXDAPIException | InvalidArgument

const DEFAULT_CONNECT_TIMEOUT = Duration.seconds(10)
const DEFAULT_REQUEST_TIMEOUT = Duration.minutes(2)
const DEFAULT_IDLE_TIMEOUT = Duration.minutes(1)
const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024

// -----------------------------------------------------------------------------
// Implementation
// -----------------------------------------------------------------------------

interface Bounds {
  readonly request: Duration.Duration
  readonly idle: Duration.Duration
  readonly maxBytes: number
}

// requests that carry a secret in their query (image secrets, untrusted operation access)
// get no tracing span: spans record the full URL
const carriesSecret = (request: HttpClientRequest.HttpClientRequest): boolean => /[?&]secret=/.test(request.url)

const scopedQuery = (request: {
  readonly query?: Readonly<Record<string, QueryValue>> | undefined
  readonly project?: string | null | undefined
  readonly target?: string | null | undefined
}) =>
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

/** The envelope of a JSON answer, read into a success or a typed error. */
const interpret = (
  origin: RequestOrigin,
  status: number,
  text: string,
  headers: Readonly<Record<string, string>>
): Effect.Effect<LxdResponse, RequestError> => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    if (status >= 400) {
      const serverMessage = text.trim().slice(0, 500) || `HTTP ${status}`
      return Effect.fail(fromErrorAnswer(origin, { status, errorCode: status, serverMessage }))
    }
    return Effect.fail(DecodeError.because(origin, `the body is not JSON (HTTP ${status})`))
  }
  const envelope = decodeEnvelope(json)
  if (Either.isLeft(envelope)) return Effect.fail(DecodeError.fromParseError(origin, envelope.left))
  const e = envelope.right
  switch (e.type) {
    case "error":
      return Effect.fail(fromErrorAnswer(origin, { status, errorCode: e.error_code, serverMessage: e.error }))
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

const decodeMetadata = <A, I>(schema: Schema.Schema<A, I, never>, origin: RequestOrigin, metadata: unknown) =>
  Schema.decodeUnknown(schema, { onExcessProperty: "ignore" })(metadata).pipe(
    Effect.mapError((error) => DecodeError.fromParseError(origin, error))
  )

const expectSync = (origin: RequestOrigin, response: LxdResponse) =>
  response._tag === "Sync"
    ? Effect.succeed(response)
    : Effect.fail(DecodeError.because(origin, "expected a synchronous answer, got a background operation"))

const concatBytes = (chunks: ReadonlyArray<Uint8Array>, total: number): Uint8Array => {
  if (chunks.length === 1) return chunks[0]!
  const out = new Uint8Array(total)
  let offset = 0
  for (const chunk of chunks) {
    out.set(chunk, offset)
    offset += chunk.length
  }
  return out
}

const tooLarge = (origin: RequestOrigin, limit: number) =>
  DecodeError.because(origin, `the answer is larger than maxResponseBytes (${limit} bytes)`)

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
    const client = HttpClient.withTracerDisabledWhen(transport.client, carriesSecret)
    const bounds: Bounds = {
      request: Duration.decode(options.requestTimeout ?? DEFAULT_REQUEST_TIMEOUT),
      idle: Duration.decode(options.idleTimeout ?? DEFAULT_IDLE_TIMEOUT),
      maxBytes: options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES
    }

    const transportFailure = (origin: RequestOrigin) => (cause: unknown) =>
      TransportError.fromCause(address, origin, cause)

    const timedOut = (origin: RequestOrigin, what: string, after: Duration.Duration) =>
      new TransportError({
        address,
        method: origin.method,
        path: origin.path.split("?")[0]!,
        reason: `${what} within ${Duration.format(after)}`
      })

    const check = (request: LxdRequest<unknown>) => {
      const checked = checkRequestTarget(request.path, request.query)
      return Either.isLeft(checked) ? Effect.fail(checked.left) : Effect.void
    }

    /**
     * Send the request; the effect ends when the answer's headers arrive. `bounded`
     * applies the request timeout from the end of the body to `until` (the headers, or
     * the whole JSON answer when the caller reads it inside).
     */
    const execute = <A, E, E2>(
      request: LxdRequest<E>,
      read: (response: HttpClientResponse.HttpClientResponse) => Effect.Effect<A, E2>
    ): Effect.Effect<A, RequestError | E | E2, Scope.Scope> =>
      Effect.gen(function*() {
        yield* check(request)
        const query = yield* scopedQuery(request)
        const origin: RequestOrigin = { method: request.method, path: request.path }
        const headers: Record<string, string> = { ...request.headers }
        if (request.etag !== undefined) headers["if-match"] = request.etag
        let req = HttpClientRequest.make(request.method)(request.path + queryString(query), { headers })
        // a body stream that fails must surface with its own error, not as a transport error
        let bodyFailure: Option.Option<E> = Option.none()
        let bodySent: Deferred.Deferred<void> | undefined
        if (request.raw !== undefined) {
          const raw = request.raw
          if (raw.data instanceof Uint8Array) {
            req = HttpClientRequest.bodyUint8Array(req, raw.data, raw.contentType)
          } else {
            const sent = yield* Deferred.make<void>()
            bodySent = sent
            const body = raw.data.pipe(
              Stream.tapError((e) =>
                Effect.sync(() => {
                  bodyFailure = Option.some(e)
                })
              ),
              Stream.ensuring(Deferred.succeed(sent, undefined))
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
        const timeout = request.timeout === undefined ? bounds.request : Duration.decode(request.timeout)
        const answered: Effect.Effect<A, RequestError | E | E2, Scope.Scope> = client.execute(req).pipe(
          Effect.catchAll((cause): Effect.Effect<never, TransportError | E> =>
            Option.isSome(bodyFailure) ? Effect.fail(bodyFailure.value) : Effect.fail(transportFailure(origin)(cause))
          ),
          Effect.flatMap(read)
        )
        const deadline = Effect.sleep(timeout).pipe(
          Effect.zipRight(Effect.fail(timedOut(origin, "no answer", timeout)))
        )
        // both sides interruptible, so that the race can end the loser even when the call
        // runs inside a finalizer (an uninterruptible region)
        return yield* Effect.raceFirst(
          Effect.interruptible(answered),
          Effect.interruptible(bodySent === undefined ? deadline : Effect.zipRight(Deferred.await(bodySent), deadline))
        )
      })

    /** The whole JSON body as text, at most `maxBytes`. */
    const readJsonText = (response: HttpClientResponse.HttpClientResponse, origin: RequestOrigin) => {
      const declared = Number(response.headers["content-length"])
      if (Number.isFinite(declared) && declared > bounds.maxBytes) {
        return Effect.fail(tooLarge(origin, bounds.maxBytes))
      }
      if (Number.isFinite(declared)) return Effect.mapError(response.text, transportFailure(origin))
      return Effect.suspend(() => {
        const chunks: Array<Uint8Array> = []
        let total = 0
        return response.stream.pipe(
          Stream.mapError(transportFailure(origin)),
          Stream.runForEach((chunk) => {
            total += chunk.length
            if (total > bounds.maxBytes) return Effect.fail(tooLarge(origin, bounds.maxBytes))
            chunks.push(chunk)
            return Effect.void
          }),
          Effect.map(() => new TextDecoder().decode(concatBytes(chunks, total)))
        )
      })
    }

    const send = <E = never>(request: LxdRequest<E>): Effect.Effect<LxdResponse, RequestError | E> => {
      const origin: RequestOrigin = { method: request.method, path: request.path }
      return Effect.scoped(
        execute(request, (response) =>
          Effect.flatMap(
            readJsonText(response, origin),
            (text) => interpret(origin, response.status, text, response.headers)
          ))
      )
    }

    const sync = <A, I, E = never>(request: LxdRequest<E>, schema: Schema.Schema<A, I, never>) => {
      const origin: RequestOrigin = { method: request.method, path: request.path }
      return send(request).pipe(
        Effect.flatMap((response) => expectSync(origin, response)),
        Effect.flatMap((response) => decodeMetadata(schema, origin, response.metadata))
      )
    }

    const syncWithEtag = <A, I>(request: LxdRequest, schema: Schema.Schema<A, I, never>) => {
      const origin: RequestOrigin = { method: request.method, path: request.path }
      return send(request).pipe(
        Effect.flatMap((response) => expectSync(origin, response)),
        Effect.flatMap((response) =>
          Effect.map(decodeMetadata(schema, origin, response.metadata), (value) => ({ value, etag: response.etag }))
        )
      )
    }

    const raw = <E = never>(request: LxdRequest<E>): Effect.Effect<RawResponse, RequestError | E, Scope.Scope> => {
      const origin: RequestOrigin = { method: request.method, path: request.path }
      return execute(request, (response) =>
        response.status >= 400
          ? Effect.flatMap(readJsonText(response, origin), (text) =>
            // an error envelope fails here; anything else behind an error status fails as the status says
            Effect.zipRight(
              interpret(origin, response.status, text, response.headers),
              Effect.fail(
                fromErrorAnswer(origin, {
                  status: response.status,
                  errorCode: response.status,
                  serverMessage: `HTTP ${response.status}`
                })
              )
            ))
          : Effect.succeed<RawResponse>({
            status: response.status,
            headers: response.headers,
            body: response.stream.pipe(
              Stream.mapError(transportFailure(origin)),
              Stream.timeoutFail(() => timedOut(origin, "the answer stalled: no data", bounds.idle), bounds.idle)
            )
          }))
    }

    const websocket = (path: string, query?: Readonly<Record<string, QueryValue>>) =>
      Effect.gen(function*() {
        const checked = checkRequestTarget(path, query)
        if (Either.isLeft(checked)) {
          return yield* Effect.fail(
            new TransportError({
              address,
              method: "WEBSOCKET",
              path: path.split("?")[0]!,
              reason: checked.left.message
            })
          )
        }
        const q = yield* scopedQuery({ query })
        return yield* transport.websocket({ path: path + queryString(q), headers: {} })
      })

    const fetchInfo = sync({ method: "GET", path: "/1.0", project: null, target: null }, ServerInfo)

    const connectTimeout = Duration.decode(options.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT)
    const initial = yield* fetchInfo.pipe(
      Effect.timeoutFail({
        duration: connectTimeout,
        onTimeout: () => timedOut({ method: "GET", path: "/1.0" }, "no answer", connectTimeout)
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
