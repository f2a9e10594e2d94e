/**
 * The fake's REST router: it dispatches `/1.0` and every modelled endpoint to the handlers of
 * `routes/` (one module per resource: instances, snapshots, exec, files, logs, operations,
 * images and aliases, profiles, projects, storage, networks, certificates). Every call
 * honours `?project=`; a handler refuses by throwing `H.Refusal`, turned here into LXD's
 * error envelope.
 */
import * as Effect from "effect/Effect"
import * as H from "./http.js"
import { auth, untrustedAllowed } from "./routes/auth.js"
import { backups } from "./routes/backups.js"
import { certificates } from "./routes/certificates.js"
import type { Handler } from "./routes/common.js"
import { exec } from "./routes/exec.js"
import { files } from "./routes/files.js"
import { images } from "./routes/images.js"
import { serverInfo } from "./routes/info.js"
import {
  createInstance,
  deleteInstance,
  getInstance,
  getState,
  listInstances,
  postInstance,
  putState,
  updateInstance
} from "./routes/instances.js"
import { consoleLog, logs } from "./routes/logs.js"
import { metadata } from "./routes/metadata.js"
import { metrics } from "./routes/metrics.js"
import { networkAcls, networkZones } from "./routes/network-objects.js"
import { networks } from "./routes/networks.js"
import { cancelOperation, getOperation, listOperations, waitOperation } from "./routes/operations.js"
import { profiles } from "./routes/profiles.js"
import { projects } from "./routes/projects.js"
import {
  createSnapshot,
  deleteSnapshot,
  getSnapshot,
  listSnapshots,
  renameSnapshot,
  updateSnapshot
} from "./routes/snapshots.js"
import { storage } from "./routes/storage.js"
import { warnings } from "./routes/warnings.js"
import type { FakeServer } from "./server.js"

/** One member's handlers by method (`PATCH` goes where `PUT` goes); 405 for any other method. */
const byMethod =
  (handlers: { readonly GET: Handler; readonly PUT: Handler; readonly POST: Handler; readonly DELETE: Handler }) =>
  (server: FakeServer, request: H.FakeRequest): H.Answer | Effect.Effect<H.Answer> => {
    const method = request.method === "PATCH" ? "PUT" : request.method
    if (method !== "GET" && method !== "PUT" && method !== "POST" && method !== "DELETE") {
      return H.refuse(405, "Method not allowed")
    }
    return handlers[method](server, request)
  }

const instanceMember = byMethod({ GET: getInstance, PUT: updateInstance, POST: postInstance, DELETE: deleteInstance })
const snapshotMember = byMethod({
  GET: getSnapshot,
  PUT: updateSnapshot,
  POST: renameSnapshot,
  DELETE: deleteSnapshot
})

const route = (server: FakeServer, request: H.FakeRequest): H.Answer | Effect.Effect<H.Answer> => {
  const s = request.segments
  const m = request.method
  if (request.path === "/") return H.sync(["/1.0"])
  if (!request.path.startsWith("/1.0")) return H.refuse(404, "not found")
  if (s.length === 0) {
    if (m === "GET") return H.sync(serverInfo(server, server.trusted))
    if (!server.trusted) return H.refuse(403, "Forbidden")
    if (m === "PUT" || m === "PATCH") {
      const body = H.jsonBody(request)
      const config = H.stringMap(body.config, "config")
      server.serverConfig = m === "PUT" ? config : { ...server.serverConfig, ...config }
      return H.sync(null)
    }
    return H.refuse(405, "Method not allowed")
  }
  // an untrusted client may only add itself with a trust token
  if (
    !server.trusted && !(s[0] === "certificates" && s.length === 1 && m === "POST") &&
    !untrustedAllowed(server, request)
  ) {
    return H.refuse(403, "Forbidden")
  }
  switch (s[0]) {
    case "instances": {
      if (s.length === 1) return m === "POST" ? createInstance(server, request) : listInstances(server, request)
      if (s.length === 2) return instanceMember(server, request)
      switch (s[2]) {
        case "state":
          return m === "PUT" ? putState(server, request) : getState(server, request)
        case "snapshots":
          if (s.length === 3) return m === "POST" ? createSnapshot(server, request) : listSnapshots(server, request)
          return snapshotMember(server, request)
        case "exec":
          return exec(server, request)
        case "files":
          return files(server, request)
        case "logs":
          return logs(server, request)
        case "backups":
          return backups(server, request)
        case "metadata":
          return metadata(server, request)
        case "console":
          return consoleLog(server, request)
      }
      return H.refuse(501, `/1.0/instances/…/${s[2]} is not modelled by the fake`)
    }
    case "operations":
      if (s.length === 1) return listOperations(server, request)
      if (s.length === 2) return m === "DELETE" ? cancelOperation(server, request) : getOperation(server, request)
      if (s[2] === "wait") return waitOperation(server, request)
      return H.refuse(404, "not found")
    case "images":
      return images(server, request)
    case "profiles":
      return profiles(server, request)
    case "projects":
      return projects(server, request)
    case "storage-pools":
      return storage(server, request)
    case "networks":
      return networks(server, request)
    case "network-acls":
      return networkAcls(server, request)
    case "network-zones":
      return networkZones(server, request)
    case "certificates":
      return certificates(server, request)
    case "auth":
      return auth(server, request)
    case "warnings":
      return warnings(server, request)
    case "metrics":
      return metrics(server, request)
  }
  return H.refuse(404, "not found")
}

/** Answer a request: the route's answer, or the error envelope it refused with. */
export const handle = (server: FakeServer, request: H.FakeRequest): Effect.Effect<H.Answer> =>
  Effect.suspend(() => {
    try {
      const answer = route(server, request)
      return Effect.isEffect(answer) ? answer : Effect.succeed(answer)
    } catch (e) {
      if (e instanceof H.Refusal) return Effect.succeed(H.error(e.status, e.message))
      return Effect.succeed(H.error(500, `fake server error: ${String(e)}`))
    }
  })

/** `GET /1.0` as the fake answers it. */
export const info = serverInfo
