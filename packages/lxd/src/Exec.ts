/**
 * Run commands inside instances (`POST /1.0/instances/<name>/exec`).
 *
 * `start` gives a scoped process handle shaped like `@effect/platform`'s
 * `CommandExecutor.Process`: `stdin` is a Sink, `stdout` and `stderr` are Streams of
 * bytes with backpressure (a slow reader pauses the websocket, so nothing piles up in
 * memory), `exitCode` waits until the command has ended and its output is drained,
 * `signal` and `resize` speak LXD's control socket. Closing the scope closes every
 * socket; if the command is still running then, it is killed (SIGKILL) and the server's
 * operation ends.
 *
 * Interruption: `start` and `run` may be interrupted at any moment (during the request,
 * while the websockets attach, while the command runs) and return within 2 seconds,
 * whatever the server does (one that ignores close frames or never ends the operation
 * included). A command that may have started is killed: SIGKILL on the control socket,
 * then the control socket is cut without a close frame, on which LXD and Incus kill the
 * command; the wait for its operation to end is bounded (1 second).
 *
 * `run` collects everything, like pylxd's `execute`: `{ exitCode, stdout, stderr }`,
 * decoded as UTF-8 unless told otherwise, or raw bytes with `decode: false`.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { Exec } from "effect-lxd"
 *
 * const program = Effect.gen(function* () {
 *   const exec = yield* Exec.Exec
 *   // collect
 *   const { exitCode, stdout } = yield* exec.run("web1", ["uname", "-a"])
 *   // or stream, live
 *   yield* Effect.scoped(Effect.gen(function* () {
 *     const proc = yield* exec.start("web1", ["sh", "-c", "for i in 1 2 3; do echo $i; sleep 1; done"])
 *     yield* proc.stdout.pipe(Stream.decodeText(), Stream.runForEach((s) => Effect.log(s)))
 *     return yield* proc.exitCode
 *   }))
 * })
 * ```
 *
 * @since 0.1.0
 */
import * as CommandExecutor from "@effect/platform/CommandExecutor"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import type * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import { concatBytes } from "./internal/bytes.js"
import type { Operation } from "./internal/envelope.js"
import { checkExec, execBody } from "./internal/execRequest.js"
import * as CommandInternal from "./internal/instanceCommand.js"
import { path, withoutQuery } from "./internal/path.js"
import { connectFds, readBytes, resizeMessage, signalMessage, writeBytes } from "./internal/stream-socket.js"
import { traced } from "./internal/tracing.js"
import {
  DecodeError,
  type ExtensionNotAvailable,
  InvalidArgument,
  type RequestError,
  type TransportError
} from "./LxdError.js"
import { LxdHttp, type LxdWebSocket } from "./LxdHttp.js"
import { Operations } from "./Operations.js"

/**
 * How to run the command.
 *
 * @since 0.1.0
 * @category options
 */
export interface ExecOptions {
  /** Extra environment variables (LXD adds `PATH`, `LANG`, `HOME`, `USER` defaults). */
  readonly environment?: Readonly<Record<string, string>> | undefined
  /** Working directory (absolute). Needs extension `container_exec_user_group_cwd`. */
  readonly cwd?: string | undefined
  /** Numeric user id to run as. Needs extension `container_exec_user_group_cwd`. */
  readonly user?: number | undefined
  /** Numeric group id to run as. Needs extension `container_exec_user_group_cwd`. */
  readonly group?: number | undefined
  /**
   * Run on a pseudo-terminal: one bidirectional stream (`stdout` carries both output
   * streams, `stderr` is empty), `resize` works, end of input is the terminal's `0x04`.
   */
  readonly interactive?: boolean | undefined
  /** Initial terminal width in columns (interactive). */
  readonly width?: number | undefined
  /** Initial terminal height in rows (interactive). */
  readonly height?: number | undefined
}

