/**
 * A custom volume copied to another server (`Migration.copyVolume`): the extensions both
 * servers need and the body of the target's creation. Nothing here talks to a server.
 */
import * as Redacted from "effect/Redacted"
import type { CopyVolumeOptions } from "../Migration.js"
import type { VolumeRef } from "../StorageVolumes.js"
import { type MigrationPull, operationUrl, withoutVolatile } from "./instances-remote.js"
import type { StorageVolume } from "./models/storage-volume.js"
import { path } from "./path.js"

/** `/1.0/storage-pools/<pool>/volumes/<type>/<name>` (type `custom` by default), every name encoded. */
export const volumePath = (v: VolumeRef): string =>
  path`/1.0/storage-pools/${v.pool}/volumes/${v.type ?? "custom"}/${v.name}`

/** What both servers need for a volume migration with these options. */
export const volumeMigrationExtensions = (options: CopyVolumeOptions | undefined): ReadonlyArray<string> => [
  "storage_api_remote_volume_handling",
  ...(options?.volumeOnly ? ["storage_api_remote_volume_snapshots"] : []),
  ...(options?.refresh ? ["custom_volume_refresh"] : [])
]

/**
 * The body of the target's `POST /1.0/storage-pools/<pool>/volumes/custom`: the source's
 * content type, description and configuration (without `volatile.*` keys), overridden by
 * `options`, pulled from the source's migration operation. Secrets are unwrapped here:
 * never log it.
 */
export const volumeCreateBody = (
  source: StorageVolume,
  name: string,
  options: CopyVolumeOptions | undefined,
  pull: MigrationPull
): Record<string, unknown> => ({
  name,
  type: "custom",
  ...(source.content_type === "" ? {} : { content_type: source.content_type }),
  description: options?.description ?? source.description,
  config: { ...withoutVolatile(source.config), ...options?.config },
  source: {
    type: "migration",
    mode: "pull",
    operation: operationUrl(pull),
    certificate: pull.endpoint.certificate,
    secrets: Object.fromEntries(Object.entries(pull.secrets).map(([k, v]) => [k, Redacted.value(v)])),
    volume_only: options?.volumeOnly ?? false,
    ...(options?.refresh === undefined ? {} : { refresh: options.refresh })
  }
})
