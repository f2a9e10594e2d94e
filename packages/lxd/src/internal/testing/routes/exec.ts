/**
 * `POST /1.0/instances/<name>/exec`: the websocket protocol (control, stdin, stdout, stderr), signals, exit codes, recorded output.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"
import * as H from "../http.js"
import type * as Pipe from "../pipe.js"
import { newSecret } from "../server.js"
import { asyncOf, enc, encoder, type Handler } from "./common.js"

import { concat } from "./logs.js"

export const decoder = new TextDecoder()

let nextPid = 100

/** stdin from a socket: binary frames until an empty text frame or the socket closing. */
const stdinOf = (end: Pipe.PipeEnd | undefined, interactive: boolean): Stream.Stream<Uint8Array> =>
  end === undefined ? Stream.empty : end.messages.pipe(
    Stream.takeWhile((m) => interactive || !(m._tag === "Text" && m.data.length === 0)),
    Stream.filter((m) => !(m._tag === "Text" && m.data.length === 0)),
    Stream.map((m) => (m._tag === "Binary" ? m.data : encoder.encode(m.data))),
    Stream.catchAll(() => Stream.empty)
  )

export const exec: Handler = (server, request) => {
  const project = server.projectOf(request)
  const i = server.instanceOf(project, request.segments[1]!)
  const body = H.jsonBody(request)
  const command = H.stringList(body.command, "command")
  if (command.length === 0) return H.refuse(400, "Empty command")
  const interactive = body.interactive === true
  const waitForWebsocket = body["wait-for-websocket"] === true
  const record = body["record-output"] === true
  if (record && waitForWebsocket) return H.refuse(400, "Cannot use record-output with wait-for-websocket")
  if (record && interactive) return H.refuse(400, "Cannot use record-output with interactive")
  if (i.status === "Stopped") return H.refuse(400, "Instance is not running")
  if (i.status === "Frozen") return H.refuse(400, "Instance is frozen")
  const environment: Record<string, string> = {
    PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    HOME: "/root",
    USER: "root",
    LANG: "C.UTF-8",
    ...H.stringMap(body.environment, "environment")
  }
  const terminal = {
    width: typeof body.width === "number" && body.width > 0 ? body.width : 80,
    height: typeof body.height === "number" && body.height > 0 ? body.height : 25
  }
  const path = `/1.0/instances/${enc(i.name)}`
  const names = waitForWebsocket ? (interactive ? ["0", "control"] : ["0", "1", "2", "control"]) : []
  const secrets = Object.fromEntries(names.map((n) => [n, newSecret()]))
  const base = {
    instance: i.name,
    project: project.name,
    command,
    environment,
    cwd: typeof body.cwd === "string" ? body.cwd : "/root",
    user: typeof body.user === "number" ? body.user : 0,
    group: typeof body.group === "number" ? body.group : 0,
    interactive,
    terminal: interactive ? () => terminal : undefined,
    files: i.files,
    processes:
      () => [{ pid: 1, command: ["/sbin/init"] }, ...[...i.processTable].map(([pid, command]) => ({ pid, command }))]
  }
  // in the process table while it runs
  const running = <A, E>(effect: Effect.Effect<A, E>) =>
    Effect.acquireUseRelease(
      Effect.sync(() => {
        const pid = nextPid++
        i.processTable.set(pid, command)
        return pid
      }),
      () => effect,
      (pid) =>
        Effect.sync(() => {
          i.processTable.delete(pid)
        })
    )
  return Effect.map(
    server.startOperation({
      project: project.name,
      class: waitForWebsocket ? "websocket" : "task",
      description: "Executing command",
      origin: { method: "POST", path: `${path}/exec` },
      resources: { instances: [path] },
      metadata: waitForWebsocket ? { fds: secrets } : { command },
      mayCancel: false,
      secrets,
      run: (op) =>
        Effect.gen(function*() {
          const signals = yield* Queue.unbounded<number>()
          if (!waitForWebsocket) {
            const out: Array<Uint8Array> = []
            const err: Array<Uint8Array> = []
            const collect = (into: Array<Uint8Array>) => (data: string | Uint8Array) =>
              Effect.sync(() => {
                if (record) into.push(typeof data === "string" ? encoder.encode(data) : data)
              })
            const code = yield* running(
              server.runCommand({ ...base, stdin: Stream.empty, stdout: collect(out), stderr: collect(err) }, signals)
            )
            if (!record) return { return: code }
            const logs = {
              "1": `exec-output/exec_${op.id}.stdout`,
              "2": `exec-output/exec_${op.id}.stderr`
            }
            i.logs.set(logs["1"], concat(out))
            i.logs.set(logs["2"], concat(err))
            return {
              return: code,
              output: { "1": `${path}/logs/${logs["1"]}`, "2": `${path}/logs/${logs["2"]}` }
            }
          }
          // every required socket attached in time (control is optional without a pty)
          const required = interactive ? ["0", "control"] : ["0", "1", "2"]
          // a client that goes away half-way (one of its sockets closes) ends it at once
          const attached = yield* Effect.forEach(required, (n) => Deferred.await(op.attached.get(n)!)).pipe(
            Effect.timeout(server.connectTimeout),
            Effect.option,
            Effect.raceFirst(Effect.as(Deferred.await(op.socketClosed), Option.none()))
          )
          if (Option.isNone(attached)) {
            return yield* Effect.fail(
              (yield* Deferred.isDone(op.socketClosed))
                ? "A websocket closed before the command started"
                : "Timed out waiting for websockets to connect"
            )
          }
          const data = op.sockets.get("0")!
          const out = interactive ? data : op.sockets.get("1")!
          const err = interactive ? data : op.sockets.get("2")!
          const control = Option.getOrUndefined(
            yield* Deferred.poll(op.attached.get("control")!).pipe(
              Effect.flatMap((
                o
              ) => (Option.isSome(o) ? Effect.map(o.value, Option.some) : Effect.succeed(Option.none())))
            )
          )
          // control: signals, and SIGKILL when it goes away while the command runs
          const controlFiber = yield* Effect.fork(
            Effect.gen(function*() {
              const socket = control ?? (yield* Deferred.await(op.attached.get("control")!))
              yield* Stream.runForEach(socket.messages, (m) =>
                Effect.suspend(() => {
                  if (m._tag !== "Text") return Effect.void
                  try {
                    const parsed = JSON.parse(m.data) as { command?: unknown; signal?: unknown; args?: unknown }
                    if (parsed.command === "signal" && typeof parsed.signal === "number") {
                      return Queue.offer(signals, parsed.signal)
                    }
                    if (parsed.command === "window-resize" && interactive) {
                      const a = (typeof parsed.args === "object" && parsed.args !== null ? parsed.args : {}) as Record<
                        string,
                        unknown
                      >
                      const width = Number(a.width)
                      const height = Number(a.height)
                      if (Number.isInteger(width) && width > 0) terminal.width = width
                      if (Number.isInteger(height) && height > 0) terminal.height = height
                    }
                  } catch {
                    // unknown control messages are ignored
                  }
                  return Effect.void
                })).pipe(Effect.ignore)
              yield* Queue.offer(signals, 9)
            })
          )
          const write = (socket: Pipe.PipeEnd) => (chunk: string | Uint8Array) =>
            Effect.ignore(socket.send(typeof chunk === "string" ? encoder.encode(chunk) : chunk))
          const code = yield* running(
            server.runCommand(
              { ...base, stdin: stdinOf(data, interactive), stdout: write(out), stderr: write(err) },
              signals
            )
          )
          yield* Fiber.interrupt(controlFiber)
          // end of output, then the operation ends and the sockets close
          if (interactive) {
            yield* Effect.ignore(data.send(""))
            yield* data.closed.pipe(Effect.timeout("5 seconds"), Effect.ignore)
          } else {
            yield* Effect.ignore(out.send(""))
            yield* Effect.ignore(err.send(""))
          }
          return { return: code }
        })
    }),
    (op) => asyncOf(server, op)
  )
}
