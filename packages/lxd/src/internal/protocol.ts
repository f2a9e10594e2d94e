/**
 * LXD's protocol over a transport: requests checked, scoped and bounded, answers read
 * into envelopes and typed errors. `LxdHttp.make` adds the server's identity on top.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import type * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import {
  DecodeError,
  type ExtensionNotAvailable,
  fromErrorAnswer,
  type RequestError,
  type RequestOrigin,
  TransportError
} from "../LxdError.js"
import type { LxdRequest, LxdResponse, RawResponse, Service } from "../LxdHttp.js"
import type { Service as Transport } from "../LxdTransport.js"
import { concatBytes } from "./bytes.js"
import { raceDeadline } from "./concurrency.js"
import { decodeEnvelope } from "./envelope.js"
import { type Bulk, bulkOf, type BulkRequest, exchangeOf } from "./exchange.js"
import { requiredExtensions } from "./gates.js"
import { checkedFirst, compiledOptions } from "./models/compiled.js"
import { onePass } from "./models/onePass.js"
import { queryString, type QueryValue } from "./path.js"
import { currentProject, currentTarget } from "./scoping.js"
import { checkRequestTarget } from "./validation.js"

export interface Bounds {
  readonly request: Duration.Duration
  readonly idle: Duration.Duration
  readonly maxBytes: number
}

// requests that carry a secret in their query (image secrets, untrusted operation access)
// get no tracing span: spans record the full URL
const secretInQuery = (url: string): boolean => /[?&]secret=/.test(url)
const carriesSecret = (request: HttpClientRequest.HttpClientRequest): boolean => secretInQuery(request.url)

/** The query with the scope's project and target applied (unless the request names its own, or `null`). */
export const applyScope = (
  request: {
    readonly query?: Readonly<Record<string, QueryValue>> | undefined
    readonly project?: string | null | undefined
    readonly target?: string | null | undefined
  },
  scopeProject: Option.Option<string>,
  scopeTarget: Option.Option<string>
): Record<string, QueryValue> => {
  const query: Record<string, QueryValue> = { ...request.query }
  if (request.project !== null && query.project === undefined && query["all-projects"] === undefined) {
    const project = request.project ?? Option.getOrUndefined(scopeProject)
    if (project !== undefined) query.project = project
  }
  if (request.target !== null && query.target === undefined) {
    const target = request.target ?? Option.getOrUndefined(scopeTarget)
    if (target !== undefined) query.target = target
  }
  return query
}

const scopedQuery = (request: {
  readonly query?: Readonly<Record<string, QueryValue>> | undefined
  readonly project?: string | null | undefined
  readonly target?: string | null | undefined
}) =>
  Effect.withFiberRuntime<Record<string, QueryValue>>((fiber) =>
    Effect.succeed(applyScope(request, fiber.getFiberRef(currentProject), fiber.getFiberRef(currentTarget)))
  )

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

type Decoder = (u: unknown) => Effect.Effect<unknown, ParseResult.ParseIssue>

// one decoder per schema, made on its first answer (not one per call)
const decoders = new WeakMap<Schema.Schema.Any, Decoder>()

const decoderOf = <A, I>(
  schema: Schema.Schema<A, I, never>
): (u: unknown) => Effect.Effect<A, ParseResult.ParseIssue> => {
  let decode = decoders.get(schema)
  if (decode === undefined) {
    // the compiled check first (`models/compiled.ts`), made on the first answer
    const fast = onePass(schema)
    decode = checkedFirst(fast.ast, ParseResult.decodeUnknown(fast, compiledOptions))
    decoders.set(schema, decode)
  }
  return decode as (u: unknown) => Effect.Effect<A, ParseResult.ParseIssue>
}

const decodeFailed = (origin: RequestOrigin, issue: ParseResult.ParseIssue) =>
  DecodeError.fromParseError(origin, ParseResult.parseError(issue))

/** The metadata through `schema`; a synchronous schema's `Either` becomes the answer without an Effect step of its own. */
export const decodeMetadata = <A, I>(
  schema: Schema.Schema<A, I, never>,
  origin: RequestOrigin,
  metadata: unknown
): Effect.Effect<A, DecodeError> => {
  const decoded = decoderOf(schema)(metadata)
  if (Either.isEither(decoded)) {
    return Either.isRight(decoded)
      ? Effect.succeed(decoded.right as A)
      : Effect.fail(decodeFailed(origin, decoded.left as ParseResult.ParseIssue))
  }
  return Effect.mapError(decoded, (issue) => decodeFailed(origin, issue))
}

