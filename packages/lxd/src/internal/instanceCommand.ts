/**
 * `@effect/platform`'s `CommandExecutor` over `Exec` (see `Exec.commandExecutor`): how a
 * platform `Command` becomes LXD's exec request (the argument vector and the
 * environment), signal names as Linux numbers, our errors as the platform's
 * `PlatformError`, and the `Process` built on `Exec.start`.
 */
import * as Command from "@effect/platform/Command"
import * as CommandExecutor from "@effect/platform/CommandExecutor"
import * as PlatformError from "@effect/platform/Error"
import * as Effect from "effect/Effect"
import { pipe } from "effect/Function"
import * as HashMap from "effect/HashMap"
import * as Inspectable from "effect/Inspectable"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import type { Service as ExecService } from "../Exec.js"
import type { ExtensionNotAvailable, InvalidArgument, RequestError } from "../LxdError.js"

/** What LXD's exec is asked to run for one platform command. */
export interface ExecRequest {
  readonly argv: ReadonlyArray<string>
  readonly environment: Readonly<Record<string, string>>
  readonly cwd: string | undefined
  readonly user: number | undefined
  readonly group: number | undefined
}

/** Defaults for commands that do not say (from the executor's options). */
export interface ExecDefaults {
  readonly environment?: Readonly<Record<string, string>> | undefined
  readonly cwd?: string | undefined
  readonly user?: number | undefined
  readonly group?: number | undefined
}

/**
 * The argument vector and environment for one command.
 *
 * - `shell: true` runs `/bin/sh -c "<command> <args...>"` (joined with spaces, as Node
 *   does); `shell: "/bin/bash"` names the shell.
 * - `extendEnv: false` (a clean environment) runs the command under `env -i K=V ...`:
 *   LXD always adds `PATH`, `HOME`, `LANG` and `USER` to an exec's environment, so the
 *   only way to drop them is inside the instance. The host's own environment is never
 *   sent, whatever `extendEnv` says.
 */
export const execRequest = (command: Command.StandardCommand, defaults: ExecDefaults = {}): ExecRequest => {
  const environment: Record<string, string> = { ...defaults.environment }
  for (const [key, value] of HashMap.toEntries(command.env)) environment[key] = value
  const base = command.shell === false
    ? [command.command, ...command.args]
    : [command.shell === true ? "/bin/sh" : command.shell, "-c", [command.command, ...command.args].join(" ")]
  const argv = command.extendEnv
    ? base
    : ["env", "-i", ...Object.entries(environment).map(([k, v]) => `${k}=${v}`), ...base]
  return {
    argv,
    environment: command.extendEnv ? environment : {},
    cwd: Option.getOrElse(command.cwd, () => defaults.cwd),
    user: Option.getOrElse(command.uid, () => defaults.user),
    group: Option.getOrElse(command.gid, () => defaults.group)
  }
}

/** Linux signal numbers (the instance's kernel is Linux whatever the host). */
const SIGNALS: Readonly<Partial<Record<CommandExecutor.Signal, number>>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGILL: 4,
  SIGTRAP: 5,
  SIGABRT: 6,
  SIGIOT: 6,
  SIGBUS: 7,
  SIGFPE: 8,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGSEGV: 11,
  SIGUSR2: 12,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
  SIGSTKFLT: 16,
  SIGCHLD: 17,
  SIGCONT: 18,
  SIGSTOP: 19,
  SIGTSTP: 20,
  SIGTTIN: 21,
  SIGTTOU: 22,
  SIGURG: 23,
  SIGXCPU: 24,
  SIGXFSZ: 25,
  SIGVTALRM: 26,
  SIGPROF: 27,
  SIGWINCH: 28,
  SIGIO: 29,
  SIGPOLL: 29,
  SIGPWR: 30,
  SIGSYS: 31,
  SIGUNUSED: 31
}

/** The Linux number of a signal; none for the names Linux lacks (`SIGBREAK`, `SIGINFO`, `SIGLOST`). */
export const signalNumber = (signal: CommandExecutor.Signal): Option.Option<number> =>
  Option.fromNullable(SIGNALS[signal])

const reasonOf = (error: RequestError): PlatformError.SystemErrorReason => {
  switch (error._tag) {
    case "NotFound":
      return "NotFound"
    case "DecodeError":
      return "InvalidData"
    case "Forbidden":
      return "PermissionDenied"
    case "Conflict":
    case "PreconditionFailed":
      return "Busy"
    case "TransportError":
      return /within/.test(error.reason) ? "TimedOut" : "Unknown"
    case "LXDAPIException":
    case "OperationOutcomeUnknown":
    case "ExtensionNotAvailable":
    case "InvalidArgument":
      return "Unknown"
  }
}

/**
 * One of our errors as a `PlatformError` of module `Command`: a refused argument (or an
 * extension the server lacks for it) is a `BadArgument`, anything the server or the
 * connection said a `SystemError`. The description names the program (never its
 * arguments, which may hold secrets) and the instance, then our own message; the
 * original error is the `cause`.
 */
