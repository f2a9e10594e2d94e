import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import type * as NodeStream from "node:stream"
import { InstanceConsole, LxdHttp, Operations } from "../src/index.js"
import { error, fakeServer, json, websocketOperationStarted } from "./fakeServer.js"
import { acceptRaw, type RawConnection } from "./rawWebSocket.js"

/**
 * Detaching from a console (closing the session's scope) returns within this bound even
 * when the server never ends the operation and ignores close frames: at most 1 s waiting
 * for the operation, then at most 1 s per socket for its close answer.
 */
const DETACH_BOUND_MS = 3_500

const OP = "console-op"
const SECRETS = { "0": "c-data", control: "c-control" } as const

const until = (check: () => boolean, ms: number) =>
  Effect.gen(function*() {
    const deadline = Date.now() + ms
    while (!check() && Date.now() < deadline) yield* Effect.sleep("10 millis")
    return check()
  })

describe("Console detach against a scripted server", () => {
  it.scopedLive(
    "a server that never ends the operation and ignores close frames cannot hold the detach",
    () =>
      Effect.gen(function*() {
        const sockets: Partial<Record<keyof typeof SECRETS, RawConnection>> = {}
        const raw: Array<NodeStream.Duplex> = []
        const { socketPath } = yield* fakeServer(
          (req, res) => {
            if (req.method === "POST" && req.url.startsWith("/1.0/instances/box/console")) {
              return json(res, 202, websocketOperationStarted(OP, SECRETS))
            }
            // the long poll never answers: the operation never ends
            if (req.url.startsWith(`/1.0/operations/${OP}/wait`)) return
            json(res, 404, error(404, "not found"))
          },
          undefined,
          (req, socket, head) => {
            raw.push(socket)
            const secret = new URL(req.url ?? "", "http://x").searchParams.get("secret")
            const fd = (Object.keys(SECRETS) as Array<keyof typeof SECRETS>).find((k) => SECRETS[k] === secret)
            if (fd === undefined) return socket.destroy()
            sockets[fd] = acceptRaw(req, socket, head)
          }
        )
        yield* Effect.addFinalizer(() => Effect.sync(() => raw.forEach((s) => s.destroy())))
        const http = yield* LxdHttp.connect({ _tag: "Unix", socketPath })
        const ops = yield* Operations.make.pipe(Effect.provideService(LxdHttp.LxdHttp, http))
        const consoles = yield* InstanceConsole.make.pipe(
          Effect.provideService(LxdHttp.LxdHttp, http),
          Effect.provideService(Operations.Operations, ops)
        )
        const baseline = LxdHttp.openWebSocketCount()
        const fiber = yield* Effect.fork(Effect.scoped(Effect.gen(function*() {
          const session = yield* consoles.attach("box")
          yield* Stream.runDrain(session.output)
        })))
        assert.isTrue(yield* until(() => sockets["0"] !== undefined, 5_000), "attached")
        assert.isTrue(yield* until(() => LxdHttp.openWebSocketCount() === baseline + 2, 5_000), "two sockets open")
        const started = Date.now()
        const exit = yield* Fiber.interrupt(fiber).pipe(Effect.timeout("8 seconds"), Effect.option)
        const elapsed = Date.now() - started
        assert.isTrue(exit._tag === "Some" && Exit.isInterrupted(exit.value), "the detach returned")
        assert.isBelow(elapsed, DETACH_BOUND_MS)
        assert.isTrue(sockets.control!.sawCloseFrame(), "the control socket was closed (detach)")
        for (const fd of ["0", "control"] as const) {
          assert.isTrue(yield* until(() => sockets[fd]!.ended, 1_000), `socket ${fd} ended`)
        }
        assert.strictEqual(LxdHttp.openWebSocketCount(), baseline)
      }),
    15_000
  )
})