/**
 * A running command. Shaped like `@effect/platform`'s `CommandExecutor.Process`.
 *
 * Read `stdout` and `stderr` (each once): as with a local child process, a command with
 * much output cannot finish while nobody reads it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Process {
  /** The server's operation id (look it up with `Operations.get`). */
  readonly operationId: string
  /**
   * The command's input. Each chunk is sent as it comes; when the input stream ends, the
   * command sees end of file (non-interactive) or nothing (interactive: send `0x04`).
   */
  readonly stdin: Sink.Sink<void, Uint8Array, never, TransportError>
  /** The command's output (in interactive mode: the terminal's output), with backpressure. */
  readonly stdout: Stream.Stream<Uint8Array, TransportError>
  /** The command's error output (empty in interactive mode). */
  readonly stderr: Stream.Stream<Uint8Array, TransportError>
  /**
   * The exit status, once the command has ended and the output being read has been
   * drained: 128+N when killed by signal N, 127 when the command was not found. Fails
   * with `LXDAPIException` when the command could not be started.
   */
  readonly exitCode: Effect.Effect<number, RequestError>
  /** Whether the command is still running. */
  readonly isRunning: Effect.Effect<boolean>
  /** Send a signal (a number: 15 for SIGTERM, 9 for SIGKILL) to the command. */
  readonly signal: (signal: number) => Effect.Effect<void, TransportError>
  /** Send SIGTERM (default) or another signal; like `Process.kill`. */
  readonly kill: (signal?: number) => Effect.Effect<void, TransportError>
  /** Resize the terminal (interactive mode; LXD ignores it otherwise). */
  readonly resize: (cols: number, rows: number) => Effect.Effect<void, TransportError>
}

/**
 * What `run` feeds the command and does with its output.
 *
 * @since 0.1.0
 * @category options
 */
export interface RunOptions<A> extends ExecOptions {
  /** Input for the command: bytes, a string (UTF-8) or a stream. Without it, stdin is empty. */
  readonly stdin?: Uint8Array | string | Stream.Stream<Uint8Array, TransportError> | undefined
  /**
   * Called with each chunk of output as it arrives, instead of buffering it: that field
   * of the result is then empty.
   */
  readonly onStdout?: ((chunk: A) => Effect.Effect<void>) | undefined
  /** The same for the error output. */
  readonly onStderr?: ((chunk: A) => Effect.Effect<void>) | undefined
  /**
   * Let the server record the output to log files instead of streaming it (no stdin, no
   * interactive mode): the logs are read back (and deleted) once the command has ended.
   */
  readonly recordOutput?: boolean | undefined
}

/**
 * What a finished command produced.
 *
 * @since 0.1.0
 * @category models
 */
export interface ExecResult<A> {
  readonly exitCode: number
  readonly stdout: A
  readonly stderr: A
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /**
   * Start a command and attach to it. The handle lives in the current scope: closing it
   * closes every socket and, if the command still runs, kills it. Interrupted (or its
   * scope closed) at any point, it returns within 2 seconds and leaves no command running.
   */
  readonly start: (
    instance: string,
    command: ReadonlyArray<string>,
    options?: ExecOptions
  ) => Effect.Effect<Process, RequestError | InvalidArgument | ExtensionNotAvailable, Scope.Scope>
  /**
   * Run a command to its end and collect `{ exitCode, stdout, stderr }`. Output is
   * decoded as UTF-8, or with `encoding` (any `TextDecoder` label, e.g. `latin1`);
   * `decode: false` returns the raw bytes.
   */
  readonly run: {
    (
      instance: string,
      command: ReadonlyArray<string>,
      options: RunOptions<Uint8Array> & { readonly decode: false }
    ): Effect.Effect<ExecResult<Uint8Array>, RequestError | InvalidArgument | ExtensionNotAvailable>
    (
      instance: string,
      command: ReadonlyArray<string>,
      options?: RunOptions<string> & { readonly decode?: true | undefined; readonly encoding?: string | undefined }
    ): Effect.Effect<ExecResult<string>, RequestError | InvalidArgument | ExtensionNotAvailable>
  }
}

/**
 * @since 0.1.0
 * @category tags
 */
export class Exec extends Context.Tag("effect-lxd/Exec")<Exec, Service>() {}

const ExitMetadata = Schema.Struct({ return: Schema.Number })

const RecordedMetadata = Schema.Struct({
  return: Schema.Number,
  output: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.String }), { default: () => ({}) })
})

