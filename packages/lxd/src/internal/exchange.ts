/**
 * A transport's direct exchange: one request with a JSON (or empty) body and its whole
 * answer read as text, in one step. The Node transports register one for the exact
 * `HttpClient` they hand out; the protocol uses it for JSON calls when the transport's
 * client is that very client. Any other client (a `transformClient` middleware, a client
 * from `fromHttpClient`, a test double) is not registered, so every request it should see
 * still goes through it.
 *
 * Why: through the platform's `HttpClient`, a call paid for a request object, a URL
 * parse, an `AbortController`, a finalization registry entry, header conversions, a
 * body adapter, a scope, and two forked fibers racing the request against its deadline:
 * about three times the CPU undici itself spends on a call.
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"

/** What the protocol asks for. The error constructors are called only when needed. */
export interface ExchangeRequest<E> {
  readonly method: string
  /** The path with its query, already encoded. */
  readonly path: string
  readonly headers: Readonly<Record<string, string>>
  readonly body: Uint8Array | undefined
  /** The whole answer must have arrived within this many milliseconds. */
  readonly timeoutMs: number
  /** The largest answer read, in bytes. */
  readonly maxBytes: number
  /** Whether the request gets an HTTP client span (requests that carry a secret get none). */
  readonly traced: boolean
  readonly failed: (cause: unknown) => E
  readonly timedOut: () => E
  readonly tooLarge: () => E
}

/** The answer: status, headers (lower-case names, repeated ones joined with `, `) and body text. */
export interface ExchangeAnswer {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly text: string
}

export type Exchange = <E>(request: ExchangeRequest<E>) => Effect.Effect<ExchangeAnswer, E>

const registry = new WeakMap<HttpClient.HttpClient, Exchange>()

/** `client`, with `exchange` registered as its direct path. */
export const withExchange = (client: HttpClient.HttpClient, exchange: Exchange): HttpClient.HttpClient => {
  registry.set(client, exchange)
  return client
}

/** The direct path of exactly this client, if it has one. */
export const exchangeOf = (client: HttpClient.HttpClient): Exchange | undefined => registry.get(client)

/**
 * A request of the transport's bulk path (`bulk.ts`): a body read from a local file, or
 * an answer whose body goes to a writer, on a connection of its own with reused buffers.
 */
export interface BulkRequest<E> {
  readonly method: string
  /** The path with its query, already encoded. */
  readonly path: string
  readonly headers: Readonly<Record<string, string>>
  /** The body: this many bytes of a local file; `observe` sees each piece as it is read (e.g. to hash it). */
  readonly upload?: {
    readonly path: string
    readonly size: number
    readonly observe?: ((piece: Uint8Array) => void) | undefined
  } | undefined
  /** The answer's head must have arrived within this many milliseconds of the body's end. */
  readonly timeoutMs: number
  /** The longest wait for the next bytes of the answer's body (or for the socket to take the upload's). */
  readonly idleMs: number
  /** The largest body read whole (`bytes`). */
  readonly maxBytes: number
  /** Whether the request gets an HTTP client span (requests that carry a secret get none). */
  readonly traced: boolean
  readonly failed: (cause: unknown) => E
  /** The upload's file could not be read. */
  readonly readFailed?: ((cause: unknown) => E) | undefined
  readonly timedOut: () => E
  readonly stalled: () => E
  readonly tooLarge: () => E
}

/** The answer of a bulk request, its head read; the body is read once, by `bytes` or `writeTo`. */
export interface BulkAnswer<E> {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  /** The whole body, at most `maxBytes`. */
  readonly bytes: Effect.Effect<Uint8Array, E>
  /**
   * The body handed to `write` batch by batch; each batch is awaited before the next, and
   * its buffers are reused once its promise resolves (so `write` must not keep them).
   * Succeeds with the number of bytes written.
   */
  readonly writeTo: <W>(
    write: (pieces: ReadonlyArray<Uint8Array>) => Promise<void>,
    writeFailed: (cause: unknown) => W
  ) => Effect.Effect<number, E | W>
}

/** A transport's bulk path. */
export interface Bulk {
  /** Send the request and wait for the answer's head; the scope closes the connection. */
  readonly open: <E>(request: BulkRequest<E>) => Effect.Effect<BulkAnswer<E>, E, Scope.Scope>
  /** Send the request and read the whole answer as text. */
  readonly send: <E>(request: BulkRequest<E>) => Effect.Effect<ExchangeAnswer, E>
}

const bulkRegistry = new WeakMap<HttpClient.HttpClient, Bulk>()

/** `client`, with `bulk` registered as its bulk path (for the same reason as `withExchange`). */
export const withBulk = (client: HttpClient.HttpClient, bulk: Bulk): HttpClient.HttpClient => {
  bulkRegistry.set(client, bulk)
  return client
}

/** The bulk path of exactly this client, if it has one. */
export const bulkOf = (client: HttpClient.HttpClient): Bulk | undefined => bulkRegistry.get(client)
