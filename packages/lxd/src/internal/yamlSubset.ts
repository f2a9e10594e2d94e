/**
 * A parser for the part of YAML that the `lxc` and `incus` clients write in their
 * `config.yml` (Go's yaml library, block style): nested mappings by indentation, block
 * sequences of scalars, plain, single- and double-quoted scalars, `true`/`false`,
 * `null`/`~`, the empty flow collections `{}` and `[]`, comments and a `---` line.
 * Anything else (anchors, aliases, tags, block scalars, non-empty flow collections,
 * complex keys) is refused with the line it is on, never guessed at.
 */
import * as Either from "effect/Either"

/** A parsed YAML value: scalars stay strings, except booleans and null. */
export type YamlValue = string | boolean | null | ReadonlyArray<YamlValue> | { readonly [key: string]: YamlValue }

/** Why a document was refused, with the (1-based) line. */
export interface YamlError {
  readonly line: number
  readonly reason: string
}

interface Line {
  readonly number: number
  readonly indent: number
  readonly text: string
}

class Refusal {
  constructor(readonly line: number, readonly reason: string) {}
}

const fail = (line: number, reason: string): never => {
  throw new Refusal(line, reason)
}

/** The text without a trailing ` # comment` (outside quotes). */
const stripComment = (text: string): string => {
  let quote: string | undefined
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    if (quote !== undefined) {
      if (c === "\\" && quote === "\"") i++
      else if (c === quote) quote = undefined
    } else if (c === "\"" || c === "'") {
      if (i === 0 || /[\s:[{,-]/.test(text[i - 1]!)) quote = c
    } else if (c === "#" && (i === 0 || /\s/.test(text[i - 1]!))) {
      return text.slice(0, i).trimEnd()
    }
  }
  return text.trimEnd()
}

const doubleQuoted = (body: string, line: number): string =>
  body.replace(/\\(u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|.)/g, (_, e: string) => {
    switch (e[0]) {
      case "n":
        return "\n"
      case "t":
        return "\t"
      case "r":
        return "\r"
      case "0":
        return "\0"
      case "\"":
      case "\\":
      case "/":
      case " ":
        return e
      case "u":
      case "x":
        return String.fromCharCode(parseInt(e.slice(1), 16))
      default:
        return fail(line, `unknown escape \\${e} in a double-quoted string`)
    }
  })

/** One scalar (or empty flow collection), as written after `key:` or `- `. */
const scalar = (raw: string, line: number): YamlValue => {
  const text = raw.trim()
  if (text.startsWith("\"")) {
    const m = /^"((?:[^"\\]|\\.)*)"$/.exec(text)
    if (m === null) return fail(line, "an unterminated double-quoted string")
    return doubleQuoted(m[1]!, line)
  }
  if (text.startsWith("'")) {
    const m = /^'((?:[^']|'')*)'$/.exec(text)
    if (m === null) return fail(line, "an unterminated single-quoted string")
    return m[1]!.replace(/''/g, "'")
  }
  if (text === "{}") return {}
  if (text === "[]") return []
  if (/^[[{]/.test(text)) return fail(line, "flow collections other than {} and [] are not supported")
  if (/^[&*!|>@`%]/.test(text)) {
    return fail(line, `"${text[0]}" (anchors, aliases, tags, block scalars) is not supported`)
  }
  if (text === "" || text === "~" || text === "null" || text === "Null" || text === "NULL") return null
  if (text === "true" || text === "True" || text === "TRUE") return true
  if (text === "false" || text === "False" || text === "FALSE") return false
  return text
}

/** `key: rest` split at the first `: ` (or a final `:`), the key unquoted. */
const splitKey = (text: string, line: number): readonly [string, string] | undefined => {
  if (text.startsWith("\"") || text.startsWith("'")) {
    const m = text.startsWith("\"")
      ? /^"((?:[^"\\]|\\.)*)"\s*:(?:\s+|$)/.exec(text)
      : /^'((?:[^']|'')*)'\s*:(?:\s+|$)/.exec(text)
    if (m === null) return undefined
    const key = scalar(text.slice(0, m[0].indexOf(":")).trim(), line)
    return [String(key), text.slice(m[0].length)]
  }
  const m = /^([^:#]|:(?=\S))+?\s*:(?:\s+|$)/.exec(text)
  if (m === null) return undefined
  const key = m[0].slice(0, m[0].lastIndexOf(":")).trim()
  if (key.startsWith("? ")) fail(line, "complex keys are not supported")
  return [key, text.slice(m[0].length)]
}

const toLines = (source: string): Array<Line> => {
  const out: Array<Line> = []
  source.split(/\r?\n/).forEach((raw, i) => {
    const number = i + 1
    if (raw.includes("\t") && /^\s*\t/.test(raw)) fail(number, "tabs cannot indent YAML")
    const text = stripComment(raw)
    if (text.trim() === "" || text === "---" || text === "...") return
    if (text.startsWith("%")) fail(number, "directives are not supported")
    out.push({ number, indent: text.length - text.trimStart().length, text: text.trimStart() })
  })
  return out
}

/** Parse a block at `indent` starting at `lines[start]`; gives the value and the next line. */
const block = (lines: ReadonlyArray<Line>, start: number, indent: number): readonly [YamlValue, number] => {
  const first = lines[start]!
  if (first.text === "-" || first.text.startsWith("- ")) {
    const items: Array<YamlValue> = []
    let i = start
    while (
      i < lines.length && lines[i]!.indent === indent && (lines[i]!.text === "-" || lines[i]!.text.startsWith("- "))
    ) {
      const rest = lines[i]!.text.slice(1).trim()
      if (rest !== "" && splitKey(rest, lines[i]!.number) !== undefined) {
        fail(lines[i]!.number, "mappings inside sequences are not supported")
      }
      if (rest === "") fail(lines[i]!.number, "nested collections inside sequences are not supported")
      items.push(scalar(rest, lines[i]!.number))
      i++
    }
    return [items, i]
  }
  const map: Record<string, YamlValue> = {}
  let i = start
  while (i < lines.length && lines[i]!.indent === indent) {
    const line = lines[i]!
    if (line.text === "-" || line.text.startsWith("- ")) {
      fail(line.number, "a sequence entry where a mapping key was expected")
    }
    const kv = splitKey(line.text, line.number)
    if (kv === undefined) return fail(line.number, "expected `key: value`")
    const [key, rest] = kv
    if (Object.prototype.hasOwnProperty.call(map, key)) fail(line.number, `duplicate key "${key}"`)
    i++
    if (rest.trim() !== "") {
      map[key] = scalar(rest, line.number)
      continue
    }
    const next = lines[i]
    const nested = next !== undefined &&
      (next.indent > indent || (next.indent === indent && (next.text === "-" || next.text.startsWith("- "))))
    if (!nested) {
      map[key] = null
      continue
    }
    const [value, after] = block(lines, i, next.indent)
    map[key] = value
    i = after
  }
  return [map, i]
}

/** Parse a document of the supported subset. An empty document is `null`. */
export const parse = (source: string): Either.Either<YamlValue, YamlError> => {
  try {
    const lines = toLines(source)
    if (lines.length === 0) return Either.right(null)
    const top = lines[0]!
    const [value, end] = block(lines, 0, top.indent)
    if (end < lines.length) {
      const line = lines[end]!
      return Either.left({ line: line.number, reason: "indentation does not match any enclosing block" })
    }
    return Either.right(value)
  } catch (e) {
    if (e instanceof Refusal) return Either.left({ line: e.line, reason: e.reason })
    throw e
  }
}