export const toPlatformError = (
  method: string,
  where: { readonly instance: string; readonly program: string },
  error: RequestError | InvalidArgument | ExtensionNotAvailable
): PlatformError.PlatformError => {
  const description = `"${where.program}" in instance "${where.instance}": ${error.message}`
  if (error._tag === "InvalidArgument" || error._tag === "ExtensionNotAvailable") {
    return new PlatformError.BadArgument({ module: "Command", method, description, cause: error })
  }
  return new PlatformError.SystemError({
    reason: reasonOf(error),
    module: "Command",
    method,
    description,
    cause: error
  })
}

/** The process id the platform's `Process` reports: LXD does not tell the command's own. */
export const unknownPid: CommandExecutor.ProcessId = CommandExecutor.ProcessId(-1)

const ProcessProto = {
  [CommandExecutor.ProcessTypeId]: CommandExecutor.ProcessTypeId,
  ...Inspectable.BaseProto,
  toJSON(this: CommandExecutor.Process & { readonly instance: string; readonly operationId: string }) {
    return {
      _id: "@effect/platform/CommandExecutor/Process",
      pid: this.pid,
      instance: this.instance,
      operationId: this.operationId
    }
  }
}

const badSignal = (instance: string, program: string, signal: string) =>
  new PlatformError.BadArgument({
    module: "Command",
    method: "kill",
    description: `"${program}" in instance "${instance}": ${signal} does not exist on Linux`
  })

/** Write every chunk of a stream to one of this process's own output streams. */
const copyTo = (target: NodeJS.WritableStream) => (stream: Stream.Stream<Uint8Array, PlatformError.PlatformError>) =>
  Stream.runForEach(stream, (chunk) => Effect.sync(() => target.write(chunk)))

const startStandard = (
  exec: ExecService,
  instance: string,
  options: ExecDefaults,
  command: Command.StandardCommand
): Effect.Effect<CommandExecutor.Process, PlatformError.PlatformError, Scope.Scope> =>
  Effect.gen(function*() {
    const request = execRequest(command, options)
    const where = { instance, program: command.command }
    const fail = (method: string) => (error: Parameters<typeof toPlatformError>[2]) =>
      toPlatformError(method, where, error)

    const proc = yield* exec.start(instance, request.argv, {
      environment: request.environment,
      cwd: request.cwd,
      user: request.user,
      group: request.group
    }).pipe(Effect.mapError(fail("start")))

    const rawStdout = Stream.mapError(proc.stdout, fail("stdout"))
    const rawStderr = Stream.mapError(proc.stderr, fail("stderr"))
    const output = (
      raw: Stream.Stream<Uint8Array, PlatformError.PlatformError>,
      how: Command.Command.Output,
      target: NodeJS.WritableStream
    ) =>
      Effect.gen(function*() {
        if (how === "pipe") return raw
        if (how === "inherit") {
          yield* Effect.forkScoped(Effect.ignore(copyTo(target)(raw)))
          return Stream.empty
        }
        return Stream.transduce(raw, how)
      })
    const stdout = yield* output(rawStdout, command.stdout, process.stdout)
    const stderr = yield* output(rawStderr, command.stderr, process.stderr)

    const exitCode = proc.exitCode.pipe(
      Effect.map(CommandExecutor.ExitCode),
      Effect.mapError(fail("exitCode"))
    )
    const kill = (signal: CommandExecutor.Signal = "SIGTERM") =>
      Option.match(signalNumber(signal), {
        onNone: () => Effect.fail(badSignal(instance, command.command, signal)),
        onSome: (n) =>
          proc.signal(n).pipe(
            Effect.mapError(fail("kill")),
            Effect.zipRight(Effect.ignore(proc.exitCode))
          )
      })
    const stdin: Sink.Sink<void, Uint8Array, never, PlatformError.PlatformError> = Sink.mapError(
      proc.stdin,
      fail("stdin")
    )

    // the command may end without reading all of its input: that is not its error
    if (typeof command.stdin !== "string") {
      yield* Effect.forkScoped(Effect.ignore(Stream.run(command.stdin, stdin)))
    }

    const result: CommandExecutor.Process & { readonly instance: string; readonly operationId: string } = Object
      .assign(Object.create(ProcessProto), {
        pid: unknownPid,
        instance,
        operationId: proc.operationId,
        exitCode,
        isRunning: proc.isRunning,
        kill,
        stdin,
        stdout,
        stderr
      })
    return result
  }).pipe(
    Effect.withSpan("Exec.commandExecutor.start", {
      attributes: { "lxd.instance": instance, "lxd.command": command.command }
    })
  )

/**
 * Start a platform command in `instance`. A pipeline runs each command of it there, the
 * output of one the input of the next, and gives the last one's process.
 */
export const startCommand = (exec: ExecService, instance: string, options: ExecDefaults) => {
  const run = (
    command: Command.Command
  ): Effect.Effect<CommandExecutor.Process, PlatformError.PlatformError, Scope.Scope> => {
    if (command._tag === "StandardCommand") return startStandard(exec, instance, options, command)
    const [head, ...tail] = Command.flatten(command)
    if (tail.length === 0) return startStandard(exec, instance, options, head)
    const last = tail[tail.length - 1]!
    const input = tail.slice(0, -1).reduce(
      (stdin, next) => pipe(Command.stdin(next, stdin), run, Effect.map((p) => p.stdout), Stream.unwrapScoped),
      pipe(run(head), Effect.map((p) => p.stdout), Stream.unwrapScoped)
    )
    return run(Command.stdin(last, input))
  }
  return run
}
