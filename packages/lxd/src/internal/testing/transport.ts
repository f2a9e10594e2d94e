/**
 * The fake under an `HttpClient`: requests become `FakeRequest`s, answers become web
 * `Response`s, and the faults a test asked for are applied on the way (fail, delay, drop
 * the connection mid-body, daemon stopped).
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type { Service as TransportService } from "../../LxdTransport.js"
import * as H from "./http.js"
import { handle } from "./routes.js"
import { type FakeServer, live } from "./server.js"

/** Which requests a fault applies to. */
export interface RequestMatch {
  /** The method (`GET`, `POST`, ...); any when absent. */
  readonly method?: string | undefined
  /**
   * The decoded path without the query (`/1.0/instances/c1/state`): equal to a string, or
   * matching a regular expression; any when absent.
   */
  readonly path?: string | RegExp | undefined
}

export type FaultKind =
  | { readonly _tag: "Fail"; readonly status: number; readonly message: string }
  | { readonly _tag: "Delay"; readonly duration: Duration.Duration }
  | { readonly _tag: "Drop"; readonly afterBytes: number | undefined }

export interface Fault {
  readonly match: RequestMatch
  readonly kind: FaultKind
  remaining: number
}

/** A request the fake received. */
export interface RecordedRequest {
  readonly method: string
  /** The decoded path, without the query. */
  readonly path: string
  readonly query: Readonly<Record<string, string>>
  readonly headers: Readonly<Record<string, string>>
}

export interface Faults {
  readonly list: Array<Fault>
  readonly requests: Array<RecordedRequest>
}

const matches = (match: RequestMatch, method: string, path: string): boolean =>
  (match.method === undefined || match.method.toUpperCase() === method) &&
  (match.path === undefined || (typeof match.path === "string" ? match.path === path : match.path.test(path)))

/** Take the faults that apply to this request (one of each kind at most). */
const take = (faults: Faults, method: string, path: string): Array<FaultKind> => {
  const out: Array<FaultKind> = []
  const seen = new Set<string>()
  for (const fault of faults.list) {
    if (fault.remaining <= 0 || seen.has(fault.kind._tag) || !matches(fault.match, method, path)) continue
    seen.add(fault.kind._tag)
    fault.remaining--
    out.push(fault.kind)
  }
  for (let i = faults.list.length - 1; i >= 0; i--) if (faults.list[i]!.remaining <= 0) faults.list.splice(i, 1)
  return out
}

const bodyBytes = (
  request: HttpClientRequest.HttpClientRequest
): Effect.Effect<Uint8Array, HttpClientError.RequestError> => {
  const body = request.body
  switch (body._tag) {
    case "Uint8Array":
      return Effect.succeed(body.body)
    case "Stream":
      return Stream.runCollect(body.stream).pipe(
        Effect.map((chunks) => {
          const parts = Chunk.toReadonlyArray(chunks)
          const out = new Uint8Array(parts.reduce((n, c) => n + c.length, 0))
          let at = 0
          for (const c of parts) {
            out.set(c, at)
            at += c.length
          }
          return out
        }),
        Effect.mapError((cause) => new HttpClientError.RequestError({ request, reason: "Transport", cause }))
      )
    case "Raw":
      return Effect.succeed(
        typeof body.body === "string" ? new TextEncoder().encode(body.body) : new Uint8Array(0)
      )
    default:
      return Effect.succeed(new Uint8Array(0))
  }
}

const toResponse = (
  request: HttpClientRequest.HttpClientRequest,
  answer: H.Answer,
  drop: number | undefined
): HttpClientResponse.HttpClientResponse => {
  const noBody = request.method === "HEAD" || answer.status === 204
  // no body (HEAD): an empty one, as a real connection gives, rather than none at all
  let stream: ReadableStream<Uint8Array> = new ReadableStream({ start: (controller) => controller.close() })
  if (!noBody) {
    stream = new ReadableStream<Uint8Array>({
      start(controller) {
        if (drop === undefined) {
          if (answer.body.length > 0) controller.enqueue(answer.body)
          controller.close()
        } else {
          const cut = Math.min(drop, Math.max(0, answer.body.length - 1))
          if (cut > 0) controller.enqueue(answer.body.slice(0, cut))
          controller.error(new Error("socket hang up (connection dropped by the fake)"))
        }
      }
    })
  }
  return HttpClientResponse.fromWeb(request, new Response(stream, { status: answer.status, headers: answer.headers }))
}

/** The transport: an `HttpClient` answered by the fake, and its websocket opener. */
export const make = (server: FakeServer, faults: Faults, address: string): TransportService => {
  const client = HttpClient.make((request, url) =>
    live(Effect.gen(function*() {
      const transportError = (message: string) =>
        new HttpClientError.RequestError({ request, reason: "Transport", cause: new Error(message) })
      if (server.stopped) return yield* Effect.fail(transportError(`connect ECONNREFUSED ${address}`))
      const body = yield* bodyBytes(request)
      const segments = url.pathname.split("/").slice(2).filter((s) => s !== "")
      let decoded: Array<string>
      try {
        decoded = segments.map(decodeURIComponent)
      } catch {
        decoded = segments
      }
      const path = url.pathname === "/1.0" || url.pathname === "/" ? url.pathname : `/1.0/${decoded.join("/")}`
      const headers: Record<string, string> = {}
      for (const [k, v] of Object.entries(request.headers)) headers[k.toLowerCase()] = v
      faults.requests.push({
        method: request.method,
        path,
        query: Object.fromEntries(url.searchParams.entries()),
        headers
      })
      const kinds = take(faults, request.method, path)
      let drop: number | undefined
      let dropping = false
      for (const kind of kinds) {
        if (kind._tag === "Delay") yield* Effect.sleep(kind.duration)
      }
      if (server.stopped) return yield* Effect.fail(transportError(`connection reset by peer (${address})`))
      for (const kind of kinds) {
        if (kind._tag === "Fail") return toResponse(request, H.error(kind.status, kind.message), undefined)
        if (kind._tag === "Drop") {
          dropping = true
          drop = kind.afterBytes
        }
      }
      const fakeRequest: H.FakeRequest = {
        method: request.method,
        path: url.pathname,
        segments: url.pathname.startsWith("/1.0") ? decoded : [],
        query: url.searchParams,
        headers,
        body
      }
      // a request under way when the daemon stops loses its connection
      const stopping = server.stopping
      const answer = yield* Effect.raceFirst(
        handle(server, fakeRequest),
        Effect.zipRight(Deferred.await(stopping), Effect.fail(transportError(`connection reset by peer (${address})`)))
      )
      if (dropping && drop === undefined) drop = Math.floor(answer.body.length / 2)
      return toResponse(request, answer, dropping ? drop : undefined)
    }))
  )
  return {
    address,
    // like the real transports: requests carry paths, the client adds the address
    client: HttpClient.mapRequest(client, HttpClientRequest.prependUrl("http://fake.lxd")),
    websocket: (ws) => server.websocket(address, ws.path)
  }
}

/** Record a fault. */
export const add = (faults: Faults, match: RequestMatch, kind: FaultKind, times: number): void => {
  faults.list.push({ match, kind, remaining: times })
}
