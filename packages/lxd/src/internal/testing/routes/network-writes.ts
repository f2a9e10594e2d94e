/**
 * Creating, renaming and deleting managed bridge networks: sync on LXD 5.0 and Incus
 * (201 with a `Location` for a creation), background operations on LXD 6.x
 * (`storage_and_network_operations`). Addresses must be given (`none` or a range): the
 * fake never picks one on its own (`auto`), as this project's rules ask of every set-up.
 */
import * as Effect from "effect/Effect"
import * as H from "../http.js"
import { type FakeServer } from "../server.js"
import { enc, type Handler } from "./common.js"

/** LXD's rule for network names: up to 15 characters (an interface name), no `/`, `.`, `:` or spaces. */
const validNetworkName = (name: string): boolean => /^[a-zA-Z0-9][a-zA-Z0-9_-]{0,14}$/.test(name)

const refuseAuto = (config: Record<string, string>): void => {
  for (const [k, v] of Object.entries(config)) {
    if ((k === "ipv4.address" || k === "ipv6.address") && v === "auto") {
      H.refuse(400, "The fake never picks addresses on its own (auto)")
    }
  }
}

/** Which instances and profiles use a network (through a `nic` device). */
const inUse = (server: FakeServer, name: string): boolean => {
  for (const p of server.projects.values()) {
    for (const profile of p.profiles.values()) {
      if (Object.values(profile.devices).some((d) => d.type === "nic" && d.network === name)) return true
    }
    for (const i of p.instances.values()) {
      if (Object.values(i.devices).some((d) => d.type === "nic" && d.network === name)) return true
    }
  }
  return false
}

/** `POST /1.0/networks`. */
export const createNetwork: Handler = (server, request) => {
  const body = H.jsonBody(request)
  const name = typeof body.name === "string" ? body.name : ""
  if (!validNetworkName(name)) return H.refuse(400, `Invalid network name "${name}"`)
  const type = typeof body.type === "string" && body.type !== "" ? body.type : "bridge"
  if (type !== "bridge") return H.refuse(501, `Networks of type "${type}" are not modelled by the fake`)
  if (server.networks.has(name)) return H.refuse(409, `The network already exists`)
  const config = H.stringMap(body.config, "config")
  refuseAuto(config)
  const location = `/1.0/networks/${enc(name)}`
  return server.write(
    "default",
    "Creating network",
    { method: "POST", path: "/1.0/networks" },
    { networks: [location] },
    () => {
      server.networks.set(name, {
        name,
        description: typeof body.description === "string" ? body.description : "",
        config: { "ipv4.address": "none", "ipv6.address": "none", ...config }
      })
      Effect.runSync(server.lifecycle("default", "network-created", location))
    },
    location
  )
}

/** `POST` (rename) and `DELETE` of `/1.0/networks/<name>`. */
export const changeNetwork: Handler = (server, request) => {
  const name = request.segments[1]!
  const path = `/1.0/networks/${enc(name)}`
  const origin = { method: request.method, path }
  switch (request.method) {
    case "POST": {
      const body = H.jsonBody(request)
      const newName = typeof body.name === "string" ? body.name : ""
      if (!validNetworkName(newName)) return H.refuse(400, `Invalid network name "${newName}"`)
      if (server.networks.has(newName)) return H.refuse(409, `Network "${newName}" already exists`)
      if (inUse(server, name)) return H.refuse(400, "Network is currently in use")
      const location = `/1.0/networks/${enc(newName)}`
      return server.write("default", "Renaming network", origin, { networks: [path] }, () => {
        const network = server.networks.get(name)!
        server.networks.delete(name)
        network.name = newName
        server.networks.set(newName, network)
        Effect.runSync(server.lifecycle("default", "network-renamed", location, { old_name: name }))
      }, location)
    }
    case "DELETE":
      if (inUse(server, name)) return H.refuse(400, "The network is currently in use")
      return server.write("default", "Deleting network", origin, { networks: [path] }, () => {
        server.networks.delete(name)
        Effect.runSync(server.lifecycle("default", "network-deleted", path))
      })
    default:
      return H.refuse(405, "Method not allowed")
  }
}
