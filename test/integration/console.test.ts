import { assert } from "@effect/vitest"
import { Exec, InstanceConsole, Operations } from "effect-lxd"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import { container } from "../support/fixtures.js"
import { forEachServer } from "../support/servers.js"

/** Poll until `f` gives a value `ok` accepts (boot and console output come asynchronously). */
const eventually = <A, E, R>(f: Effect.Effect<A, E, R>, ok: (a: A) => boolean, what: string) =>
  Effect.gen(function*() {
    for (let i = 0; i < 100; i++) {
      const a = yield* f
      if (ok(a)) return a
      yield* Effect.sleep("100 millis")
    }
    return yield* Effect.fail(new Error(`timed out waiting for ${what}`))
  })

forEachServer("console", (it, server) => {
  it.scoped("the console log shows boot output; clearing empties it", () =>
    Effect.gen(function*() {
      const consoles = yield* InstanceConsole.InstanceConsole
      const name = yield* container(server.env.imageAlias, { prefix: "con" })
      const log = yield* eventually(consoles.log(name), (l) => l.includes("booted"), "the boot line")
      assert.include(log, `effect-lxd test image: ${name} booted`)
      yield* consoles.clearLog(name)
      const after = yield* consoles.log(name)
      assert.notInclude(after, "booted")
      // new output lands in the emptied log
      yield* (yield* Exec.Exec).run(name, ["sh", "-c", "echo after-clear-marker > /dev/console"])
      const fresh = yield* eventually(consoles.log(name), (l) => l.includes("after-clear-marker"), "new console output")
      assert.notInclude(fresh, "booted")
    }))

  it.scoped("attach: type a command on the console, read its output, resize, detach", () =>
    Effect.gen(function*() {
      const consoles = yield* InstanceConsole.InstanceConsole
      const ops = yield* Operations.Operations
      const name = yield* container(server.env.imageAlias, { prefix: "con" })
      const operationId = yield* Effect.scoped(Effect.gen(function*() {
        const session = yield* consoles.attach(name, { width: 100, height: 30 })
        const screen = yield* Ref.make("")
        yield* session.output.pipe(
          Stream.decodeText(),
          Stream.runForEach((t) => Ref.update(screen, (s) => s + t)),
          Effect.forkScoped
        )
        const keys = yield* Queue.unbounded<Uint8Array>()
        yield* Stream.fromQueue(keys).pipe(Stream.run(session.input), Effect.forkScoped)
        yield* session.resize(120, 40)
        // the shell on the console may still be starting: type until it answers
        yield* eventually(
          Effect.zipRight(
            Queue.offer(keys, new TextEncoder().encode("echo console-$((6*7))\n")),
            Ref.get(screen)
          ),
          (s) => s.includes("console-42"),
          "the console's answer"
        )
        return session.operationId
      }))
      // detached: the server's session has ended
      const op = yield* ops.get(operationId).pipe(Effect.option)
      assert.isTrue(op._tag === "None" || op.value.isFinal)
    }))

  it.effect("a missing instance gives NotFound", () =>
    Effect.gen(function*() {
      const consoles = yield* InstanceConsole.InstanceConsole
      const error = yield* Effect.flip(consoles.log("t-no-such-instance-con"))
      assert.strictEqual(error._tag, "NotFound")
      const attach = yield* Effect.flip(Effect.scoped(consoles.attach("t-no-such-instance-con")))
      assert.strictEqual(attach._tag, "NotFound")
    }))
})
