/**
 * Instance backups: create (a background operation, `backupN` when unnamed), list, get,
 * rename, delete, export (a gzipped tarball laid out as LXD's: `backup/index.yaml`,
 * `backup/container/backup.yaml`, `backup/container/rootfs/…`, `backup/snapshots/<name>/…`),
 * and import (`POST /1.0/instances` with the tarball as body, named by `X-LXD-Name` /
 * `X-Incus-Name`). The YAML files are written as JSON, which is YAML too.
 */
import * as Effect from "effect/Effect"
import * as Zlib from "node:zlib"
import { type FileNode, FileTree } from "../files.js"
import * as H from "../http.js"
import { type InstanceRecord, type ProjectRecord, type SnapshotRecord, validInstanceName, zeroTime } from "../model.js"
import { type FakeServer } from "../server.js"
import * as Tar from "../tar.js"
import { asyncOf, enc, encoder, type Handler, recursion } from "./common.js"

interface BackupRecord {
  name: string
  readonly createdAt: Date
  readonly expiresAt: string
  readonly instanceOnly: boolean
  readonly optimizedStorage: boolean
  /** The gzipped tarball, made when the backup was. */
  readonly tarball: Uint8Array
}

/** Each instance's backups (they go with the instance's record, as LXD deletes them with it). */
const backupsByInstance = new WeakMap<InstanceRecord, Map<string, BackupRecord>>()

const backupsOf = (i: InstanceRecord): Map<string, BackupRecord> => {
  let found = backupsByInstance.get(i)
  if (found === undefined) {
    found = new Map()
    backupsByInstance.set(i, found)
  }
  return found
}

const render = (b: BackupRecord) => ({
  name: b.name,
  created_at: b.createdAt.toISOString(),
  expires_at: b.expiresAt,
  instance_only: b.instanceOnly,
  container_only: b.instanceOnly,
  optimized_storage: b.optimizedStorage
})

const decoder = new TextDecoder()

const treeEntries = (root: string, tree: FileTree): Array<Tar.TarEntry> =>
  [...tree.nodes.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([path, node]) => ({
      name: path === "/" ? root : `${root}${path}`,
      type: node.type,
      mode: node.mode,
      uid: node.uid,
      gid: node.gid,
      modified: node.modified,
      data: node.data,
      target: node.target
    }))

const config = (name: string, data: unknown, now: Date): Tar.TarEntry => ({
  name,
  type: "file",
  mode: 0o644,
  uid: 0,
  gid: 0,
  modified: now,
  data: encoder.encode(JSON.stringify(data, null, 2) + "\n"),
  target: ""
})

const dirEntry = (name: string, now: Date): Tar.TarEntry => ({
  name,
  type: "directory",
  mode: 0o700,
  uid: 0,
  gid: 0,
  modified: now,
  data: new Uint8Array(0),
  target: ""
})

const snapshotConfig = (s: SnapshotRecord) => ({
  name: s.name,
  created_at: s.createdAt.toISOString(),
  expires_at: s.expiresAt,
  description: s.description,
  config: s.config,
  devices: s.devices,
  profiles: s.profiles,
  ephemeral: s.ephemeral
})

/** The tarball of an instance as it is now. */
const tarball = (server: FakeServer, project: ProjectRecord, i: InstanceRecord, instanceOnly: boolean): Uint8Array => {
  const now = new Date()
  const snapshots = instanceOnly ? [] : [...i.snapshots.values()]
  const entries: Array<Tar.TarEntry> = [
    dirEntry("backup", now),
    config("backup/index.yaml", {
      name: i.name,
      backend: "dir",
      pool: server.pool,
      type: i.type,
      optimized: false,
      optimized_header: false,
      snapshots: snapshots.map((s) => s.name)
    }, now),
    dirEntry("backup/container", now),
    config("backup/container/backup.yaml", {
      container: {
        name: i.name,
        type: i.type,
        architecture: i.architecture,
        description: i.description,
        config: i.config,
        devices: i.devices,
        profiles: i.profiles,
        ephemeral: i.ephemeral,
        created_at: i.createdAt.toISOString(),
        project: project.name
      },
      snapshots: snapshots.map(snapshotConfig),
      pool: { name: server.pool, driver: "dir" }
    }, now),
    ...treeEntries("backup/container/rootfs", i.files)
  ]
  if (snapshots.length > 0) entries.push(dirEntry("backup/snapshots", now))
  for (const s of snapshots) entries.push(...treeEntries(`backup/snapshots/${s.name}`, s.files))
  return new Uint8Array(Zlib.gzipSync(Tar.write(entries)))
}

