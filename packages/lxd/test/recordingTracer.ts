/**
 * A tracer that keeps every span it makes (name, parent's name, attributes), for tests
 * that check what is traced, and what is not.
 */
import * as Tracer from "effect/Tracer"

export interface RecordedSpan {
  readonly name: string
  readonly parent: string | undefined
  readonly attributes: Map<string, unknown>
}

export const recordingTracer = () => {
  const spans: Array<RecordedSpan> = []
  const tracer = Tracer.make({
    context: (f) => f(),
    span: (name, parent, context, links, startTime, kind) => {
      const attributes = new Map<string, unknown>()
      const parentName = parent._tag === "Some" && parent.value._tag === "Span" ? parent.value.name : undefined
      spans.push({ name, parent: parentName, attributes })
      const span: Tracer.Span = {
        _tag: "Span",
        name,
        spanId: String(spans.length),
        traceId: "t",
        parent,
        context,
        status: { _tag: "Started", startTime },
        attributes,
        links,
        sampled: true,
        kind,
        end: () => undefined,
        attribute: (key, value) => {
          attributes.set(key, value)
        },
        event: () => undefined,
        addLinks: () => undefined
      }
      return span
    }
  })
  /** Every span name and attribute value, as text. */
  const texts = (): Array<string> =>
    spans.flatMap((s) => [s.name, ...[...s.attributes].map(([k, v]) => `${k}=${String(v)}`)])
  return { spans, texts, tracer }
}
