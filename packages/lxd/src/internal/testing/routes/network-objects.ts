/**
 * Network ACLs (`/1.0/network-acls`: create, list, get, put/patch with an ETag, rename,
 * delete) and DNS zones (`/1.0/network-zones`: the same without rename; records are not
 * modelled). Per project (a project without `features.networks` uses the default one's).
 * Writes are sync on LXD 5.0 and Incus, background operations on LXD 6.x
 * (`storage_and_network_operations`). ACL rules need a known `action` and `state`.
 */
import * as Effect from "effect/Effect"
import * as H from "../http.js"
import { etagOf, type ProjectRecord } from "../model.js"
import { type FakeServer } from "../server.js"
import { enc, type Handler, recursion } from "./common.js"

interface NetworkObject {
  name: string
  description: string
  config: Record<string, string>
  ingress: Array<Record<string, string>>
  egress: Array<Record<string, string>>
}

interface Kind {
  /** `network-acls` or `network-zones`. */
  readonly collection: string
  /** `network-acl` or `network-zone` (lifecycle actions, messages). */
  readonly entity: string
  readonly label: string
  readonly rules: boolean
  readonly renamable: boolean
  readonly validName: (name: string) => boolean
}

const stores = new WeakMap<FakeServer, Map<string, Map<string, NetworkObject>>>()

const storeOf = (server: FakeServer, kind: Kind, project: ProjectRecord): Map<string, NetworkObject> => {
  let byKind = stores.get(server)
  if (byKind === undefined) {
    byKind = new Map()
    stores.set(server, byKind)
  }
  const home = project.name === "default" || project.config["features.networks"] === "true" ? project.name : "default"
  const key = `${kind.collection}/${home}`
  let store = byKind.get(key)
  if (store === undefined) {
    store = new Map()
    byKind.set(key, store)
  }
  return store
}

const rules = (value: unknown, field: string): Array<Record<string, string>> => {
  if (value === undefined || value === null) return []
  if (!Array.isArray(value)) return H.refuse(400, `Invalid ${field} rules`)
  return value.map((r, i) => {
    const rule = H.stringMap(r, `${field} rule ${i}`)
    if (!["allow", "reject", "drop", "allow-stateless"].includes(rule.action ?? "")) {
      return H.refuse(400, `Invalid ${field} rule ${i}: Action "${rule.action ?? ""}" is not valid`)
    }
    if (!["enabled", "disabled", "logged"].includes(rule.state ?? "")) {
      return H.refuse(400, `Invalid ${field} rule ${i}: State "${rule.state ?? ""}" is not valid`)
    }
    return rule
  })
}

const objects = (kind: Kind): Handler => (server, request) => {
  const project = server.projectOf(request)
  const store = storeOf(server, kind, project)
  const name = request.segments[1]
  const base = `/1.0/${kind.collection}`
  const render = (o: NetworkObject) => ({
    name: o.name,
    description: o.description,
    config: o.config,
    ...(kind.rules ? { ingress: o.ingress, egress: o.egress } : {}),
    used_by: [],
    project: project.name
  })
  const put = (o: NetworkObject) =>
    kind.rules
      ? { description: o.description, config: o.config, ingress: o.ingress, egress: o.egress }
      : { description: o.description, config: o.config }
  if (name === undefined) {
    if (request.method === "GET") {
      const all = [...store.values()]
      return H.sync(recursion(request) >= 1 ? all.map(render) : all.map((o) => `${base}/${enc(o.name)}`))
    }
    if (request.method !== "POST") return H.refuse(405, "Method not allowed")
    const body = H.jsonBody(request)
    const newName = typeof body.name === "string" ? body.name : ""
    if (!kind.validName(newName)) return H.refuse(400, `Invalid ${kind.label} name "${newName}"`)
    if (store.has(newName)) return H.refuse(409, `The ${kind.label} already exists`)
    const created: NetworkObject = {
      name: newName,
      description: typeof body.description === "string" ? body.description : "",
      config: H.stringMap(body.config, "config"),
      ingress: kind.rules ? rules(body.ingress, "ingress") : [],
      egress: kind.rules ? rules(body.egress, "egress") : []
    }
    const location = `${base}/${enc(newName)}`
    return server.write(project.name, `Creating ${kind.label}`, { method: "POST", path: base }, {
      [kind.collection.replace("-", "_")]: [location]
    }, () => {
      store.set(newName, created)
      Effect.runSync(server.lifecycle(project.name, `${kind.entity}-created`, location))
    }, location)
  }
  const o = store.get(name)
  if (o === undefined || request.segments.length > 2) {
    return H.refuse(404, `${kind.label[0]!.toUpperCase()}${kind.label.slice(1)} not found`)
  }
  const path = `${base}/${enc(o.name)}`
  const origin = { method: request.method, path }
  const resources = { [kind.collection.replace("-", "_")]: [path] }
  switch (request.method) {
    case "GET":
      return H.sync(render(o), { etag: etagOf(put(o)) })
    case "PUT":
    case "PATCH": {
      server.checkEtag(request, etagOf(put(o)))
      const body = H.jsonBody(request)
      const patch = request.method === "PATCH"
      const config = body.config === undefined && patch ? undefined : H.stringMap(body.config, "config")
      const ingress = !kind.rules || (body.ingress === undefined && patch) ? undefined : rules(body.ingress, "ingress")
      const egress = !kind.rules || (body.egress === undefined && patch) ? undefined : rules(body.egress, "egress")
      return server.write(project.name, `Updating ${kind.label}`, origin, resources, () => {
        if (config !== undefined) o.config = patch ? { ...o.config, ...config } : config
        if (ingress !== undefined) o.ingress = ingress
        if (egress !== undefined) o.egress = egress
        if (typeof body.description === "string") o.description = body.description
        else if (!patch) o.description = ""
        Effect.runSync(server.lifecycle(project.name, `${kind.entity}-updated`, path))
      })
    }
    case "POST": {
      if (!kind.renamable) return H.refuse(405, "Method not allowed")
      const body = H.jsonBody(request)
      const newName = typeof body.name === "string" ? body.name : ""
      if (!kind.validName(newName)) return H.refuse(400, `Invalid ${kind.label} name "${newName}"`)
      if (store.has(newName)) return H.refuse(409, `An ${kind.label} by that name exists already`)
      const location = `${base}/${enc(newName)}`
      return server.write(project.name, `Renaming ${kind.label}`, origin, resources, () => {
        store.delete(o.name)
        const old = o.name
        o.name = newName
        store.set(newName, o)
        Effect.runSync(server.lifecycle(project.name, `${kind.entity}-renamed`, location, { old_name: old }))
      }, location)
    }
    case "DELETE":
      return server.write(project.name, `Deleting ${kind.label}`, origin, resources, () => {
        store.delete(o.name)
        Effect.runSync(server.lifecycle(project.name, `${kind.entity}-deleted`, path))
      })
    default:
      return H.refuse(405, "Method not allowed")
  }
}

export const networkAcls: Handler = objects({
  collection: "network-acls",
  entity: "network-acl",
  label: "network ACL",
  rules: true,
  renamable: true,
  validName: (name) => /^[a-zA-Z0-9][a-zA-Z0-9_-]{0,62}$/.test(name)
})

export const networkZones: Handler = objects({
  collection: "network-zones",
  entity: "network-zone",
  label: "network zone",
  rules: false,
  renamable: false,
  // a DNS name: labels of letters, digits and hyphens, separated by dots
  validName: (name) =>
    /^(?=.{1,253}$)([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/.test(
      name
    )
})
