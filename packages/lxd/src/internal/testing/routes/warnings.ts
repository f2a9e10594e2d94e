/**
 * Warnings (`/1.0/warnings[/<uuid>]`): list (`project=`, `all-projects`), get, a status
 * change to `new` or `acknowledged` (`PUT`/`PATCH`), delete. The fake starts with the two
 * warnings a container host without every cgroup controller and without AppArmor has,
 * as the test daemons here do.
 */
import * as H from "../http.js"
import { type FakeServer } from "../server.js"
import { type Handler, recursion } from "./common.js"

interface WarningRecord {
  readonly uuid: string
  readonly type: string
  readonly project: string
  readonly severity: string
  readonly message: string
  readonly firstSeen: Date
  lastSeen: Date
  count: number
  status: "new" | "acknowledged" | "resolved"
}

const stores = new WeakMap<FakeServer, Map<string, WarningRecord>>()

const seeds = [
  { type: "Couldn't find the CGroup memory swap accounting", message: "cgroup memory.swap.max is missing" },
  {
    type: "AppArmor support has been disabled",
    message: "AppArmor support has been disabled because of lack of kernel support"
  }
]

const warningsOf = (server: FakeServer): Map<string, WarningRecord> => {
  let store = stores.get(server)
  if (store === undefined) {
    store = new Map()
    const now = new Date()
    for (const seed of seeds) {
      const uuid = globalThis.crypto.randomUUID()
      store.set(uuid, {
        uuid,
        type: seed.type,
        project: "",
        severity: "low",
        message: seed.message,
        firstSeen: now,
        lastSeen: now,
        count: 1,
        status: "new"
      })
    }
    stores.set(server, store)
  }
  return store
}

const render = (w: WarningRecord) => ({
  uuid: w.uuid,
  location: "none",
  project: w.project,
  type: w.type,
  count: w.count,
  first_seen_at: w.firstSeen.toISOString(),
  last_seen_at: w.lastSeen.toISOString(),
  last_message: w.message,
  severity: w.severity,
  status: w.status,
  entity_url: ""
})

export const warnings: Handler = (server, request) => {
  const store = warningsOf(server)
  const uuid = request.segments[1]
  if (uuid === undefined) {
    if (request.method !== "GET") return H.refuse(405, "Method not allowed")
    const project = request.query.get("all-projects") === "true" ? undefined : request.query.get("project")
    // a warning of no project (the host's) shows in every project's list
    const all = [...store.values()].filter((w) =>
      project === undefined || project === null || w.project === "" || w.project === project
    )
    return H.sync(recursion(request) >= 1 ? all.map(render) : all.map((w) => `/1.0/warnings/${w.uuid}`))
  }
  const w = store.get(uuid)
  switch (request.method) {
    case "GET":
      if (w === undefined) return H.refuse(404, "Warning not found")
      return H.sync(render(w))
    case "PUT":
    case "PATCH": {
      const body = H.jsonBody(request)
      const status = body.status
      if (status !== "new" && status !== "acknowledged") {
        return H.refuse(400, `Invalid warning status "${String(status)}"`)
      }
      // LXD 5.0 answers success for an unknown uuid; the newer servers do not
      if (w === undefined) return server.dialect === "lxd-5.0" ? H.sync(null) : H.refuse(404, "Warning not found")
      w.status = status
      return H.sync(null)
    }
    case "DELETE":
      if (w === undefined) return H.refuse(404, "Warning not found")
      store.delete(uuid)
      return H.sync(null)
    default:
      return H.refuse(405, "Method not allowed")
  }
}
