/**
 * An in-memory transport for protocol unit tests: no socket, no HTTP server. The scripted
 * handler has the shape of `fakeServer`'s (`(request, response) => void`), so the same
 * tests can talk to either; `response.socket.destroy()` drops the "connection".
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { LxdHttp, LxdTransport } from "../src/index.js"
import { json, type Recorded, serverInfo } from "./fakeServer.js"

/** What a scripted handler writes its answer to. */
export interface ResponseWriter {
  writeHead(status: number, headers?: Record<string, string>): unknown
  write(chunk: string | Uint8Array): unknown
  end(chunk?: string | Uint8Array): unknown
  readonly socket: { destroy(): void } | null
}

export type MemoryHandler = (request: Recorded, response: ResponseWriter) => void

const encoder = new TextEncoder()

// like a real client, a request body stream that fails fails the request
const readBody = (
  request: HttpClientRequest.HttpClientRequest
): Effect.Effect<string, HttpClientError.RequestError> => {
  const body = request.body
  switch (body._tag) {
    case "Uint8Array":
      return Effect.succeed(new TextDecoder().decode(body.body))
    case "Stream":
      return body.stream.pipe(
        Stream.decodeText(),
        Stream.mkString,
        Effect.mapError((cause) => new HttpClientError.RequestError({ request, reason: "Transport", cause }))
      )
    default:
      return Effect.succeed("")
  }
}

/**
 * A transport whose requests are answered by `route` (and `GET /1.0` by `info`). Every
 * request is recorded in `requests`.
 */
export const memoryTransport = (route: MemoryHandler, info: unknown = serverInfo()) => {
  const requests: Array<Recorded> = []
  const client = HttpClient.make((request, url) =>
    Effect.flatMap(
      readBody(request),
      (body) =>
        Effect.async<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError>((resume) => {
          const recorded: Recorded = {
            method: request.method,
            url: url.pathname + url.search,
            headers: Object.fromEntries(Object.entries(request.headers)),
            body
          }
          requests.push(recorded)
          let status = 200
          let headers: Record<string, string> = {}
          let answered = false
          let controller: ReadableStreamDefaultController<Uint8Array> | undefined
          const pending: Array<Uint8Array> = []
          const readable = new ReadableStream<Uint8Array>({
            start(c) {
              controller = c
              for (const chunk of pending) c.enqueue(chunk)
            }
          })
          const answer = () => {
            if (answered) return
            answered = true
            resume(Effect.succeed(HttpClientResponse.fromWeb(request, new Response(readable, { status, headers }))))
          }
          const push = (chunk: string | Uint8Array) => {
            const bytes = typeof chunk === "string" ? encoder.encode(chunk) : chunk
            if (controller === undefined) pending.push(bytes)
            else controller.enqueue(bytes)
          }
          const writer: ResponseWriter = {
            writeHead(s, h) {
              status = s
              headers = h ?? {}
              answer()
            },
            write(chunk) {
              answer()
              push(chunk)
            },
            end(chunk) {
              answer()
              if (chunk !== undefined) push(chunk)
              controller?.close()
            },
            socket: {
              destroy() {
                if (!answered) {
                  answered = true
                  resume(
                    Effect.fail(
                      new HttpClientError.RequestError({
                        request,
                        reason: "Transport",
                        cause: new Error("socket hang up")
                      })
                    )
                  )
                } else controller?.error(new Error("socket hang up"))
              }
            }
          }
          if (request.method === "GET" && recorded.url === "/1.0") json(writer, 200, info)
          else route(recorded, writer)
        })
    )
  )
  const transport = LxdTransport.make({
    address: "memory",
    // like the real transports: requests carry paths, the client adds the address
    client: HttpClient.mapRequest(client, HttpClientRequest.prependUrl("http://memory")),
    websocket: (ws) => Effect.dieMessage(`the memory transport has no websockets (${ws.path})`)
  })
  return { requests, transport }
}

/** `LxdHttp` over a memory transport, in the current scope. */
export const memoryConnection = (
  route: MemoryHandler,
  options: LxdHttp.ProtocolOptions = {},
  info?: unknown
): Effect.Effect<
  { readonly http: LxdHttp.Service; readonly requests: ReadonlyArray<Recorded> },
  LxdHttp.ConnectError,
  Scope.Scope
> =>
  Effect.gen(function*() {
    const { requests, transport } = memoryTransport(route, info)
    const context = yield* Layer.build(
      LxdHttp.layer(options).pipe(Layer.provide(Layer.succeed(LxdTransport.LxdTransport, transport)))
    )
    return { http: Context.get(context, LxdHttp.LxdHttp), requests }
  })