/** The websockets of an exec: stdin, stdout, stderr (only `0` on a terminal) and control. */
type SocketName = "0" | "1" | "2" | "control"

const SIGKILL = 9
const SIGTERM = 15

/** How long the kill request on the control socket may take to be written. */
const KILL_SEND_WAIT = "200 millis"
/**
 * How long closing a process's scope waits for the killed command's operation to end.
 * With the sends and socket closes, an interrupted exec returns within 2 seconds.
 */
const KILL_WAIT = "1 second"

const makeDecoder = (encoding: string): Effect.Effect<TextDecoder, InvalidArgument> =>
  Effect.try({
    try: () => new TextDecoder(encoding),
    catch: () => new InvalidArgument({ argument: "encoding", reason: `"${encoding}" is not a known text encoding` })
  })

/** The exit status in a finished exec operation (`metadata.return`). */
const exitCodeOf = (op: Operation, origin: { readonly method: string; readonly path: string }) =>
  Schema.decodeUnknown(ExitMetadata)(op.metadata).pipe(
    Effect.map((m) => m.return),
    Effect.mapError(() =>
      new DecodeError({ ...origin, reason: `operation ${op.id} finished without an exit status (metadata.return)` })
    )
  )

// Closing a process's scope. The command may still run (or may be about to start):
// ask for SIGKILL on the control socket, then cut every socket without a close frame.
// LXD and Incus kill the command when its control socket ends, and an abnormal end
// needs no answer from them, so nothing here waits on the server, except (bounded) for
// the operation to end. When the last socket was never dialled, the server cannot have
// started the command (it waits for every socket) and gives up on its own.
// Every wait is interruptible inside its timeout: a release runs uninterruptibly, and
// a timeout cannot end an uninterruptible wait.
const release = (
  finished: Deferred.Deferred<Operation, RequestError>,
  opened: Readonly<Partial<Record<string, LxdWebSocket>>>,
  mayHaveStarted: () => boolean,
  sockets: Scope.CloseableScope,
  exit: Exit.Exit<unknown, unknown>
) =>
  Effect.gen(function*() {
    if (yield* Deferred.isDone(finished)) {
      // the command has ended: send every close frame at once, so that the closing
      // handshakes (which each socket's own release waits for) overlap
      for (const ws of Object.values(opened)) if (ws !== undefined) yield* ws.close
      return yield* Scope.close(sockets, exit)
    }
    const control = opened.control
    if (control !== undefined) {
      yield* Effect.interruptible(control.send(signalMessage(SIGKILL))).pipe(
        Effect.timeout(KILL_SEND_WAIT),
        Effect.ignore
      )
    }
    // control first; then the data sockets (a paused output socket would hold the
    // server's copy, and with it the operation, back)
    const cut = (ws: LxdWebSocket) => ws.terminate ?? ws.close
    if (control !== undefined) yield* cut(control)
    for (const [name, ws] of Object.entries(opened)) {
      if (name !== "control" && ws !== undefined) yield* cut(ws)
    }
    yield* Scope.close(sockets, exit)
    if (mayHaveStarted()) {
      yield* Effect.interruptible(Deferred.await(finished)).pipe(Effect.timeout(KILL_WAIT), Effect.ignore)
    }
  })

/** What `run` is made of: the connection, the operations, and `start`. */
interface RunContext {
  readonly http: LxdHttp["Type"]
  readonly ops: Operations["Type"]
  readonly start: Service["start"]
  readonly finalState: (operation: Operation) => Effect.Effect<Operation, RequestError>
  readonly needsUserGroupCwd: (options: ExecOptions | undefined) => Effect.Effect<void, ExtensionNotAvailable>
}

