/**
 * Profiles, with ETags and the `used_by` rule on delete.
 */
import * as Effect from "effect/Effect"
import * as H from "../http.js"
import { etagOf, validInstanceName } from "../model.js"
import { enc, type Handler, recursion } from "./common.js"

/**
 * Profile creation, rename and delete answer at once on every dialect (LXD 6.x's
 * `storage_and_profile_operations` made only PUT and PATCH background operations).
 */
const syncWrite = (apply: () => void, created?: string): H.Answer => {
  apply()
  return created === undefined ? H.sync(null) : H.sync(null, { status: 201, location: created })
}

export const profiles: Handler = (server, request) => {
  const project = server.projectOf(request)
  const home = server.profileHome(project)
  const name = request.segments[1]
  if (name === undefined) {
    if (request.method === "POST") {
      const body = H.jsonBody(request)
      if (typeof body.name !== "string" || !validInstanceName(body.name)) {
        return H.refuse(400, "Invalid profile name")
      }
      // LXD 5.0 and Incus 6.0 answer a duplicate with 500 (a database error), not 409
      if (home.profiles.has(body.name)) return H.refuse(500, `The profile "${body.name}" already exists`)
      const profileName = body.name
      const location = `/1.0/profiles/${enc(profileName)}`
      const config = H.stringMap(body.config, "config")
      const devices = H.deviceMap(body.devices)
      return syncWrite(() => {
        home.profiles.set(profileName, {
          name: profileName,
          description: typeof body.description === "string" ? body.description : "",
          config,
          devices
        })
        Effect.runSync(server.lifecycle(project.name, "profile-created", location))
      }, location)
    }
    const all = [...home.profiles.values()]
    return H.sync(
      recursion(request) >= 1
        ? all.map((p) => server.renderProfile(home, p))
        : all.map((p) => `/1.0/profiles/${enc(p.name)}`)
    )
  }
  const profile = home.profiles.get(name)
  if (profile === undefined) return H.refuse(404, "Profile not found")
  const path = `/1.0/profiles/${enc(name)}`
  const put = () => ({ config: profile.config, description: profile.description, devices: profile.devices })
  const origin = { method: request.method, path }
  switch (request.method) {
    case "GET":
      return H.sync(server.renderProfile(home, profile), { etag: etagOf(put()) })
    case "PUT":
    case "PATCH": {
      server.checkEtag(request, etagOf(put()))
      const body = H.jsonBody(request)
      const patch = request.method === "PATCH"
      const config = body.config === undefined && patch ? undefined : H.stringMap(body.config, "config")
      const devices = body.devices === undefined && patch ? undefined : H.deviceMap(body.devices)
      return server.write(project.name, "Updating profile", origin, { profiles: [path] }, () => {
        if (config !== undefined) profile.config = patch ? { ...profile.config, ...config } : config
        if (devices !== undefined) profile.devices = patch ? { ...profile.devices, ...devices } : devices
        if (typeof body.description === "string") profile.description = body.description
        else if (!patch) profile.description = ""
        Effect.runSync(server.lifecycle(project.name, "profile-updated", path))
      })
    }
    case "POST": {
      const body = H.jsonBody(request)
      if (name === "default") return H.refuse(403, "The \"default\" profile cannot be renamed")
      if (typeof body.name !== "string" || !validInstanceName(body.name)) return H.refuse(400, "Invalid profile name")
      if (home.profiles.has(body.name)) return H.refuse(409, `Name "${body.name}" already in use`)
      const newName = body.name
      const location = `/1.0/profiles/${enc(newName)}`
      return syncWrite(() => {
        home.profiles.delete(name)
        profile.name = newName
        home.profiles.set(newName, profile)
        for (const p of server.projects.values()) {
          if (server.profileHome(p) !== home) continue
          for (const i of p.instances.values()) i.profiles = i.profiles.map((x) => (x === name ? newName : x))
        }
        Effect.runSync(server.lifecycle(project.name, "profile-renamed", location, { old_name: name }))
      }, location)
    }
    case "DELETE":
      if (name === "default") return H.refuse(403, "The \"default\" profile cannot be deleted")
      if (server.profileUsers(home, name).length > 0) return H.refuse(400, "Profile is currently in use")
      return syncWrite(() => {
        home.profiles.delete(name)
        Effect.runSync(server.lifecycle(project.name, "profile-deleted", path))
      })
    default:
      return H.refuse(405, "Method not allowed")
  }
}