const instanceOfRequest = (server: FakeServer, request: H.FakeRequest) => {
  const project = server.projectOf(request)
  const i = server.instanceOf(project, request.segments[1]!)
  return { project, i, path: `/1.0/instances/${enc(i.name)}` }
}

const nextName = (backups: Map<string, BackupRecord>): string => {
  let n = 0
  while (backups.has(`backup${n}`)) n++
  return `backup${n}`
}

/** `/1.0/instances/<name>/backups[/<backup>[/export]]`. */
export const backups: Handler = (server, request) => {
  const { i, path, project } = instanceOfRequest(server, request)
  const all = backupsOf(i)
  const name = request.segments[3]
  if (name === undefined) {
    if (request.method === "GET") {
      const list = [...all.values()]
      return H.sync(
        recursion(request) >= 1 ? list.map(render) : list.map((b) => `${path}/backups/${enc(b.name)}`)
      )
    }
    if (request.method !== "POST") return H.refuse(405, "Method not allowed")
    const body = H.jsonBody(request)
    const backupName = typeof body.name === "string" && body.name !== "" ? body.name : nextName(all)
    if (backupName.includes("/")) return H.refuse(400, "Backup names may not contain slashes")
    if (all.has(backupName)) return H.refuse(409, `Backup "${backupName}" already exists`)
    const instanceOnly = body.instance_only === true || body.container_only === true
    const location = `${path}/backups/${enc(backupName)}`
    return Effect.map(
      server.startOperation({
        project: project.name,
        description: "Backing up instance",
        origin: { method: "POST", path: `${path}/backups` },
        resources: { instances: [path], backups: [location] },
        run: () =>
          Effect.suspend(() => {
            if (all.has(backupName)) return Effect.fail(`Backup "${backupName}" already exists`)
            all.set(backupName, {
              name: backupName,
              createdAt: new Date(),
              expiresAt: typeof body.expires_at === "string" ? body.expires_at : zeroTime,
              instanceOnly,
              optimizedStorage: body.optimized_storage === true,
              tarball: tarball(server, project, i, instanceOnly)
            })
            return server.lifecycle(project.name, "instance-backup-created", location)
          })
      }),
      (op) => asyncOf(server, op)
    )
  }
  const backup = all.get(name)
  if (backup === undefined) return H.refuse(404, "Instance backup not found")
  const location = `${path}/backups/${enc(backup.name)}`
  if (request.segments[4] === "export") {
    if (request.method !== "GET") return H.refuse(405, "Method not allowed")
    return H.raw(200, backup.tarball, {
      "content-type": "application/octet-stream",
      "content-disposition": `attachment; filename=backup.tar.gz`
    })
  }
  if (request.segments.length > 4) return H.refuse(404, "not found")
  switch (request.method) {
    case "GET":
      return H.sync(render(backup))
    case "POST": {
      const body = H.jsonBody(request)
      if (typeof body.name !== "string" || body.name === "") return H.refuse(400, "No name provided")
      const newName = body.name
      if (newName.includes("/")) return H.refuse(400, "Backup names may not contain slashes")
      if (all.has(newName)) return H.refuse(409, `Backup "${newName}" already exists`)
      return Effect.map(
        server.startOperation({
          project: project.name,
          description: "Renaming instance backup",
          origin: { method: "POST", path: location },
          resources: { instances: [path], backups: [location] },
          run: () =>
            Effect.suspend(() => {
              all.delete(backup.name)
              backup.name = newName
              all.set(newName, backup)
              return server.lifecycle(project.name, "instance-backup-renamed", `${path}/backups/${enc(newName)}`, {
                old_name: name
              })
            })
        }),
        (op) => asyncOf(server, op)
      )
    }
    case "DELETE":
      return Effect.map(
        server.startOperation({
          project: project.name,
          description: "Deleting instance backup",
          origin: { method: "DELETE", path: location },
          resources: { instances: [path], backups: [location] },
          run: () =>
            Effect.suspend(() => {
              all.delete(backup.name)
              return server.lifecycle(project.name, "instance-backup-deleted", location)
            })
        }),
        (op) => asyncOf(server, op)
      )
    default:
      return H.refuse(405, "Method not allowed")
  }
}

/** Whether a `POST /1.0/instances` carries a backup tarball rather than JSON. */
export const isBackupImport = (request: H.FakeRequest): boolean =>
  (request.headers["content-type"] ?? "").startsWith("application/octet-stream")