/** `run` with `recordOutput`: the server runs the command without websockets and keeps its output in log files. */
const runRecorded = (
  context: RunContext,
  instance: string,
  command: ReadonlyArray<string>,
  options: ExecOptions
): Effect.Effect<ExecResult<Uint8Array>, RequestError | InvalidArgument | ExtensionNotAvailable> =>
  Effect.gen(function*() {
    yield* checkExec(instance, command, options)
    const { finalState, http, ops } = context
    yield* context.needsUserGroupCwd(options)
    if (options.interactive === true) {
      return yield* Effect.fail(
        new InvalidArgument({ argument: "recordOutput", reason: "cannot be combined with interactive mode" })
      )
    }
    yield* http.requireExtension("container_exec_recording")
    const execPath = path`/1.0/instances/${instance}/exec`
    const started = yield* ops.start({
      method: "POST",
      path: execPath,
      body: { ...execBody(command, options), "wait-for-websocket": false, "record-output": true }
    })
    const metadata = started._tag === "Async" ? (yield* finalState(started.operation)).metadata : started.metadata
    const decoded = yield* Schema.decodeUnknown(RecordedMetadata)(metadata).pipe(
      Effect.mapError(() =>
        new DecodeError({ method: "POST", path: execPath, reason: "no exit status or output logs in the operation" })
      )
    )
    const fetchLog = (url: string | undefined) =>
      url === undefined ? Effect.succeed(new Uint8Array(0)) : Effect.gen(function*() {
        const logPath = withoutQuery(url)
        const bytes = yield* Effect.scoped(
          Effect.flatMap(
            http.raw({ method: "GET", path: logPath }),
            (res) => Stream.runCollect(res.body).pipe(Effect.map((c) => concatBytes(Array.from(c))))
          )
        )
        // the log files stay on the server until removed
        yield* http.send({ method: "DELETE", path: logPath }).pipe(Effect.ignore)
        return bytes
      })
    const [stdout, stderr] = yield* Effect.all([fetchLog(decoded.output["1"]), fetchLog(decoded.output["2"])], {
      concurrency: 2
    })
    return { exitCode: decoded.return, stdout, stderr }
  })

/** `run`, derived from `start` (or from the recorded mode): collect or hand on the output, then the exit status. */
const runWith = (
  context: RunContext,
  instance: string,
  command: ReadonlyArray<string>,
  options:
    | (RunOptions<unknown> & { readonly decode?: boolean | undefined; readonly encoding?: string | undefined })
    | undefined
): Effect.Effect<ExecResult<string | Uint8Array>, RequestError | InvalidArgument | ExtensionNotAvailable> =>
  Effect.gen(function*() {
    const decode = options?.decode !== false
    const encoding = options?.encoding ?? "utf-8"
    // fail on a bad encoding before anything runs
    if (decode) yield* makeDecoder(encoding)

    type Sinkish = { readonly handler: ((chunk: unknown) => Effect.Effect<void>) | undefined }
    const finish = (bytes: Uint8Array, s: Sinkish) =>
      Effect.gen(function*() {
        if (!decode) {
          if (s.handler !== undefined) {
            if (bytes.length > 0) yield* s.handler(bytes)
            return new Uint8Array(0)
          }
          return bytes
        }
        const text = (yield* makeDecoder(encoding)).decode(bytes)
        if (s.handler !== undefined) {
          if (text.length > 0) yield* s.handler(text)
          return ""
        }
        return text
      })

    if (options?.recordOutput === true) {
      if (options.stdin !== undefined) {
        return yield* Effect.fail(
          new InvalidArgument({ argument: "stdin", reason: "recorded commands run without input" })
        )
      }
      const recorded = yield* runRecorded(context, instance, command, options)
      return {
        exitCode: recorded.exitCode,
        stdout: yield* finish(recorded.stdout, { handler: options.onStdout }),
        stderr: yield* finish(recorded.stderr, { handler: options.onStderr })
      }
    }

    return yield* Effect.scoped(Effect.gen(function*() {
      const proc = yield* context.start(instance, command, options)
      const input: Stream.Stream<Uint8Array, TransportError> = options?.stdin === undefined
        ? Stream.empty
        : typeof options.stdin === "string"
        ? Stream.make(new TextEncoder().encode(options.stdin))
        : options.stdin instanceof Uint8Array
        ? Stream.make(options.stdin)
        : options.stdin
      // the command may exit without reading its input: a write that finds the socket
      // closed is not an error of the command
      if (options?.interactive !== true || options.stdin !== undefined) {
        yield* Stream.run(input, proc.stdin).pipe(Effect.ignore, Effect.forkScoped)
      }

      const collect = (stream: Stream.Stream<Uint8Array, TransportError>, handler: Sinkish["handler"]) =>
        Effect.gen(function*() {
          if (handler === undefined) {
            const chunks = yield* Stream.runCollect(stream)
            return yield* finish(concatBytes(Array.from(chunks)), { handler: undefined })
          }
          if (!decode) {
            yield* Stream.runForEach(stream, (chunk) => handler(chunk))
            return new Uint8Array(0)
          }
          const decoder = yield* makeDecoder(encoding)
          yield* Stream.runForEach(stream, (chunk) => {
            const text = decoder.decode(chunk, { stream: true })
            return text.length > 0 ? handler(text) : Effect.void
          })
          const rest = decoder.decode()
          if (rest.length > 0) yield* handler(rest)
          return ""
        })

      const [stdout, stderr] = yield* Effect.all(
        [collect(proc.stdout, options?.onStdout), collect(proc.stderr, options?.onStderr)],
        { concurrency: 2 }
      )
      const exitCode = yield* proc.exitCode
      return { exitCode, stdout, stderr }
    }))
  })

