import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import type * as Http from "node:http"
import type * as Stream from "node:stream"
import { Exec, LxdHttp, Operations } from "../src/index.js"
import { error, fakeServer, json, operation, sync, websocketOperationStarted } from "./fakeServer.js"
import { acceptRaw, type RawConnection, watchRaw } from "./rawWebSocket.js"

/**
 * The interruption guarantee of `Exec.start`/`Exec.run`: an interrupted exec returns
 * within this bound, whatever the server does (the bound stated in the README).
 */
const INTERRUPT_BOUND_MS = 2_000

const SIGKILL_MESSAGE = JSON.stringify({ command: "signal", signal: 9 })

const OP = "exec-op"
const SECRETS = { "0": "s-stdin", "1": "s-stdout", "2": "s-stderr", control: "s-control" } as const
type Fd = keyof typeof SECRETS

const until = (check: () => boolean, ms: number) =>
  Effect.gen(function*() {
    const deadline = Date.now() + ms
    while (!check() && Date.now() < deadline) yield* Effect.sleep("10 millis")
    return check()
  })

interface ScriptOptions {
  /** Never answer the upgrade request of this socket (a handshake in progress, forever). */
  readonly stall?: Fd | undefined
  /**
   * End the operation (exit status 137) when the control socket receives SIGKILL or
   * ends, as LXD does. Without it the server ignores both: the operation never ends.
   */
  readonly killable: boolean
}

/**
 * A scripted LXD for one exec: `POST .../exec` creates a websocket operation, the four
 * sockets complete their handshakes (except `stall`) and then ignore close frames; the
 * operation's `/wait` long poll answers once the command is "killed".
 */
const execServer = (script: ScriptOptions) =>
  Effect.gen(function*() {
    const sockets: Partial<Record<Fd, RawConnection>> = {}
    const raw: Array<Stream.Duplex> = []
    const waits: Array<Http.ServerResponse> = []
    let ended = false
    const finalOp = () =>
      operation(OP, { class: "websocket", status: "Success", status_code: 200, metadata: { return: 137 } })
    const end = () => {
      if (ended || !script.killable) return
      ended = true
      for (const res of waits.splice(0)) json(res, 200, sync(finalOp()))
    }
    const { socketPath } = yield* fakeServer(
      (req, res) => {
        if (req.method === "POST" && req.url.startsWith("/1.0/instances/box/exec")) {
          return json(res, 202, websocketOperationStarted(OP, SECRETS))
        }
        if (req.url.startsWith(`/1.0/operations/${OP}/wait`)) {
          if (ended) return json(res, 200, sync(finalOp()))
          waits.push(res)
          return
        }
        if (req.url === `/1.0/operations/${OP}`) {
          return json(res, 200, sync(ended ? finalOp() : operation(OP, { class: "websocket" })))
        }
        json(res, 404, error(404, "not found"))
      },
      undefined,
      (req, socket, head) => {
        raw.push(socket)
        const secret = new URL(req.url ?? "", "http://x").searchParams.get("secret")
        const fd = (Object.keys(SECRETS) as Array<Fd>).find((k) => SECRETS[k] === secret)
        if (fd === undefined) return socket.destroy()
        const connection = fd === script.stall ? watchRaw(req.url ?? "", socket, head) : acceptRaw(req, socket, head)
        sockets[fd] = connection
        if (fd === "control") {
          connection.onChange = () => {
            if (connection.ended || connection.texts().includes(SIGKILL_MESSAGE)) end()
          }
        }
      }
    )
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        for (const res of waits.splice(0)) res.destroy()
        for (const s of raw) s.destroy()
      })
    )
    const http = yield* LxdHttp.connect({ _tag: "Unix", socketPath })
    const ops = yield* Operations.make.pipe(Effect.provideService(LxdHttp.LxdHttp, http))
    const exec = yield* Exec.make.pipe(
      Effect.provideService(LxdHttp.LxdHttp, http),
      Effect.provideService(Operations.Operations, ops)
    )
    return { exec, sockets, isEnded: () => ended }
  })

