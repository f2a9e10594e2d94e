/**
 * Commands that outlive the program that started them: LXD's exec without websockets
 * (`wait-for-websocket: false`), with the output kept in log files on the server
 * (`record-output: true`).
 *
 * `start` returns as soon as the server has started the command, with a handle naming
 * its operation; nothing is attached, so closing a scope, interrupting a fiber or ending
 * the program leaves the command running. Later (from another fiber, or another program
 * that only knows the operation id) `get` tells its state, `wait` its exit code, and
 * `output` / `outputText` read what it wrote; `deleteOutput` removes the log files, which
 * the server otherwise keeps until the instance is deleted.
 *
 * Good to know: the server forgets a finished operation a few seconds after it ends
 * (both LXD and Incus). Until then `wait` gives the exit code; afterwards `get` answers
 * `NotFound` and `wait` gives `Option.none()` (the command has ended, its status is
 * gone), while the recorded output stays readable. Such a command has no input, and no
 * terminal.
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { DetachedExec } from "effect-lxd"
 *
 * const program = Effect.gen(function* () {
 *   const detached = yield* DetachedExec.DetachedExec
 *   const job = yield* detached.start("web1", ["sh", "-c", "sleep 5; echo done"])
 *   // ... later, anywhere that knows job.operationId
 *   const code = yield* detached.wait(job.operationId) // Option.some(0)
 *   const { stdout } = yield* detached.outputText("web1", job.operationId) // "done\n"
 *   yield* detached.deleteOutput("web1", job.operationId)
 *   return { code: Option.getOrNull(code), stdout }
 * })
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { concatBytes } from "./internal/bytes.js"
import { instanceOf, outputFiles } from "./internal/detachedExec.js"
import type { Operation } from "./internal/envelope.js"
import { checkExec, execBody } from "./internal/execRequest.js"
import { path } from "./internal/path.js"
import { traced } from "./internal/tracing.js"
import { type ExtensionNotAvailable, InvalidArgument, NotFound, type RequestError } from "./LxdError.js"
import { LxdHttp } from "./LxdHttp.js"
import { Operations } from "./Operations.js"

/**
 * How to run a detached command.
 *
 * @since 0.1.0
 * @category options
 */
export interface StartOptions {
  /** Extra environment variables (LXD adds `PATH`, `LANG`, `HOME`, `USER` defaults). */
  readonly environment?: Readonly<Record<string, string>> | undefined
  /** Working directory (absolute). Needs extension `container_exec_user_group_cwd`. */
  readonly cwd?: string | undefined
  /** Numeric user id to run as. Needs extension `container_exec_user_group_cwd`. */
  readonly user?: number | undefined
  /** Numeric group id to run as. Needs extension `container_exec_user_group_cwd`. */
  readonly group?: number | undefined
  /**
   * Keep the output in log files on the server (default `true`; needs extension
   * `container_exec_recording`). With `false` the output is thrown away.
   */
  readonly recordOutput?: boolean | undefined
}

/**
 * A detached command: what is needed to find it again.
 *
 * @since 0.1.0
 * @category models
 */
export interface DetachedCommand {
  /** The server's operation id: `get`, `wait` and `output` take it. */
  readonly operationId: string
  /** The instance it runs in. */
  readonly instance: string
  /** Whether its output is recorded. */
  readonly recordOutput: boolean
}

/**
 * A detached command's state, as long as the server remembers its operation.
 *
 * @since 0.1.0
 * @category models
 */
export interface DetachedStatus {
  readonly operationId: string
  /** The instance it runs in (from the operation's resources), when the server says. */
  readonly instance: Option.Option<string>
  /** Whether the command still runs. */
  readonly running: boolean
  /** The operation's status (`Running`, `Success`, `Failure`). */
  readonly status: string
  /** The exit status, once the command has ended. */
  readonly exitCode: Option.Option<number>
}

/**
 * What a detached command wrote, read back from the server's log files.
 *
 * @since 0.1.0
 * @category models
 */
