import { assert } from "@effect/vitest"
import { DetachedExec, Exec } from "effect-lxd"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { container } from "../support/fixtures.js"
import { forEachServer } from "../support/servers.js"

/** One running container per server suite. */
class Box extends Context.Tag("test/detached-exec/Box")<Box, string>() {}

/** Poll until the server has forgotten the operation (it reaps finished ones after a few seconds). */
const untilForgotten = (operationId: string) =>
  Effect.gen(function*() {
    const detached = yield* DetachedExec.DetachedExec
    for (let i = 0; i < 120; i++) {
      const found = yield* detached.get(operationId).pipe(
        Effect.as(true),
        Effect.catchTag("NotFound", () => Effect.succeed(false))
      )
      if (!found) return
      yield* Effect.sleep("500 millis")
    }
    return yield* Effect.dieMessage(`operation ${operationId} was never reaped`)
  })

forEachServer("detached exec", (it, server) => {
  it.layer(Layer.scoped(Box, container(server.env.imageAlias, { prefix: "detach" })), { timeout: "2 minutes" })(
    (it) => {
      it.effect("a detached command outlives the fiber and scope that started it", () =>
        Effect.gen(function*() {
          const box = yield* Box
          const detached = yield* DetachedExec.DetachedExec
          const started = yield* Effect.scoped(
            detached.start(box, ["sh", "-c", "sleep 1; echo out; echo err >&2; exit 4"])
          ).pipe(Effect.fork)
          const job = yield* Fiber.join(started)
          assert.strictEqual(job.instance, box)
          assert.isTrue(job.recordOutput)
          // a waiter that is interrupted does not end the command either
          const waiter = yield* Effect.fork(detached.wait(job.operationId))
          yield* Fiber.interrupt(waiter)
          const status = yield* detached.get(job.operationId)
          assert.isTrue(status.running)
          assert.deepStrictEqual(status.instance, Option.some(box))
          assert.isTrue(Option.isNone(status.exitCode))
          // from another fiber: the exit status and the recorded output
          const code = yield* Effect.fork(detached.wait(job.operationId)).pipe(Effect.flatMap(Fiber.join))
          assert.deepStrictEqual(code, Option.some(4))
          const ended = yield* detached.get(job.operationId)
          assert.isFalse(ended.running)
          assert.deepStrictEqual(ended.exitCode, Option.some(4))
          const output = yield* detached.outputText(box, job.operationId)
          assert.deepStrictEqual(output, { stdout: "out\n", stderr: "err\n" })
          const bytes = yield* detached.output(box, job.operationId)
          assert.deepStrictEqual(Array.from(bytes.stdout), Array.from(new TextEncoder().encode("out\n")))
          yield* detached.deleteOutput(box, job.operationId)
          const gone = yield* Effect.flip(detached.output(box, job.operationId))
          assert.strictEqual(gone._tag, "NotFound")
          // deleting again is not an error
          yield* detached.deleteOutput(box, job.operationId)
        }))

      it.effect("another connection (another program) finds it by the operation id alone", () =>
        Effect.gen(function*() {
          const box = yield* Box
          const job = yield* Effect.flatMap(
            DetachedExec.DetachedExec,
            (d) => d.start(box, ["sh", "-c", "sleep 1; printf 'from afar'"])
          )
          // a new connection built from scratch, knowing only the id and the instance
          const fromElsewhere = Effect.gen(function*() {
            const detached = yield* DetachedExec.DetachedExec
            const status = yield* detached.get(job.operationId)
            const code = yield* detached.wait(job.operationId)
            const output = yield* detached.outputText(box, job.operationId)
            yield* detached.deleteOutput(box, job.operationId)
            return { status, code, output }
          }).pipe(Effect.provide(server.layer))
          const { code, output, status } = yield* fromElsewhere
          assert.deepStrictEqual(status.instance, Option.some(box))
          assert.deepStrictEqual(code, Option.some(0))
          assert.strictEqual(output.stdout, "from afar")
        }))

      it.effect(
        "once the server has forgotten the operation, wait says none and the output is still there",
        () =>
          Effect.gen(function*() {
            const box = yield* Box
            const detached = yield* DetachedExec.DetachedExec
            const job = yield* detached.start(box, ["sh", "-c", "echo kept"])
            yield* untilForgotten(job.operationId)
            const code = yield* detached.wait(job.operationId)
            assert.isTrue(Option.isNone(code))
            const output = yield* detached.outputText(box, job.operationId)
            assert.strictEqual(output.stdout, "kept\n")
            yield* detached.deleteOutput(box, job.operationId)
          }),
        { timeout: 90_000 }
      )

      it.effect("a program that is not there exits 127; without recording there is no output", () =>
        Effect.gen(function*() {
          const box = yield* Box
          const detached = yield* DetachedExec.DetachedExec
          const missing = yield* detached.start(box, ["no-such-program-here"])
          assert.deepStrictEqual(yield* detached.wait(missing.operationId), Option.some(127))
          yield* detached.deleteOutput(box, missing.operationId)
          const quiet = yield* detached.start(box, ["sh", "-c", "echo lost"], { recordOutput: false })
          assert.isFalse(quiet.recordOutput)
          assert.deepStrictEqual(yield* detached.wait(quiet.operationId), Option.some(0))
          const none = yield* Effect.flip(detached.output(box, quiet.operationId))
          assert.strictEqual(none._tag, "NotFound")
        }))

      it.effect("environment and working directory apply; a relative cwd is refused before any request", () =>
        Effect.gen(function*() {
          const box = yield* Box
          const detached = yield* DetachedExec.DetachedExec
          const job = yield* detached.start(box, ["sh", "-c", "echo $WHO; pwd"], {
            environment: { WHO: "me" },
            cwd: "/tmp"
          })
          yield* detached.wait(job.operationId)
          assert.strictEqual((yield* detached.outputText(box, job.operationId)).stdout, "me\n/tmp\n")
          yield* detached.deleteOutput(box, job.operationId)
          const refused = yield* Effect.flip(detached.start(box, ["true"], { cwd: "tmp" }))
          assert.strictEqual(refused._tag, "InvalidArgument")
          // the attached API sees the instance as it was: nothing left running
          const ps = yield* Effect.flatMap(Exec.Exec, (exec) => exec.run(box, ["ps"]))
          assert.notMatch(ps.stdout, /echo \$WHO/)
        }))
    }
  )
})
