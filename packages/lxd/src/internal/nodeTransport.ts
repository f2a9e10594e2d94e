/**
 * The Node transports: an undici `Agent` for HTTP and `ws` for websockets, over the unix
 * socket or over HTTPS with a client certificate. The TLS options are built once and the
 * same object serves both, so a pinned server certificate guards websockets too.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Undici from "@effect/platform-node/Undici"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Net from "node:net"
import { Readable } from "node:stream"
import * as Tls from "node:tls"
import { TransportError } from "../LxdError.js"
import type { Dialect, HttpsOptions, Service, UnixOptions, WebSocketRequest } from "../LxdTransport.js"
import * as Bulk from "./bulk.js"
import { withClientSpan } from "./clientSpan.js"
import { type Exchange, type ExchangeAnswer, type ExchangeRequest, withBulk, withExchange } from "./exchange.js"
import { withoutQuery } from "./path.js"
import * as Preconnect from "./preconnect.js"
import * as Upgrade from "./upgrade.js"
import { userAgent } from "./version.js"
import * as WebSocketInternal from "./websocket.js"

const WEBSOCKET_OPEN_TIMEOUT_MS = 10_000
const DEFAULT_CLOSE_TIMEOUT = Duration.seconds(15)
const CLOSE_POLL_MS = 20

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

/** The socket paths discovery tries, in order. */
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

/** The SHA-256 fingerprint (lower-case hex, no colons) of a PEM certificate. */
export const certificateFingerprint = (pem: string): string =>
  new Crypto.X509Certificate(pem).fingerprint256.replace(/:/g, "").toLowerCase()

const setupError = (address: string, reason: string, cause?: unknown) =>
  new TransportError({ address, method: "GET", path: "/1.0", reason, ...(cause === undefined ? {} : { cause }) })

/** Requests the agent holds that have not completed (queued, sent, or reading their body). */
const requestsUnderWay = (agent: Undici.Agent): number =>
  Object.values(agent.stats).reduce((sum, origin) => sum + origin.size, 0)

/**
 * An undici agent owned by the scope. Closing the scope lets requests still under way
 * finish (they are watched for up to `closeTimeout`), then destroys the agent, which
 * fails whatever is left with a transport error: a program that closes its connection
 * while a clean-up request is in flight does not cut that request off.
 *
 * (undici's own graceful `close()` is not used: after it, `destroy()` leaves requests
 * still in flight pending forever.)
 */
const scopedAgent = (
  options: Undici.Agent.Options,
  closeTimeout: Duration.DurationInput | undefined
): Effect.Effect<Undici.Agent, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => new Undici.Agent(options)),
    (agent) =>
      Effect.promise(() => drained(agent, Duration.toMillis(closeTimeout ?? DEFAULT_CLOSE_TIMEOUT))).pipe(
        Effect.zipRight(
          Effect.promise(() => agent.destroy(new Error("the connection was closed")).catch(() => undefined))
        )
      )
  )

/**
 * Resolves once the agent holds no request, or after `limit` ms. Timed with the process's
 * own timers, not Effect's clock: the agent is a native resource, and a program whose
 * clock is a test clock must still be able to close its connection.
 */
const drained = (agent: Undici.Agent, limit: number): Promise<void> =>
  new Promise((resolve) => {
    const deadline = Date.now() + limit
    const check = () => {
      if (requestsUnderWay(agent) === 0 || Date.now() >= deadline) resolve()
      else setTimeout(check, CLOSE_POLL_MS)
    }
    check()
  })

/** A pull delivers at once when this much has arrived; below it, it waits up to `COALESCE_MS` for more. */
const COALESCE_BYTES = 256 * 1024
const COALESCE_MS = 1
/** Above this much unread, the body is paused (the socket stops being read) until the consumer takes it. */
const PAUSE_BYTES = 4 * 1024 * 1024

