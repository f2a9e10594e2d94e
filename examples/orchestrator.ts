/**
 * An orchestrator in a few lines: launch several containers at once until they are ready,
 * run platform `Command`s in each of them through `Exec.commandExecutor`, push a file to
 * one with a live progress line (like `lxc file push`), and delete everything at the end,
 * or on Ctrl-C (`NodeRuntime.runMain` interrupts on SIGINT; `Launch.scoped` deletes).
 *
 * Run: `pnpm exec tsx --conditions=effect-lxd-source examples/orchestrator.ts` (for the Ctrl-C
 * clean-up, run `node_modules/.bin/tsx` directly: `pnpm exec` ends its child on Ctrl-C before
 * the clean-up has finished; tsx itself passes the signal on and waits).
 * Environment: `IMAGE` (an image alias on the server, default `busybox`), `COUNT`
 * (default 3), `SIZE_MB` (the pushed file, default 32), `HOLD=1` to keep the containers
 * until Ctrl-C. The connection comes from `Lxd.layerConfig()`: `LXD_SOCKET` (or the
 * default socket), or `LXD_HTTPS_URL` with `LXD_CLIENT_CERT`, `LXD_CLIENT_KEY`, `LXD_SERVER_CERT`.
 */
import { Command } from "@effect/platform"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Config, Console, Effect } from "effect"
import { Exec, Launch, Lxd, Progress, Readiness } from "effect-lxd"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as NodePath from "node:path"

/** A local file of random bytes, removed when the scope closes. */
const localFile = (megabytes: number) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const dir = Fs.mkdtempSync(NodePath.join(Os.tmpdir(), "orchestrator-"))
      const file = NodePath.join(dir, "payload.bin")
      Fs.writeFileSync(file, Crypto.randomBytes(megabytes << 20))
      return file
    }),
    (file) => Effect.sync(() => Fs.rmSync(NodePath.dirname(file), { recursive: true, force: true }))
  )

/** Rewrite the current terminal line. */
const statusLine = (text: string) => Effect.sync(() => process.stdout.write(`\r\x1b[K${text}`))

const program = Effect.gen(function*() {
  const image = yield* Config.string("IMAGE").pipe(Config.withDefault("busybox"))
  const count = yield* Config.integer("COUNT").pipe(Config.withDefault(3))
  const sizeMb = yield* Config.integer("SIZE_MB").pipe(Config.withDefault(32))
  const hold = yield* Config.boolean("HOLD").pipe(Config.withDefault(false))
  const launch = yield* Launch.Launch
  const run = Date.now().toString(36)

  // 1. several containers at once, each ready when it runs and answers a command;
  //    each is deleted (forcing a stop) when the scope closes, whatever the exit
  yield* Console.log(`launching ${count} containers from ${image}...`)
  const boxes = yield* Effect.all(
    Array.from({ length: count }, (_, i) =>
      launch.scoped({
        name: `orch-${run}-${i}`,
        source: { type: "image", alias: image },
        readiness: Readiness.all(Readiness.running, Readiness.command(["true"])),
        timeout: "2 minutes"
      })),
    { concurrency: "unbounded" }
  )
  yield* Console.log(`ready: ${boxes.map((b) => b.name).join(", ")}`)

  // 2. the platform's Command, run inside each container
  yield* Effect.forEach(boxes, (box) =>
    Effect.gen(function*() {
      const kernel = yield* Command.make("uname", "-sr").pipe(Command.string)
      const hostname = yield* Command.make("cat", "/etc/hostname").pipe(Command.string)
      const lines = yield* Command.make("ls", "/").pipe(Command.lines)
      yield* Console.log(`${box.name}: ${hostname.trim()} on ${kernel.trim()}, ${lines.length} entries in /`)
    }).pipe(Effect.provide(Exec.commandExecutor(box.name))), { concurrency: "unbounded" })

  // 3. a file push with a live progress line
  const target = boxes[0]!.name
  const file = yield* localFile(sizeMb)
  yield* Progress.pushFile(target, file, "/root/payload.bin", {
    onProgress: (p) => statusLine(`pushing to ${target}:/root/payload.bin  ${Progress.format(p)}`)
  })
  yield* Console.log("")
  const size = yield* Command.make("wc", "-c", "/root/payload.bin").pipe(
    Command.string,
    Effect.provide(Exec.commandExecutor(target))
  )
  yield* Console.log(`${target} has ${size.trim()} (sent ${sizeMb << 20} bytes)`)

  if (hold) {
    yield* Console.log("holding the containers; Ctrl-C deletes them")
    yield* Effect.never
  }
  yield* Console.log("done; deleting the containers")
}).pipe(
  Effect.catchTag("NotReady", (e) => Console.error(`${e.instance} not ready: ${e.condition} (${e.observed})`)),
  Effect.onInterrupt(() => Console.log("\ninterrupted; deleting the containers")),
  Effect.scoped
)

program.pipe(Effect.provide(Lxd.layerConfig()), NodeRuntime.runMain)
