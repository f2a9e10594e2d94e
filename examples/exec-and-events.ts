/**
 * Follow the server's events while an instance stops and starts, then run a command in it
 * and print its output as it comes.
 *
 * Run: `INSTANCE=c1 pnpm exec tsx --conditions=effect-lxd-source examples/exec-and-events.ts` (a container that exists;
 * it is restarted). The connection comes from the environment (`Lxd.layerConfig()`):
 * `LXD_SOCKET`, or `LXD_HTTPS_URL` with `LXD_CLIENT_CERT`, `LXD_CLIENT_KEY`, `LXD_SERVER_CERT`.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeSink from "@effect/platform-node/NodeSink"
import { Config, Console, Effect, Fiber, Stream } from "effect"
import { Events, Exec, Instances, Lxd } from "effect-lxd"

/** Our own stdout/stderr as a Sink (left open at the end: we print more afterwards). */
const toLocal = (out: NodeJS.WritableStream) =>
  NodeSink.fromWritable(() => out, (cause) => new Error(`cannot write output: ${String(cause)}`), { endOnDone: false })

const program = Effect.gen(function*() {
  const instance = yield* Config.string("INSTANCE")
  const events = yield* Events.Events
  const exec = yield* Exec.Exec
  const instances = yield* Instances.Instances

  // 1. subscribe first (LXD does not replay), then act
  const feed = yield* events.subscribe({ types: ["lifecycle"], instance })
  const printer = yield* feed.pipe(
    Stream.filter((e): e is Events.LifecycleEvent => e._tag === "LifecycleEvent"),
    Stream.runForEach((e) => Console.log(`[event] ${e.timestamp} ${e.metadata.action} ${e.metadata.source}`)),
    Effect.fork
  )
  yield* Console.log(`restarting ${instance}...`)
  yield* instances.stop(instance, { force: true })
  yield* instances.start(instance)
  yield* Effect.sleep("500 millis") // let the last events arrive
  yield* Fiber.interrupt(printer)

  // 2. run a command and stream its output live, stdout and stderr to ours
  const exitCode = yield* Effect.scoped(Effect.gen(function*() {
    const proc = yield* exec.start(instance, [
      "sh",
      "-c",
      "for i in 1 2 3 4 5; do echo \"line $i\"; sleep 0.5; done; echo done >&2; exit 3"
    ])
    yield* Stream.run(Stream.empty, proc.stdin) // no input: end of file right away
    yield* Effect.all([
      Stream.run(proc.stdout, toLocal(process.stdout)),
      Stream.run(proc.stderr, toLocal(process.stderr))
    ], { concurrency: 2 })
    return yield* proc.exitCode
  }))
  yield* Console.log(`exit code: ${exitCode}`)

  // 3. or collect everything at once, pylxd-style
  const result = yield* exec.run(instance, ["uname", "-a"])
  yield* Console.log(`uname: ${result.stdout.trim()} (exit ${result.exitCode})`)
})

program.pipe(Effect.scoped, Effect.provide(Lxd.layerConfig()), NodeRuntime.runMain)
