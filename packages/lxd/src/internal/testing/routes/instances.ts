/**
 * Instances: creation (image, empty, copy), listing with recursion and filters, get, update with ETags, rename and move, delete, and the state machine.
 */
import * as Effect from "effect/Effect"
import { FileTree } from "../files.js"
import * as H from "../http.js"
import { etagOf, type InstanceRecord, type ProjectRecord, type SnapshotRecord, validInstanceName } from "../model.js"
import { type FakeServer, newSecret } from "../server.js"
import { importBackup, isBackupImport } from "./backups.js"
import { asyncOf, enc, encoder, filterOf, type Handler, recursion, withProject } from "./common.js"

import { concat } from "./logs.js"

const resolveImage = (server: FakeServer, source: Record<string, unknown>): string => {
  const alias = typeof source.alias === "string" ? source.alias : undefined
  const fingerprint = typeof source.fingerprint === "string" ? source.fingerprint : undefined
  if (alias !== undefined) {
    const found = server.aliases.get(alias)
    if (found === undefined) return H.refuse(404, `Image alias "${alias}" not found`)
    return found.target
  }
  if (fingerprint !== undefined) {
    const matches = [...server.images.keys()].filter((f) => f.startsWith(fingerprint))
    if (matches.length !== 1) return H.refuse(404, "Image not found")
    return matches[0]!
  }
  return H.refuse(400, "Must specify one of alias, fingerprint or properties for init from image")
}

export const createInstance: Handler = (server, request) => {
  if (isBackupImport(request)) return importBackup(server, request)
  const project = server.projectOf(request)
  const body = H.jsonBody(request)
  const name = typeof body.name === "string" ? body.name : `fake-${newSecret().slice(0, 8)}`
  if (!validInstanceName(name)) return H.refuse(400, `Invalid instance name "${name}"`)
  if (project.instances.has(name)) return H.refuse(409, `Instance "${name}" already exists`)
  const config = H.stringMap(body.config, "config")
  const devices = H.deviceMap(body.devices)
  const profiles = body.profiles === undefined || body.profiles === null
    ? ["default"]
    : H.stringList(body.profiles, "profiles")
  const home = server.profileHome(project)
  for (const p of profiles) {
    if (!home.profiles.has(p)) return H.refuse(400, `Requested profile "${p}" doesn't exist`)
  }
  const source = (typeof body.source === "object" && body.source !== null ? body.source : { type: "none" }) as Record<
    string,
    unknown
  >
  let files: FileTree | undefined
  let copied: Partial<InstanceRecord> = {}
  const snapshotsCopy = new Map<string, SnapshotRecord>()
  let imageConfig: Record<string, string> = {}
  let remoteFailure: string | undefined
  switch (source.type) {
    case "image": {
      if (typeof source.server === "string" && source.server !== "") {
        remoteFailure = `Failed getting remote image info: Get "${source.server}": the fake reaches no remote servers`
        break
      }
      const fingerprint = resolveImage(server, source)
      const img = server.images.get(fingerprint)!
      imageConfig = { "volatile.base_image": fingerprint }
      for (const [k, v] of Object.entries(img.properties)) imageConfig[`image.${k}`] = v
      break
    }
    case "none":
    case undefined:
      break
    case "copy": {
      const from = typeof source.source === "string" ? source.source : ""
      const [instanceName, snapshotName] = from.split("/")
      const origin = server.instanceOf(project, instanceName ?? "")
      const snap = snapshotName === undefined ? undefined : origin.snapshots.get(snapshotName)
      if (snapshotName !== undefined && snap === undefined) return H.refuse(404, "Snapshot not found")
      files = (snap?.files ?? origin.files).copy()
      if (snap === undefined && source.instance_only !== true) {
        for (const [n, sn] of origin.snapshots) snapshotsCopy.set(n, { ...sn, files: sn.files.copy() })
      }
      copied = {
        config: { ...(snap?.config ?? origin.config) },
        devices: { ...(snap?.devices ?? origin.devices) },
        profiles: [...(snap?.profiles ?? origin.profiles)]
      }
      break
    }
    default:
      return H.refuse(400, `Unknown source type ${String(source.type)}`)
  }
  const path = `/1.0/instances/${enc(name)}`
  return Effect.map(
    server.startOperation({
      project: project.name,
      description: "Creating instance",
      origin: { method: "POST", path: "/1.0/instances" },
      resources: { instances: [path] },
      run: () =>
        Effect.suspend(() => {
          if (remoteFailure !== undefined) return Effect.fail(remoteFailure)
          const missing = server.missingDiskSource(devices)
          if (missing !== undefined) return Effect.fail(missing)
          if (project.instances.has(name)) return Effect.fail(`Instance "${name}" already exists`)
          const now = new Date()
          const instance: InstanceRecord = {
            name,
            type: typeof body.type === "string" ? body.type : "container",
            status: "Stopped",
            architecture: "x86_64",
            description: typeof body.description === "string" ? body.description : "",
            config: { ...imageConfig, ...copied.config, ...config },
            devices: { ...copied.devices, ...devices },
            profiles: copied.profiles !== undefined && body.profiles === undefined ? copied.profiles : profiles,
            ephemeral: body.ephemeral === true,
            createdAt: now,
            lastUsedAt: undefined,
            startedAt: undefined,
            pid: 0,
            processTable: new Map(),
            snapshots: snapshotsCopy,
            files: files ?? FileTree.initial(name),
            logs: new Map([["lxc.log", encoder.encode("")]]),
            console: ""
          }
          project.instances.set(name, instance)
          return server.lifecycle(project.name, "instance-created", path)
        })
    }),
    (op) => asyncOf(server, op)
  )
}

