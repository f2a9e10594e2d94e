/**
 * Readiness conditions (`Readiness` re-exports them, `Launch` waits for them), and the
 * pure helpers that describe what a check saw.
 */
import * as Effect from "effect/Effect"
import type { ExtensionNotAvailable, InvalidArgument, NotFound, RequestError } from "../LxdError.js"
import type { InstanceState, NetworkState } from "./models/instance.js"

type Network = Readonly<Record<string, typeof NetworkState.Type>>

/** The addresses of `iface` with this family and one of these scopes. */
export const matchingAddresses = (
  network: Network,
  iface: string,
  family: string,
  scopes: ReadonlyArray<string>
): ReadonlyArray<string> =>
  (network[iface]?.addresses ?? [])
    .filter((a) => a.family === family && scopes.includes(a.scope))
    .map((a) => a.address)

/** `eth0 (up): 198.51.100.7/24 (global), fe80::1/64 (link)`, or why there is nothing to show. */
export const describeAddresses = (status: string, network: Network, iface: string): string => {
  const nic = network[iface]
  if (nic === undefined) {
    const names = Object.keys(network)
    return `status ${status}; no interface ${iface} (interfaces: ${names.length === 0 ? "none" : names.join(", ")})`
  }
  const addresses = nic.addresses.map((a) => `${a.address}/${a.netmask} (${a.scope})`)
  return `${iface}${nic.state === "" ? "" : ` (${nic.state})`}: ${
    addresses.length === 0 ? "no addresses" : addresses.join(", ")
  }`
}

export const TypeId: unique symbol = Symbol.for("effect-lxd/Readiness")

export type TypeId = typeof TypeId

/**
 * What one check saw.
 */
export interface Probe {
  readonly ready: boolean
  /** The condition checked (for `all`: the first one that did not hold). */
  readonly condition: string
  /** What was seen, in words (`status Stopped`, `eth0: fe80::1/64 (link)`). */
  readonly observed: string
}

/**
 * What a check can use: the instance's name and the services of the connection.
 */
export interface Context {
  readonly instance: string
  /** The instance's state (`GET /1.0/instances/<name>/state`). */
  readonly state: Effect.Effect<InstanceState, RequestError>
  /** Run a command in it, output discarded; succeeds with its exit status. */
  readonly exec: (
    command: ReadonlyArray<string>,
    environment?: Readonly<Record<string, string>> | undefined
  ) => Effect.Effect<number, RequestError>
}

/**
 * The errors that end a wait at once instead of counting as "not yet".
 */
export type FatalError = NotFound | InvalidArgument | ExtensionNotAvailable

/**
 * A readiness condition. `R` is what a check of your own needs from the context.
 */
export interface Readiness<R = never> {
  readonly [TypeId]: TypeId
  /** The condition, in words. */
  readonly condition: string
  /** Check once. */
  readonly probe: (context: Context) => Effect.Effect<Probe, FatalError, R>
}

/**
 * A readiness condition from a label and a check.
 */
export const make = <R>(
  condition: string,
  probe: (context: Context) => Effect.Effect<Probe, FatalError, R>
): Readiness<R> => ({ [TypeId]: TypeId, condition, probe })

const isFatal = (e: { readonly _tag: string }): e is FatalError =>
  e._tag === "NotFound" || e._tag === "InvalidArgument" || e._tag === "ExtensionNotAvailable"

/** A server error is an observation ("not yet"); fatal errors end the wait. */
const observeFailure = <E extends { readonly _tag: string; readonly message: string }>(condition: string) =>
(
  effect: Effect.Effect<Probe, E>
): Effect.Effect<Probe, FatalError> =>
  Effect.catchAll(
    effect,
    (e) =>
      isFatal(e) ? Effect.fail(e) : Effect.succeed({ ready: false, condition, observed: `${e._tag}: ${e.message}` })
  )

/**
 * The instance is running (`status` `Running` in its state).
 */
export const running: Readiness = make("running", ({ state }) =>
  state.pipe(
    Effect.map((state): Probe => ({
      ready: state.status === "Running",
      condition: "running",
      observed: `status ${state.status}`
    })),
    observeFailure("running")
  ))

export interface AddressOptions {
  /** The interface inside the instance, as the state's `network` names it (`eth0`). */
  readonly interface: string
  /** `inet` (IPv4, the default) or `inet6`. */
  readonly family?: "inet" | "inet6" | undefined
  /**
   * Which scopes count: by default only `global` (a link-local `fe80::` address, which
   * every interface has as soon as it is up, does not).
   */
  readonly scopes?: ReadonlyArray<string> | undefined
}

/**
 * The interface has an address of the family (and scope), as the instance's state reports
 * it. The address itself is in the state: `Instances.state(name)`.
 */
export const address = (options: AddressOptions): Readiness => {
  const family = options.family ?? "inet"
  const scopes = options.scopes ?? ["global"]
  const condition = `${family} address (${scopes.join("/")}) on ${options.interface}`
  return make(condition, ({ state }) =>
    state.pipe(
      Effect.map((state): Probe => ({
        ready: matchingAddresses(state.network, options.interface, family, scopes).length > 0,
        condition,
        observed: describeAddresses(state.status, state.network, options.interface)
      })),
      observeFailure(condition)
    ))
}

/**
 * A command run in the instance (detached, its output not recorded) exits with status 0.
 */
export const command = (
  argv: ReadonlyArray<string>,
  options?: { readonly environment?: Readonly<Record<string, string>> | undefined }
): Readiness => {
  const condition = `command ${JSON.stringify(argv)} succeeds`
  return make(condition, ({ exec }) =>
    exec(argv, options?.environment).pipe(
      Effect.map((exitCode): Probe => ({ ready: exitCode === 0, condition, observed: `exit ${exitCode}` })),
      observeFailure(condition)
    ))
}

/**
 * An Effect of your own: ready when it succeeds, not yet when it fails (its error is
 * the observation). It may use the instance's name and the services.
 */
export const check = <A, E, R>(
  condition: string,
  effect: Effect.Effect<A, E, R> | ((context: Context) => Effect.Effect<A, E, R>)
): Readiness<R> =>
  make(condition, (context) =>
    (Effect.isEffect(effect) ? effect : effect(context)).pipe(
      Effect.match({
        onFailure: (e): Probe => ({ ready: false, condition, observed: describeFailure(e) }),
        onSuccess: (): Probe => ({ ready: true, condition, observed: "succeeded" })
      })
    ))

const describeFailure = (e: unknown): string =>
  e instanceof Error ? `${e.name}: ${e.message}` : typeof e === "string" ? e : JSON.stringify(e) ?? String(e)

/**
 * What a condition needs from the context.
 */
export type Requirements<T> = T extends Readiness<infer R> ? R : never

/**
 * Every condition, checked in order; the first that does not hold is the one reported.
 */
export const all = <const Rs extends ReadonlyArray<Readiness<unknown>>>(
  ...conditions: Rs
): Readiness<Requirements<Rs[number]>> =>
  // each probe's requirement is one of the union's members
  make<Requirements<Rs[number]>>(conditions.map((c) => c.condition).join(" and "), (context) =>
    Effect.gen(function*() {
      let last: Probe = { ready: true, condition: "nothing", observed: "no conditions" }
      for (const c of conditions) {
        last = yield* (c.probe(context) as Effect.Effect<Probe, FatalError, Requirements<Rs[number]>>)
        if (!last.ready) return last
      }
      return last
    }))