/**
 * A response body (a Node `Readable`) as a Stream, for large bodies (file reads, image
 * and backup exports): each pull hands over everything that has arrived, as one chunk of
 * the buffers undici read (no copies), and, when less than 256 KiB is there, first waits
 * up to a millisecond for more. The platform's adapter gives one chunk per socket read
 * (64 KiB or less); every stage of the Stream pipeline above it then runs once per 64 KiB,
 * which on a 200 MiB pull cost several times the CPU of the copy itself. Backpressure:
 * above 4 MiB unread the body is paused. Ending the stream early destroys the body.
 */
export const bodyStream = <E>(body: Readable, onError: (cause: unknown) => E): Stream.Stream<Uint8Array, E> =>
  Stream.suspend(() => {
    let parts: Array<Uint8Array> = []
    let bytes = 0
    let ended = false
    let failure: { readonly cause: unknown } | undefined
    // the waiting pull, if any, and its timer (armed once some data is there)
    let wake: (() => void) | undefined
    let timer: ReturnType<typeof setTimeout> | undefined
    const notify = () => {
      if (timer !== undefined) clearTimeout(timer)
      timer = undefined
      const w = wake
      wake = undefined
      w?.()
    }
    const onData = (data: Uint8Array) => {
      parts.push(data)
      bytes += data.length
      if (bytes >= PAUSE_BYTES) body.pause()
      if (bytes >= COALESCE_BYTES) notify()
      else if (wake !== undefined && timer === undefined) timer = setTimeout(notify, COALESCE_MS)
    }
    const onEnd = () => {
      ended = true
      notify()
    }
    const onFail = (cause: unknown) => {
      failure ??= { cause }
      notify()
    }
    // closed without its end (and without an error): cut off, not complete
    const onClose = () => {
      if (!ended) onFail(new Error("the answer's body closed before its end"))
    }
    const take = (): Effect.Effect<Chunk.Chunk<Uint8Array>, Option.Option<E>> => {
      if (parts.length > 0) {
        const out = parts
        parts = []
        bytes = 0
        if (body.isPaused()) body.resume()
        return Effect.succeed(Chunk.unsafeFromArray(out))
      }
      if (failure !== undefined) return Effect.fail(Option.some(onError(failure.cause)))
      return Effect.fail(Option.none())
    }
    const pull: Effect.Effect<Chunk.Chunk<Uint8Array>, Option.Option<E>> = Effect.suspend(() => {
      if (failure !== undefined || ended || bytes >= COALESCE_BYTES) return take()
      return Effect.flatMap(
        Effect.async<void>((resume) => {
          wake = () => resume(Effect.void)
          // some data there: wait a moment for more; none: the first bytes arm the timer
          if (bytes > 0) timer = setTimeout(notify, COALESCE_MS)
          return Effect.sync(() => {
            wake = undefined
            if (timer !== undefined) clearTimeout(timer)
            timer = undefined
          })
        }),
        (): Effect.Effect<Chunk.Chunk<Uint8Array>, Option.Option<E>> =>
          parts.length > 0 || ended || failure !== undefined ? take() : pull
      )
    })
    const wired = Effect.acquireRelease(
      Effect.sync(() => {
        body.on("data", onData)
        body.once("end", onEnd)
        body.once("error", onFail)
        body.once("close", onClose)
      }),
      () =>
        Effect.sync(() => {
          body.off("data", onData)
          body.off("end", onEnd)
          body.off("error", onFail)
          body.off("close", onClose)
          if (!body.destroyed) body.destroy()
        })
    )
    return Stream.unwrapScoped(Effect.as(wired, Stream.repeatEffectChunkOption(pull))) as Stream.Stream<Uint8Array, E>
  })

/**
 * The platform's undici responses, with `stream` read by `bodyStream` and the headers
 * converted once (the platform's `headers` getter converts them again on every read).
 * The platform hands the client a wrapper (`original`: the undici response, which keeps
 * undici's answer in `source`; @effect/platform 0.97, @effect/platform-node 0.108); the
 * two getters are set on that undici response itself, so that the wrapper's own work
 * (aborting the request when the stream ends early, its finalization registry) stays as
 * it is. A response of another shape is left alone.
 */
