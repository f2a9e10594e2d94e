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