export const listInstances: Handler = (server, request) => {
  const all = request.query.get("all-projects") === "true"
  const projects = all ? [...server.projects.values()] : [server.projectOf(request)]
  const r = recursion(request)
  const keep = filterOf(request)
  const out: Array<unknown> = []
  for (const project of projects) {
    for (const i of project.instances.values()) {
      if (!keep(server.renderInstance(project, i))) continue
      const type = request.query.get("instance-type")
      if (type !== null && type !== "" && i.type !== type) continue
      if (r === 0) out.push(withProject(`/1.0/instances/${enc(i.name)}`, all ? project.name : "default"))
      else if (r === 1) out.push(server.renderInstance(project, i))
      else out.push(fullInstance(server, project, i, selectedFields(server, request)))
    }
  }
  return H.sync(out)
}

/** `recursion=2;fields=state.disk,…` (`instances_state_selective_recursion`): the state sections asked for. */
const selectedFields = (server: FakeServer, request: H.FakeRequest): ReadonlyArray<string> | undefined => {
  const r = request.query.get("recursion") ?? ""
  const m = /;fields=(.*)$/.exec(r)
  if (m === null || !server.extensions.includes("instances_state_selective_recursion")) return undefined
  return m[1]!.split(",").filter((f) => f.length > 0)
}

const fullInstance = (
  server: FakeServer,
  project: ProjectRecord,
  i: InstanceRecord,
  fields?: ReadonlyArray<string>
) => ({
  ...server.renderInstance(project, i),
  state: fields === undefined
    ? server.renderState(i, project)
    : Object.fromEntries(
      Object.entries(server.renderState(i, project)).filter(([k]) =>
        k === "status" || k === "status_code" || fields.includes(`state.${k}`)
      )
    ),
  snapshots: [...i.snapshots.values()].map((s) => server.renderSnapshot(project, s)),
  backups: []
})

export const getInstance: Handler = (server, request) => {
  const project = server.projectOf(request)
  const i = server.instanceOf(project, request.segments[1]!)
  const body = recursion(request) >= 1
    ? fullInstance(server, project, i, selectedFields(server, request))
    : server.renderInstance(project, i)
  return H.sync(body, { etag: etagOf(server.instancePut(i)) })
}

