/**
 * The fake server's state: projects holding instances (with snapshots and a file tree),
 * profiles and custom volumes; images and aliases; one storage pool; one bridge network.
 * Plain mutable records: the router changes them and renders them as LXD's JSON.
 */
import type { FileTree } from "./files.js"
import { hash } from "./http.js"

export type InstanceStatus = "Running" | "Stopped" | "Frozen"

export const statusCode = (status: InstanceStatus): number =>
  status === "Running" ? 103 : status === "Frozen" ? 110 : 102

export interface SnapshotRecord {
  name: string
  createdAt: Date
  expiresAt: string
  stateful: boolean
  description: string
  config: Record<string, string>
  devices: Record<string, Record<string, string>>
  profiles: Array<string>
  ephemeral: boolean
  files: FileTree
}

export interface InstanceRecord {
  name: string
  type: string
  status: InstanceStatus
  architecture: string
  description: string
  config: Record<string, string>
  devices: Record<string, Record<string, string>>
  profiles: Array<string>
  ephemeral: boolean
  createdAt: Date
  lastUsedAt: Date | undefined
  startedAt: Date | undefined
  pid: number
  /** Commands running now (exec), by pid: `processes` in the state, and `ps`. */
  processTable: Map<number, ReadonlyArray<string>>
  snapshots: Map<string, SnapshotRecord>
  files: FileTree
  /** `logs/<name>` (exec-output/… for recorded exec output). */
  logs: Map<string, Uint8Array>
  /** The console log. */
  console: string
}

export interface ProfileRecord {
  name: string
  description: string
  config: Record<string, string>
  devices: Record<string, Record<string, string>>
}

export interface VolumeRecord {
  name: string
  description: string
  config: Record<string, string>
  contentType: string
  createdAt: Date
}

export interface ProjectRecord {
  name: string
  description: string
  config: Record<string, string>
  instances: Map<string, InstanceRecord>
  profiles: Map<string, ProfileRecord>
  volumes: Map<string, VolumeRecord>
}

export interface ImageRecord {
  fingerprint: string
  architecture: string
  description: string
  properties: Record<string, string>
  public: boolean
  autoUpdate: boolean
  profiles: Array<string>
  size: number
  type: string
  createdAt: Date
  uploadedAt: Date
}

export interface AliasRecord {
  name: string
  target: string
  description: string
  type: string
}

export interface NetworkRecord {
  name: string
  description: string
  config: Record<string, string>
}

/** The first time LXD prints for "never". */
export const zeroTime = "0001-01-01T00:00:00Z"

export const iso = (d: Date | undefined): string => (d === undefined ? zeroTime : d.toISOString())

/** An ETag: a hash of what a PUT would send. */
export const etagOf = (value: unknown): string => hash(JSON.stringify(value))

/** LXD's rule for instance, snapshot and profile-like names. */
export const validInstanceName = (name: string): boolean =>
  /^[a-zA-Z][a-zA-Z0-9-]{0,62}$/.test(name) && !name.endsWith("-")

/** Merge profile config and devices (in order), then the instance's own. */
export const expand = (
  project: ProjectRecord,
  profilesFrom: ProjectRecord,
  own: {
    readonly profiles: ReadonlyArray<string>
    readonly config: Record<string, string>
    readonly devices: Record<string, Record<string, string>>
  }
): { config: Record<string, string>; devices: Record<string, Record<string, string>> } => {
  const config: Record<string, string> = {}
  const devices: Record<string, Record<string, string>> = {}
  for (const name of own.profiles) {
    const profile = profilesFrom.profiles.get(name) ?? project.profiles.get(name)
    if (profile === undefined) continue
    Object.assign(config, profile.config)
    Object.assign(devices, profile.devices)
  }
  Object.assign(config, own.config)
  Object.assign(devices, own.devices)
  return { config, devices }
}
