/**
 * Progress values: the parser of LXD's and Incus's progress metadata, the byte counter
 * behind `Progress.counting`, and a display format.
 *
 * What the servers put in an operation's metadata while it runs (checked in LXD 5.0.2,
 * LXD's main branch and Incus 6.0):
 * - one key `<stage>_progress` with a text for the CLI: `Unpack: 45% (12.34MB/s)`,
 *   `rootfs: 45% (12.34MB/s)` (image download), `45% (12.34MB/s)`, `12.3MB (4.5MB/s)`
 *   (backup, migration `fs_progress`), `fs: 12.3MB (4.5MB/s)`, `Unpack: 12.34MB/s`,
 *   `Exporting: 45%`, or free text (`container_progress: Remapping container filesystem`);
 * - in the newer code paths also `progress`: `{ stage, percent, processed, speed }`, all
 *   strings of decimal numbers.
 * Sizes are decimal (`kB` = 1000 bytes); IEC units (`KiB`) are understood too.
 */
import type * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"

/** The shape `Progress.Progress` re-exports (see there). */
export interface ProgressValue {
  readonly stage: string
  readonly text: string | undefined
  readonly percent: number | undefined
  readonly bytesDone: number | undefined
  readonly bytesTotal: number | undefined
  readonly speed: number | undefined
  readonly raw: unknown
}

const UNITS: Readonly<Record<string, number>> = {
  B: 1,
  kB: 1e3,
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
  TB: 1e12,
  PB: 1e15,
  EB: 1e18,
  KiB: 1024,
  MiB: 1024 ** 2,
  GiB: 1024 ** 3,
  TiB: 1024 ** 4,
  PiB: 1024 ** 5,
  EiB: 1024 ** 6
}

const NUM = "(\\d+(?:\\.\\d+)?)"
const UNIT = "(B|[kKMGTPE]i?B)"
// [percent% | size] [(speed/s) | speed/s]
const BODY = new RegExp(`^(?:${NUM}\\s*%|${NUM}\\s*${UNIT}(?!/s))?\\s*(?:\\(?\\s*${NUM}\\s*${UNIT}/s\\s*\\)?)?$`)

/** The numbers in a progress text (`Unpack: 45% (12.34MB/s)`), and its label. */
export interface ParsedText {
  readonly label: string | undefined
  readonly percent: number | undefined
  readonly bytesDone: number | undefined
  readonly speed: number | undefined
}

const bytes = (value: string | undefined, unit: string | undefined): number | undefined =>
  value === undefined || unit === undefined ? undefined : Math.round(Number(value) * (UNITS[unit] ?? Number.NaN))

const matchBody = (text: string): Omit<ParsedText, "label"> | undefined => {
  const m = BODY.exec(text.trim())
  if (m === null) return undefined
  const [, percent, size, sizeUnit, speed, speedUnit] = m
  if (percent === undefined && size === undefined && speed === undefined) return undefined
  const result = {
    percent: percent === undefined ? undefined : Number(percent),
    bytesDone: bytes(size, sizeUnit),
    speed: bytes(speed, speedUnit)
  }
  return Object.values(result).some((n) => n !== undefined && !Number.isFinite(n)) ? undefined : result
}

/**
 * Read a progress text. Text without numbers is all label (`Remapping container
 * filesystem`); nothing is ever refused.
 */
export const parseText = (text: string): ParsedText => {
  const whole = matchBody(text)
  if (whole !== undefined) return { label: undefined, ...whole }
  const colon = text.lastIndexOf(":")
  if (colon >= 0) {
    const body = matchBody(text.slice(colon + 1))
    if (body !== undefined) return { label: text.slice(0, colon).trim(), ...body }
  }
  const label = text.trim()
  return { label: label.length === 0 ? undefined : label, percent: undefined, bytesDone: undefined, speed: undefined }
}

const numberOf = (u: unknown): number | undefined => {
  const n = typeof u === "number" ? u : typeof u === "string" && u.trim().length > 0 ? Number(u) : Number.NaN
  return Number.isFinite(n) ? n : undefined
}

const isRecord = (u: unknown): u is Readonly<Record<string, unknown>> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

const SUFFIX = "_progress"

/**
 * The progress in an operation's metadata, `None` when it has none. The `progress` object
 * wins where it has a value; the text fills in the rest.
 */
