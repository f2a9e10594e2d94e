/**
 * An exec interrupted at any moment (the POST, the attach of each websocket, the running
 * command) returns within the bound and leaves no command running on the server.
 */
import { assert } from "@effect/vitest"
import { Exec, LxdHttp } from "effect-lxd"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import { container } from "../support/fixtures.js"
import { taggedProcesses } from "../support/processes.js"
import { forEachServer } from "../support/servers.js"

class Box extends Context.Tag("test/exec-interrupt/Box")<Box, string>() {}

/** The interruption guarantee of Exec (README): an interrupted exec returns within 2 s. */
const INTERRUPT_BOUND_MS = 2_000

/**
 * Commands are tagged by a number unique to the run: `sleep <marker>` (a sleep for weeks)
 * or `yes <marker>` (floods its output); `ps` shows the marker.
 */
const markerBase = () => 6_000_000 + Math.floor(Math.random() * 900) * 1_000

/** The tagged processes in the container whose marker lies in [from, from + 1000). */
const sleepersFrom = (box: string, from: number) => taggedProcesses(box, from, from + 1_000)

forEachServer("exec interruption", (it, server) => {
  it.layer(Layer.scoped(Box, container(server.env.imageAlias, { prefix: "xi" })), { timeout: "2 minutes" })((it) => {
    it.effect(
      "interrupted 0-40 ms after start (during the websocket attach): no command survives, each returns within 2 s",
      () =>
        Effect.gen(function*() {
          const exec = yield* Exec.Exec
          const box = yield* Box
          yield* exec.run(box, ["true"])
          const base = markerBase()
          const sockets = LxdHttp.openWebSocketCount()
          const preconnected = LxdHttp.openPreconnectedSocketCount()
          const latencies: Array<number> = []
          const survivors: Array<string> = []
          for (let i = 0; i < 30; i++) {
            const fiber = yield* Effect.fork(exec.run(box, ["sleep", String(base + i)]))
            yield* Effect.sleep(Math.floor(Math.random() * 41))
            const started = Date.now()
            const exit = yield* Fiber.interrupt(fiber).pipe(Effect.timeout("30 seconds"), Effect.option)
            latencies.push(Date.now() - started)
            assert.isTrue(exit._tag === "Some", `interruption ${i} returned within 30 s`)
            // a command that ended on its own (it cannot: it sleeps for days) would not be interrupted
            assert.isTrue(exit._tag === "Some" && Exit.isInterrupted(exit.value), `exec ${i} was interrupted`)
            // checked right away: the command must be gone when the interruption returns
            if (i % 3 === 2) survivors.push(...(yield* sleepersFrom(box, base)))
          }
          survivors.push(...(yield* sleepersFrom(box, base)))
          yield* Effect.log(`${server.name}: interruption latencies (ms) ${latencies.join(" ")}`)
          assert.deepStrictEqual(survivors, [], "no interrupted command is still running")
          assert.isBelow(Math.max(...latencies), INTERRUPT_BOUND_MS, `latencies: ${latencies.join(" ")}`)
          assert.strictEqual(LxdHttp.openWebSocketCount(), sockets)
          // and no connection dialled ahead for the sockets (over HTTPS) is left behind
          assert.strictEqual(LxdHttp.openPreconnectedSocketCount(), preconnected)
        }),
      { timeout: 120_000 }
    )

    it.effect(
      "interrupted while the command runs and its output is unread: killed, within 2 s",
      () =>
        Effect.gen(function*() {
          const exec = yield* Exec.Exec
          const box = yield* Box
          const base = markerBase()
          const sockets = LxdHttp.openWebSocketCount()
          // floods stdout while nobody reads it: the output socket is paused (backpressure)
          const fiber = yield* Effect.fork(Effect.scoped(Effect.gen(function*() {
            const proc = yield* exec.start(box, ["yes", String(base)])
            return yield* proc.exitCode
          })))
          for (let i = 0; i < 100 && (yield* sleepersFrom(box, base)).length === 0; i++) {
            yield* Effect.sleep("50 millis")
          }
          assert.lengthOf(yield* sleepersFrom(box, base), 1, "the command runs")
          yield* Effect.sleep("300 millis")
          const started = Date.now()
          const exit = yield* Fiber.interrupt(fiber).pipe(Effect.timeout("30 seconds"), Effect.option)
          const elapsed = Date.now() - started
          assert.isTrue(exit._tag === "Some" && Exit.isInterrupted(exit.value))
          assert.isBelow(elapsed, INTERRUPT_BOUND_MS)
          assert.deepStrictEqual(yield* sleepersFrom(box, base), [])
          assert.strictEqual(LxdHttp.openWebSocketCount(), sockets)
        }),
      { timeout: 60_000 }
    )
  })
}, { timeout: "3 minutes" })
