/**
 * Metrics (`GET /1.0/metrics`, extension `metrics`): the server's Prometheus/OpenMetrics
 * text, raw or parsed into samples (`name`, `labels`, `value`).
 *
 * LXD reports per-instance metrics (CPU, memory, disk, network, processes) labelled with
 * `name`, `project` and `type`; newer servers add daemon-wide ones. A server with no
 * running instances may answer with nothing but `# EOF`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Metrics } from "effect-lxd"
 *
 * const memoryByInstance = Effect.gen(function* () {
 *   const metrics = yield* Metrics.Metrics
 *   const samples = yield* metrics.samples
 *   return samples
 *     .filter((s) => s.name === "lxd_memory_MemAvailable_bytes")
 *     .map((s) => [s.labels.name, s.value] as const)
 * })
 * ```
 *
 * @since 0.1.0
 */
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { traced } from "./internal/tracing.js"
import { DecodeError, type ExtensionNotAvailable, type RequestError } from "./LxdError.js"
import { LxdHttp } from "./LxdHttp.js"

/**
 * One sample line: `name{label="value",...} value [timestamp]`.
 *
 * @since 0.1.0
 * @category models
 */
export interface MetricSample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  /** `NaN`, `Infinity` and `-Infinity` are kept as such. */
  readonly value: number
  /** As written by the server, when present. */
  readonly timestamp?: number | undefined
}

/**
 * A metric family: the `# TYPE` and `# HELP` lines and the samples that follow them.
 *
 * @since 0.1.0
 * @category models
 */
export interface MetricFamily {
  readonly name: string
  /** `counter`, `gauge`, `histogram`, `summary`, ... or `unknown` when not declared. */
  readonly type: string
  readonly help: string | undefined
  readonly samples: ReadonlyArray<MetricSample>
}

const METRICS_PATH = "/1.0/metrics"

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/
// suffixes that belong to the family they follow (histograms, summaries, OpenMetrics counters)
const SUFFIXES = ["_total", "_created", "_bucket", "_sum", "_count", "_gcount", "_gsum", "_info"]

const parseNumber = (s: string): number | undefined => {
  switch (s) {
    case "NaN":
      return NaN
    case "+Inf":
    case "Inf":
      return Infinity
    case "-Inf":
      return -Infinity
  }
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) return undefined
  return Number(s)
}

const unescapeHelp = (s: string) => s.replace(/\\(\\|n)/g, (_, c: string) => (c === "n" ? "\n" : "\\"))

/** Parse `{a="x",b="y"}` at the start of `s`; returns the labels and what follows. */
const parseLabels = (s: string): { labels: Record<string, string>; rest: string } | string => {
  const labels: Record<string, string> = {}
  let i = 1 // after "{"
  for (;;) {
    while (s[i] === " ") i++
    if (s[i] === "}") return { labels, rest: s.slice(i + 1) }
    const name = LABEL_NAME.exec(s.slice(i))
    if (name === null) return `bad label name at column ${i + 1}`
    i += name[0].length
    while (s[i] === " ") i++
    if (s[i] !== "=" || s[i + 1] !== "\"") return `expected ="..." after label ${name[0]}`
    i += 2
    let value = ""
    for (;;) {
      const c = s[i]
      if (c === undefined) return `unterminated value of label ${name[0]}`
      if (c === "\"") break
      if (c === "\\") {
        const next = s[i + 1]
        value += next === "n" ? "\n" : next === "\"" ? "\"" : next === "\\" ? "\\" : "\\" + (next ?? "")
        i += 2
      } else {
        value += c
        i++
      }
    }
    i++ // closing quote
    labels[name[0]] = value
    while (s[i] === " ") i++
    if (s[i] === ",") i++
    else if (s[i] !== "}") return `expected , or } after label ${name[0]}`
  }
}