const fastBody = (response: HttpClientResponse.HttpClientResponse): HttpClientResponse.HttpClientResponse => {
  const original: unknown = (response as unknown as { readonly original?: unknown }).original ?? response
  if (typeof original !== "object" || original === null || !("source" in original)) return response
  const source = original.source
  const body = typeof source === "object" && source !== null && "body" in source ? source.body : undefined
  if (!(body instanceof Readable)) return response
  const inner = original as unknown as HttpClientResponse.HttpClientResponse
  const headers = inner.headers
  Object.defineProperty(inner, "headers", { value: headers })
  Object.defineProperty(inner, "stream", {
    get: () =>
      bodyStream(
        body,
        (cause) =>
          new HttpClientError.ResponseError({ request: inner.request, response: inner, reason: "Decode", cause })
      )
  })
  return response
}

/** undici's response headers as one string per lower-case name (repeated ones joined with `, `, as the platform does). */
export const flatHeaders = (
  raw: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>
): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const name in raw) {
    const value = raw[name]
    if (value === undefined) continue
    out[name.toLowerCase()] = typeof value === "string" ? value : value.join(", ")
  }
  return out
}

/**
 * One request and its whole answer on the agent, as a single asynchronous step, through
 * undici's `dispatch` (no body stream, no promise, no abort signal: the answer's chunks
 * are collected as they arrive). The deadline is a timer inside it (the process's own,
 * as for the agent's close); an interruption aborts the request. In an uninterruptible
 * region the call is not interrupted and the deadline still ends it, as with
 * `raceDeadline`.
 */
const undiciExchange = (
  agent: Undici.Dispatcher,
  origin: string,
  explain: (cause: unknown) => unknown = (cause) => cause
): Exchange =>
<E>(request: ExchangeRequest<E>) => {
  const send = (headers: Readonly<Record<string, string>>) =>
    Effect.async<ExchangeAnswer, E>((resume) => {
      let done = false
      let controller: Undici.Dispatcher.DispatchController | undefined
      let stopped = false
      const stop = () => {
        stopped = true
        if (controller !== undefined && !controller.aborted) controller.abort(new Error("the request was abandoned"))
      }
      const finish = (outcome: Effect.Effect<ExchangeAnswer, E>) => {
        if (done) return
        done = true
        clearTimeout(timer)
        resume(outcome)
      }
      const timer = setTimeout(() => {
        finish(Effect.fail(request.timedOut()))
        stop()
      }, request.timeoutMs)
      let status = 0
      let answerHeaders: Readonly<Record<string, string | ReadonlyArray<string> | undefined>> = {}
      const parts: Array<Buffer> = []
      let total = 0
      const tooLarge = () => {
        finish(Effect.fail(request.tooLarge()))
        stop()
      }
      try {
        agent.dispatch({
          origin,
          path: request.path,
          method: request.method as Undici.Dispatcher.HttpMethod,
          headers,
          body: request.body ?? null,
          // the deadline above bounds the whole answer
          headersTimeout: 60 * 60 * 1000,
          bodyTimeout: 0
        }, {
          onRequestStart(c) {
            controller = c
            if (stopped) c.abort(new Error("the request was abandoned"))
          },
          onResponseStart(_c, statusCode, responseHeaders) {
            if (statusCode < 200) return // informational: the answer follows
            status = statusCode
            answerHeaders = responseHeaders
            const declared = Number(responseHeaders["content-length"])
            if (Number.isFinite(declared) && declared > request.maxBytes) tooLarge()
          },
          onResponseData(_c, chunk) {
            if (done) return
            total += chunk.length
            if (total > request.maxBytes) tooLarge()
            else parts.push(chunk)
          },
          onResponseEnd() {
            const text = parts.length === 1 ? parts[0]!.toString("utf8") : Buffer.concat(parts, total).toString("utf8")
            finish(Effect.succeed({ status, headers: flatHeaders(answerHeaders), text }))
          },
          onResponseError(_c, error) {
            finish(Effect.fail(request.failed(explain(error))))
          }
        })
      } catch (cause) {
        finish(Effect.fail(request.failed(explain(cause))))
      }
      return Effect.sync(() => {
        if (done) return
        done = true
        clearTimeout(timer)
        stop()
      })
    })
  return withClientSpan(request, origin, send, (answer) => answer.status)
}