const treeFrom = (entries: ReadonlyArray<Tar.TarEntry>, root: string): FileTree => {
  const nodes = new Map<string, FileNode>()
  for (const e of entries) {
    if (e.name !== root && !e.name.startsWith(root + "/")) continue
    const path = e.name === root ? "/" : e.name.slice(root.length)
    nodes.set(path, {
      type: e.type,
      mode: e.mode,
      uid: e.uid,
      gid: e.gid,
      data: e.data,
      target: e.target,
      modified: e.modified
    })
  }
  return new FileTree(nodes)
}

const stringRecord = (value: unknown): Record<string, string> =>
  typeof value === "object" && value !== null ? { ...(value as Record<string, string>) } : {}

const deviceRecord = (value: unknown): Record<string, Record<string, string>> =>
  Object.fromEntries(Object.entries(stringRecord(value)).map(([k, v]) => [k, stringRecord(v)]))

/** `POST /1.0/instances` with a backup tarball: a new, stopped instance (an operation). */
export const importBackup: Handler = (server, request) => {
  const project = server.projectOf(request)
  const prefix = server.headerPrefix.toLowerCase()
  const wanted = request.headers[`${prefix}-name`]
  const pool = request.headers[`${prefix}-pool`]
  if (pool !== undefined && pool !== "" && pool !== server.pool) return H.refuse(404, "Storage pool not found")
  let entries: Array<Tar.TarEntry>
  try {
    entries = Tar.read(new Uint8Array(Zlib.gunzipSync(request.body)))
  } catch (e) {
    return H.refuse(400, `Failed to read the backup: ${e instanceof Error ? e.message : String(e)}`)
  }
  const file = entries.find((e) => e.name === "backup/container/backup.yaml")
  if (file === undefined) return H.refuse(400, "Backup is missing backup/container/backup.yaml")
  let parsed: { container?: Record<string, unknown>; snapshots?: Array<Record<string, unknown>> }
  try {
    parsed = JSON.parse(decoder.decode(file.data)) as typeof parsed
  } catch {
    return H.refuse(400, "Backup has an unreadable backup.yaml")
  }
  const saved = parsed.container ?? {}
  const name = wanted !== undefined && wanted !== "" ? wanted : String(saved.name ?? "")
  if (!validInstanceName(name)) return H.refuse(400, `Invalid instance name "${name}"`)
  if (project.instances.has(name)) return H.refuse(409, `Instance "${name}" already exists`)
  const profiles = Array.isArray(saved.profiles) ? saved.profiles.map(String) : []
  const home = server.profileHome(project)
  for (const p of profiles) {
    if (!home.profiles.has(p)) return H.refuse(400, `Requested profile "${p}" doesn't exist`)
  }
  const path = `/1.0/instances/${enc(name)}`
  return Effect.map(
    server.startOperation({
      project: project.name,
      description: "Restoring backup",
      origin: { method: "POST", path: "/1.0/instances" },
      resources: { instances: [path] },
      run: () =>
        Effect.suspend(() => {
          if (project.instances.has(name)) return Effect.fail(`Instance "${name}" already exists`)
          const now = new Date()
          const snapshots = new Map<string, SnapshotRecord>()
          for (const s of parsed.snapshots ?? []) {
            const snapshotName = String(s.name ?? "")
            snapshots.set(snapshotName, {
              name: snapshotName,
              createdAt: new Date(String(s.created_at ?? now.toISOString())),
              expiresAt: String(s.expires_at ?? zeroTime),
              stateful: false,
              description: String(s.description ?? ""),
              config: stringRecord(s.config),
              devices: deviceRecord(s.devices),
              profiles: Array.isArray(s.profiles) ? s.profiles.map(String) : [],
              ephemeral: s.ephemeral === true,
              files: treeFrom(entries, `backup/snapshots/${snapshotName}`)
            })
          }
          project.instances.set(name, {
            name,
            type: String(saved.type ?? "container"),
            status: "Stopped",
            architecture: String(saved.architecture ?? "x86_64"),
            description: String(saved.description ?? ""),
            config: stringRecord(saved.config),
            devices: deviceRecord(saved.devices),
            profiles,
            ephemeral: saved.ephemeral === true,
            createdAt: now,
            lastUsedAt: undefined,
            startedAt: undefined,
            pid: 0,
            processTable: new Map(),
            snapshots,
            files: treeFrom(entries, "backup/container/rootfs"),
            logs: new Map([["lxc.log", new Uint8Array(0)]]),
            console: ""
          })
          return server.lifecycle(project.name, "instance-created", path)
        })
    }),
    (op) => asyncOf(server, op)
  )
}
