/**
 * Pure helpers of `InstanceBackups`: the body of a new backup and the headers of an
 * import. Nothing here talks to a server.
 */
import type { CreateOptions, ImportOptions } from "../InstanceBackups.js"
import { isoDate } from "./images-publish.js"

/** The JSON body of `POST /1.0/instances/<name>/backups`. */
export const backupBody = (options: CreateOptions | undefined): Record<string, unknown> => ({
  ...(options?.name === undefined ? {} : { name: options.name }),
  ...(options?.expiresAt === undefined ? {} : { expires_at: isoDate(options.expiresAt) }),
  instance_only: options?.instanceOnly ?? false,
  container_only: options?.instanceOnly ?? false,
  optimized_storage: options?.optimizedStorage ?? false,
  ...(options?.compressionAlgorithm === undefined ? {} : { compression_algorithm: options.compressionAlgorithm })
})

/** The headers of an import (`X-LXD-Name`, `X-LXD-Pool`; `X-Incus-*` on Incus). */
export const importHeaders = (prefix: string, options: ImportOptions | undefined): Record<string, string> => ({
  ...(options?.name === undefined ? {} : { [`${prefix}-Name`]: options.name }),
  ...(options?.pool === undefined ? {} : { [`${prefix}-Pool`]: options.pool })
})
