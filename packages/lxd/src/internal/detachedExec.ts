/**
 * Pure helpers of `DetachedExec`: the instance an exec operation runs in, and which of
 * the server's log files hold a detached command's recorded output.
 */
import type { Operation } from "./envelope.js"
import { withoutQuery } from "./path.js"

/**
 * The instance of an exec operation, from its `resources.instances` (LXD 5.0 lists it
 * under `containers` too): `/1.0/instances/web1?project=p` gives `web1`.
 */
export const instanceOf = (operation: Operation): string | undefined => {
  const urls = operation.resources?.instances ?? operation.resources?.containers ?? []
  for (const url of urls) {
    const m = /^\/1\.0\/(?:instances|containers)\/([^/]+)$/.exec(withoutQuery(url))
    if (m !== null) {
      try {
        return decodeURIComponent(m[1]!)
      } catch {
        return undefined
      }
    }
  }
  return undefined
}

/** Where a detached command's recorded output lives: one log file per stream. */
export interface OutputFiles {
  readonly stdout: string | undefined
  readonly stderr: string | undefined
}

/**
 * The log files of operation `operationId` among the paths a log listing gave, checked
 * to be log files of `instance` (`/1.0/instances/<instance>/logs/...`): LXD 5.0 keeps
 * them as `logs/exec_<id>.stdout`, Incus as `logs/exec-output/exec_<id>.stdout`. A path
 * that names another place is ignored.
 */
export const outputFiles = (
  instance: string,
  operationId: string,
  listed: ReadonlyArray<string>
): OutputFiles => {
  const base = `/1.0/instances/${encodeURIComponent(instance)}/logs/`
  const pick = (suffix: "stdout" | "stderr") =>
    listed.map(withoutQuery).find((p) => {
      if (!p.startsWith(base)) return false
      const rest = p.slice(base.length)
      const file = `exec_${operationId}.${suffix}`
      return rest === file || rest === `exec-output/${file}`
    })
  return { stdout: pick("stdout"), stderr: pick("stderr") }
}