const notSync = (origin: RequestOrigin) =>
  Effect.fail(DecodeError.because(origin, "expected a synchronous answer, got a background operation"))

const tooLarge = (origin: RequestOrigin, limit: number) =>
  DecodeError.because(origin, `the answer is larger than maxResponseBytes (${limit} bytes)`)

/** A bound reached: the call ends as a transport error that names it. */
const timedOutAt = (address: string) => (origin: RequestOrigin, what: string, after: Duration.Duration) =>
  new TransportError({
    address,
    method: origin.method,
    path: origin.path.split("?")[0]!,
    reason: `${what} within ${Duration.format(after)}`
  })

/**
 * The stream, failing with `onIdle()` once a pull has waited `idle` for its next chunk.
 * Only the wait for the server counts: while the consumer works on a chunk, no pull is
 * pending and the clock does not run. One watchdog fiber per stream checks four times
 * per `idle` (so a stall is reported within 1¼ × `idle`); each pull only flips two
 * fields. (`Stream.timeoutFail` races every pull with a timer fiber, which cost as much
 * CPU as the transfer itself on a 200 MiB file.)
 */
export const failWhenIdle = <A, E, E2>(
  stream: Stream.Stream<A, E>,
  idle: Duration.Duration,
  onIdle: () => E2
): Stream.Stream<A, E | E2> =>
  Stream.unwrapScoped(Effect.gen(function*() {
    const stalled = yield* Deferred.make<never, E2>()
    const state = { pending: false, pulls: 0 }
    const step = Duration.millis(Math.max(1, Duration.toMillis(idle) / 4))
    const watch = Effect.gen(function*() {
      let seen = -1
      let waited = Duration.zero
      while (true) {
        yield* Effect.sleep(step)
        if (state.pending && state.pulls === seen) {
          waited = Duration.sum(waited, step)
          if (Duration.greaterThanOrEqualTo(waited, idle)) return yield* Deferred.fail(stalled, onIdle())
        } else {
          seen = state.pulls
          waited = Duration.zero
        }
      }
    })
    yield* Effect.forkScoped(Effect.interruptible(watch))
    const watched = Stream.fromPull(
      Effect.map(Stream.toPull(stream), (pull) =>
        Effect.suspend(() => {
          state.pending = true
          state.pulls++
          return Effect.ensuring(
            pull,
            Effect.sync(() => {
              state.pending = false
            })
          )
        }))
    )
    return Stream.interruptWhen(watched, Deferred.await(stalled))
  }))

/** How many checked paths a connection remembers before it starts again. */
const CHECKED_PATHS = 1024

/** The request check of `names.ts`, before anything is sent. */
const check = (request: LxdRequest<unknown>) => {
  const checked = checkRequestTarget(request.path, request.query)
  return Either.isLeft(checked) ? Effect.fail(checked.left) : Effect.void
}

/** A request ready to send: what errors name it by, its URL with the scoped query, its headers. */
interface Prepared {
  readonly origin: RequestOrigin
  readonly url: string
  readonly headers: Record<string, string>
}

/** The whole JSON body as text, at most `maxBytes`. */
const readJsonText = (
  bounds: Bounds,
  transportFailure: (origin: RequestOrigin) => (cause: unknown) => TransportError
) =>
(response: HttpClientResponse.HttpClientResponse, origin: RequestOrigin) => {
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
      Effect.map(() => new TextDecoder().decode(concatBytes(chunks)))
    )
  })
}

/**
 * The request half of `LxdHttp`: everything but the server's identity. `requireExtension`
 * checks the extensions a request's query needs (`gates.ts`) before it is sent.
 */
