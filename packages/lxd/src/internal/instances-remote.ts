/**
 * Work that spans two servers (instance migration, image copy): where the target can
 * reach the source, and which certificate it must pin.
 */
import * as Effect from "effect/Effect"
import type { Service as LxdHttpService } from "../LxdHttp.js"
import { InvalidArgument } from "../LxdError.js"
import type { Outcome } from "../Operations.js"
import { nameFromUrl } from "./path.js"

/** How another server reaches this one: its HTTPS base URL and its certificate (PEM). */
export interface RemoteEndpoint {
  readonly url: string
  readonly certificate: string
}

/**
 * The HTTPS endpoint of a server, for another server to pull from. A connection made
 * over HTTPS uses its own URL; a unix-socket connection uses the first address the
 * server listens on (`core.https_address`).
 */
export const remoteEndpoint = (http: LxdHttpService): Effect.Effect<RemoteEndpoint, InvalidArgument> =>
  Effect.gen(function*() {
    const info = yield* http.serverInfo
    const certificate = info.environment?.certificate
    if (certificate === undefined || certificate.length === 0) {
      return yield* Effect.fail(
        new InvalidArgument({ argument: "source", reason: "the source server does not tell its certificate (untrusted?)" })
      )
    }
    if (http.address.startsWith("https://")) return { url: http.address.replace(/\/+$/, ""), certificate }
    const address = info.environment?.addresses[0]
    if (address === undefined) {
      return yield* Effect.fail(
        new InvalidArgument({
          argument: "source",
          reason: "the source server has no HTTPS address (set core.https_address) for the target to pull from"
        })
      )
    }
    return { url: `https://${address}`, certificate }
  })

/**
 * The name of what a finished creation made: `metadata.entity_url` where the server
 * sends it, otherwise the first URL of `resources[collection]` that is not `exclude`
 * (LXD 5.0 and Incus list the new instance there, and for a copy its source too).
 */
export const createdName = (
  outcome: Outcome,
  collection: string,
  exclude?: string | undefined
): string | undefined => {
  if (outcome._tag === "Sync") return outcome.location === undefined ? undefined : nameFromUrl(outcome.location)
  const op = outcome.operation
  const entity = op.metadata?.["entity_url"]
  if (typeof entity === "string" && entity.length > 0) return nameFromUrl(entity)
  const urls = op.resources?.[collection] ?? []
  const names = urls.map(nameFromUrl).filter((n) => n !== exclude)
  return names[0]
}