export const parseMetadata = (metadata: unknown): Option.Option<ProgressValue> => {
  if (!isRecord(metadata)) return Option.none()
  const structured = isRecord(metadata.progress) ? metadata.progress : undefined
  const stageOfMap = typeof structured?.stage === "string" && structured.stage.length > 0
    ? structured.stage
    : undefined
  const textKeys = Object.keys(metadata).filter((k) =>
    k.endsWith(SUFFIX) && k.length > SUFFIX.length && typeof metadata[k] === "string"
  )
  // the text of the structured stage if both are there, else the (normally only) one
  const textKey = stageOfMap !== undefined && textKeys.includes(`${stageOfMap}${SUFFIX}`)
    ? `${stageOfMap}${SUFFIX}`
    : textKeys[0]
  if (structured === undefined && textKey === undefined) return Option.none()
  const text = textKey === undefined ? undefined : (metadata[textKey] as string)
  // newer LXD clears a stage by setting its text to ""
  if (structured === undefined && text !== undefined && text.trim().length === 0) return Option.none()
  const parsed = text === undefined ? undefined : parseText(text)
  const stage = stageOfMap ?? (textKey === undefined ? "unknown" : textKey.slice(0, -SUFFIX.length))
  return Option.some({
    stage,
    text: text === undefined || text.length === 0 ? undefined : text,
    percent: numberOf(structured?.percent) ?? parsed?.percent,
    bytesDone: numberOf(structured?.processed) ?? parsed?.bytesDone,
    bytesTotal: undefined,
    speed: numberOf(structured?.speed) ?? parsed?.speed,
    raw: metadata
  })
}

/** A size the way LXD writes it: `999B`, `12.34MB` (decimal units, two decimals). */
export const formatBytes = (n: number): string => {
  if (n < 1000) return `${Math.round(n)}B`
  const units = ["kB", "MB", "GB", "TB", "PB", "EB"]
  let value = n
  let unit = units[0]!
  for (const u of units) {
    value = value / 1000
    unit = u
    if (value < 1000) break
  }
  return `${value.toFixed(2)}${unit}`
}

/** One line for a terminal, the way `lxc` prints it: `push: 45% (12.34MB/s)`. */
export const format = (p: ProgressValue): string => {
  const amount = p.percent !== undefined
    ? `${Math.floor(p.percent)}%`
    : p.bytesDone !== undefined
    ? formatBytes(p.bytesDone)
    : undefined
  const speed = p.speed === undefined ? undefined : `${formatBytes(p.speed)}/s`
  const numbers = amount !== undefined && speed !== undefined
    ? `${amount} (${speed})`
    : amount ?? speed
  if (numbers === undefined) return p.text ?? p.stage
  const label = p.text === undefined ? p.stage : parseText(p.text).label ?? p.stage
  return `${label}: ${numbers}`
}

/** The progress of `done` bytes out of `total` (when known) after `elapsedMillis`. */
export const counted = (
  stage: string,
  done: number,
  total: number | undefined,
  elapsedMillis: number
): ProgressValue => ({
  stage,
  text: undefined,
  percent: total === undefined ? undefined : total <= 0 ? 100 : Math.min(100, (done * 100) / total),
  bytesDone: done,
  bytesTotal: total,
  speed: elapsedMillis > 0 ? Math.round((done * 1000) / elapsedMillis) : undefined,
  raw: undefined
})

/**
 * The same bytes, calling `onProgress` after each chunk (and once at the end of an empty
 * stream). The clock starts when the stream starts; speed is the mean since then.
 */
export const onBytes = <E, R, E2, R2>(
  self: Stream.Stream<Uint8Array, E, R>,
  onProgress: (progress: ProgressValue) => Effect.Effect<void, E2, R2>,
  options: { readonly stage: string; readonly total: number | undefined }
): Stream.Stream<Uint8Array, E | E2, R | R2> =>
  Stream.unwrap(Effect.map(Clock.currentTimeMillis, (startedAt) => {
    let done = 0
    let reported = false
    const report = Effect.flatMap(Clock.currentTimeMillis, (now) => {
      reported = true
      return onProgress(counted(options.stage, done, options.total, now - startedAt))
    })
    const counting = Stream.mapChunksEffect(self, (chunk: Chunk.Chunk<Uint8Array>) => {
      for (const piece of chunk) done += piece.byteLength
      return Effect.as(report, chunk)
    })
    return Stream.concat(counting, Stream.execute(Effect.suspend(() => (reported ? Effect.void : report))))
  }))
