/**
 * Changing the storage pool (`PUT`/`PATCH /1.0/storage-pools/<pool>`, with its ETag): sync
 * on LXD 5.0 and Incus, a background operation on LXD 6.x (`storage_and_network_operations`).
 * `source` and `driver` stay as they are, as on LXD (they cannot change after creation).
 */
import * as Effect from "effect/Effect"
import * as H from "../http.js"
import { etagOf } from "../model.js"
import { type FakeServer } from "../server.js"
import { type Handler } from "./common.js"

interface PoolState {
  description: string
  config: Record<string, string>
}

const pools = new WeakMap<FakeServer, PoolState>()

/** The pool's description and config (its `source` among them). */
export const poolState = (server: FakeServer): PoolState => {
  let state = pools.get(server)
  if (state === undefined) {
    state = { description: "", config: { source: `/var/lib/${server.family}/storage-pools/${server.pool}` } }
    pools.set(server, state)
  }
  return state
}

/** The ETag of the pool: what a PUT would send. */
export const poolEtag = (server: FakeServer): string => {
  const state = poolState(server)
  return etagOf({ description: state.description, config: state.config })
}

/** `PUT`/`PATCH` of the pool. */
export const changePool: Handler = (server, request) => {
  if (request.method !== "PUT" && request.method !== "PATCH") {
    return H.refuse(501, "Deleting or renaming the storage pool is not modelled by the fake")
  }
  server.checkEtag(request, poolEtag(server))
  const state = poolState(server)
  const body = H.jsonBody(request)
  const patch = request.method === "PATCH"
  const config = body.config === undefined && patch ? undefined : H.stringMap(body.config, "config")
  if (config !== undefined && config.source !== undefined && config.source !== state.config.source) {
    return H.refuse(400, "Storage pool source cannot be changed")
  }
  const path = `/1.0/storage-pools/${server.pool}`
  return server.write("default", "Updating storage pool", { method: request.method, path }, {
    storage_pools: [path]
  }, () => {
    if (config !== undefined) {
      state.config = patch ? { ...state.config, ...config } : { source: state.config.source!, ...config }
    }
    if (typeof body.description === "string") state.description = body.description
    else if (!patch) state.description = ""
    Effect.runSync(server.lifecycle("default", "storage-pool-updated", path))
  })
}
