/**
 * Interrupting streams and sessions leaves nothing open on our side and nothing running
 * on the server's.
 */
import { assert } from "@effect/vitest"
import { Events, Exec, Files, InstanceConsole, Instances, LxdHttp, Operations } from "effect-lxd"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { container } from "../support/fixtures.js"
import { forEachServer, uniqueName } from "../support/servers.js"

class Box extends Context.Tag("test/resource-safety/Box")<Box, string>() {}

/** Open sockets of the process (unix sockets, TCP, TLS): HTTP connections included. */
const openHandles = () => process.getActiveResourcesInfo().filter((r) => /Pipe|TCP|TLS/.test(r)).length

/** Wait (briefly) until the websocket count is back at `n`: close handshakes finish asynchronously. */
const socketsBackTo = (n: number) =>
  Effect.gen(function*() {
    for (let i = 0; i < 60 && LxdHttp.openWebSocketCount() !== n; i++) yield* Effect.sleep("50 millis")
    return LxdHttp.openWebSocketCount()
  })

const until = <E, R>(check: Effect.Effect<boolean, E, R>, what: string) =>
  Effect.gen(function*() {
    for (let i = 0; i < 200; i++) {
      if (yield* check) return
      yield* Effect.sleep("50 millis")
    }
    return yield* Effect.fail(new Error(`timed out waiting for ${what}`))
  })

/** The operation ended on the server (a final status, or already reaped). */
const operationEnded = (id: string) =>
  Effect.flatMap(Operations.Operations, (ops) =>
    ops.get(id).pipe(
      Effect.map((op) => op.isFinal),
      Effect.catchTag("NotFound", () => Effect.succeed(true))
    ))