/**
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Service, never, LxdHttp | Operations> = Effect.gen(function*() {
  const http = yield* LxdHttp
  const ops = yield* Operations

  const needsUserGroupCwd = (options: ExecOptions | undefined) =>
    options?.cwd !== undefined || options?.user !== undefined || options?.group !== undefined
      ? http.requireExtension("container_exec_user_group_cwd")
      : Effect.void

  // A command that cannot be found (or executed) fails the operation, yet LXD still
  // reports the shell's status (127, 126) in `metadata.return`, as `lxc exec` exits with:
  // such a failure is an exit status, not an error. Without a status it stays an error.
  const withExitStatus = (failure: RequestError, id: string): Effect.Effect<Operation, RequestError> =>
    failure._tag === "LXDAPIException" && failure.operationId === id
      ? ops.get(id).pipe(
        Effect.flatMap((op) =>
          Schema.decodeUnknownOption(ExitMetadata)(op.metadata).pipe(
            Option.filter((m) => m.return >= 0),
            Option.match({ onNone: () => Effect.fail(failure), onSome: () => Effect.succeed(op) })
          )
        ),
        Effect.catchAll(() => Effect.fail(failure))
      )
      : Effect.fail(failure)

  const finalState = (operation: Operation) =>
    ops.wait(operation, { cancelOnInterrupt: false }).pipe(
      Effect.catchAll((failure) => withExitStatus(failure, operation.id))
    )

  const start = (instance: string, command: ReadonlyArray<string>, options?: ExecOptions) =>
    Effect.gen(function*() {
      yield* checkExec(instance, command, options)
      yield* needsUserGroupCwd(options)
      const names: ReadonlyArray<SocketName> = options?.interactive === true
        ? ["0", "control"]
        : ["0", "1", "2", "control"]

      // The connections of the sockets are dialled now, while the exec request is in
      // flight (over HTTPS each is a TCP and a TLS handshake); those not taken are closed
      // once `start` ends, whatever the way (a refused request, a failure, an interruption).
      const preconnected = yield* Scope.make()
      return yield* attach(instance, command, options, names, preconnected).pipe(
        Effect.onExit((exit) => Scope.close(preconnected, exit))
      )
    })

  const attach = (
    instance: string,
    command: ReadonlyArray<string>,
    options: ExecOptions | undefined,
    names: ReadonlyArray<SocketName>,
    preconnected: Scope.Scope
  ) =>
    Effect.gen(function*() {
      const interactive = options?.interactive === true
      const execPath = path`/1.0/instances/${instance}/exec`
      const origin = { method: "POST", path: execPath }
      const websocket = yield* http.preconnectWebsockets(names.length).pipe(Scope.extend(preconnected))

      // The kill is in place as soon as the operation exists, before any socket is
      // attached: LXD starts the command the moment the last socket is attached, which
      // an interruption can land on. The sockets live in a scope of their own that only
      // this finalizer closes, after the kill, so that they are still there for it.
      const { finished, operation, opened, sockets: socketScope, dialled } = yield* Effect.uninterruptibleMask((
        restore
      ) =>
        Effect.gen(function*() {
          const operation = yield* restore(ops.startOperation({
            method: "POST",
            path: execPath,
            body: { ...execBody(command, options), "wait-for-websocket": true, "record-output": false }
          }))
          // the operation's end, watched from now on (exec operations cannot be cancelled:
          // ending one means ending the process); forked before the finalizer is added, so
          // that it is still watching while the finalizer waits
          const finished = yield* Deferred.make<Operation, RequestError>()
          yield* finalState(operation).pipe(
            Effect.intoDeferred(finished),
            Effect.interruptible,
            Effect.forkScoped
          )
          const sockets = yield* Scope.make()
          const opened: Partial<Record<SocketName, LxdWebSocket>> = {}
          const dialled = new Set<SocketName>()
          yield* Effect.addFinalizer((exit) =>
            release(finished, opened, () => dialled.size === names.length, sockets, exit)
          )
          return { finished, operation, opened, sockets, dialled }
        })
      )

      const sockets: Partial<Record<SocketName, LxdWebSocket>> = yield* connectFds(http, operation, names, origin, {
        websocket,
        onDial: (name) => dialled.add(name),
        onOpen: (name, ws) => {
          opened[name] = ws
        }
      }).pipe(Scope.extend(socketScope))
      const control = sockets.control!

      // the output streams somebody reads, so that exitCode waits for them to drain
      const draining: Array<Deferred.Deferred<void>> = []
      const output = (ws: LxdWebSocket, onEnd: Effect.Effect<void>) =>
        Stream.unwrap(Effect.gen(function*() {
          const done = yield* Deferred.make<void>()
          draining.push(done)
          return readBytes(ws).pipe(
            Stream.ensuring(Effect.zipRight(onEnd, Deferred.succeed(done, undefined)))
          )
        }))

      // interactive: the server keeps the operation open until we close the terminal
      // socket, once it has sent the end of output
      const stdout = interactive ? output(sockets["0"]!, sockets["0"]!.close) : output(sockets["1"]!, Effect.void)
      const stderr = interactive ? Stream.empty : output(sockets["2"]!, Effect.void)

      const exitCode = Effect.gen(function*() {
        const op = yield* Deferred.await(finished)
        yield* Effect.forEach(draining, Deferred.await, { discard: true })
        return yield* exitCodeOf(op, origin)
      })

      const signal = (n: number) => control.send(signalMessage(n))

      return {
        operationId: operation.id,
        stdin: writeBytes(sockets["0"]!, interactive ? "none" : "barrier"),
        stdout,
        stderr,
        exitCode,
        isRunning: Effect.map(Deferred.isDone(finished), (done) => !done),
        signal,
        kill: (n?: number) => signal(n ?? SIGTERM),
        resize: (cols: number, rows: number) => control.send(resizeMessage(cols, rows))
      } satisfies Process
    })

  const context: RunContext = { http, ops, start, finalState, needsUserGroupCwd }
  // one implementation for both overloads of Service["run"] (bytes with `decode: false`,
  // text otherwise): the handlers' chunk type follows `decode`, which TypeScript cannot
  // relate to the implementation's single signature
  const run = (
    instance: string,
    command: ReadonlyArray<string>,
    options: Parameters<typeof runWith>[3]
  ) => runWith(context, instance, command, options)

  return Exec.of(traced("Exec", { start, run: run as Service["run"] }, { nameAttribute: "lxd.instance" }))
})

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Exec, never, LxdHttp | Operations> = Layer.effect(Exec, make)

// -----------------------------------------------------------------------------
// @effect/platform's CommandExecutor over Exec
// -----------------------------------------------------------------------------

/**
 * Defaults for every command a `commandExecutor` runs; what a `Command` says wins.
 *
 * @since 0.1.0
 * @category options
 */
