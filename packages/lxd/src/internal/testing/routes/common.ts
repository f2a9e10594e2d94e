/**
 * Helpers every route module shares: the handler type, `recursion=`, the `filter=` subset, project-qualified URLs.
 */
import * as Effect from "effect/Effect"
import * as H from "../http.js"
import { type FakeServer, type OperationRecord } from "../server.js"

export type Handler = (server: FakeServer, request: H.FakeRequest) => H.Answer | Effect.Effect<H.Answer>

export const enc = encodeURIComponent
export const encoder = new TextEncoder()

export const asyncOf = (server: FakeServer, op: OperationRecord): H.Answer =>
  H.async(server.renderOperation(op) as { id: string })

export const recursion = (request: H.FakeRequest): number => {
  const r = request.query.get("recursion")
  return r === null ? 0 : parseInt(r, 10) || 0
}

/** LXD's `filter=` (`api_filtering`), the subset the fake understands: `key eq|ne value` joined with `and`. */
export const filterOf = (request: H.FakeRequest): (object: Record<string, unknown>) => boolean => {
  const expression = request.query.get("filter")
  if (expression === null || expression.trim() === "") return () => true
  const clauses = expression.split(/\s+and\s+/).map((clause) => {
    const m = /^\s*(\S+)\s+(eq|ne)\s+(.+?)\s*$/.exec(clause)
    if (m === null) return H.refuse(400, `Invalid filter: ${clause}`)
    let value = m[3]!
    if (value.startsWith("\"")) {
      try {
        value = String(JSON.parse(value))
      } catch {
        return H.refuse(400, `Invalid filter value: ${value}`)
      }
    }
    return { key: m[1]!, negate: m[2] === "ne", value }
  })
  const lookup = (object: Record<string, unknown>, key: string): unknown => {
    const [head, ...rest] = key.split(".")
    const top = object[head!]
    if (rest.length === 0) return top
    if (typeof top !== "object" || top === null) return undefined
    return (top as Record<string, unknown>)[rest.join(".")]
  }
  return (object) =>
    clauses.every((c) => (String(lookup(object, c.key) ?? "").toLowerCase() === c.value.toLowerCase()) !== c.negate)
}

export const withProject = (path: string, project: string): string =>
  project === "default" ? path : `${path}?project=${enc(project)}`
