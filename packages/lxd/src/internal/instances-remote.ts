/**
 * Work that spans two servers (instance migration, image copy): where the target can
 * reach the source, which certificate it must pin, and the pure request bodies of a
 * migration. Used by `Migration`.
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import type { CreateOptions } from "../Instances.js"
import { InvalidArgument, type RequestError } from "../LxdError.js"
import type { LxdRequest, Service as LxdHttpService } from "../LxdHttp.js"
import type { CopyInstanceOptions } from "../Migration.js"
import type { Service as OperationsService } from "../Operations.js"
import type { Operation } from "./envelope.js"
import type { Instance } from "./models/instance.js"
import { type Origin, waitStarted } from "./started.js"

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
        new InvalidArgument({
          argument: "source",
          reason: "the source server does not tell its certificate (untrusted?)"
        })
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
 * Every HTTPS base URL at which another server may reach this one, in the order to try
 * them: the connection's own URL when it is HTTPS, then each address the server says it
 * listens on (`environment.addresses`), without repeats.
 */
export const remoteUrls = (connectionAddress: string, addresses: ReadonlyArray<string>): ReadonlyArray<string> => {
  const urls = [
    ...(connectionAddress.startsWith("https://") ? [connectionAddress.replace(/\/+$/, "")] : []),
    ...addresses.map((a) => `https://${a}`)
  ]
  return urls.filter((u, i) => urls.indexOf(u) === i)
}

/** How another server may reach this one: every URL to try, and the certificate to pin. */
export interface RemoteEndpoints {
  readonly urls: ReadonlyArray<string>
  readonly certificate: string
}

/** Every HTTPS endpoint of a server (see `remoteUrls`); fails when there is none or no certificate. */
export const remoteEndpoints = (http: LxdHttpService): Effect.Effect<RemoteEndpoints, InvalidArgument> =>
  Effect.gen(function*() {
    const first = yield* remoteEndpoint(http)
    const info = yield* http.serverInfo
    const urls = remoteUrls(http.address, info.environment?.addresses ?? [])
    return { urls: urls.length === 0 ? [first.url] : urls, certificate: first.certificate }
  })

/**
 * Try `attempt` with each URL in turn until one succeeds; fail with the last failure
 * when none does (the way LXD's own client tries every address of a migration source).
 */