const withFastBodies = (client: HttpClient.HttpClient): HttpClient.HttpClient =>
  HttpClient.transformResponse(client, Effect.map(fastBody))

const pointedAt = (client: HttpClient.HttpClient, baseUrl: string, agentName: string): HttpClient.HttpClient =>
  HttpClient.mapRequest(
    client,
    (request) => HttpClientRequest.setHeader(HttpClientRequest.prependUrl(request, baseUrl), "user-agent", agentName)
  )

/** The transport over a unix socket (discovered when not given). */
export const unix = (options: UnixOptions): Effect.Effect<Service, TransportError, Scope.Scope> =>
  Effect.gen(function*() {
    let socketPath = options.socketPath
    if (socketPath === undefined) {
      const candidates = socketCandidates(options.dialect)
      socketPath = candidates.find(isSocket)
      if (socketPath === undefined) {
        return yield* Effect.fail(
          setupError("unix", `no LXD or Incus socket found (tried ${candidates.join(", ")})`)
        )
      }
    }
    const path = socketPath
    const address = `unix:${path}`
    const agentName = options.userAgent ?? userAgent
    const agent = yield* scopedAgent({ connect: { socketPath: path } }, options.closeTimeout)
    const exchange = undiciExchange(agent, "http://lxd")
    const bulk = Bulk.make(
      {
        dial: (onread) => Net.connect(onread === undefined ? { path } : { path, onread }),
        ownBuffers: true,
        readyEvent: "connect",
        host: "lxd"
      },
      "http://lxd",
      agentName
    )
    return {
      address,
      client: withBulk(
        withExchange(
          pointedAt(withFastBodies(NodeHttpClient.makeUndici(agent)), "http://lxd", agentName),
          (request) => exchange({ ...request, headers: { ...request.headers, "user-agent": agentName } })
        ),
        bulk
      ),
      websocket: (request) =>
        WebSocketInternal.open({
          url: `ws+unix:${path}:${request.path}`,
          options: { headers: { ...request.headers, "user-agent": agentName } },
          address,
          path: withoutQuery(request.path),
          openTimeoutMs: WEBSOCKET_OPEN_TIMEOUT_MS
        }),
      upgrade: (request) =>
        Upgrade.open({
          dial: (onread) => Net.connect({ path, onread }),
          readyEvent: "connect",
          host: "lxd",
          path: request.path,
          protocol: request.protocol,
          headers: { ...request.headers, "User-Agent": agentName },
          address,
          errorPath: withoutQuery(request.path),
          openTimeoutMs: WEBSOCKET_OPEN_TIMEOUT_MS
        })
    }
  })

type TlsSettings = {
  readonly cert: string
  readonly key: string
  readonly rejectUnauthorized: boolean
  readonly minVersion: Tls.SecureVersion
  readonly ca?: string
  readonly checkServerIdentity?: (host: string, cert: Tls.PeerCertificate) => Error | undefined
}

/** The one TLS configuration of a connection, used by HTTP and websockets alike. */
export const tlsSettings = (o: HttpsOptions): Effect.Effect<TlsSettings, TransportError> =>
  Effect.gen(function*() {
    const base = {
      cert: o.cert,
      key: Redacted.isRedacted(o.key) ? Redacted.value(o.key) : o.key,
      minVersion: "TLSv1.2" as const
    }
    if (o.serverCert !== undefined) {
      if (o.insecureSkipVerify === true) {
        return yield* Effect.fail(
          setupError(
            o.url,
            "insecureSkipVerify cannot be combined with serverCert: a pinned certificate is always verified (drop insecureSkipVerify)"
          )
        )
      }
      const pinned = yield* Effect.try({
        try: () => certificateFingerprint(o.serverCert!),
        catch: (cause) => setupError(o.url, "the pinned server certificate is not a valid PEM certificate", cause)
      })
      return {
        ...base,
        rejectUnauthorized: true,
        // the pin is the only trust anchor; it replaces host-name checks, since LXD's
        // certificates rarely name the address dialled
        ca: o.serverCert,
        checkServerIdentity: (_host, cert) =>
          cert.fingerprint256.replace(/:/g, "").toLowerCase() === pinned
            ? undefined
            : new Error(`the server certificate ${cert.fingerprint256} does not match the pinned certificate`)
      }
    }
    return {
      ...base,
      rejectUnauthorized: o.insecureSkipVerify !== true,
      ...(o.ca === undefined ? {} : { ca: o.ca })
    }
  })

