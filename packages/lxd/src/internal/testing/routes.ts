/**
 * The fake's REST router: `/1.0` and the endpoints of instances (state, snapshots, exec,
 * files, logs), operations, images and aliases, profiles, projects, the storage pool and
 * its custom volumes, networks and certificates. Every call honours `?project=`.
 */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"
import { type FileNode, FileTree, normalize } from "./files.js"
import * as H from "./http.js"
import {
  etagOf,
  type InstanceRecord,
  type ProjectRecord,
  type SnapshotRecord,
  validInstanceName,
  zeroTime
} from "./model.js"
import type * as Pipe from "./pipe.js"
import { type FakeServer, newSecret, type OperationRecord } from "./server.js"

type Handler = (server: FakeServer, request: H.FakeRequest) => H.Answer | Effect.Effect<H.Answer>

const enc = encodeURIComponent
const encoder = new TextEncoder()

const asyncOf = (server: FakeServer, op: OperationRecord): H.Answer =>
  H.async(server.renderOperation(op) as { id: string })

const recursion = (request: H.FakeRequest): number => {
  const r = request.query.get("recursion")
  return r === null ? 0 : parseInt(r, 10) || 0
}

/** LXD's `filter=` (`api_filtering`), the subset the fake understands: `key eq|ne value` joined with `and`. */
const filterOf = (request: H.FakeRequest): (object: Record<string, unknown>) => boolean => {
  const expression = request.query.get("filter")
  if (expression === null || expression.trim() === "") return () => true
  const clauses = expression.split(/\s+and\s+/).map((clause) => {
    const m = /^\s*(\S+)\s+(eq|ne)\s+(.+?)\s*$/.exec(clause)
    if (m === null) return H.refuse(400, `Invalid filter: ${clause}`)
    let value = m[3]!
    if (value.startsWith("\"")) {
      try {
        value = String(JSON.parse(value))
      } catch {
        return H.refuse(400, `Invalid filter value: ${value}`)
      }
    }
    return { key: m[1]!, negate: m[2] === "ne", value }
  })
  const lookup = (object: Record<string, unknown>, key: string): unknown => {
    const [head, ...rest] = key.split(".")
    const top = object[head!]
    if (rest.length === 0) return top
    if (typeof top !== "object" || top === null) return undefined
    return (top as Record<string, unknown>)[rest.join(".")]
  }
  return (object) =>
    clauses.every((c) => (String(lookup(object, c.key) ?? "").toLowerCase() === c.value.toLowerCase()) !== c.negate)
}

const withProject = (path: string, project: string): string =>
  project === "default" ? path : `${path}?project=${enc(project)}`

// -----------------------------------------------------------------------------
// Server
// -----------------------------------------------------------------------------

const serverInfo = (server: FakeServer, trusted: boolean) => {
  const base = {
    api_extensions: server.extensions,
    api_status: "stable",
    api_version: "1.0",
    auth: trusted ? "trusted" : "untrusted",
    public: false,
    auth_methods: ["tls"]
  }
  if (!trusted) return base
  return {
    ...base,
    config: server.serverConfig,
    environment: {
      addresses: [],
      architectures: ["x86_64", "i686"],
      certificate: "",
      certificate_fingerprint: "",
      driver: "lxc",
      driver_version: "5.0.2",
      firewall: "nftables",
      kernel: "Linux",
      kernel_architecture: "x86_64",
      kernel_version: "6.1.0-fake",
      os_name: "effect-lxd fake",
      os_version: "1",
      project: "default",
      server: server.family,
      server_clustered: false,
      server_event_mode: "full-mesh",
      server_name: server.serverName,
      server_pid: 1,
      server_version: server.version,
      storage: "dir",
      storage_version: "1",
      storage_supported_drivers: [{ Name: "dir", Version: "1", Remote: false }]
    }
  }
}

// -----------------------------------------------------------------------------
// Instances
// -----------------------------------------------------------------------------

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

