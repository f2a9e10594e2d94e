/**
 * Conditions an instance must meet before a launch counts as done (`Launch.untilReady`,
 * `Launch.waitReady`): it is running, an interface has an address, a command succeeds,
 * or an Effect of your own succeeds. Combine several with `all`.
 *
 * Each check answers "ready" or "not yet, and this is what I saw"; the launch repeats it
 * on its schedule until it holds or time runs out, then fails with `NotReady` naming the
 * condition and the last observation. A server error during a check (the instance is
 * still booting, the connection blinked) counts as "not yet"; an instance that does not
 * exist, or a check that cannot be sent at all (`InvalidArgument`), ends the wait at once.
 *
 * @example
 * ```ts
 * import { Readiness } from "effect-lxd"
 *
 * // running, with a global IPv4 address on eth0, and sshd answering
 * export const ready = Readiness.all(
 *   Readiness.running,
 *   Readiness.address({ interface: "eth0", family: "inet" }),
 *   Readiness.command(["sh", "-c", "pidof sshd"])
 * )
 * ```
 *
 * @since 0.1.0
 */
import {
  address,
  type AddressOptions,
  all,
  check,
  command,
  type Context,
  type FatalError,
  make,
  type Probe,
  type Readiness,
  type Requirements,
  running,
  TypeId
} from "./internal/readiness.js"

export {
  /**
   * The interface has an address of the family (default `inet`) and scope (default
   * `global` only: a link-local `fe80::` address, which every interface has as soon as
   * it is up, does not count), as the instance's state reports it. The address itself
   * is in the state (`Instances.state`).
   *
   * @since 0.1.0
   * @category conditions
   */
  address,
  /**
   * Every condition, checked in order; the first that does not hold is the one reported.
   *
   * @since 0.1.0
   * @category combinators
   */
  all,
  /**
   * An Effect of your own (or a function of the check's context returning one): ready
   * when it succeeds, not yet when it fails, its error being the observation.
   *
   * @since 0.1.0
   * @category conditions
   */
  check,
  /**
   * A command run in the instance exits with status 0 (its output is discarded; the
   * observation is the exit status).
   *
   * @since 0.1.0
   * @category conditions
   */
  command,
  /**
   * A condition from its label and a check of your own that sees the context.
   *
   * @since 0.1.0
   * @category constructors
   */
  make,
  /**
   * The instance is running (`status` `Running` in its state).
   *
   * @since 0.1.0
   * @category conditions
   */
  running,
  /**
   * @since 0.1.0
   * @category type ids
   */
  TypeId
}

export type {
  /**
   * @since 0.1.0
   * @category options
   */
  AddressOptions,
  /**
   * What a check can use: the instance's name, its state, and a way to run a command.
   *
   * @since 0.1.0
   * @category models
   */
  Context,
  /**
   * The errors that end a wait at once instead of counting as "not yet": the instance
   * does not exist, or the check cannot be sent.
   *
   * @since 0.1.0
   * @category errors
   */
  FatalError,
  /**
   * What one check saw: ready or not, the condition (for `all`, the first that did not
   * hold) and the observation in words.
   *
   * @since 0.1.0
   * @category models
   */
  Probe,
  /**
   * A readiness condition; `R` is what a check of your own needs.
   *
   * @since 0.1.0
   * @category models
   */
  Readiness,
  /**
   * What a condition needs from the context.
   *
   * @since 0.1.0
   * @category models
   */
  Requirements
}
