/**
 * The README's "Testing your program" example, run: a small orchestrator tested against
 * the fake, with a failure injected in the middle, checking that everything is cleaned
 * up. The orchestrator below is the README's, character for character (the last test
 * checks it), so the README shows code that works.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Exec, Instances } from "effect-lxd"
import * as Testing from "effect-lxd/testing"
import * as Fs from "node:fs"
import * as Path from "node:path"

// README:begin
// Launch `count` workers, run a job in each (all at once), and remove every worker at the
// end, whether the jobs succeeded, one of them failed, or the caller gave up.
const runJobs = (count: number) =>
  Effect.scoped(
    Effect.forEach(
      Array.from({ length: count }, (_, i) => `worker-${i}`),
      (name) =>
        Effect.gen(function*() {
          const instances = yield* Instances.Instances
          const exec = yield* Exec.Exec
          yield* Effect.acquireRelease(
            instances.create({ name, source: { type: "image", alias: "busybox" }, start: true }),
            () => Effect.ignore(instances.delete(name, { force: true }))
          )
          const result = yield* exec.run(name, ["job"])
          if (result.exitCode !== 0) return yield* Effect.fail(`job failed on ${name}`)
          return result.stdout
        }),
      { concurrency: "unbounded" }
    )
  )

// what `job` does inside the fake: print a line, except on worker-3
const commands: Testing.CommandHandler = (ctx) =>
  ctx.command[0] === "job"
    ? ctx.instance === "worker-3" ? Effect.succeed(1) : Effect.as(ctx.stdout(`done on ${ctx.instance}\n`), 0)
    : undefined
// README:end

describe("README: testing your program", () => {
  it.live("one failing job of twenty: everything is interrupted and cleaned up", () =>
    Effect.gen(function*() {
      const fake = yield* Testing.FakeLxd
      const failure = yield* Effect.flip(runJobs(20))
      assert.strictEqual(failure, "job failed on worker-3")
      assert.deepStrictEqual(yield* fake.instanceNames(), [])
      assert.strictEqual(yield* fake.openWebSockets, 0)
    }).pipe(Effect.provide(Testing.layer({ commands }))), 30_000)

  it.live("a daemon error in the middle (an injected 500) cleans up too", () =>
    Effect.gen(function*() {
      const fake = yield* Testing.FakeLxd
      yield* fake.failNext({ method: "POST", path: "/1.0/instances/worker-1/exec", status: 500, message: "no pids" })
      const failure = yield* Effect.flip(runJobs(3))
      assert.strictEqual(typeof failure === "string" ? failure : failure._tag, "LXDAPIException")
      assert.deepStrictEqual(yield* fake.instanceNames(), [])
    }).pipe(Effect.provide(Testing.layer({ commands }))))

  it.live("all jobs succeed: their output, and no worker left", () =>
    Effect.gen(function*() {
      const fake = yield* Testing.FakeLxd
      const out = yield* runJobs(3)
      assert.deepStrictEqual(out, ["done on worker-0\n", "done on worker-1\n", "done on worker-2\n"])
      assert.deepStrictEqual(yield* fake.instanceNames(), [])
    }).pipe(Effect.provide(Testing.layer({ commands }))))

  it("the README shows this file's orchestrator", () => {
    const own = Fs.readFileSync(new URL(import.meta.url), "utf8")
    const shown = own.slice(own.indexOf("// README:begin\n") + 16, own.indexOf("// README:end"))
    const readme = Fs.readFileSync(Path.join(__dirname, "..", "..", "..", "README.md"), "utf8")
    assert.isAbove(shown.length, 500)
    assert.include(readme, shown)
  })
})