export interface Output<A> {
  readonly stdout: A
  readonly stderr: A
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /**
   * Start `command` in `instance` and return at once: the command runs on whatever
   * happens to this fiber or program.
   */
  readonly start: (
    instance: string,
    command: ReadonlyArray<string>,
    options?: StartOptions
  ) => Effect.Effect<DetachedCommand, RequestError | InvalidArgument | ExtensionNotAvailable>
  /** The command's state; `NotFound` once the server has forgotten the (finished) operation. */
  readonly get: (operationId: string) => Effect.Effect<DetachedStatus, RequestError>
  /**
   * Wait until the command has ended: its exit status, or `Option.none()` when the server
   * has already forgotten it. Interrupting the wait leaves the command running.
   */
  readonly wait: (operationId: string) => Effect.Effect<Option.Option<number>, RequestError>
  /**
   * The recorded output (whole files; call it once the command has ended). `NotFound`
   * when the instance keeps no output of that operation.
   */
  readonly output: (instance: string, operationId: string) => Effect.Effect<Output<Uint8Array>, RequestError>
  /** `output`, decoded as UTF-8 (or `encoding`, any `TextDecoder` label). */
  readonly outputText: (
    instance: string,
    operationId: string,
    encoding?: string
  ) => Effect.Effect<Output<string>, RequestError | InvalidArgument>
  /** Delete the recorded output's log files (a file already gone is not an error). */
  readonly deleteOutput: (instance: string, operationId: string) => Effect.Effect<void, RequestError>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class DetachedExec extends Context.Tag("effect-lxd/DetachedExec")<DetachedExec, Service>() {}

const ExitMetadata = Schema.Struct({ return: Schema.Number })

const exitCodeOf = (op: Operation): Option.Option<number> =>
  Schema.decodeUnknownOption(ExitMetadata)(op.metadata).pipe(
    Option.map((m) => m.return),
    Option.filter((n) => n >= 0)
  )

/** The exec request of a detached command. */
const requestBody = (command: ReadonlyArray<string>, options: StartOptions | undefined): Record<string, unknown> => ({
  ...execBody(command, options),
  interactive: false,
  "wait-for-websocket": false,
  "record-output": options?.recordOutput !== false
})

const makeDecoder = (encoding: string): Effect.Effect<TextDecoder, InvalidArgument> =>
  Effect.try({
    try: () => new TextDecoder(encoding),
    catch: () => new InvalidArgument({ argument: "encoding", reason: `"${encoding}" is not a known text encoding` })
  })

/**
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Service, never, LxdHttp | Operations> = Effect.gen(function*() {
  const http = yield* LxdHttp
  const ops = yield* Operations

  const start = (instance: string, command: ReadonlyArray<string>, options?: StartOptions) =>
    Effect.gen(function*() {
      yield* checkExec(instance, command, options)
      if (options?.cwd !== undefined || options?.user !== undefined || options?.group !== undefined) {
        yield* http.requireExtension("container_exec_user_group_cwd")
      }
      const recordOutput = options?.recordOutput !== false
      if (recordOutput) yield* http.requireExtension("container_exec_recording")
      const operation = yield* ops.startOperation({
        method: "POST",
        path: path`/1.0/instances/${instance}/exec`,
        body: requestBody(command, options)
      })
      return { operationId: operation.id, instance, recordOutput } satisfies DetachedCommand
    })

  const statusOf = (op: Operation): DetachedStatus => ({
    operationId: op.id,
    instance: Option.fromNullable(instanceOf(op)),
    running: !op.isFinal,
    status: op.status,
    exitCode: op.isFinal ? exitCodeOf(op) : Option.none()
  })

  const get = (operationId: string) =>
    Effect.annotateCurrentSpan("lxd.operation.id", operationId).pipe(
      Effect.zipRight(ops.get(operationId)),
      Effect.map(statusOf)
    )

  // a command that could not be run fails its operation, yet the server still reports
  // the shell's status (127, 126): that is an exit status, not an error
  const wait = (operationId: string) =>
    Effect.annotateCurrentSpan("lxd.operation.id", operationId).pipe(
      Effect.zipRight(ops.wait(operationId, { cancelOnInterrupt: false })),
      Effect.map(exitCodeOf),
      // forgotten before its end was seen: the exit status is lost (documented as none)
      Effect.catchTag("OperationOutcomeUnknown", () => Effect.succeed(Option.none<number>())),
      Effect.catchTag("LXDAPIException", (failure) =>
        failure.operationId === operationId
          ? ops.get(operationId).pipe(
            Effect.flatMap((op) =>
              Option.match(exitCodeOf(op), {
                onNone: () => Effect.fail(failure),
                onSome: (code) => Effect.succeed(Option.some(code))
              })
            ),
            Effect.catchAll(() => Effect.fail(failure))
          )
          : Effect.fail(failure))
    )

  const logsPath = (instance: string) => path`/1.0/instances/${instance}/logs`
  // Incus (and newer LXD) keep exec output under logs/exec-output; LXD 5.0 in logs itself
  // (and refuses exec-output as a log name)
  const listLogs = (instance: string) =>
    Effect.all([
      http.sync({ method: "GET", path: logsPath(instance) }, Schema.Array(Schema.String)),
      http.sync({ method: "GET", path: `${logsPath(instance)}/exec-output` }, Schema.Array(Schema.String)).pipe(
        Effect.catchTags({
          NotFound: () => Effect.succeed([]),
          LXDAPIException: (e) => e.status === 400 ? Effect.succeed([]) : Effect.fail(e)
        })
      )
    ]).pipe(Effect.map(([a, b]) => [...a, ...b]))

  const filesOf = (instance: string, operationId: string) =>
    Effect.gen(function*() {
      const files = outputFiles(instance, operationId, yield* listLogs(instance))
      if (files.stdout === undefined && files.stderr === undefined) {
        return yield* Effect.fail(
          new NotFound({
            method: "GET",
            path: logsPath(instance),
            resource: `Output of operation "${operationId}"`,
            serverMessage: `instance "${instance}" keeps no recorded output of operation ${operationId}`
          })
        )
      }
      return files
    })

  const readFile = (file: string | undefined) =>
    file === undefined ? Effect.succeed(new Uint8Array(0)) : Effect.scoped(
      Effect.flatMap(
        http.raw({ method: "GET", path: file }),
        (res) => Stream.runCollect(res.body).pipe(Effect.map((c) => concatBytes(Array.from(c))))
      )
    )

  const output = (instance: string, operationId: string) =>
    Effect.gen(function*() {
      const files = yield* filesOf(instance, operationId)
      const [stdout, stderr] = yield* Effect.all([readFile(files.stdout), readFile(files.stderr)], {
        concurrency: 2
      })
      return { stdout, stderr }
    })

  const outputText = (instance: string, operationId: string, encoding = "utf-8") =>
    Effect.gen(function*() {
      yield* makeDecoder(encoding)
      const bytes = yield* output(instance, operationId)
      return {
        stdout: (yield* makeDecoder(encoding)).decode(bytes.stdout),
        stderr: (yield* makeDecoder(encoding)).decode(bytes.stderr)
      }
    })

  const deleteOutput = (instance: string, operationId: string) =>
    Effect.gen(function*() {
      const files = yield* filesOf(instance, operationId).pipe(
        Effect.catchTag("NotFound", () => Effect.succeed({ stdout: undefined, stderr: undefined }))
      )
      for (const file of [files.stdout, files.stderr]) {
        if (file !== undefined) {
          yield* http.send({ method: "DELETE", path: file }).pipe(Effect.catchTag("NotFound", () => Effect.void))
        }
      }
    })

  return DetachedExec.of(
    traced("DetachedExec", { start, get, wait, output, outputText, deleteOutput }, {
      nameAttribute: "lxd.instance",
      unrecorded: ["get", "wait"]
    })
  )
})

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<DetachedExec, never, LxdHttp | Operations> = Layer.effect(DetachedExec, make)