// certificate chain failures that, with a pin, mean "this is not the pinned certificate"
const CHAIN_ERRORS = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_GET_ISSUER_CERT",
  "CERT_SIGNATURE_FAILURE",
  "CERT_UNTRUSTED"
])

const chainErrorCode = (cause: unknown): string | undefined => {
  let current: unknown = cause
  for (let depth = 0; depth < 6 && typeof current === "object" && current !== null; depth++) {
    const code = "code" in current ? current.code : undefined
    if (typeof code === "string" && CHAIN_ERRORS.has(code)) return code
    current = "cause" in current ? current.cause : undefined
  }
  return undefined
}

/**
 * With a pinned certificate, a chain failure means the server showed another
 * certificate: say that, rather than "self-signed certificate".
 */
const explainPinFailure = (error: TransportError, pinned: boolean): TransportError => {
  const code = pinned ? chainErrorCode(error.cause) : undefined
  if (code === undefined) return error
  return new TransportError({
    address: error.address,
    method: error.method,
    path: error.path,
    reason: pinMismatch(code).message,
    cause: error.cause
  })
}

const pinMismatch = (code: string): Error =>
  Object.assign(new Error(`the server's certificate does not match the pinned certificate (${code})`), { code })

const explainPinFailures = (client: HttpClient.HttpClient): HttpClient.HttpClient =>
  HttpClient.transformResponse(
    client,
    Effect.mapError((error) => {
      const code = error._tag === "RequestError" ? chainErrorCode(error.cause) : undefined
      return code === undefined
        ? error
        : new HttpClientError.RequestError({ request: error.request, reason: "Transport", cause: pinMismatch(code) })
    })
  )

/** `[::1]` → `::1`: a URL's host name as `net` and `tls` take it. */
const bareHost = (hostname: string): string => hostname.replace(/^\[(.*)\]$/, "$1")

/**
 * The TLS connections of the websockets. Each resumes the TLS session of an earlier one
 * (an exec attaches three or four in a row; a full handshake each, with the client
 * certificate's signature, was most of an exec's time over HTTPS), and all share one
 * secure context, built once: `tls.connect` given the certificate, key and CA builds a
 * new one every time (parsing the key and the CA), which was half of a resumed
 * handshake's CPU. Only sessions of connections whose server passed the verification
 * (the pin, or the CA) are kept: a resumed session is not verified again. undici does
 * the same for the HTTP connections.
 */
const websocketConnections = (tls: TlsSettings, url: URL): {
  readonly dial: () => Tls.TLSSocket
  /** Whether a verified session is there to resume. */
  readonly resumable: () => boolean
} => {
  const secureContext = Tls.createSecureContext({
    cert: tls.cert,
    key: tls.key,
    minVersion: tls.minVersion,
    ...(tls.ca === undefined ? {} : { ca: tls.ca })
  })
  const host = bareHost(url.hostname)
  const port = url.port === "" ? 443 : Number(url.port)
  let session: Buffer | undefined
  const dial = () => {
    // what ws itself would give `tls.connect` for this URL (SNI only for names), with
    // the connection's verification: the CA or the pin, and its identity check
    const socket = Tls.connect({
      host,
      port,
      servername: Net.isIP(host) === 0 ? host : "",
      secureContext,
      rejectUnauthorized: tls.rejectUnauthorized,
      ...(tls.checkServerIdentity === undefined ? {} : { checkServerIdentity: tls.checkServerIdentity }),
      ...(session === undefined ? {} : { session })
    })
    // the upgrade request is written at once, not held back by Nagle's algorithm until
    // the server acknowledges the handshake's last flight (40 ms of delayed ACK, when the
    // connection was dialled ahead and sat idle); ws sets it too, after the upgrade
    socket.setNoDelay(true)
    let verified = false
    socket.once("secureConnect", () => {
      verified = socket.authorized
    })
    socket.on("session", (ticket: Buffer) => {
      if (verified) session = ticket
    })
    return socket
  }
  return { dial, resumable: () => session !== undefined }
}