/**
 * Parse Prometheus / OpenMetrics text into families. Fails with `DecodeError` naming the
 * line on anything malformed.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseFamilies = (text: string): Either.Either<ReadonlyArray<MetricFamily>, DecodeError> => {
  const families: Array<{ name: string; type: string; help: string | undefined; samples: Array<MetricSample> }> = []
  const byName = new Map<string, (typeof families)[number]>()
  const family = (name: string) => {
    let f = byName.get(name)
    if (f === undefined) {
      f = { name, type: "unknown", help: undefined, samples: [] }
      byName.set(name, f)
      families.push(f)
    }
    return f
  }
  const fail = (line: number, reason: string) =>
    Either.left(new DecodeError({ method: "GET", path: METRICS_PATH, reason: `line ${line}: ${reason}` }))

  const lines = text.split("\n")
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!.replace(/\r$/, "")
    if (line.trim() === "") continue
    if (line.startsWith("#")) {
      const m = /^#\s+(HELP|TYPE|UNIT)\s+([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\s+(.*))?$/.exec(line)
      if (m === null) {
        if (/^#\s*EOF\s*$/.test(line)) break
        continue // a plain comment
      }
      const f = family(m[2]!)
      if (m[1] === "HELP") f.help = unescapeHelp(m[3] ?? "")
      else if (m[1] === "TYPE") f.type = (m[3] ?? "unknown").trim()
      continue
    }
    const name = NAME.exec(line)
    if (name === null) return fail(n + 1, "expected a metric name")
    let rest = line.slice(name[0].length)
    let labels: Record<string, string> = {}
    if (rest.startsWith("{")) {
      const parsed = parseLabels(rest)
      if (typeof parsed === "string") return fail(n + 1, parsed)
      labels = parsed.labels
      rest = parsed.rest
    }
    const fields = rest.trim().split(/\s+/)
    if (fields.length < 1 || fields.length > 2 || fields[0] === "") return fail(n + 1, "expected a value")
    const value = parseNumber(fields[0]!)
    if (value === undefined) return fail(n + 1, `bad value ${JSON.stringify(fields[0])}`)
    let timestamp: number | undefined
    if (fields.length === 2) {
      timestamp = parseNumber(fields[1]!)
      if (timestamp === undefined || !Number.isFinite(timestamp)) {
        return fail(n + 1, `bad timestamp ${JSON.stringify(fields[1])}`)
      }
    }
    const sample: MetricSample = timestamp === undefined
      ? { name: name[0], labels, value }
      : { name: name[0], labels, value, timestamp }
    const suffix = SUFFIXES.find((s) => name[0].endsWith(s) && byName.has(name[0].slice(0, -s.length)))
    const owner = byName.get(name[0]) ??
      (suffix === undefined ? undefined : byName.get(name[0].slice(0, -suffix.length)))
    ;(owner ?? family(name[0])).samples.push(sample)
  }
  return Either.right(families)
}

/**
 * Parse Prometheus / OpenMetrics text into a flat list of samples.
 *
 * @example
 * ```ts
 * import { Either } from "effect"
 * import { Metrics } from "effect-lxd"
 *
 * const parsed = Metrics.parse('lxd_cpu_seconds_total{cpu="0",name="c1",mode="user"} 1.25\n# EOF\n')
 * // Either.right([{ name: "lxd_cpu_seconds_total", labels: { cpu: "0", name: "c1", mode: "user" }, value: 1.25 }])
 * ```
 *
 * @since 0.1.0
 * @category parsing
 */
export const parse = (text: string): Either.Either<ReadonlyArray<MetricSample>, DecodeError> =>
  Either.map(parseFamilies(text), (families) => families.flatMap((f) => f.samples))

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** The metrics text as the server sent it. */
  readonly text: Effect.Effect<string, RequestError | ExtensionNotAvailable>
  /** Every sample, parsed. */
  readonly samples: Effect.Effect<ReadonlyArray<MetricSample>, RequestError | ExtensionNotAvailable>
  /** Samples grouped by family, with their types and help texts. */
  readonly families: Effect.Effect<ReadonlyArray<MetricFamily>, RequestError | ExtensionNotAvailable>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class Metrics extends Context.Tag("effect-lxd/Metrics")<Metrics, Service>() {}

/**
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Service, never, LxdHttp> = Effect.gen(function*() {
  const http = yield* LxdHttp
  const text = Effect.zipRight(
    http.requireExtension("metrics"),
    Effect.scoped(
      Effect.flatMap(
        http.raw({ method: "GET", path: METRICS_PATH }),
        (response) =>
          Effect.map(
            Stream.runCollect(response.body),
            (chunks) => Buffer.concat(Chunk.toReadonlyArray(chunks)).toString("utf8")
          )
      )
    )
  )
  const families = Effect.flatMap(text, parseFamilies)
  return Metrics.of(traced("Metrics", {
    text,
    families,
    samples: Effect.map(families, (fs) => fs.flatMap((f) => f.samples))
  }))
})

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Metrics, never, LxdHttp> = Layer.effect(Metrics, make)
