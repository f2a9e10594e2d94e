/**
 * The storage pool and its custom volumes.
 */
import * as Effect from "effect/Effect"
import * as H from "../http.js"
import { etagOf } from "../model.js"
import { enc, type Handler, recursion } from "./common.js"
import { changePool, poolEtag, poolState } from "./pool-writes.js"

export const storage: Handler = (server, request) => {
  const project = server.projectOf(request)
  const [, poolName, section, type, volumeName, ...rest] = request.segments
  const poolView = {
    name: server.pool,
    driver: "dir",
    description: poolState(server).description,
    config: poolState(server).config,
    status: "Created",
    locations: ["none"],
    used_by: []
  }
  if (poolName === undefined) {
    if (request.method === "POST" && H.jsonBody(request).name === server.pool) {
      return H.refuse(409, `Storage pool "${server.pool}" already exists`)
    }
    if (request.method !== "GET") return H.refuse(501, "Creating storage pools is not modelled by the fake")
    return H.sync(recursion(request) >= 1 ? [poolView] : [`/1.0/storage-pools/${server.pool}`])
  }
  if (poolName !== server.pool) return H.refuse(404, "Storage pool not found")
  if (section === undefined) {
    if (request.method !== "GET") return changePool(server, request)
    return H.sync(poolView, { etag: poolEtag(server) })
  }
  if (section === "resources") return H.sync({ space: { used: 4096, total: 1 << 30 }, inodes: { used: 1, total: 1 } })
  if (section !== "volumes") return H.refuse(404, "not found")
  const volumesPath = `/1.0/storage-pools/${server.pool}/volumes`
  if (type === undefined || (volumeName === undefined && request.method === "GET")) {
    if (type !== undefined && type !== "custom" && type !== "container" && type !== "image") {
      return H.refuse(400, `Invalid storage volume type "${type}"`)
    }
    const out: Array<unknown> = []
    if (type === undefined || type === "custom") {
      for (const v of project.volumes.values()) {
        out.push(recursion(request) >= 1 ? server.renderVolume(project, v) : `${volumesPath}/custom/${enc(v.name)}`)
      }
    }
    if (type === undefined || type === "container") {
      for (const i of project.instances.values()) {
        out.push(
          recursion(request) >= 1
            ? {
              name: i.name,
              type: "container",
              description: "",
              config: {},
              content_type: "filesystem",
              used_by: [`/1.0/instances/${enc(i.name)}`],
              location: "none",
              project: project.name
            }
            : `${volumesPath}/container/${enc(i.name)}`
        )
      }
    }
    return H.sync(out)
  }
  if (type !== "custom") return H.refuse(501, `Volumes of type "${type}" are read-only in the fake`)
  if (volumeName === undefined) {
    if (request.method !== "POST") return H.refuse(405, "Method not allowed")
    const body = H.jsonBody(request)
    if (typeof body.name !== "string" || body.name === "" || body.name.includes("/")) {
      return H.refuse(400, "Invalid volume name")
    }
    if (body.source !== undefined && body.source !== null && (body.source as { type?: unknown }).type !== undefined) {
      return H.refuse(501, "Copying volumes is not modelled by the fake")
    }
    if (project.volumes.has(body.name)) return H.refuse(409, "Volume by that name already exists")
    const name = body.name
    const location = `${volumesPath}/custom/${enc(name)}`
    const config = H.stringMap(body.config, "config")
    return server.write(
      project.name,
      "Creating storage volume",
      {
        method: "POST",
        path: `${volumesPath}/custom`
      },
      { storage_volumes: [location] },
      () => {
        project.volumes.set(name, {
          name,
          description: typeof body.description === "string" ? body.description : "",
          config,
          contentType: typeof body.content_type === "string" ? body.content_type : "filesystem",
          createdAt: new Date()
        })
        Effect.runSync(server.lifecycle(project.name, "storage-volume-created", location))
      },
      location
    )
  }
  const volume = project.volumes.get(volumeName)
  if (volume === undefined) return H.refuse(404, "Storage volume not found")
  const path = `${volumesPath}/custom/${enc(volumeName)}`
  if (rest[0] === "state") return H.sync({ usage: { used: 0, total: -1 } })
  if (rest.length > 0) return H.refuse(501, "Volume snapshots and backups are not modelled by the fake")
  const put = () => ({ config: volume.config, description: volume.description })
  const origin = { method: request.method, path }
  switch (request.method) {
    case "GET":
      return H.sync(server.renderVolume(project, volume), { etag: etagOf(put()) })
    case "PUT":
    case "PATCH": {
      server.checkEtag(request, etagOf(put()))
      const body = H.jsonBody(request)
      const patch = request.method === "PATCH"
      const config = body.config === undefined && patch ? undefined : H.stringMap(body.config, "config")
      return server.write(project.name, "Updating storage volume", origin, { storage_volumes: [path] }, () => {
        if (config !== undefined) volume.config = patch ? { ...volume.config, ...config } : config
        if (typeof body.description === "string") volume.description = body.description
        Effect.runSync(server.lifecycle(project.name, "storage-volume-updated", path))
      })
    }
    case "POST": {
      const body = H.jsonBody(request)
      if (typeof body.name !== "string" || body.name === "") return H.refuse(400, "Invalid volume name")
      if (body.pool !== undefined && body.pool !== server.pool) return H.refuse(501, "There is only one pool")
      if (project.volumes.has(body.name)) return H.refuse(409, "Volume by that name already exists")
      const newName = body.name
      const location = `${volumesPath}/custom/${enc(newName)}`
      return server.write(project.name, "Renaming storage volume", origin, { storage_volumes: [path] }, () => {
        project.volumes.delete(volumeName)
        volume.name = newName
        project.volumes.set(newName, volume)
        Effect.runSync(server.lifecycle(project.name, "storage-volume-renamed", location, { old_name: volumeName }))
      }, location)
    }
    case "DELETE": {
      if (server.renderVolume(project, volume).used_by !== undefined) {
        const users = server.renderVolume(project, volume).used_by as Array<string>
        if (users.length > 0) return H.refuse(400, "The storage volume is still in use")
      }
      return server.write(project.name, "Deleting storage volume", origin, { storage_volumes: [path] }, () => {
        project.volumes.delete(volumeName)
        Effect.runSync(server.lifecycle(project.name, "storage-volume-deleted", path))
      })
    }
    default:
      return H.refuse(405, "Method not allowed")
  }
}