/** Interrupt `fiber`, returning how long that took (failing the test past 8 s). */
const timedInterrupt = <A, E>(fiber: Fiber.RuntimeFiber<A, E>) =>
  Effect.gen(function*() {
    const started = Date.now()
    const exit = yield* Fiber.interrupt(fiber).pipe(Effect.timeout("8 seconds"), Effect.option)
    assert.isTrue(exit._tag === "Some" && Exit.isInterrupted(exit.value), "the interruption returned")
    return Date.now() - started
  })

describe("Exec interrupted against a scripted server", () => {
  it.scopedLive(
    "interrupted while the last socket's handshake is under way: SIGKILL, an abnormal control close, within the bound",
    () =>
      Effect.gen(function*() {
        const { exec, sockets } = yield* execServer({ stall: "2", killable: true })
        const baseline = LxdHttp.openWebSocketCount()
        const fiber = yield* Effect.fork(exec.run("box", ["sleep", "300"]))
        // control, 0 and 1 are open; the handshake of 2 has begun and will never finish
        assert.isTrue(yield* until(() => sockets["2"] !== undefined, 5_000), "the last handshake began")
        const elapsed = yield* timedInterrupt(fiber)
        assert.isBelow(elapsed, INTERRUPT_BOUND_MS)
        const control = sockets.control!
        assert.include(control.texts(), SIGKILL_MESSAGE, "the kill was asked for on the control socket")
        assert.isTrue(yield* until(() => control.ended, 1_000), "the control socket ended")
        assert.isFalse(control.sawCloseFrame(), "the control socket ended abnormally (no close frame)")
        for (const fd of ["0", "1", "2"] as const) {
          assert.isTrue(yield* until(() => sockets[fd]!.ended, 1_000), `socket ${fd} ended`)
        }
        assert.strictEqual(LxdHttp.openWebSocketCount(), baseline)
      }),
    15_000
  )

  it.scopedLive(
    "interrupted while running, against a server that ignores close frames and SIGKILL: within the bound",
    () =>
      Effect.gen(function*() {
        const { exec, isEnded, sockets } = yield* execServer({ killable: false })
        const baseline = LxdHttp.openWebSocketCount()
        const fiber = yield* Effect.fork(exec.run("box", ["sleep", "300"]))
        assert.isTrue(yield* until(() => sockets["2"] !== undefined, 5_000), "every socket connected")
        assert.isTrue(yield* until(() => LxdHttp.openWebSocketCount() === baseline + 4, 5_000), "four sockets open")
        const elapsed = yield* timedInterrupt(fiber)
        assert.isBelow(elapsed, INTERRUPT_BOUND_MS)
        assert.isFalse(isEnded(), "the server never ended the operation")
        const control = sockets.control!
        assert.include(control.texts(), SIGKILL_MESSAGE)
        assert.isTrue(yield* until(() => control.ended, 1_000), "the control socket ended")
        assert.isFalse(control.sawCloseFrame(), "the control socket ended abnormally (no close frame)")
        for (const fd of ["0", "1", "2"] as const) {
          assert.isTrue(yield* until(() => sockets[fd]!.ended, 1_000), `socket ${fd} ended`)
        }
        assert.strictEqual(LxdHttp.openWebSocketCount(), baseline)
      }),
    15_000
  )

  it.scopedLive(
    "interrupted before the last socket was dialled: nothing could start, no socket stays",
    () =>
      Effect.gen(function*() {
        const { exec, sockets } = yield* execServer({ stall: "0", killable: true })
        const baseline = LxdHttp.openWebSocketCount()
        const fiber = yield* Effect.fork(exec.run("box", ["sleep", "300"]))
        assert.isTrue(yield* until(() => sockets["0"] !== undefined, 5_000), "the stdin handshake began")
        const elapsed = yield* timedInterrupt(fiber)
        assert.isBelow(elapsed, INTERRUPT_BOUND_MS)
        assert.isUndefined(sockets["1"], "no later socket was dialled")
        const control = sockets.control!
        assert.isTrue(yield* until(() => control.ended, 1_000), "the control socket ended")
        assert.isFalse(control.sawCloseFrame(), "the control socket ended abnormally (no close frame)")
        assert.isTrue(yield* until(() => sockets["0"]!.ended, 1_000), "the half-open stdin connection was dropped")
        assert.strictEqual(LxdHttp.openWebSocketCount(), baseline)
      }),
    15_000
  )
})
