/**
 * A throwaway second Incus daemon, for migrations from the shared Incus test daemon
 * (Incus and LXD 5.0 have diverged: an Incus instance carries config keys LXD 5.0 refuses,
 * so Incus → LXD is not a migration LXD supports).
 *
 * A thin wrapper over `extraDaemon({ kind: "incus" })` (see `extraDaemon.ts` for what is
 * started, configured and cleaned up), kept for its narrower shape and error.
 */
import type { LxdHttp } from "effect-lxd"
import * as Data from "effect/Data"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { extraDaemon } from "./extraDaemon.js"

export class SecondDaemonError extends Data.TaggedError("SecondDaemonError")<{ readonly reason: string }> {
  override get message(): string {
    return `second Incus daemon: ${this.reason}`
  }
}

export interface SecondDaemon {
  readonly dir: string
  readonly socket: string
  readonly pid: number
  readonly httpsUrl: string
  readonly unixConnection: Layer.Layer<LxdHttp.LxdHttp, unknown>
  readonly httpsConnection: Layer.Layer<LxdHttp.LxdHttp, unknown>
}

/** Start a throwaway Incus daemon for the current scope. */
export const secondIncusDaemon = (
  options: { readonly startTimeout?: Duration.DurationInput } = {}
): Effect.Effect<SecondDaemon, SecondDaemonError, Scope.Scope> =>
  extraDaemon({ kind: "incus", startTimeout: options.startTimeout }).pipe(
    Effect.map((d): SecondDaemon => ({
      dir: d.lxdDir,
      socket: d.socket,
      pid: d.pid,
      httpsUrl: d.httpsUrl,
      unixConnection: d.unixConnection,
      httpsConnection: d.httpsConnection
    })),
    Effect.mapError((e) => new SecondDaemonError({ reason: e.reason }))
  )