forEachServer("resource safety", (it, server) => {
  it.layer(Layer.scoped(Box, container(server.env.imageAlias, { prefix: "rs" })), { timeout: "3 minutes" })((it) => {
    it.effect("interrupting an exec closes its sockets, kills the command and ends the operation", () =>
      Effect.gen(function*() {
        const exec = yield* Exec.Exec
        const ops = yield* Operations.Operations
        const box = yield* Box
        const before = LxdHttp.openWebSocketCount()
        let operationId = ""
        const fiber = yield* Effect.fork(Effect.scoped(Effect.gen(function*() {
          // a command that writes without end: its output is being read when we interrupt
          const proc = yield* exec.start(box, ["sh", "-c", "while true; do echo tick; sleep 0.1; done"])
          operationId = proc.operationId
          yield* Stream.runDrain(proc.stdout)
        })))
        yield* until(Effect.sync(() => operationId !== ""), "the exec to start")
        yield* until(Effect.map(ops.get(operationId), (op) => op.status === "Running"), "the command to run")
        assert.strictEqual(LxdHttp.openWebSocketCount(), before + 4)
        yield* Fiber.interrupt(fiber)
        assert.strictEqual(yield* socketsBackTo(before), before)
        assert.isTrue(yield* operationEnded(operationId))
        const left = yield* exec.run(box, ["sh", "-c", "ps | grep -c '[w]hile true' || true"])
        assert.strictEqual(left.stdout.trim(), "0")
      }))

    it.effect("interrupting an interactive exec ends it too", () =>
      Effect.gen(function*() {
        const exec = yield* Exec.Exec
        const ops = yield* Operations.Operations
        const before = LxdHttp.openWebSocketCount()
        let operationId = ""
        const fiber = yield* Effect.fork(Effect.scoped(Effect.gen(function*() {
          const proc = yield* exec.start(yield* Box, ["sleep", "300"], { interactive: true })
          operationId = proc.operationId
          yield* Stream.runDrain(proc.stdout)
        })))
        yield* until(Effect.sync(() => operationId !== ""), "the exec to start")
        yield* until(Effect.map(ops.get(operationId), (op) => op.status === "Running"), "the command to run")
        yield* Fiber.interrupt(fiber)
        assert.strictEqual(yield* socketsBackTo(before), before)
        assert.isTrue(yield* operationEnded(operationId))
      }))

    it.effect("interrupting a file read closes its HTTP connection", () =>
      Effect.gen(function*() {
        const files = yield* Files.Files
        const exec = yield* Exec.Exec
        const box = yield* Box
        const big = "/tmp/resource-safety-big"
        yield* exec.run(box, ["sh", "-c", `head -c 67108864 /dev/zero > ${big}`])
        // warm the connection pool, then count
        yield* files.stat(box, big)
        const before = openHandles()
        for (let i = 0; i < 5; i++) {
          let received = 0
          const fiber = yield* Effect.fork(
            files.read(box, big).pipe(
              Stream.runForEach((chunk) =>
                Effect.sync(() => {
                  received += chunk.length
                }).pipe(Effect.zipRight(Effect.sleep("20 millis")))
              )
            )
          )
          yield* until(Effect.sync(() => received > 0), "the first bytes")
          yield* Fiber.interrupt(fiber)
          assert.isBelow(received, 67108864)
        }
        yield* Effect.sleep("200 millis")
        // a leaked (stalled) response would hold one connection each
        assert.isAtMost(openHandles(), before + 1)
        // and the connection still works
        assert.strictEqual((yield* files.stat(box, big)).type, "file")
      }))

    it.effect("interrupting an events stream closes its socket", () =>
      Effect.gen(function*() {
        const events = yield* Events.Events
        const before = LxdHttp.openWebSocketCount()
        const fiber = yield* Effect.fork(Stream.runDrain(events.stream({ types: ["lifecycle", "operation"] })))
        yield* until(Effect.sync(() => LxdHttp.openWebSocketCount() === before + 1), "the events socket")
        yield* Fiber.interrupt(fiber)
        assert.strictEqual(yield* socketsBackTo(before), before)
      }))

    it.effect("interrupting a console attach closes its sockets and ends the operation", () =>
      Effect.gen(function*() {
        const consoles = yield* InstanceConsole.InstanceConsole
        const before = LxdHttp.openWebSocketCount()
        let operationId = ""
        const fiber = yield* Effect.fork(Effect.scoped(Effect.gen(function*() {
          const session = yield* consoles.attach(yield* Box)
          operationId = session.operationId
          yield* Stream.runDrain(session.output)
        })))
        yield* until(
          Effect.sync(() => operationId !== "" && LxdHttp.openWebSocketCount() === before + 2),
          "the console"
        )
        yield* Fiber.interrupt(fiber)
        assert.strictEqual(yield* socketsBackTo(before), before)
        assert.isTrue(yield* operationEnded(operationId))
      }))

    it.effect("200 exec runs in a row leave the open-socket count where it started", () =>
      Effect.gen(function*() {
        const exec = yield* Exec.Exec
        const box = yield* Box
        yield* exec.run(box, ["true"])
        const before = LxdHttp.openWebSocketCount()
        const handles = openHandles()
        for (let i = 0; i < 200; i++) {
          const result = yield* exec.run(box, ["echo", String(i)])
          assert.strictEqual(result.stdout, `${i}\n`)
        }
        assert.strictEqual(yield* socketsBackTo(before), before)
        yield* Effect.sleep("200 millis")
        // HTTP connections are pooled: a few may stay open, but none per run
        assert.isAtMost(openHandles(), handles + 4)
      }), { timeout: 180_000 })
  })
}, { timeout: "3 minutes" })

forEachServer("acquire interrupted", (it, server) => {
  it.effect(
    "an acquireRelease around create, interrupted at any moment, leaves no instance behind",
    () =>
      Effect.gen(function*() {
        const instances = yield* Instances.Instances
        const prefix = uniqueName("acq")
        const delays = [0, 5, 15, 30, 50, 80, 120, 200, 400]
        yield* Effect.forEach(delays, (delay, i) =>
          Effect.gen(function*() {
            const acquired = Effect.acquireRelease(
              instances.create({ name: `${prefix}-${i}`, source: { type: "image", alias: server.env.imageAlias } }),
              (made) => Effect.orDie(instances.delete(made.name, { force: true }))
            )
            const fiber = yield* Effect.fork(Effect.scoped(Effect.zipRight(acquired, Effect.never)))
            yield* Effect.sleep(delay)
            yield* Fiber.interrupt(fiber)
          }), { discard: true })
        const left = (yield* instances.listNames()).filter((n) => n.startsWith(prefix))
        assert.deepStrictEqual(left, [], "every instance an acquire created was released")
      }),
    { timeout: 240_000 }
  )
})
