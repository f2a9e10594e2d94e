/**
 * What backups of instances (`InstanceBackups`) and of custom volumes
 * (`StorageVolumeBackups`) share: the body of a new backup, the headers of an import,
 * and the calls that make a backup and stream one out. The pure helpers talk to no server.
 */
import * as Effect from "effect/Effect"
import type * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import type { CreateOptions, ImportOptions } from "../InstanceBackups.js"
import { DecodeError, type RequestError } from "../LxdError.js"
import type { Service as Http } from "../LxdHttp.js"
import type { Service as Ops } from "../Operations.js"
import type { BackupCreateOptions as VolumeBackupCreateOptions } from "../StorageVolumeBackups.js"
import type { Operation } from "./envelope.js"
import { isoDate } from "./images-publish.js"
import { createdName } from "./instances-body.js"
import { waitStarted } from "./started.js"

/** The fields every backup body has: name, expiry, format and compression. */
const commonFields = (
  options: {
    readonly name?: string | undefined
    readonly expiresAt?: Date | string | undefined
    readonly optimizedStorage?: boolean | undefined
    readonly compressionAlgorithm?: string | undefined
  } | undefined
): Record<string, unknown> => ({
  ...(options?.name === undefined ? {} : { name: options.name }),
  ...(options?.expiresAt === undefined ? {} : { expires_at: isoDate(options.expiresAt) }),
  optimized_storage: options?.optimizedStorage ?? false,
  ...(options?.compressionAlgorithm === undefined ? {} : { compression_algorithm: options.compressionAlgorithm })
})

/** The JSON body of `POST /1.0/instances/<name>/backups`. */
export const backupBody = (options: CreateOptions | undefined): Record<string, unknown> => ({
  ...commonFields(options),
  instance_only: options?.instanceOnly ?? false,
  container_only: options?.instanceOnly ?? false
})

/** The JSON body of `POST /1.0/storage-pools/<pool>/volumes/custom/<volume>/backups`. */
export const volumeBackupBody = (options: VolumeBackupCreateOptions | undefined): Record<string, unknown> => ({
  ...commonFields(options),
  volume_only: options?.volumeOnly ?? false
})

/** The headers of an import (`X-LXD-Name`, `X-LXD-Pool`; `X-Incus-*` on Incus). */
export const importHeaders = (prefix: string, options: ImportOptions | undefined): Record<string, string> => ({
  ...(options?.name === undefined ? {} : { [`${prefix}-Name`]: options.name }),
  ...(options?.pool === undefined ? {} : { [`${prefix}-Pool`]: options.pool })
})

/**
 * The headers of a volume import: its name, and for an ISO image or a tarball its kind
 * (`X-LXD-Type: iso` / `tar`; a backup tarball is sent without a type).
 */
export const volumeImportHeaders = (
  prefix: string,
  name: string,
  kind: "backup" | "iso" | "tar"
): Record<string, string> => ({
  [`${prefix}-Name`]: name,
  ...(kind === "backup" ? {} : { [`${prefix}-Type`]: kind })
})

/** Start a backup at `backupsPath` (`POST` with `body`); the operation, not waited for. */
export const startBackup = (
  ops: Ops,
  backupsPath: string,
  body: Record<string, unknown>
): Effect.Effect<Operation, RequestError> => ops.startOperation({ method: "POST", path: backupsPath, body })

/**
 * Make a backup at `backupsPath` (`POST` with `body`), wait for it, and read it back
 * with `schema` at `backupsPath/<name>` (the name given, or the one the server reports).
 */
export const createBackup = <A, I>(
  http: Http,
  ops: Ops,
  backupsPath: string,
  body: Record<string, unknown>,
  schema: Schema.Schema<A, I, never>,
  resourceKey = "backups"
): Effect.Effect<A, RequestError> =>
  Effect.gen(function*() {
    const op = yield* startBackup(ops, backupsPath, body)
    const outcome = yield* waitStarted(ops, op, { method: "POST", path: backupsPath })
    const given = body["name"]
    const name = typeof given === "string" ? given : createdName(outcome, resourceKey)
    if (name === undefined) {
      return yield* Effect.fail(
        new DecodeError({ method: "POST", path: backupsPath, reason: "the server did not name the new backup" })
      )
    }
    return yield* http.sync({ method: "GET", path: `${backupsPath}/${encodeURIComponent(name)}` }, schema)
  })

/** A backup's tarball (`<backupPath>/export`) as it streams from the server. */
export const exportBackup = (http: Http, backupPath: string): Stream.Stream<Uint8Array, RequestError> =>
  Stream.unwrapScoped(
    Effect.map(http.raw({ method: "GET", path: `${backupPath}/export` }), (response) => response.body)
  )
