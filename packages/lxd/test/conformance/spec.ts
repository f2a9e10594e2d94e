/**
 * Test-side generator of example answers from LXD's REST spec (a Swagger 2.0 document):
 * which definitions are response bodies, and an example of each built from the spec's
 * own `example` values and types.
 *
 * The spec has no `required` lists, so "optional" needs a rule: a field is optional when
 * its description says `API extension: ...` (a server without that extension does not
 * send it), unless that extension is the object's own: the one named by more than half
 * of its fields (`StorageBucket` is all `storage_buckets`: whoever sends a bucket sends
 * its name). Every other field is one LXD's Go structs always write. `present` fills
 * every field; `absent` leaves out every optional one, at every depth.
 *
 * Values are the spec's `example`s where they fit the field, else a value of the type. A
 * map of objects is generated from its definition, not from the map's `example` (those
 * are hand-written and can disagree with the definition: `ProjectState.resources` shows
 * `limit`/`usage` where the servers send `Limit`/`Usage`).
 */
import { load } from "js-yaml"
import * as Fs from "node:fs"
import * as Path from "node:path"

export interface Property {
  readonly type?: string
  readonly $ref?: string
  readonly items?: Property
  readonly additionalProperties?: Property | boolean
  readonly properties?: Readonly<Record<string, Property>>
  readonly example?: unknown
  readonly description?: string
  readonly format?: string
}

export interface Spec {
  readonly definitions: Readonly<Record<string, Property>>
  readonly paths: Readonly<Record<string, Readonly<Record<string, unknown>>>>
}

/** Where the spec is: `LXD_REST_API_SPEC`, else `../shared/lxd-spec/rest-api.yaml` beside the repository. */
export const specPath = (): string => {
  const given = process.env["LXD_REST_API_SPEC"]
  if (given !== undefined) return given
  // beside the repository (../shared), or the workplace's copy when the repository is a
  // clone elsewhere (CI clones main into a temporary directory)
  const candidates = [
    Path.resolve(import.meta.dirname, "../../../../../shared/lxd-spec/rest-api.yaml"),
    "/work/shared/lxd-spec/rest-api.yaml"
  ]
  return candidates.find((file) => Fs.existsSync(file)) ?? candidates[0]!
}

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null

export const readSpec = (file: string = specPath()): Spec => {
  const doc = load(Fs.readFileSync(file, "utf8"))
  if (!isRecord(doc) || !isRecord(doc["definitions"]) || !isRecord(doc["paths"])) {
    throw new Error(`${file} is not a Swagger document with definitions and paths`)
  }
  return doc as unknown as Spec
}

const refName = (ref: string) => ref.slice(ref.lastIndexOf("/") + 1)

/** The definitions that are the `metadata` of some answer, with one endpoint that sends each. */
export const responseDefinitions = (spec: Spec): ReadonlyMap<string, string> => {
  const found = new Map<string, string>()
  for (const [path, methods] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      if (!isRecord(op) || !isRecord(op["responses"])) continue
      for (const answer of Object.values(op["responses"])) {
        if (!isRecord(answer) || !isRecord(answer["schema"])) continue
        const properties = answer["schema"]["properties"]
        const metadata = isRecord(properties) ? properties["metadata"] : undefined
        if (!isRecord(metadata)) continue
        const ref = typeof metadata["$ref"] === "string"
          ? metadata["$ref"]
          : isRecord(metadata["items"]) && typeof metadata["items"]["$ref"] === "string"
          ? metadata["items"]["$ref"]
          : undefined
        if (ref !== undefined && !found.has(refName(ref))) found.set(refName(ref), `${method.toUpperCase()} ${path}`)
      }
    }
  }
  return found
}

export type Mode = "present" | "absent"

const extensionsOf = (p: Property): ReadonlyArray<string> =>
  [...(p.description ?? "").matchAll(/API extension: ([A-Za-z0-9_]+)/g)].map((m) => m[1]!)

/** The extension more than half of an object's fields name, if any. */
const ownExtension = (properties: Readonly<Record<string, Property>>): string | undefined => {
  const counts = new Map<string, number>()
  const fields = Object.values(properties)
  for (const field of fields) for (const e of extensionsOf(field)) counts.set(e, (counts.get(e) ?? 0) + 1)
  for (const [extension, count] of counts) if (count * 2 > fields.length) return extension
  return undefined
}

/** Whether a field of an object may be left out (see the rules above). */
export const isOptional = (field: Property, own: string | undefined): boolean => {
  const extensions = extensionsOf(field)
  return extensions.length > 0 && !extensions.every((e) => e === own)
}

const MAX_DEPTH = 6

/** An example value of one property (or definition), in the given mode. */
export const exampleOf = (spec: Spec, p: Property, mode: Mode, depth = 0): unknown => {
  if (p.$ref !== undefined) {
    const target = spec.definitions[refName(p.$ref)]
    if (target === undefined) throw new Error(`dangling reference ${p.$ref}`)
    return exampleOf(spec, target, mode, depth + 1)
  }
  const type = p.type ?? (p.properties !== undefined ? "object" : undefined)
  switch (type) {
    case "string":
      return typeof p.example === "string" ? p.example : p.format === "date-time" ? "2026-01-01T00:00:00Z" : "x"
    case "integer":
    case "number":
      return typeof p.example === "number" ? p.example : 1
    case "boolean":
      return typeof p.example === "boolean" ? p.example : true
    case "array": {
      if (p.example !== undefined && Array.isArray(p.example) && p.items?.$ref === undefined) return p.example
      if (p.items === undefined || depth >= MAX_DEPTH) return []
      return [exampleOf(spec, p.items, mode, depth + 1)]
    }
    case "object": {
      if (p.properties !== undefined) {
        const out: Record<string, unknown> = {}
        const own = ownExtension(p.properties)
        for (const [name, sub] of Object.entries(p.properties)) {
          if (mode === "absent" && isOptional(sub, own)) continue
          if (depth >= MAX_DEPTH && (sub.$ref !== undefined || sub.type === "array" || sub.type === "object")) continue
          out[name] = exampleOf(spec, sub, mode, depth + 1)
        }
        return out
      }
      const values = p.additionalProperties
      const ofObjects = values !== undefined && typeof values !== "boolean" &&
        (values.$ref !== undefined || values.properties !== undefined)
      if (!ofObjects && isRecord(p.example)) return p.example
      if (values === undefined || typeof values === "boolean" || depth >= MAX_DEPTH) return {}
      return { key: exampleOf(spec, values, mode, depth + 1) }
    }
    default:
      // an untyped property (`any` in Go): the example if there is one
      return p.example ?? null
  }
}
