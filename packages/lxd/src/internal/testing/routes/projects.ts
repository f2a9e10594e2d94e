/**
 * Projects: create, update, rename and delete (refused while not empty).
 */
import * as Effect from "effect/Effect"
import * as H from "../http.js"
import { etagOf, type ProjectRecord } from "../model.js"
import { asyncOf, enc, type Handler, recursion } from "./common.js"

const projectIsEmpty = (p: ProjectRecord): boolean =>
  p.instances.size === 0 && p.volumes.size === 0 && [...p.profiles.keys()].every((n) => n === "default")

export const projects: Handler = (server, request) => {
  const name = request.segments[1]
  if (name === undefined) {
    if (request.method === "POST") {
      const body = H.jsonBody(request)
      if (typeof body.name !== "string" || body.name === "" || body.name.includes("/")) {
        return H.refuse(400, "Invalid project name")
      }
      if (server.projects.has(body.name)) return H.refuse(409, `Project "${body.name}" already exists`)
      const config = {
        "features.images": "true",
        "features.profiles": "true",
        "features.storage.volumes": "true",
        "features.storage.buckets": "true",
        ...H.stringMap(body.config, "config")
      }
      const project = server.newProject(body.name, typeof body.description === "string" ? body.description : "", config)
      server.projects.set(project.name, project)
      const location = `/1.0/projects/${enc(project.name)}`
      return Effect.as(
        server.lifecycle(project.name, "project-created", location),
        H.sync(null, { status: 201, location })
      )
    }
    const all = [...server.projects.values()]
    return H.sync(
      recursion(request) >= 1 ? all.map((p) => server.renderProject(p)) : all.map((p) => `/1.0/projects/${enc(p.name)}`)
    )
  }
  const project = server.projects.get(name)
  if (project === undefined) return H.refuse(404, "Project not found")
  const path = `/1.0/projects/${enc(name)}`
  if (request.segments[2] === "state") {
    const usage = (key: string, n: number) => {
      const limit = project.config[`limits.${key}`]
      return { Limit: limit === undefined ? -1 : parseInt(limit, 10), Usage: n }
    }
    const all = [...project.instances.values()]
    return H.sync({
      resources: {
        containers: usage("containers", all.filter((i) => i.type === "container").length),
        instances: usage("instances", all.length),
        "virtual-machines": usage("virtual-machines", all.filter((i) => i.type !== "container").length),
        disk: usage("disk", 0),
        memory: usage("memory", 0),
        processes: usage("processes", 0),
        cpu: usage("cpu", 0),
        networks: usage("networks", 0)
      }
    })
  }
  const put = () => ({ config: project.config, description: project.description })
  switch (request.method) {
    case "GET":
      return H.sync(server.renderProject(project), { etag: etagOf(put()) })
    case "PUT":
    case "PATCH": {
      server.checkEtag(request, etagOf(put()))
      const body = H.jsonBody(request)
      const patch = request.method === "PATCH"
      if (body.config !== undefined || !patch) {
        const config = H.stringMap(body.config, "config")
        project.config = patch ? { ...project.config, ...config } : config
      }
      if (typeof body.description === "string") project.description = body.description
      else if (!patch) project.description = ""
      return Effect.as(server.lifecycle(name, "project-updated", path), H.sync(null))
    }
    case "POST": {
      const body = H.jsonBody(request)
      if (name === "default") return H.refuse(403, "The 'default' project cannot be renamed")
      if (typeof body.name !== "string" || body.name === "") return H.refuse(400, "Invalid project name")
      if (server.projects.has(body.name)) return H.refuse(409, `Project "${body.name}" already exists`)
      if (!projectIsEmpty(project)) return H.refuse(412, "Only empty projects can be renamed")
      const newName = body.name
      return Effect.map(
        server.startOperation({
          project: name,
          description: "Renaming project",
          origin: { method: "POST", path },
          resources: { projects: [path] },
          run: () =>
            Effect.suspend(() => {
              server.projects.delete(name)
              project.name = newName
              server.projects.set(newName, project)
              return server.lifecycle(newName, "project-renamed", `/1.0/projects/${enc(newName)}`, { old_name: name })
            })
        }),
        (op) => asyncOf(server, op)
      )
    }
    case "DELETE": {
      if (name === "default") return H.refuse(403, "The 'default' project cannot be deleted")
      const force = request.query.get("force") === "true" || request.query.get("force") === "1"
      if (!projectIsEmpty(project) && !(force && server.dialect === "incus-6.0")) {
        return H.refuse(400, "Only empty projects can be removed")
      }
      return server.write(name, "Deleting project", { method: "DELETE", path }, { projects: [path] }, () => {
        server.projects.delete(name)
        Effect.runSync(server.lifecycle(name, "project-deleted", path))
      })
    }
    default:
      return H.refuse(405, "Method not allowed")
  }
}