export const tryEachUrl = <A, E, R>(
  urls: ReadonlyArray<string>,
  attempt: (url: string) => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> => {
  const [first, ...rest] = urls
  if (first === undefined) return Effect.dieMessage("tryEachUrl: no URL to try")
  return rest.reduce<Effect.Effect<A, E, R>>(
    (previous, url) => Effect.catchAll(previous, () => attempt(url)),
    attempt(first)
  )
}

/** The body of `POST /1.0/instances/<name>` that makes the source offer a migration. */
export const migrationSourceBody = (options: CopyInstanceOptions | undefined) => ({
  migration: true,
  live: options?.live ?? false,
  instance_only: options?.instanceOnly ?? false,
  container_only: options?.instanceOnly ?? false,
  ...(options?.allowInconsistent === undefined ? {} : { allow_inconsistent: options.allowInconsistent })
})

/** The websocket secrets of the source's migration operation (its string metadata). */
export const migrationSecrets = (
  metadata: Readonly<Record<string, unknown>> | null | undefined
): Record<string, Redacted.Redacted<string>> => {
  const secrets: Record<string, Redacted.Redacted<string>> = {}
  for (const [k, v] of Object.entries(metadata ?? {})) {
    if (typeof v === "string") secrets[k] = Redacted.make(v)
  }
  return secrets
}

/** The configuration without `volatile.*` keys (what a new instance must not inherit). */
export const withoutVolatile = (config: Readonly<Record<string, string>>): Record<string, string> =>
  Object.fromEntries(Object.entries(config).filter(([k]) => !k.startsWith("volatile.")))

/** Where the target pulls from: the source operation's URL, its secrets, the certificate to pin. */
export interface MigrationPull {
  readonly endpoint: RemoteEndpoint
  readonly operationId: string
  readonly secrets: Readonly<Record<string, Redacted.Redacted<string>>>
}

/** What a migration target copies from its source (an instance, or a snapshot with its instance's type). */
export type MigrationSettings = Pick<
  Instance,
  "name" | "type" | "architecture" | "config" | "devices" | "profiles" | "ephemeral" | "description"
>

/** The absolute URL of the source's migration operation, at the endpoint chosen. */
export const operationUrl = (pull: MigrationPull): string =>
  `${pull.endpoint.url}/1.0/operations/${encodeURIComponent(pull.operationId)}`

/**
 * The creation the target is asked for: the source's settings (volatile keys dropped
 * unless kept), overridden by `options`, pulled from the source's migration operation.
 */
export const migrationTargetOptions = (
  source: MigrationSettings,
  options: CopyInstanceOptions | undefined,
  keepVolatile: boolean,
  pull: MigrationPull
): CreateOptions => {
  const config = options?.keepVolatile ?? keepVolatile ? source.config : withoutVolatile(source.config)
  return {
    name: options?.name ?? source.name,
    type: source.type === "virtual-machine" ? "virtual-machine" : "container",
    architecture: source.architecture,
    config: { ...config, ...options?.config },
    devices: options?.devices ?? source.devices,
    profiles: options?.profiles ?? source.profiles,
    ephemeral: options?.ephemeral ?? source.ephemeral,
    description: options?.description ?? source.description,
    source: {
      type: "migration",
      operation: operationUrl(pull),
      secrets: pull.secrets,
      certificate: pull.endpoint.certificate,
      instanceOnly: options?.instanceOnly ?? false,
      live: options?.live ?? false,
      ...(options?.refresh === undefined ? {} : { refresh: options.refresh }),
      ...(options?.allowInconsistent === undefined ? {} : { allowInconsistent: options.allowInconsistent })
    }
  }
}

// -----------------------------------------------------------------------------
// Following a transfer between two servers
// -----------------------------------------------------------------------------

/**
 * One transfer from a source server to a target server, ready to start: the target's
 * request for each address of the source it may pull from, what to wait for on the
 * source, what to do there when the transfer fails, and what to release at the end.
 */
export interface Transfer {
  /** The target's Operations (waits and cancels on the target). */
  readonly targetOps: OperationsService
  /** The source addresses to try, in order. */
  readonly urls: ReadonlyArray<string>
  /** The target's request that pulls from the source at `url`. */
  readonly request: (url: string) => LxdRequest
  /** The end of the source's side (its migration operation), never cancelling it when interrupted. */
  readonly sourceDone: Effect.Effect<void, RequestError>
  /** What to do on the source when the transfer fails or is abandoned (cancel its operation). */
  readonly abandon: Effect.Effect<void>
  /** What to release on the source once the transfer is over, however it ended (a one-off secret). */
  readonly release: Effect.Effect<void>
}

/** The target's operation, for the first of `urls` whose request the target accepts. */
export const startTarget = (
  t: Transfer,
  urls: ReadonlyArray<string>
): Effect.Effect<Operation, RequestError> => tryEachUrl(urls, (url) => t.targetOps.startOperation(t.request(url)))

/**
 * How long a failure of the source's side waits for the target's own answer. When the
 * target refuses (a name taken, a pool missing), the source's operation usually fails
 * too, a moment earlier or later, with an echo ("connection closed", a 401 on its
 * websocket); the target's error is the one that says what went wrong.
 */
const SOURCE_FAILURE_GRACE = "5 seconds"

/**
 * Follow a transfer to its end: `targetEnd` (the target's operation, waited for) and the
 * source's side at the same time. When the target's side fails or is interrupted, the
 * source's operation is abandoned (it would otherwise wait for a connection until it
 * times out); the target's error wins over the source's when both fail (see
 * `SOURCE_FAILURE_GRACE`); `release` runs whatever happened.
 */
export const supervise = <E>(
  t: Transfer,
  targetEnd: Effect.Effect<unknown, E>
): Effect.Effect<void, E | RequestError> =>
  Effect.all([
    Effect.onExit(targetEnd, (exit) => (Exit.isSuccess(exit) ? Effect.void : t.abandon)),
    Effect.catchAll(t.sourceDone, (e) => Effect.zipRight(Effect.sleep(SOURCE_FAILURE_GRACE), Effect.fail(e)))
  ], { concurrency: 2, discard: true }).pipe(Effect.ensuring(t.release))

/**
 * Start a transfer and return the target's operation without waiting: the target pulls
 * from the first address whose request it accepts, and a fiber in the caller's scope
 * follows it (`supervise`): closing the scope before the end cancels both sides.
 */
export const startTransfer = (t: Transfer): Effect.Effect<Operation, RequestError, Scope.Scope> =>
  // no gap between the start and the fiber that follows it
  Effect.uninterruptibleMask((restore) =>
    Effect.gen(function*() {
      const op = yield* restore(startTarget(t, t.urls)).pipe(
        Effect.onError(() => Effect.zipRight(t.abandon, t.release))
      )
      yield* Effect.forkScoped(Effect.interruptible(Effect.ignore(supervise(t, t.targetOps.wait(op)))))
      return op
    })
  )

/**
 * Run a transfer and wait for it: each address in turn until the target's operation
 * succeeds (a target that cannot reach one address fails its operation, and the next
 * address gets a new one), with the source's side followed as in `supervise`.
 */
export const runTransfer = (t: Transfer, origin: Origin): Effect.Effect<void, RequestError> =>
  supervise(
    t,
    tryEachUrl(t.urls, (url) => Effect.flatMap(startTarget(t, [url]), (op) => waitStarted(t.targetOps, op, origin)))
  )