export interface CommandExecutorOptions {
  /** Environment variables every command gets (a command's `Command.env` adds to them). */
  readonly environment?: Readonly<Record<string, string>> | undefined
  /** The working directory (absolute) of commands that name none. */
  readonly cwd?: string | undefined
  /** The numeric user id of commands that name none. */
  readonly user?: number | undefined
  /** The numeric group id of commands that name none. */
  readonly group?: number | undefined
}

/**
 * The `pid` of every platform `Process` a `commandExecutor` starts: LXD does not tell the
 * command's own process id.
 *
 * @since 0.1.0
 * @category constants
 */
export const unknownPid: CommandExecutor.ProcessId = CommandInternal.unknownPid

/**
 * A `CommandExecutor` that runs `@effect/platform` `Command`s in `instance` (in the
 * project current when each command starts, see `Lxd.withProject`). See
 * `commandExecutor` for what is honoured.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeCommandExecutor = (
  instance: string,
  options: CommandExecutorOptions = {}
): Effect.Effect<CommandExecutor.CommandExecutor, never, Exec> =>
  Effect.map(Exec, (exec) => CommandExecutor.makeExecutor(CommandInternal.startCommand(exec, instance, options)))

/**
 * Provide `@effect/platform`'s `CommandExecutor.CommandExecutor`, running every command in
 * `instance`, so that the platform's own `Command.string`, `Command.lines`,
 * `Command.exitCode`, `Command.streamLines` and `Command.start` work inside the instance.
 *
 * - `Command.env(...)` is the command's environment (LXD adds `PATH`, `HOME`, `LANG` and
 *   `USER` when absent; `{ extendEnv: false }` runs the command under `env -i` so that it
 *   sees only what you gave). The host's environment is never sent.
 * - `Command.workingDirectory(dir)` is `cwd` (absolute), `Command.runInShell(true)` runs
 *   `/bin/sh -c` in the instance.
 * - `Command.stdin(stream)` and `Command.feed(text)` feed the command; `Command.pipeTo`
 *   runs every command of a pipeline in the instance, the output of one the input of the next.
 * - `Command.stdout(sink)` / `Command.stderr(sink)` transduce the output; `"inherit"`
 *   copies it to this process's own stdout or stderr. An `"inherit"` stdin is `"pipe"`
 *   (the process's `stdin` Sink): the instance cannot read this terminal.
 *
 * The `Process` is the platform's: `exitCode` (128+N when killed by signal N, as a shell
 * reports it; 127 for a program that is not there), `isRunning`, `kill(signal)` (sent on
 * LXD's control socket, then it waits for the end, like the Node executor), `stdin`,
 * `stdout` and `stderr`; `pid` is `unknownPid`. Closing the scope of `Command.start`, or
 * interrupting the fiber, kills the command. Failures are `PlatformError`s: a refused
 * argument (a relative working directory, a signal Linux lacks) is a `BadArgument`,
 * anything else a `SystemError` (`NotFound` for a missing instance) whose `cause` is the
 * effect-lxd error.
 *
 * @example
 * ```ts
 * import { Command } from "@effect/platform"
 * import { Effect, Stream } from "effect"
 * import { Exec, Lxd } from "effect-lxd"
 *
 * const program = Effect.gen(function* () {
 *   const listing = yield* Command.make("ls", "-l", "/etc").pipe(Command.string)
 *   const code = yield* Command.make("sh", "-c", "exit 3").pipe(Command.exitCode) // 3
 *   const upper = yield* Command.make("tr", "a-z", "A-Z").pipe(
 *     Command.stdin(Stream.make(new TextEncoder().encode("a\nb\n"))),
 *     Command.lines
 *   ) // ["A", "B"]
 *   const dir = yield* Command.make("pwd").pipe(Command.workingDirectory("/tmp"), Command.string)
 *   return { listing, code, upper, dir }
 * })
 *
 * export const main = () =>
 *   Effect.runPromise(program.pipe(Effect.provide(Exec.commandExecutor("web1")), Effect.provide(Lxd.layerUnix())))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const commandExecutor = (
  instance: string,
  options?: CommandExecutorOptions
): Layer.Layer<CommandExecutor.CommandExecutor, never, Exec> =>
  Layer.effect(CommandExecutor.CommandExecutor, makeCommandExecutor(instance, options))