export const makeRequests = (
  transport: Transport,
  bounds: Bounds,
  requireExtension: (extension: string) => Effect.Effect<void, ExtensionNotAvailable>
):
  & Pick<
    Service,
    "send" | "sync" | "syncWithEtag" | "raw" | "websocket" | "preconnectWebsockets" | "upgrade"
  >
  & { readonly timedOut: (origin: RequestOrigin, what: string, after: Duration.Duration) => TransportError } =>
{
  const address = transport.address
  const client = HttpClient.withTracerDisabledWhen(transport.client, carriesSecret)

  const transportFailure = (origin: RequestOrigin) => (cause: unknown) =>
    TransportError.fromCause(address, origin, cause)
  const timedOut = timedOutAt(address)
  const readJson = readJsonText(bounds, transportFailure)

  // paths of requests without a query that passed the check (the same path passes again):
  // `get` of one instance a thousand times is checked once
  const checkedPaths = new Set<string>()

  /**
   * What every request goes through before it is sent: the check of its path, the scope's
   * project and target, the extensions its query needs; its URL and headers.
   */
  const prepare = (request: LxdRequest<unknown>): Effect.Effect<Prepared, RequestError> =>
    // one step: the check, then the scope read from the fiber running the request
    Effect.withFiberRuntime((fiber) => {
      if (request.query !== undefined || !checkedPaths.has(request.path)) {
        const checked = checkRequestTarget(request.path, request.query)
        if (Either.isLeft(checked)) return Effect.fail(checked.left)
        if (request.query === undefined) {
          if (checkedPaths.size >= CHECKED_PATHS) checkedPaths.clear()
          checkedPaths.add(request.path)
        }
      }
      const query = applyScope(request, fiber.getFiberRef(currentProject), fiber.getFiberRef(currentTarget))
      const headers: Record<string, string> = { ...request.headers }
      if (request.etag !== undefined) headers["if-match"] = request.etag
      const prepared: Prepared = {
        origin: { method: request.method, path: request.path },
        url: request.path + queryString(query),
        headers
      }
      const needed = requiredExtensions(request.path, query)
      return needed.length === 0
        ? Effect.succeed(prepared)
        : Effect.as(Effect.forEach(needed, requireExtension, { discard: true }), prepared)
    })

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
      const { headers, origin, url } = yield* prepare(request)
      let req = HttpClientRequest.make(request.method)(url, { headers })
      // a body stream that fails must surface with its own error, not as a transport error
      let bodyFailure: Option.Option<E> = Option.none()
      let bodySent: Deferred.Deferred<void> | undefined
      if (request.raw !== undefined) {
        const raw = request.raw
        if (raw.data instanceof Uint8Array) {
          raw.file?.observe?.(raw.data)
          req = HttpClientRequest.bodyUint8Array(req, raw.data, raw.contentType)
        } else {
          const sent = yield* Deferred.make<void>()
          bodySent = sent
          const observe = raw.file?.observe
          const data = observe === undefined ? raw.data : Stream.mapChunks(raw.data, (chunk) => {
            for (const piece of chunk) observe(piece)
            return chunk
          })
          const body = data.pipe(
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
      // the error is built only when the deadline passes (an error captures a stack trace)
      const deadline = Effect.sleep(timeout).pipe(
        Effect.zipRight(Effect.failSync(() => timedOut(origin, "no answer", timeout)))
      )
      // the deadline ends the request even inside a finalizer, and an interruption of a
      // caller in an uninterruptible region (an acquire) does not cut the request off
      return yield* raceDeadline(
        answered,
        bodySent === undefined ? deadline : Effect.zipRight(Deferred.await(bodySent), deadline)
      )
    })

  const direct = exchangeOf(transport.client)

  /** A JSON call through the transport's direct exchange (see `exchange.ts`): the same checks, bounds and answers. */
  const sendDirect = (request: LxdRequest<never>, exchange: NonNullable<typeof direct>) =>
    Effect.flatMap(prepare(request), ({ headers, origin, url }) => {
      let body: Uint8Array | undefined
      if (request.body !== undefined) {
        body = new TextEncoder().encode(JSON.stringify(request.body))
        headers["content-type"] = "application/json"
      }
      const timeout = request.timeout === undefined ? bounds.request : Duration.decode(request.timeout)
      return Effect.flatMap(
        exchange<RequestError>({
          method: request.method,
          path: url,
          headers,
          body,
          timeoutMs: Duration.toMillis(timeout),
          maxBytes: bounds.maxBytes,
          traced: !secretInQuery(url),
          failed: transportFailure(origin),
          timedOut: () => timedOut(origin, "no answer", timeout),
          tooLarge: () => tooLarge(origin, bounds.maxBytes)
        }),
        (answer) => interpret(origin, answer.status, answer.text, answer.headers)
      )
    })

  const bulk = bulkOf(transport.client)

  /** What a request on the bulk path (see `bulk.ts`) is asked for, its bounds and errors included. */
  const bulkRequest = <E>(
    request: LxdRequest<E>,
    prepared: { readonly headers: Record<string, string>; readonly origin: RequestOrigin; readonly url: string },
    upload?: {
      readonly path: string
      readonly size: number
      readonly readFailed: (cause: unknown) => E
      readonly observe?: ((piece: Uint8Array) => void) | undefined
    }
  ): BulkRequest<RequestError | E> => {
    const { headers, origin, url } = prepared
    const timeout = request.timeout === undefined ? bounds.request : Duration.decode(request.timeout)
    return {
      method: request.method,
      path: url,
      headers,
      upload,
      timeoutMs: Duration.toMillis(timeout),
      idleMs: Duration.toMillis(bounds.idle),
      maxBytes: bounds.maxBytes,
      traced: !secretInQuery(url),
      failed: transportFailure(origin),
      readFailed: upload?.readFailed,
      timedOut: () => timedOut(origin, "no answer", timeout),
      stalled: () =>
        timedOut(origin, upload === undefined ? "the answer stalled: no data" : "the upload stalled", bounds.idle),
      tooLarge: () => tooLarge(origin, bounds.maxBytes)
    }
  }

  /** A body that is a local file, sent by the bulk path. */
  const sendFile = <E>(
    request: LxdRequest<E>,
    path: Bulk,
    file: {
      readonly path: string
      readonly size: number
      readonly readFailed: (cause: unknown) => E
      readonly observe?: ((piece: Uint8Array) => void) | undefined
    }
  ): Effect.Effect<LxdResponse, RequestError | E> =>
    Effect.flatMap(prepare(request), (prepared) => {
      prepared.headers["content-type"] = request.raw!.contentType
      return Effect.flatMap(
        path.send(bulkRequest(request, prepared, file)),
        (answer) => interpret(prepared.origin, answer.status, answer.text, answer.headers)
      )
    })

  const send = <E = never>(request: LxdRequest<E>): Effect.Effect<LxdResponse, RequestError | E> => {
    const file = request.raw?.file
    if (bulk !== undefined && file !== undefined && request.raw?.contentLength !== undefined) {
      return sendFile(request, bulk, { ...file, size: request.raw.contentLength })
    }
    // only a raw body can fail with `E`: every other request may take the direct path
    if (direct !== undefined && request.raw === undefined) return sendDirect(request as LxdRequest<never>, direct)
    const origin: RequestOrigin = { method: request.method, path: request.path }
    return Effect.scoped(
      execute(request, (response) =>
        Effect.flatMap(
          readJson(response, origin),
          (text) => interpret(origin, response.status, text, response.headers)
        ))
    )
  }

  const sync = <A, I, E = never>(request: LxdRequest<E>, schema: Schema.Schema<A, I, never>) =>
    Effect.flatMap(send(request), (response) => {
      const origin: RequestOrigin = { method: request.method, path: request.path }
      return response._tag === "Sync" ? decodeMetadata(schema, origin, response.metadata) : notSync(origin)
    })

  const syncWithEtag = <A, I>(request: LxdRequest, schema: Schema.Schema<A, I, never>) =>
    Effect.flatMap(send(request), (response) => {
      const origin: RequestOrigin = { method: request.method, path: request.path }
      return response._tag === "Sync"
        ? Effect.map(decodeMetadata(schema, origin, response.metadata), (value) => ({ value, etag: response.etag }))
        : notSync(origin)
    })

  /** An error status: the envelope's error, or the status itself when the body is not one. */
  const errorAnswer = (
    origin: RequestOrigin,
    status: number,
    text: string,
    headers: Readonly<Record<string, string>>
  ) =>
    Effect.zipRight(
      interpret(origin, status, text, headers),
      Effect.fail(fromErrorAnswer(origin, { status, errorCode: status, serverMessage: `HTTP ${status}` }))
    )

  /** `raw` on the bulk path: the body is meant for `writeTo`; `body` reads it whole. */
  const rawBulk = <E>(request: LxdRequest<E>, path: Bulk): Effect.Effect<RawResponse, RequestError | E, Scope.Scope> =>
    Effect.flatMap(
      prepare(request),
      (prepared) =>
        Effect.flatMap(path.open(bulkRequest(request, prepared)), (answer) => {
          const { origin } = prepared
          if (answer.status >= 400) {
            return Effect.flatMap(
              answer.bytes,
              (bytes) => errorAnswer(origin, answer.status, new TextDecoder().decode(bytes), answer.headers)
            )
          }
          // on this path every error is the transport's (the constructors above)
          const bytes = answer.bytes as Effect.Effect<Uint8Array, TransportError>
          return Effect.succeed<RawResponse>({
            status: answer.status,
            headers: answer.headers,
            body: Stream.fromEffect(bytes),
            writeTo: (write, writeFailed) =>
              answer.writeTo(write, writeFailed) as Effect.Effect<
                number,
                TransportError | ReturnType<typeof writeFailed>
              >
          })
        })
    )

  /** `writeTo` over a body stream: each chunk's pieces in one write, awaited before the next pull. */
  const writeStream = (body: Stream.Stream<Uint8Array, TransportError>) =>
  <W>(
    write: (pieces: ReadonlyArray<Uint8Array>) => Promise<void>,
    writeFailed: (cause: unknown) => W
  ): Effect.Effect<number, TransportError | W> =>
    Effect.suspend(() => {
      let total = 0
      return Effect.map(
        Stream.runForEachChunk(body, (chunk) => {
          const pieces = Chunk.toReadonlyArray(chunk)
          for (const p of pieces) total += p.length
          return Effect.tryPromise({ try: () => write(pieces), catch: writeFailed })
        }),
        () => total
      )
    })

  const raw = <E = never>(request: LxdRequest<E>): Effect.Effect<RawResponse, RequestError | E, Scope.Scope> => {
    if (bulk !== undefined && request.bulk === true && request.raw === undefined) return rawBulk(request, bulk)
    const origin: RequestOrigin = { method: request.method, path: request.path }
    return execute(request, (response) =>
      response.status >= 400
        ? Effect.flatMap(
          readJson(response, origin),
          (text) => errorAnswer(origin, response.status, text, response.headers)
        )
        : Effect.sync((): RawResponse => {
          const body = failWhenIdle(
            Stream.mapError(response.stream, transportFailure(origin)),
            bounds.idle,
            () => timedOut(origin, "the answer stalled: no data", bounds.idle)
          )
          return { status: response.status, headers: response.headers, body, writeTo: writeStream(body) }
        }))
  }

  // the checks of every websocket, then the transport's opener (or a preconnected one)
  const websocketVia = (open: Transport["websocket"]) => (path: string, query?: Readonly<Record<string, QueryValue>>) =>
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
      return yield* open({ path: path + queryString(q), headers: {} })
    })
  const websocket = websocketVia(transport.websocket)

  const preconnectWebsockets = (count: number) =>
    transport.preconnectWebsockets === undefined || count <= 0
      ? Effect.succeed(websocket)
      : Effect.map(transport.preconnectWebsockets(count), websocketVia)

  const upgrade = (path: string, protocol: string, query?: Readonly<Record<string, QueryValue>>) =>
    Effect.gen(function*() {
      const origin: RequestOrigin = { method: "GET", path: path.split("?")[0]! }
      yield* check({ method: "GET", path, query })
      if (transport.upgrade === undefined) {
        return yield* Effect.fail(
          new TransportError({ ...origin, address, reason: `this transport cannot switch protocols (${protocol})` })
        )
      }
      const q = yield* scopedQuery({ query })
      const answer = yield* transport.upgrade({ path: path + queryString(q), protocol, headers: {} })
      if (answer._tag === "Upgraded") return answer.socket
      // a refusal carries LXD's error envelope; anything else is not the switch asked for
      yield* interpret(origin, answer.status, answer.body, answer.headers)
      return yield* Effect.fail(
        DecodeError.because(origin, `the server answered HTTP ${answer.status} instead of switching to ${protocol}`)
      )
    })

  return { raw, send, sync, syncWithEtag, timedOut, websocket, preconnectWebsockets, upgrade }
}