/** The transport over HTTPS with a client certificate. */
export const https = (options: HttpsOptions): Effect.Effect<Service, TransportError, Scope.Scope> =>
  Effect.gen(function*() {
    const url = yield* Effect.try({
      try: () => new URL(options.url),
      catch: (cause) => setupError(options.url, "not a valid URL", cause)
    })
    if (url.protocol !== "https:") {
      return yield* Effect.fail(setupError(options.url, `only https:// URLs are supported (got ${url.protocol})`))
    }
    const tls = yield* tlsSettings(options)
    const pinned = options.serverCert !== undefined
    const agentName = options.userAgent ?? userAgent
    const agent = yield* scopedAgent({ connect: tls }, options.closeTimeout)
    const { dial, resumable } = websocketConnections(tls, url)
    // a websocket on the connection `connection` gives (ws asks for it once, at once)
    const websocketOn = (request: WebSocketRequest, connection: () => Tls.TLSSocket) =>
      WebSocketInternal.open({
        url: `wss://${url.host}${request.path}`,
        options: { headers: { ...request.headers, "user-agent": agentName }, createConnection: connection },
        address: base,
        path: withoutQuery(request.path),
        openTimeoutMs: WEBSOCKET_OPEN_TIMEOUT_MS
      }).pipe(Effect.mapError((error) => explainPinFailure(error, pinned)))
    const base = `${url.protocol}//${url.host}`
    const client = pointedAt(withFastBodies(NodeHttpClient.makeUndici(agent)), base, agentName)
    // a fresh TLS connection with the same settings as HTTP and websockets (pin included); SNI only for names
    const dialTls = () =>
      Tls.connect({
        ...tls,
        host: bareHost(url.hostname),
        port: url.port === "" ? 443 : Number(url.port),
        ...(Net.isIP(bareHost(url.hostname)) === 0 ? { servername: url.hostname } : {}),
        ALPNProtocols: ["http/1.1"]
      })
    // with a pin, a chain failure means the server showed another certificate
    const explain = (cause: unknown) => {
      const code = pinned ? chainErrorCode(cause) : undefined
      return code === undefined ? cause : pinMismatch(code)
    }
    const exchange = undiciExchange(agent, base, explain)
    const bulk = Bulk.make(
      {
        dial: dialTls,
        ownBuffers: false,
        readyEvent: "secureConnect",
        host: url.host,
        explain
      },
      base,
      agentName
    )
    return {
      address: base,
      client: withBulk(
        withExchange(
          pinned ? explainPinFailures(client) : client,
          (request) => exchange({ ...request, headers: { ...request.headers, "user-agent": agentName } })
        ),
        bulk
      ),
      websocket: (request) => websocketOn(request, dial),
      // the connections are dialled now; a websocket takes one that is still sound, or
      // dials its own (so a failure, a wrong pin included, reads as it would without them).
      // Before any session can be resumed only one is dialled: the others would each make
      // a full handshake, where dialled after it they resume its session.
      preconnectWebsockets: (count) =>
        Effect.map(
          Preconnect.pool(dial, resumable() ? count : Math.min(count, 1)),
          (ready) => (request: WebSocketRequest) => websocketOn(request, () => ready.take() ?? dial())
        ),
      upgrade: (request) =>
        Upgrade.open({
          // the same TLS settings as HTTP and websockets (pin included); SNI only for names
          dial: dialTls,
          readyEvent: "secureConnect",
          host: url.host,
          path: request.path,
          protocol: request.protocol,
          headers: { ...request.headers, "User-Agent": agentName },
          address: base,
          errorPath: withoutQuery(request.path),
          openTimeoutMs: WEBSOCKET_OPEN_TIMEOUT_MS
        }).pipe(Effect.mapError((error) => explainPinFailure(error, pinned)))
    }
  })
