/**
 * An instance's image metadata (`metadata.yaml`) and its template files:
 * `GET`/`PUT`/`PATCH /1.0/instances/<name>/metadata` (with an ETag) and
 * `GET`/`POST`/`DELETE …/metadata/templates[?path=<file>]`. An instance made from an image
 * starts with the image's metadata: its properties and one template, `hostname.tpl`,
 * rendering `/etc/hostname`; an empty instance starts with none.
 */
import * as H from "../http.js"
import { etagOf, type InstanceRecord } from "../model.js"
import { encoder, type Handler } from "./common.js"

interface Template {
  when: Array<string>
  create_only: boolean
  template: string
  properties: Record<string, string>
}

interface MetadataRecord {
  architecture: string
  creation_date: number
  expiry_date: number
  properties: Record<string, string>
  templates: Record<string, Template>
  /** The template files, by name. */
  readonly files: Map<string, Uint8Array>
}

const byInstance = new WeakMap<InstanceRecord, MetadataRecord>()

const initial = (i: InstanceRecord): MetadataRecord => {
  const fromImage = i.config["volatile.base_image"] !== undefined
  const properties: Record<string, string> = {}
  for (const [k, v] of Object.entries(i.config)) if (k.startsWith("image.")) properties[k.slice(6)] = v
  return {
    architecture: i.architecture,
    creation_date: Math.floor(i.createdAt.getTime() / 1000),
    expiry_date: 0,
    properties,
    templates: fromImage
      ? { "/etc/hostname": { when: ["create", "copy"], create_only: false, template: "hostname.tpl", properties: {} } }
      : {},
    files: fromImage ? new Map([["hostname.tpl", encoder.encode("{{ container.name }}\n")]]) : new Map()
  }
}

const metadataOf = (i: InstanceRecord): MetadataRecord => {
  let found = byInstance.get(i)
  if (found === undefined) {
    found = initial(i)
    byInstance.set(i, found)
  }
  return found
}

const view = (m: MetadataRecord) => ({
  architecture: m.architecture,
  creation_date: m.creation_date,
  expiry_date: m.expiry_date,
  properties: m.properties,
  templates: m.templates
})

const templates = (value: unknown): Record<string, Template> => {
  if (value === undefined || value === null) return {}
  if (typeof value !== "object" || Array.isArray(value)) return H.refuse(400, "Invalid templates")
  const out: Record<string, Template> = {}
  for (const [path, t] of Object.entries(value as Record<string, Record<string, unknown>>)) {
    if (typeof t !== "object" || t === null || typeof t.template !== "string") {
      return H.refuse(400, `Invalid template for "${path}"`)
    }
    out[path] = {
      when: H.stringList(t.when, "when"),
      create_only: t.create_only === true,
      template: t.template,
      properties: H.stringMap(t.properties, "properties")
    }
  }
  return out
}

/** A template file name: a plain name, no directories. */
const templateName = (request: H.FakeRequest): string | undefined => {
  const path = request.query.get("path")
  if (path === null || path === "") return undefined
  if (path.includes("/") || path === "." || path === "..") return H.refuse(400, `Invalid template name "${path}"`)
  return path
}

/** `/1.0/instances/<name>/metadata[/templates]`. */
export const metadata: Handler = (server, request) => {
  const project = server.projectOf(request)
  const i = server.instanceOf(project, request.segments[1]!)
  const m = metadataOf(i)
  if (request.segments.length === 3) {
    switch (request.method) {
      case "GET":
        return H.sync(view(m), { etag: etagOf(view(m)) })
      case "PUT":
      case "PATCH": {
        server.checkEtag(request, etagOf(view(m)))
        const body = H.jsonBody(request)
        const patch = request.method === "PATCH"
        if (typeof body.architecture === "string") m.architecture = body.architecture
        if (typeof body.creation_date === "number") m.creation_date = body.creation_date
        if (typeof body.expiry_date === "number") m.expiry_date = body.expiry_date
        else if (!patch) m.expiry_date = 0
        if (body.properties !== undefined || !patch) {
          const props = H.stringMap(body.properties, "properties")
          m.properties = patch ? { ...m.properties, ...props } : props
        }
        if (body.templates !== undefined || !patch) {
          const ts = templates(body.templates)
          m.templates = patch ? { ...m.templates, ...ts } : ts
        }
        return H.sync(null)
      }
      default:
        return H.refuse(405, "Method not allowed")
    }
  }
  if (request.segments[3] !== "templates" || request.segments.length > 4) return H.refuse(404, "not found")
  const name = templateName(request)
  switch (request.method) {
    case "GET": {
      if (name === undefined) return H.sync([...m.files.keys()].sort())
      const data = m.files.get(name)
      if (data === undefined) return H.refuse(404, "Template not found")
      return H.raw(200, data, { "content-type": "application/octet-stream" })
    }
    case "POST":
    case "PUT":
      if (name === undefined) return H.refuse(400, "No template name given (path=)")
      m.files.set(name, request.body.slice())
      return H.sync(null)
    case "DELETE":
      if (name === undefined) return H.refuse(400, "No template name given (path=)")
      if (!m.files.delete(name)) return H.refuse(404, "Template not found")
      return H.sync(null)
    default:
      return H.refuse(405, "Method not allowed")
  }
}