const restoreSnapshot = (server: FakeServer, project: ProjectRecord, i: InstanceRecord, name: string) => {
  const snap = i.snapshots.get(name)
  if (snap === undefined) return H.refuse(404, "Snapshot not found")
  if (snap.stateful) return H.refuse(400, "Stateful snapshots cannot be restored by the fake")
  const path = `/1.0/instances/${enc(i.name)}`
  return Effect.map(
    server.startOperation({
      project: project.name,
      description: "Restoring snapshot",
      origin: { method: "PUT", path },
      resources: { instances: [path] },
      run: () =>
        Effect.suspend(() => {
          i.config = { ...snap.config }
          i.devices = { ...snap.devices }
          i.profiles = [...snap.profiles]
          i.files = snap.files.copy()
          return server.lifecycle(project.name, "instance-restored", path, { snapshot: name })
        })
    }),
    (op) => asyncOf(server, op)
  )
}

export const updateInstance: Handler = (server, request) => {
  const project = server.projectOf(request)
  const i = server.instanceOf(project, request.segments[1]!)
  const body = H.jsonBody(request)
  if (request.method === "PUT" && typeof body.restore === "string") {
    return restoreSnapshot(server, project, i, body.restore)
  }
  server.checkEtag(request, etagOf(server.instancePut(i)))
  const patch = request.method === "PATCH"
  const config = body.config === undefined && patch ? undefined : H.stringMap(body.config, "config")
  const devices = body.devices === undefined && patch ? undefined : H.deviceMap(body.devices)
  const profiles = body.profiles === undefined && patch ? undefined : H.stringList(body.profiles, "profiles")
  const home = server.profileHome(project)
  for (const p of profiles ?? []) {
    if (!home.profiles.has(p)) return H.refuse(400, `Requested profile "${p}" doesn't exist`)
  }
  const path = `/1.0/instances/${enc(i.name)}`
  const apply = Effect.suspend(() => {
    const missing = devices === undefined || i.status === "Stopped" ? undefined : server.missingDiskSource(devices)
    if (missing !== undefined) return Effect.fail(missing)
    if (config !== undefined) i.config = patch ? { ...i.config, ...config } : config
    if (devices !== undefined) i.devices = patch ? { ...i.devices, ...devices } : devices
    if (profiles !== undefined) i.profiles = profiles
    if (typeof body.description === "string") i.description = body.description
    else if (!patch) i.description = ""
    if (typeof body.ephemeral === "boolean") i.ephemeral = body.ephemeral
    return server.lifecycle(project.name, "instance-updated", path)
  })
  // LXD answers a PATCH at once and runs a PUT as a background operation
  if (patch) {
    return Effect.match(apply, { onFailure: (message) => H.error(400, message), onSuccess: () => H.sync(null) })
  }
  return Effect.map(
    server.startOperation({
      project: project.name,
      description: "Updating instance",
      origin: { method: request.method, path },
      resources: { instances: [path] },
      run: () => apply
    }),
    (op) => asyncOf(server, op)
  )
}

export const postInstance: Handler = (server, request) => {
  const project = server.projectOf(request)
  const i = server.instanceOf(project, request.segments[1]!)
  const body = H.jsonBody(request)
  if (body.migration === true) return H.refuse(501, "Migration is not modelled by the fake")
  if (typeof body.name !== "string") return H.refuse(400, "No name provided")
  const newName = body.name
  if (!validInstanceName(newName)) return H.refuse(400, `Invalid instance name "${newName}"`)
  if (project.instances.has(newName)) return H.refuse(409, `Name "${newName}" already in use`)
  if (i.status !== "Stopped") return H.refuse(400, "Renaming of running instance not allowed")
  const path = `/1.0/instances/${enc(i.name)}`
  return Effect.map(
    server.startOperation({
      project: project.name,
      description: "Renaming instance",
      origin: { method: "POST", path },
      resources: { instances: [path] },
      run: () =>
        Effect.suspend(() => {
          if (project.instances.has(newName)) return Effect.fail(`Name "${newName}" already in use`)
          project.instances.delete(i.name)
          const old = i.name
          i.name = newName
          project.instances.set(newName, i)
          return server.lifecycle(project.name, "instance-renamed", `/1.0/instances/${enc(newName)}`, {
            old_name: old
          })
        })
    }),
    (op) => asyncOf(server, op)
  )
}

