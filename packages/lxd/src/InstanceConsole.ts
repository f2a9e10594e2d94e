/**
 * An instance's console: attach to it (scoped: an output Stream, an input Sink, resize)
 * and read or clear the console log.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { InstanceConsole } from "effect-lxd"
 *
 * const program = Effect.gen(function* () {
 *   const consoles = yield* InstanceConsole.InstanceConsole
 *   console.log(yield* consoles.log("web1"))          // what the instance printed so far
 *   yield* Effect.scoped(Effect.gen(function* () {
 *     const session = yield* consoles.attach("web1", { width: 80, height: 24 })
 *     yield* Stream.make(new TextEncoder().encode("\n")).pipe(Stream.run(session.input))
 *     yield* session.output.pipe(Stream.take(1), Stream.runDrain)
 *   }))                                                 // detached here
 * })
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import { clearConsoleLog, readConsoleLog } from "./internal/consoleLog.js"
import type { Operation } from "./internal/envelope.js"
import { path } from "./internal/path.js"
import { connectFds, readBytes, resizeMessage, writeBytes } from "./internal/stream-socket.js"
import { traced } from "./internal/tracing.js"
import { checkName } from "./internal/validation.js"
import { InvalidArgument, type RequestError, type TransportError } from "./LxdError.js"
import { LxdHttp } from "./LxdHttp.js"
import { Operations } from "./Operations.js"

/**
 * An attached console. Detach by closing the scope.
 *
 * @since 0.1.0
 * @category models
 */
export interface Session {
  /** The server's operation id for this session. */
  readonly operationId: string
  /** What the console prints, with backpressure. Ends when the session ends. */
  readonly output: Stream.Stream<Uint8Array, TransportError>
  /** Keystrokes for the console. */
  readonly input: Sink.Sink<void, Uint8Array, never, TransportError>
  /** Resize the console's terminal. */
  readonly resize: (cols: number, rows: number) => Effect.Effect<void, TransportError>
}

/**
 * @since 0.1.0
 * @category options
 */
export interface AttachOptions {
  /** Terminal width in columns. */
  readonly width?: number | undefined
  /** Terminal height in rows. */
  readonly height?: number | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /**
   * Attach to the console of a running instance (`POST /1.0/instances/<n>/console`).
   * Closing the scope detaches and ends the server's operation.
   */
  readonly attach: (
    instance: string,
    options?: AttachOptions
  ) => Effect.Effect<Session, RequestError | InvalidArgument, Scope.Scope>
  /** The console log: what the instance printed on its console (`GET …/console`). */
  readonly log: (instance: string) => Effect.Effect<string, RequestError | InvalidArgument>
  /** Empty the console log (`DELETE …/console`). */
  readonly clearLog: (instance: string) => Effect.Effect<void, RequestError | InvalidArgument>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class InstanceConsole extends Context.Tag("effect-lxd/InstanceConsole")<InstanceConsole, Service>() {}

const checkInstance = (instance: string) => checkName(instance, "instance")

/**
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Service, never, LxdHttp | Operations> = Effect.gen(function*() {
  const http = yield* LxdHttp
  const ops = yield* Operations

  const consolePath = (instance: string) => path`/1.0/instances/${instance}/console`

  const attach = (instance: string, options?: AttachOptions) =>
    Effect.gen(function*() {
      yield* checkInstance(instance)
      const p = consolePath(instance)
      const operation = yield* ops.startOperation({
        method: "POST",
        path: p,
        body: { width: options?.width ?? 80, height: options?.height ?? 24, type: "console" }
      })
      const finished = yield* Deferred.make<Operation, RequestError>()
      yield* ops.wait(operation, { cancelOnInterrupt: false }).pipe(Effect.intoDeferred(finished), Effect.forkScoped)
      const sockets = yield* connectFds(http, operation, ["0", "control"] as const, { method: "POST", path: p })
      // detaching: closing control ends the session on the server; then see it end
      yield* Effect.addFinalizer(() =>
        Effect.gen(function*() {
          yield* sockets.control.close
          yield* sockets["0"].close
          // interruptible inside the timeout: a release runs uninterruptibly, and the
          // timeout could not end the wait otherwise (a server that never ends the
          // operation held the detach for ever)
          yield* Effect.interruptible(Deferred.await(finished)).pipe(Effect.timeout("1 second"), Effect.ignore)
        })
      )
      return {
        operationId: operation.id,
        output: readBytes(sockets["0"]),
        input: writeBytes(sockets["0"], "none"),
        resize: (cols: number, rows: number) => sockets.control.send(resizeMessage(cols, rows))
      } satisfies Session
    })

  const log = (instance: string) => Effect.zipRight(checkInstance(instance), readConsoleLog(http, instance))

  const clearLog = (instance: string) => Effect.zipRight(checkInstance(instance), clearConsoleLog(http, instance))

  return InstanceConsole.of(traced("InstanceConsole", { attach, log, clearLog }, { nameAttribute: "lxd.instance" }))
})

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<InstanceConsole, never, LxdHttp | Operations> = Layer.effect(InstanceConsole, make)