const createInstance: Handler = (server, request) => {
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

const listInstances: Handler = (server, request) => {
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
    ? server.renderState(i)
    : Object.fromEntries(
      Object.entries(server.renderState(i)).filter(([k]) =>
        k === "status" || k === "status_code" || fields.includes(`state.${k}`)
      )
    ),
  snapshots: [...i.snapshots.values()].map((s) => server.renderSnapshot(project, s)),
  backups: []
})

const getInstance: Handler = (server, request) => {
  const project = server.projectOf(request)
  const i = server.instanceOf(project, request.segments[1]!)
  const body = recursion(request) >= 1 ? fullInstance(server, project, i) : server.renderInstance(project, i)
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

const updateInstance: Handler = (server, request) => {
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

const postInstance: Handler = (server, request) => {
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

const deleteInstance: Handler = (server, request) => {
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

const getState: Handler = (server, request) => {
  const project = server.projectOf(request)
  return H.sync(server.renderState(server.instanceOf(project, request.segments[1]!)))
}

const putState: Handler = (server, request) => {
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

// -----------------------------------------------------------------------------
// Snapshots
// -----------------------------------------------------------------------------

const listSnapshots: Handler = (server, request) => {
  const project = server.projectOf(request)
  const i = server.instanceOf(project, request.segments[1]!)
  const snaps = [...i.snapshots.values()]
  return H.sync(
    recursion(request) >= 1
      ? snaps.map((s) => server.renderSnapshot(project, s))
      : snaps.map((s) => `/1.0/instances/${enc(i.name)}/snapshots/${enc(s.name)}`)
  )
}

const createSnapshot: Handler = (server, request) => {
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

const getSnapshot: Handler = (server, request) => {
  const { project, s } = snapshotOf(server, request)
  return H.sync(server.renderSnapshot(project, s), { etag: etagOf(snapshotPut(s)) })
}

const updateSnapshot: Handler = (server, request) => {
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

const renameSnapshot: Handler = (server, request) => {
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

const deleteSnapshot: Handler = (server, request) => {
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

// -----------------------------------------------------------------------------
// Exec
// -----------------------------------------------------------------------------

const decoder = new TextDecoder()

let nextPid = 100

/** stdin from a socket: binary frames until an empty text frame or the socket closing. */
const stdinOf = (end: Pipe.PipeEnd | undefined, interactive: boolean): Stream.Stream<Uint8Array> =>
  end === undefined ? Stream.empty : end.messages.pipe(
    Stream.takeWhile((m) => interactive || !(m._tag === "Text" && m.data.length === 0)),
    Stream.filter((m) => !(m._tag === "Text" && m.data.length === 0)),
    Stream.map((m) => (m._tag === "Binary" ? m.data : encoder.encode(m.data))),
    Stream.catchAll(() => Stream.empty)
  )

const exec: Handler = (server, request) => {
  const project = server.projectOf(request)
  const i = server.instanceOf(project, request.segments[1]!)
  const body = H.jsonBody(request)
  const command = H.stringList(body.command, "command")
  if (command.length === 0) return H.refuse(400, "Empty command")
  const interactive = body.interactive === true
  const waitForWebsocket = body["wait-for-websocket"] === true
  const record = body["record-output"] === true
  if (record && waitForWebsocket) return H.refuse(400, "Cannot use record-output with wait-for-websocket")
  if (record && interactive) return H.refuse(400, "Cannot use record-output with interactive")
  if (i.status === "Stopped") return H.refuse(400, "Instance is not running")
  if (i.status === "Frozen") return H.refuse(400, "Instance is frozen")
  const environment: Record<string, string> = {
    PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    HOME: "/root",
    USER: "root",
    LANG: "C.UTF-8",
    ...H.stringMap(body.environment, "environment")
  }
  const path = `/1.0/instances/${enc(i.name)}`
  const names = waitForWebsocket ? (interactive ? ["0", "control"] : ["0", "1", "2", "control"]) : []
  const secrets = Object.fromEntries(names.map((n) => [n, newSecret()]))
  const base = {
    instance: i.name,
    project: project.name,
    command,
    environment,
    cwd: typeof body.cwd === "string" ? body.cwd : "/root",
    user: typeof body.user === "number" ? body.user : 0,
    group: typeof body.group === "number" ? body.group : 0,
    interactive,
    files: i.files,
    processes:
      () => [{ pid: 1, command: ["/sbin/init"] }, ...[...i.processTable].map(([pid, command]) => ({ pid, command }))]
  }
  // in the process table while it runs
  const running = <A, E>(effect: Effect.Effect<A, E>) =>
    Effect.acquireUseRelease(
      Effect.sync(() => {
        const pid = nextPid++
        i.processTable.set(pid, command)
        return pid
      }),
      () => effect,
      (pid) =>
        Effect.sync(() => {
          i.processTable.delete(pid)
        })
    )
  return Effect.map(
    server.startOperation({
      project: project.name,
      class: waitForWebsocket ? "websocket" : "task",
      description: "Executing command",
      origin: { method: "POST", path: `${path}/exec` },
      resources: { instances: [path] },
      metadata: waitForWebsocket ? { fds: secrets } : { command },
      mayCancel: false,
      secrets,
      run: (op) =>
        Effect.gen(function*() {
          const signals = yield* Queue.unbounded<number>()
          if (!waitForWebsocket) {
            const out: Array<Uint8Array> = []
            const err: Array<Uint8Array> = []
            const collect = (into: Array<Uint8Array>) => (data: string | Uint8Array) =>
              Effect.sync(() => {
                if (record) into.push(typeof data === "string" ? encoder.encode(data) : data)
              })
            const code = yield* running(
              server.runCommand({ ...base, stdin: Stream.empty, stdout: collect(out), stderr: collect(err) }, signals)
            )
            if (!record) return { return: code }
            const logs = {
              "1": `exec-output/exec_${op.id}.stdout`,
              "2": `exec-output/exec_${op.id}.stderr`
            }
            i.logs.set(logs["1"], concat(out))
            i.logs.set(logs["2"], concat(err))
            return {
              return: code,
              output: { "1": `${path}/logs/${logs["1"]}`, "2": `${path}/logs/${logs["2"]}` }
            }
          }
          // every required socket attached in time (control is optional without a pty)
          const required = interactive ? ["0", "control"] : ["0", "1", "2"]
          // a client that goes away half-way (one of its sockets closes) ends it at once
          const attached = yield* Effect.forEach(required, (n) => Deferred.await(op.attached.get(n)!)).pipe(
            Effect.timeout(server.connectTimeout),
            Effect.option,
            Effect.raceFirst(Effect.as(Deferred.await(op.socketClosed), Option.none()))
          )
          if (Option.isNone(attached)) {
            return yield* Effect.fail(
              (yield* Deferred.isDone(op.socketClosed))
                ? "A websocket closed before the command started"
                : "Timed out waiting for websockets to connect"
            )
          }
          const data = op.sockets.get("0")!
          const out = interactive ? data : op.sockets.get("1")!
          const err = interactive ? data : op.sockets.get("2")!
          const control = Option.getOrUndefined(
            yield* Deferred.poll(op.attached.get("control")!).pipe(
              Effect.flatMap((
                o
              ) => (Option.isSome(o) ? Effect.map(o.value, Option.some) : Effect.succeed(Option.none())))
            )
          )
          // control: signals, and SIGKILL when it goes away while the command runs
          const controlFiber = yield* Effect.fork(
            Effect.gen(function*() {
              const socket = control ?? (yield* Deferred.await(op.attached.get("control")!))
              yield* Stream.runForEach(socket.messages, (m) =>
                Effect.suspend(() => {
                  if (m._tag !== "Text") return Effect.void
                  try {
                    const parsed = JSON.parse(m.data) as { command?: unknown; signal?: unknown }
                    if (parsed.command === "signal" && typeof parsed.signal === "number") {
                      return Queue.offer(signals, parsed.signal)
                    }
                  } catch {
                    // unknown control messages are ignored
                  }
                  return Effect.void
                })).pipe(Effect.ignore)
              yield* Queue.offer(signals, 9)
            })
          )
          const write = (socket: Pipe.PipeEnd) => (chunk: string | Uint8Array) =>
            Effect.ignore(socket.send(typeof chunk === "string" ? encoder.encode(chunk) : chunk))
          const code = yield* running(
            server.runCommand(
              { ...base, stdin: stdinOf(data, interactive), stdout: write(out), stderr: write(err) },
              signals
            )
          )
          yield* Fiber.interrupt(controlFiber)
          // end of output, then the operation ends and the sockets close
          if (interactive) {
            yield* Effect.ignore(data.send(""))
            yield* data.closed.pipe(Effect.timeout("5 seconds"), Effect.ignore)
          } else {
            yield* Effect.ignore(out.send(""))
            yield* Effect.ignore(err.send(""))
          }
          return { return: code }
        })
    }),
    (op) => asyncOf(server, op)
  )
}

const concat = (chunks: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0))
  let at = 0
  for (const c of chunks) {
    out.set(c, at)
    at += c.length
  }
  return out
}

const logs: Handler = (server, request) => {
  const project = server.projectOf(request)
  const i = server.instanceOf(project, request.segments[1]!)
  const file = request.segments.slice(3).join("/")
  if (file === "") {
    return H.sync([...i.logs.keys()].map((k) => `/1.0/instances/${enc(i.name)}/logs/${k}`))
  }
  const data = i.logs.get(file)
  if (data === undefined) return H.refuse(404, "Log file not found")
  if (request.method === "DELETE") {
    i.logs.delete(file)
    return H.sync(null)
  }
  return H.raw(200, data, { "content-type": "application/octet-stream" })
}

/** The console log (`GET`, raw) and clearing it (`DELETE`); attaching is not modelled. */
const consoleLog: Handler = (server, request) => {
  const project = server.projectOf(request)
  const i = server.instanceOf(project, request.segments[1]!)
  switch (request.method) {
    case "GET":
      return H.raw(200, encoder.encode(i.console), { "content-type": "application/octet-stream" })
    case "DELETE":
      i.console = ""
      return H.sync(null)
    default:
      return H.refuse(501, "Attaching to the console is not modelled by the fake")
  }
}

// -----------------------------------------------------------------------------
// Files
// -----------------------------------------------------------------------------

const fileHeaders = (server: FakeServer, node: FileNode): Record<string, string> => {
  // LXD sends X-Lxd-*, Incus X-Incus-* (Go's canonical case)
  const prefix = server.family === "incus" ? "X-Incus" : "X-Lxd"
  return {
    [`${prefix}-Type`]: node.type,
    [`${prefix}-Mode`]: "0" + (node.mode & 0o7777).toString(8).padStart(3, "0"),
    [`${prefix}-Uid`]: String(node.uid),
    [`${prefix}-Gid`]: String(node.gid),
    [`${prefix}-Modified`]: node.modified.toUTCString()
  }
}

/** A header under the server's prefix, or (Incus 6.0's legacy fallback) the LXD one. */
const fileHeader = (server: FakeServer, request: H.FakeRequest, name: string): string | undefined => {
  const own = request.headers[`${server.headerPrefix}-${name}`.toLowerCase()]
  if (own !== undefined) return own
  return server.family === "incus" ? request.headers[`x-lxd-${name}`] : undefined
}

const files: Handler = (server, request) => {
  const project = server.projectOf(request)
  const i = server.instanceOf(project, request.segments[1]!)
  const given = request.query.get("path")
  if (given === null) return H.refuse(400, "Missing path argument")
  const path = normalize(given)
  if (path === undefined) return H.refuse(400, "The path must be absolute")
  const tree = i.files
  switch (request.method) {
    case "GET":
    case "HEAD": {
      const node = tree.get(path)
      if (node === undefined) return H.refuse(404, "Not found")
      const headers = fileHeaders(server, node)
      if (request.method === "HEAD") return H.raw(200, new Uint8Array(0), headers)
      if (node.type === "directory") {
        const listing = H.sync(tree.children(path))
        return { ...listing, headers: { ...listing.headers, ...headers } }
      }
      if (node.type === "symlink") {
        return H.raw(200, encoder.encode(node.target), { ...headers, "content-type": "application/octet-stream" })
      }
      return H.raw(200, node.data, { ...headers, "content-type": "application/octet-stream" })
    }
    case "POST": {
      const type = fileHeader(server, request, "type") ?? "file"
      const uid = parseInt(fileHeader(server, request, "uid") ?? "-1", 10)
      const gid = parseInt(fileHeader(server, request, "gid") ?? "-1", 10)
      const modeText = fileHeader(server, request, "mode")
      const mode = modeText === undefined
        ? undefined
        : modeText.startsWith("0")
        ? parseInt(modeText, 8)
        : parseInt(modeText, 10)
      const existing = tree.get(path)
      const owner = {
        uid: uid >= 0 ? uid : existing?.uid ?? 0,
        gid: gid >= 0 ? gid : existing?.gid ?? 0
      }
      const now = new Date()
      let node: FileNode
      switch (type) {
        case "directory":
          if (existing !== undefined && existing.type === "directory") return H.sync(null)
          node = { type, mode: (mode ?? 0o755) & 0o7777, ...owner, data: new Uint8Array(0), target: "", modified: now }
          break
        case "symlink": {
          const target = decoder.decode(request.body)
          node = { type, mode: 0o777, ...owner, data: new Uint8Array(0), target, modified: now }
          break
        }
        case "file": {
          const append = fileHeader(server, request, "write") === "append"
          const before = append && existing?.type === "file" ? existing.data : new Uint8Array(0)
          node = {
            type,
            mode: (mode ?? (existing?.type === "file" ? existing.mode : 0o644)) & 0o7777,
            ...owner,
            data: concat([before, request.body]),
            target: "",
            modified: now
          }
          break
        }
        default:
          return H.refuse(400, `Bad file type: ${type}`)
      }
      const refused = tree.put(path, node)
      if (refused !== undefined) return H.refuse(refused.status, refused.message)
      return H.sync(null)
    }
    case "DELETE": {
      const refused = tree.remove(path)
      if (refused !== undefined) return H.refuse(refused.status, refused.message)
      return H.sync(null)
    }
    default:
      return H.refuse(405, "Method not allowed")
  }
}

// -----------------------------------------------------------------------------
// Operations
// -----------------------------------------------------------------------------

const operationOf = (server: FakeServer, id: string): OperationRecord => {
  const op = server.operations.get(id)
  if (op === undefined) return H.refuse(404, "Operation not found")
  return op
}

const listOperations: Handler = (server, request) => {
  const all = request.query.get("all-projects") === "true"
  const project = all ? undefined : server.projectOf(request).name
  const byStatus: Record<string, Array<unknown>> = {}
  for (const op of server.operations.values()) {
    if (project !== undefined && op.project !== project) continue
    const key = op.status.toLowerCase()
    ;(byStatus[key] ??= []).push(
      recursion(request) >= 1 ? server.renderOperation(op) : `/1.0/operations/${op.id}`
    )
  }
  return H.sync(byStatus)
}

const getOperation: Handler = (server, request) =>
  H.sync(server.renderOperation(operationOf(server, request.segments[1]!)))

const waitOperation: Handler = (server, request) => {
  const op = operationOf(server, request.segments[1]!)
  const timeout = Number(request.query.get("timeout") ?? "-1")
  const wait = timeout < 0
    ? Deferred.await(op.done)
    : Effect.timeout(Deferred.await(op.done), Duration.seconds(timeout))
  // rendered once the wait is over, not when the answer is built
  return Effect.map(Effect.ignore(wait), () => H.sync(server.renderOperation(op)))
}

const cancelOperation: Handler = (server, request) => {
  const op = operationOf(server, request.segments[1]!)
  if (op.statusCode >= 200) return H.refuse(400, "Only running operations can be cancelled")
  if (!op.mayCancel) return H.refuse(403, "This operation can't be cancelled")
  const fiber = op.fiber
  return Effect.gen(function*() {
    if (fiber !== undefined) yield* Fiber.interrupt(fiber)
    yield* Deferred.await(op.done)
    return H.sync(null)
  })
}

// -----------------------------------------------------------------------------
// Images and aliases
// -----------------------------------------------------------------------------

const imageOf = (server: FakeServer, fingerprint: string) => {
  const matches = [...server.images.keys()].filter((f) => f.startsWith(fingerprint))
  if (matches.length !== 1 || fingerprint === "") return H.refuse(404, "Image not found")
  return server.images.get(matches[0]!)!
}

const imagePut = (image: { autoUpdate: boolean; properties: object; public: boolean; profiles: Array<string> }) => ({
  auto_update: image.autoUpdate,
  properties: image.properties,
  public: image.public,
  profiles: image.profiles
})

const images: Handler = (server, request) => {
  const project = server.projectOf(request)
  const rest = request.segments.slice(1)
  if (rest.length === 0) {
    if (request.method === "POST") return H.refuse(501, "Image uploads are not modelled by the fake")
    const all = [...server.images.values()]
    return H.sync(
      recursion(request) >= 1
        ? all.map((img) => server.renderImage(img, project.name))
        : all.map((img) => `/1.0/images/${img.fingerprint}`)
    )
  }
  if (rest[0] === "aliases") return aliases(server, request)
  const image = imageOf(server, rest[0]!)
  const path = `/1.0/images/${image.fingerprint}`
  switch (request.method) {
    case "GET":
      return H.sync(server.renderImage(image, project.name), { etag: etagOf(imagePut(image)) })
    case "PUT":
    case "PATCH": {
      server.checkEtag(request, etagOf(imagePut(image)))
      const body = H.jsonBody(request)
      const patch = request.method === "PATCH"
      if (typeof body.auto_update === "boolean") image.autoUpdate = body.auto_update
      else if (!patch) image.autoUpdate = false
      if (typeof body.public === "boolean") image.public = body.public
      else if (!patch) image.public = false
      if (body.properties !== undefined) {
        const props = H.stringMap(body.properties, "properties")
        image.properties = patch ? { ...image.properties, ...props } : props
      } else if (!patch) image.properties = {}
      if (body.profiles !== undefined) image.profiles = H.stringList(body.profiles, "profiles")
      return Effect.as(server.lifecycle(project.name, "image-updated", path), H.sync(null))
    }
    case "DELETE":
      return Effect.map(
        server.startOperation({
          project: project.name,
          description: "Deleting image",
          origin: { method: "DELETE", path },
          resources: { images: [path] },
          run: () =>
            Effect.suspend(() => {
              server.images.delete(image.fingerprint)
              for (const [name, alias] of server.aliases) {
                if (alias.target === image.fingerprint) server.aliases.delete(name)
              }
              return server.lifecycle(project.name, "image-deleted", path)
            })
        }),
        (op) => asyncOf(server, op)
      )
    default:
      return H.refuse(405, "Method not allowed")
  }
}

const aliasView = (a: { name: string; target: string; description: string; type: string }) => ({
  name: a.name,
  target: a.target,
  description: a.description,
  type: a.type
})

const aliases = (server: FakeServer, request: H.FakeRequest): H.Answer | Effect.Effect<H.Answer> => {
  const project = server.projectOf(request)
  const name = request.segments[2]
  if (name === undefined) {
    if (request.method === "POST") {
      const body = H.jsonBody(request)
      if (typeof body.name !== "string" || body.name === "") return H.refuse(400, "Alias name missing")
      if (server.aliases.has(body.name)) return H.refuse(409, "Alias already exists")
      const image = imageOf(server, typeof body.target === "string" ? body.target : "")
      server.aliases.set(body.name, {
        name: body.name,
        target: image.fingerprint,
        description: typeof body.description === "string" ? body.description : "",
        type: "container"
      })
      const location = `/1.0/images/aliases/${enc(body.name)}`
      return Effect.as(
        server.lifecycle(project.name, "image-alias-created", location),
        H.sync(null, { status: 201, location })
      )
    }
    const all = [...server.aliases.values()]
    return H.sync(
      recursion(request) >= 1 ? all.map(aliasView) : all.map((a) => `/1.0/images/aliases/${enc(a.name)}`)
    )
  }
  const alias = server.aliases.get(name)
  if (alias === undefined) return H.refuse(404, "Image alias not found")
  const put = { target: alias.target, description: alias.description }
  switch (request.method) {
    case "GET":
      return H.sync(aliasView(alias), { etag: etagOf(put) })
    case "PUT":
    case "PATCH": {
      server.checkEtag(request, etagOf(put))
      const body = H.jsonBody(request)
      if (typeof body.target === "string") alias.target = imageOf(server, body.target).fingerprint
      if (typeof body.description === "string") alias.description = body.description
      return H.sync(null)
    }
    case "POST": {
      const body = H.jsonBody(request)
      if (typeof body.name !== "string" || body.name === "") return H.refuse(400, "Alias name missing")
      if (server.aliases.has(body.name)) return H.refuse(409, "Alias already exists")
      server.aliases.delete(name)
      alias.name = body.name
      server.aliases.set(body.name, alias)
      return H.sync(null, { status: 201, location: `/1.0/images/aliases/${enc(body.name)}` })
    }
    case "DELETE":
      server.aliases.delete(name)
      return H.sync(null)
    default:
      return H.refuse(405, "Method not allowed")
  }
}

// -----------------------------------------------------------------------------
// Profiles
// -----------------------------------------------------------------------------

const profiles: Handler = (server, request) => {
  const project = server.projectOf(request)
  const home = server.profileHome(project)
  const name = request.segments[1]
  if (name === undefined) {
    if (request.method === "POST") {
      const body = H.jsonBody(request)
      if (typeof body.name !== "string" || !validInstanceName(body.name)) {
        return H.refuse(400, "Invalid profile name")
      }
      if (home.profiles.has(body.name)) return H.refuse(409, `The profile "${body.name}" already exists`)
      const profileName = body.name
      const location = `/1.0/profiles/${enc(profileName)}`
      const config = H.stringMap(body.config, "config")
      const devices = H.deviceMap(body.devices)
      return server.write(project.name, "Creating profile", { method: "POST", path: "/1.0/profiles" }, {
        profiles: [location]
      }, () => {
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
      return server.write(project.name, "Renaming profile", origin, { profiles: [path] }, () => {
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
      return server.write(project.name, "Deleting profile", origin, { profiles: [path] }, () => {
        home.profiles.delete(name)
        Effect.runSync(server.lifecycle(project.name, "profile-deleted", path))
      })
    default:
      return H.refuse(405, "Method not allowed")
  }
}

// -----------------------------------------------------------------------------
// Projects
// -----------------------------------------------------------------------------

const projectIsEmpty = (p: ProjectRecord): boolean =>
  p.instances.size === 0 && p.volumes.size === 0 && [...p.profiles.keys()].every((n) => n === "default")

const projects: Handler = (server, request) => {
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

// -----------------------------------------------------------------------------
// Storage
// -----------------------------------------------------------------------------

const storage: Handler = (server, request) => {
  const project = server.projectOf(request)
  const [, poolName, section, type, volumeName, ...rest] = request.segments
  const poolView = {
    name: server.pool,
    driver: "dir",
    description: "",
    config: { source: `/var/lib/${server.family}/storage-pools/${server.pool}` },
    status: "Created",
    locations: ["none"],
    used_by: []
  }
  if (poolName === undefined) {
    if (request.method !== "GET") return H.refuse(501, "Creating storage pools is not modelled by the fake")
    return H.sync(recursion(request) >= 1 ? [poolView] : [`/1.0/storage-pools/${server.pool}`])
  }
  if (poolName !== server.pool) return H.refuse(404, "Storage pool not found")
  if (section === undefined) {
    if (request.method !== "GET") return H.refuse(501, "Changing storage pools is not modelled by the fake")
    return H.sync(poolView, { etag: etagOf(poolView.config) })
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

// -----------------------------------------------------------------------------
// Networks
// -----------------------------------------------------------------------------

const networks: Handler = (server, request) => {
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
    if (request.method !== "GET") return H.refuse(501, "Creating networks is not modelled by the fake")
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
      return H.refuse(501, "Only reading and updating the bridge is modelled by the fake")
  }
}

// -----------------------------------------------------------------------------
// Certificates and tokens
// -----------------------------------------------------------------------------

const certificates: Handler = (server, request) => {
  if (request.segments.length === 1 && request.method === "GET") {
    return H.sync(recursion(request) >= 1 ? [] : [])
  }
  if (request.segments.length === 1 && request.method === "POST") {
    const body = H.jsonBody(request)
    if (!server.trusted) {
      // joining with a token: `trust_token` (LXD with explicit_trust_token, Incus) or `password`
      const given = typeof body.trust_token === "string" ? body.trust_token : body.password
      // the join token is base64 JSON holding the secret (or the bare secret)
      let secret = given
      if (typeof given === "string") {
        try {
          const decoded: unknown = JSON.parse(Buffer.from(given, "base64").toString("utf8"))
          if (typeof decoded === "object" && decoded !== null && "secret" in decoded) secret = decoded.secret
        } catch {
          // not a join token: compare as it is
        }
      }
      const token = [...server.operations.values()].find((op) =>
        op.class === "token" && op.statusCode === 103 && typeof secret === "string" &&
        (op.metadata as { secret?: unknown } | null)?.secret === secret
      )
      if (token === undefined) return H.refuse(403, "No matching certificate add operation found")
      const fiber = token.fiber
      server.trusted = true
      return Effect.as(fiber === undefined ? Effect.void : Fiber.interrupt(fiber), H.sync(null, { status: 201 }))
    }
    if (body.token !== true) return H.refuse(501, "Adding certificates is not modelled by the fake")
    const name = typeof body.name === "string" ? body.name : ""
    const secret = newSecret()
    return Effect.map(
      server.startOperation({
        project: "default",
        class: "token",
        description: "Executing operation",
        origin: { method: "POST", path: "/1.0/certificates" },
        metadata: {
          request: { name, type: "client", restricted: false, projects: [], certificate: "", token: true },
          fingerprint: newSecret(),
          addresses: [],
          secret,
          expires_at: zeroTime
        },
        mayCancel: true,
        run: () => Effect.never
      }),
      (op) => asyncOf(server, op)
    )
  }
  return H.refuse(404, "Certificate not found")
}

// -----------------------------------------------------------------------------
// Routing
// -----------------------------------------------------------------------------

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
  if (!server.trusted && !(s[0] === "certificates" && s.length === 1 && m === "POST")) {
    return H.refuse(403, "Forbidden")
  }
  switch (s[0]) {
    case "instances": {
      if (s.length === 1) return m === "POST" ? createInstance(server, request) : listInstances(server, request)
      if (s.length === 2) {
        switch (m) {
          case "GET":
            return getInstance(server, request)
          case "PUT":
          case "PATCH":
            return updateInstance(server, request)
          case "POST":
            return postInstance(server, request)
          case "DELETE":
            return deleteInstance(server, request)
        }
        return H.refuse(405, "Method not allowed")
      }
      switch (s[2]) {
        case "state":
          return m === "PUT" ? putState(server, request) : getState(server, request)
        case "snapshots":
          if (s.length === 3) return m === "POST" ? createSnapshot(server, request) : listSnapshots(server, request)
          switch (m) {
            case "GET":
              return getSnapshot(server, request)
            case "PUT":
            case "PATCH":
              return updateSnapshot(server, request)
            case "POST":
              return renameSnapshot(server, request)
            case "DELETE":
              return deleteSnapshot(server, request)
          }
          return H.refuse(405, "Method not allowed")
        case "exec":
          return exec(server, request)
        case "files":
          return files(server, request)
        case "logs":
          return logs(server, request)
        case "backups":
          return H.sync([])
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
    case "certificates":
      return certificates(server, request)
    case "warnings":
      return H.sync([])
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
