/**
 * Instance snapshots: create (a background operation), list, get, update, rename, delete.
 */
import * as Effect from "effect/Effect"
import * as H from "../http.js"
import { etagOf, zeroTime } from "../model.js"
import { type FakeServer } from "../server.js"
import { asyncOf, enc, type Handler, recursion } from "./common.js"

export const listSnapshots: Handler = (server, request) => {
  const project = server.projectOf(request)
  const i = server.instanceOf(project, request.segments[1]!)
  const snaps = [...i.snapshots.values()]
  return H.sync(
    recursion(request) >= 1
      ? snaps.map((s) => server.renderSnapshot(project, s))
      : snaps.map((s) => `/1.0/instances/${enc(i.name)}/snapshots/${enc(s.name)}`)
  )
}

export const createSnapshot: Handler = (server, request) => {
  const project = server.projectOf(request)
  const i = server.instanceOf(project, request.segments[1]!)
  const body = H.jsonBody(request)
  let name = typeof body.name === "string" && body.name !== "" ? body.name : undefined
  if (name === undefined) {
    let n = 0
    while (i.snapshots.has(`snap${n}`)) n++
    name = `snap${n}`
  }
  if (name.includes("/")) return H.refuse(400, "Snapshot names may not contain slashes")
  if (i.snapshots.has(name)) return H.refuse(409, `Snapshot "${name}" already exists`)
  const snapshotName = name
  const path = `/1.0/instances/${enc(i.name)}/snapshots/${enc(snapshotName)}`
  return Effect.map(
    server.startOperation({
      project: project.name,
      description: "Snapshotting instance",
      origin: { method: "POST", path: `/1.0/instances/${enc(i.name)}/snapshots` },
      resources: { instances: [`/1.0/instances/${enc(i.name)}`, path] },
      run: () =>
        Effect.suspend(() => {
          if (body.stateful === true) {
            return Effect.fail("Unable to create a stateful snapshot: the fake has no CRIU (migration.stateful)")
          }
          i.snapshots.set(snapshotName, {
            name: snapshotName,
            createdAt: new Date(),
            expiresAt: typeof body.expires_at === "string" ? body.expires_at : zeroTime,
            stateful: false,
            description: "",
            config: { ...i.config },
            devices: { ...i.devices },
            profiles: [...i.profiles],
            ephemeral: i.ephemeral,
            files: i.files.copy()
          })
          return server.lifecycle(project.name, "instance-snapshot-created", path)
        })
    }),
    (op) => asyncOf(server, op)
  )
}

const snapshotOf = (server: FakeServer, request: H.FakeRequest) => {
  const project = server.projectOf(request)
  const i = server.instanceOf(project, request.segments[1]!)
  const s = i.snapshots.get(request.segments[3]!)
  if (s === undefined) return H.refuse(404, "Snapshot not found")
  return { project, i, s, path: `/1.0/instances/${enc(i.name)}/snapshots/${enc(s.name)}` }
}

const snapshotPut = (s: { expiresAt: string; description: string }) => ({
  expires_at: s.expiresAt,
  description: s.description
})

export const getSnapshot: Handler = (server, request) => {
  const { project, s } = snapshotOf(server, request)
  return H.sync(server.renderSnapshot(project, s), { etag: etagOf(snapshotPut(s)) })
}

export const updateSnapshot: Handler = (server, request) => {
  const { project, s, path } = snapshotOf(server, request)
  server.checkEtag(request, etagOf(snapshotPut(s)))
  const body = H.jsonBody(request)
  return Effect.map(
    server.startOperation({
      project: project.name,
      description: "Updating snapshot",
      origin: { method: request.method, path },
      resources: {},
      run: () =>
        Effect.suspend(() => {
          if (typeof body.expires_at === "string") s.expiresAt = body.expires_at
          if (typeof body.description === "string") s.description = body.description
          return server.lifecycle(project.name, "instance-snapshot-updated", path)
        })
    }),
    (op) => asyncOf(server, op)
  )
}

export const renameSnapshot: Handler = (server, request) => {
  const { i, path, project, s } = snapshotOf(server, request)
  const body = H.jsonBody(request)
  if (body.migration === true) return H.refuse(501, "Migration is not modelled by the fake")
  if (typeof body.name !== "string" || body.name === "") return H.refuse(400, "No name provided")
  const newName = body.name
  if (i.snapshots.has(newName)) return H.refuse(409, `Name "${newName}" already in use`)
  return Effect.map(
    server.startOperation({
      project: project.name,
      description: "Renaming snapshot",
      origin: { method: "POST", path },
      resources: {},
      run: () =>
        Effect.suspend(() => {
          i.snapshots.delete(s.name)
          s.name = newName
          i.snapshots.set(newName, s)
          return server.lifecycle(
            project.name,
            "instance-snapshot-renamed",
            `/1.0/instances/${enc(i.name)}/snapshots/${enc(newName)}`
          )
        })
    }),
    (op) => asyncOf(server, op)
  )
}

export const deleteSnapshot: Handler = (server, request) => {
  const { i, path, project, s } = snapshotOf(server, request)
  return Effect.map(
    server.startOperation({
      project: project.name,
      description: "Deleting snapshot",
      origin: { method: "DELETE", path },
      resources: {},
      run: () =>
        Effect.suspend(() => {
          i.snapshots.delete(s.name)
          return server.lifecycle(project.name, "instance-snapshot-deleted", path)
        })
    }),
    (op) => asyncOf(server, op)
  )
}
