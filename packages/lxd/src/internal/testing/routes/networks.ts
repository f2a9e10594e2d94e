/**
 * Managed bridge networks: the default one, and those created (`network-writes.ts`).
 */
import * as Effect from "effect/Effect"
import * as H from "../http.js"
import { etagOf } from "../model.js"
import { enc, type Handler, recursion, withProject } from "./common.js"
import { changeNetwork, createNetwork } from "./network-writes.js"

export const networks: Handler = (server, request) => {
  const name = request.segments[1]
  const render = (n: { name: string; description: string; config: Record<string, string> }) => {
    const users: Array<string> = []
    for (const p of server.projects.values()) {
      for (const i of p.instances.values()) {
        const devices = { ...server.profileHome(p).profiles.get("default")?.devices, ...i.devices }
        if (Object.values(devices).some((d) => d.type === "nic" && d.network === n.name)) {
          users.push(withProject(`/1.0/instances/${enc(i.name)}`, p.name))
        }
      }
    }
    return {
      name: n.name,
      type: "bridge",
      managed: true,
      description: n.description,
      config: n.config,
      status: "Created",
      locations: ["none"],
      used_by: users
    }
  }
  if (name === undefined) {
    if (request.method === "POST") return createNetwork(server, request)
    if (request.method !== "GET") return H.refuse(405, "Method not allowed")
    const all = [...server.networks.values()]
    return H.sync(recursion(request) >= 1 ? all.map(render) : all.map((n) => `/1.0/networks/${enc(n.name)}`))
  }
  const network = server.networks.get(name)
  if (network === undefined) return H.refuse(404, "Network not found")
  const path = `/1.0/networks/${enc(name)}`
  if (request.segments[2] === "state") {
    return H.sync({
      addresses: [{ family: "inet", address: "198.51.100.1", netmask: "24", scope: "global" }],
      counters: {},
      hwaddr: "00:16:3e:00:00:01",
      mtu: 1500,
      state: "up",
      type: "broadcast"
    })
  }
  if (request.segments[2] === "leases") return H.sync([])
  const put = () => ({ config: network.config, description: network.description })
  switch (request.method) {
    case "GET":
      return H.sync(render(network), { etag: etagOf(put()) })
    case "PUT":
    case "PATCH": {
      server.checkEtag(request, etagOf(put()))
      const body = H.jsonBody(request)
      const patch = request.method === "PATCH"
      const config = body.config === undefined && patch ? undefined : H.stringMap(body.config, "config")
      for (const [k, v] of Object.entries(config ?? {})) {
        if ((k === "ipv4.address" || k === "ipv6.address") && v === "auto") {
          return H.refuse(400, "The fake never picks addresses on its own (auto)")
        }
      }
      return server.write("default", "Updating network", { method: request.method, path }, { networks: [path] }, () => {
        if (config !== undefined) network.config = patch ? { ...network.config, ...config } : config
        if (typeof body.description === "string") network.description = body.description
        Effect.runSync(server.lifecycle("default", "network-updated", path))
      })
    }
    default:
      return changeNetwork(server, request)
  }
}
