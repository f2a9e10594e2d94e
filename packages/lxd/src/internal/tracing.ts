/**
 * Spans on public service methods. Every method of a service (and of its nested groups,
 * e.g. `Cluster.members.list`) runs in a span named `<Service>.<method>`, with the name
 * it was called on and the current project as attributes. Only a plain string first
 * argument is recorded, never an options object (where passwords, tokens and secrets
 * travel), and never for methods that take a token.
 */
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Stream from "effect/Stream"
import { currentProject } from "./scoping.js"

export interface TraceOptions {
  /** The attribute the first string argument goes in (default `lxd.name`). */
  readonly nameAttribute?: string | undefined
  /** Methods whose arguments are never recorded. */
  readonly unrecorded?: ReadonlyArray<string> | undefined
}

const MAX_RECORDED = 256

/** The span's attributes: the first argument (when recorded) and the scope's project. */
export const spanAttributes = (
  args: ReadonlyArray<unknown>,
  record: boolean,
  nameAttribute: string,
  project: Option.Option<string>
): Record<string, unknown> => {
  const attributes: Record<string, unknown> = {}
  const first = args[0]
  if (record && typeof first === "string" && first.length <= MAX_RECORDED) attributes[nameAttribute] = first
  if (Option.isSome(project)) attributes["lxd.project"] = project.value
  return attributes
}

// the span's own stack trace would point here, into the wrapper, not at the caller: not captured
const spanOptions = (attributes: Record<string, unknown>) => ({ attributes, captureStackTrace: false })

const isStream = (u: unknown): u is Stream.Stream<unknown, unknown, unknown> =>
  Predicate.hasProperty(u, Stream.StreamTypeId)

const traceResult = (
  result: unknown,
  span: string,
  args: ReadonlyArray<unknown>,
  record: boolean,
  nameAttribute: string
): unknown => {
  if (Effect.isEffect(result)) {
    return Effect.withFiberRuntime<unknown, unknown, unknown>((fiber) =>
      Effect.withSpan(
        result,
        span,
        spanOptions(spanAttributes(args, record, nameAttribute, fiber.getFiberRef(currentProject)))
      )
    )
  }
  if (isStream(result)) {
    return Stream.unwrap(
      Effect.map(
        FiberRef.get(currentProject),
        (project) => Stream.withSpan(result, span, spanOptions(spanAttributes(args, record, nameAttribute, project)))
      )
    )
  }
  return result
}

const isGroup = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Effect.isEffect(u) && !isStream(u) && !Array.isArray(u)

/** The same service, every method in a span named `<name>.<method>`. */
export const traced = <S extends object>(name: string, service: S, options: TraceOptions = {}): S => {
  const nameAttribute = options.nameAttribute ?? "lxd.name"
  const unrecorded = new Set(options.unrecorded ?? [])
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(service)) {
    const span = `${name}.${key}`
    const record = !unrecorded.has(key)
    if (typeof value === "function") {
      out[key] = (...args: ReadonlyArray<unknown>) =>
        traceResult(value.apply(service, args), span, args, record, nameAttribute)
    } else if (Effect.isEffect(value) || isStream(value)) {
      out[key] = traceResult(value, span, [], false, nameAttribute)
    } else if (isGroup(value)) {
      out[key] = traced(span, value, options)
    } else {
      out[key] = value
    }
  }
  // the same keys with the same types: only the effects and streams are wrapped
  return Object.assign(Object.create(Object.getPrototypeOf(service)), out)
}
