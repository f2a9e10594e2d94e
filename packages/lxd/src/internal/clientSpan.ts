/**
 * The HTTP client span of the transport's own paths (the direct exchange, the bulk
 * path): the platform's span name, kind and URL attributes, and its trace headers on
 * the request when propagation is on. No header attributes; no span at all for a
 * request that carries a secret in its query, or with tracing turned off, or under
 * Effect's own tracer (which records nothing anyone can read back; see below).
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpTraceContext from "@effect/platform/HttpTraceContext"
import * as Context from "effect/Context"
import * as DefaultServices from "effect/DefaultServices"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"

// the tracer a program has when it installs none (`Effect.withTracer`, `Layer.setTracer`)
const nativeTracer = Context.get(DefaultServices.liveServices, Tracer.Tracer)

/** The trace context of `span` as headers (the platform's, for an external span too). */
const traceHeaders = (span: Tracer.AnySpan): Readonly<Record<string, string>> => {
  if (span._tag === "Span") return HttpTraceContext.toHeaders(span)
  const sampled = span.sampled ? "1" : "0"
  return {
    b3: `${span.traceId}-${span.spanId}-${sampled}`,
    traceparent: `00-${span.traceId}-${span.spanId}-0${sampled}`
  }
}

export const withClientSpan = <A, E, R>(
  request: {
    readonly method: string
    /** The path with its query. */
    readonly path: string
    readonly headers: Readonly<Record<string, string>>
    readonly traced: boolean
  },
  origin: string,
  send: (headers: Readonly<Record<string, string>>) => Effect.Effect<A, E, R>,
  statusOf: (answer: A) => number
): Effect.Effect<A, E, R> => {
  if (!request.traced) return send(request.headers)
  return Effect.withFiberRuntime<A, E, R>((fiber) => {
    if (!fiber.getFiberRef(FiberRef.currentTracerEnabled)) return send(request.headers)
    const propagate = fiber.getFiberRef(HttpClient.currentTracerPropagation)
    if (Context.get(fiber.getFiberRef(DefaultServices.currentServices), Tracer.Tracer) === nativeTracer) {
      // Effect's own tracer keeps its spans to itself, and this one is a leaf (never the
      // parent of anything, not in the context): no one could see it. The trace context
      // sent is the current span's, the one this span would have had as parent.
      if (!propagate) return send(request.headers)
      const parent = Context.getOption(fiber.currentContext, Tracer.ParentSpan)
      return send(
        Option.isSome(parent) ? { ...request.headers, ...traceHeaders(parent.value) } : request.headers
      )
    }
    const query = request.path.indexOf("?")
    const attributes: Record<string, unknown> = {
      "http.request.method": request.method,
      "server.address": origin,
      "url.full": origin + request.path,
      "url.path": query < 0 ? request.path : request.path.slice(0, query),
      "url.scheme": origin.slice(0, origin.indexOf(":"))
    }
    if (query >= 0 && query < request.path.length - 1) attributes["url.query"] = request.path.slice(query + 1)
    return Effect.useSpan(
      `http.client ${request.method}`,
      { kind: "client", captureStackTrace: false, attributes },
      (span) =>
        Effect.tap(
          send(propagate ? { ...request.headers, ...HttpTraceContext.toHeaders(span) } : request.headers),
          (answer) => span.attribute("http.response.status_code", statusOf(answer))
        )
    )
  })
}