export const deleteInstance: Handler = (server, request) => {
  const project = server.projectOf(request)
  const i = server.instanceOf(project, request.segments[1]!)
  if (i.status !== "Stopped") return H.refuse(400, "Instance is running")
  const path = `/1.0/instances/${enc(i.name)}`
  return Effect.map(
    server.startOperation({
      project: project.name,
      description: "Deleting instance",
      origin: { method: "DELETE", path },
      resources: { instances: [path] },
      run: () =>
        Effect.suspend(() => {
          if (i.status !== "Stopped") return Effect.fail("Instance is running")
          project.instances.delete(i.name)
          return server.lifecycle(project.name, "instance-deleted", path)
        })
    }),
    (op) => asyncOf(server, op)
  )
}

export const getState: Handler = (server, request) => {
  const project = server.projectOf(request)
  return H.sync(server.renderState(server.instanceOf(project, request.segments[1]!), project))
}

export const putState: Handler = (server, request) => {
  const project = server.projectOf(request)
  const i = server.instanceOf(project, request.segments[1]!)
  const body = H.jsonBody(request)
  const action = String(body.action ?? "")
  const path = `/1.0/instances/${enc(i.name)}`
  const check = (): string | undefined => {
    switch (action) {
      case "start":
        return i.status === "Running" ? "The instance is already running" : i.status === "Frozen"
          ? "The instance is frozen"
          : undefined
      case "stop":
        return i.status === "Stopped" ? "The instance is already stopped" : undefined
      case "restart":
        return i.status === "Stopped" ? "The instance isn't running" : undefined
      case "freeze":
        return i.status === "Running" ? undefined : i.status === "Frozen"
          ? "The instance is already frozen"
          : "The instance isn't running"
      case "unfreeze":
        return i.status === "Frozen" ? undefined : "The instance is not frozen"
      default:
        return `Unknown action "${action}"`
    }
  }
  const refused = check()
  if (refused !== undefined && !action.match(/^(start|stop|restart|freeze|unfreeze)$/)) {
    return H.refuse(400, refused)
  }
  const descriptions: Record<string, string> = {
    start: "Starting instance",
    stop: "Stopping instance",
    restart: "Restarting instance",
    freeze: "Freezing instance",
    unfreeze: "Unfreezing instance"
  }
  return Effect.map(
    server.startOperation({
      project: project.name,
      description: descriptions[action]!,
      origin: { method: "PUT", path: `${path}/state` },
      resources: { instances: [path] },
      run: () =>
        Effect.suspend(() => {
          const again = check()
          if (again !== undefined) return Effect.fail(again)
          const go = (status: InstanceRecord["status"]) => {
            i.status = status
          }
          switch (action) {
            case "start":
            case "restart": {
              if (action === "start") {
                const missing = server.missingDiskSource(i.devices)
                if (missing !== undefined) return Effect.fail(missing)
              }
              go("Running")
              i.console += "fake init: booted\n"
              i.logs.set(
                "lxc.log",
                concat([i.logs.get("lxc.log") ?? new Uint8Array(0), encoder.encode(`lxc ${i.name}: started\n`)])
              )
              i.pid = 1000 + Math.floor(Math.random() * 60000)
              i.startedAt = new Date()
              i.lastUsedAt = i.startedAt
              return server.lifecycle(
                project.name,
                action === "start" ? "instance-started" : "instance-restarted",
                path
              )
            }
            case "stop": {
              go("Stopped")
              i.pid = 0
              i.startedAt = undefined
              const ephemeral = i.ephemeral
              if (ephemeral) project.instances.delete(i.name)
              return Effect.zipRight(
                server.lifecycle(project.name, "instance-stopped", path),
                ephemeral ? server.lifecycle(project.name, "instance-deleted", path) : Effect.void
              )
            }
            case "freeze":
              go("Frozen")
              return server.lifecycle(project.name, "instance-paused", path)
            default:
              go("Running")
              return server.lifecycle(project.name, "instance-resumed", path)
          }
        })
    }),
    (op) => asyncOf(server, op)
  )
}
