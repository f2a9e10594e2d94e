/**
 * The effect-lxd side of the benchmark, through the public typed services (`Instances`,
 * `Exec`, `Files`), as a user would write it.
 *
 *   pnpm exec tsx bench/effect-lxd.ts get    --name N --count 500 --rounds 5 [--transport unix|https]
 *   pnpm exec tsx bench/effect-lxd.ts list   --project P --expect 100 --reps 10
 *   pnpm exec tsx bench/effect-lxd.ts fanout --prefix bench-x-f --count 20 --concurrency 5 --image busybox
 *   pnpm exec tsx bench/effect-lxd.ts exec   --name N --size 200m --reps 3
 *   pnpm exec tsx bench/effect-lxd.ts push   --name N --file F --dest /root/f --reps 3
 *   pnpm exec tsx bench/effect-lxd.ts pull   --name N --src /root/f --out F2 --bytes B --reps 3
 *
 * Each prints one JSON `Sample` line (see common.ts).
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as Fs from "node:fs"
import { Exec, Files, Instances, Lxd } from "../packages/lxd/src/index.js"
import {
  emit,
  fanoutNames,
  fanoutSettings,
  flag,
  intFlag,
  now,
  parseArgs,
  peakRssKiB,
  progress,
  rssKiB
} from "./common.js"
import { layerFor } from "./connect.js"

const { command, flags } = parseArgs(process.argv.slice(2))
const transport = flag(flags, "transport", "unix")
const tool = "effect-lxd"

/** busybox `head -c` takes `200m`, not `200M`. */
const sizeBytes = (size: string): number => {
  const m = /^(\d+)([kmg]?)$/.exec(size)
  if (!m) throw new Error(`bad size ${size}`)
  return Number(m[1]) * ({ "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 } as const)[m[2] as "" | "k" | "m" | "g"]
}

const get = Effect.gen(function*() {
  const instances = yield* Instances.Instances
  const name = flag(flags, "name")
  const count = intFlag(flags, "count", 500)
  const rounds = intFlag(flags, "rounds", 5)
  yield* instances.get(name) // warm the connection
  const seconds: Array<number> = []
  for (let r = 0; r < rounds; r++) {
    const t0 = now()
    for (let i = 0; i < count; i++) yield* instances.get(name)
    seconds.push(now() - t0)
  }
  emit({ scenario: "get", tool, transport, seconds, count })
})

const list = Effect.gen(function*() {
  const instances = yield* Instances.Instances
  const project = flag(flags, "project")
  const expect = intFlag(flags, "expect")
  const reps = intFlag(flags, "reps", 10)
  const once = Lxd.withProject(instances.list(), project)
  yield* once
  const seconds: Array<number> = []
  for (let r = 0; r < reps; r++) {
    const t0 = now()
    const all = yield* once
    seconds.push(now() - t0)
    if (all.length !== expect) return yield* Effect.die(new Error(`listed ${all.length} instances, expected ${expect}`))
  }
  emit({ scenario: "list", tool, transport, seconds, count: expect })
})

const fanout = Effect.gen(function*() {
  const instances = yield* Instances.Instances
  const { alias, concurrency, count, prefix, reps } = fanoutSettings(flags)
  const seconds: Array<number> = []
  for (let r = 0; r < reps; r++) {
    const names = fanoutNames(prefix, r, count)
    const t0 = now()
    yield* Effect.forEach(
      names,
      (name) =>
        Effect.gen(function*() {
          yield* instances.create({ name, source: { type: "image", alias }, profiles: ["default"] })
          yield* instances.start(name)
          yield* instances.delete(name, { force: true })
        }).pipe(
          // whatever happens, leave nothing behind
          Effect.onError(() => instances.delete(name, { force: true }).pipe(Effect.ignore))
        ),
      { concurrency, discard: true }
    )
    seconds.push(now() - t0)
  }
  emit({ scenario: "fanout", tool, transport, seconds, count, note: `concurrency ${concurrency}` })
})

const execThroughput = Effect.gen(function*() {
  const exec = yield* Exec.Exec
  const name = flag(flags, "name")
  const size = flag(flags, "size", "200m")
  const reps = intFlag(flags, "reps", 3)
  const expected = sizeBytes(size)
  const seconds: Array<number> = []
  const baseRssKiB = rssKiB()
  for (let r = 0; r < reps; r++) {
    const t0 = now()
    const { bytes, exitCode } = yield* Effect.scoped(Effect.gen(function*() {
      const proc = yield* exec.start(name, ["head", "-c", size, "/dev/zero"])
      const bytes = yield* Stream.runFold(proc.stdout, 0, (n, chunk) => n + chunk.length)
      return { bytes, exitCode: yield* proc.exitCode }
    }))
    seconds.push(now() - t0)
    if (exitCode !== 0 || bytes !== expected) {
      return yield* Effect.die(new Error(`exec gave exit ${exitCode} and ${bytes} bytes, expected ${expected}`))
    }
    progress(`exec ${size}: ${(seconds[r]!).toFixed(2)} s`)
  }
  emit({ scenario: "exec", tool, transport, seconds, bytes: expected, baseRssKiB, peakRssKiB: peakRssKiB() })
})

const push = Effect.gen(function*() {
  const files = yield* Files.Files
  const name = flag(flags, "name")
  const file = flag(flags, "file")
  const dest = flag(flags, "dest")
  const reps = intFlag(flags, "reps", 3)
  const bytes = Fs.statSync(file).size
  const seconds: Array<number> = []
  const baseRssKiB = rssKiB()
  for (let r = 0; r < reps; r++) {
    const t0 = now()
    yield* files.push(name, file, dest)
    seconds.push(now() - t0)
    progress(`push ${bytes} B: ${(seconds[r]!).toFixed(2)} s`)
  }
  emit({ scenario: "push", tool, transport, seconds, bytes, baseRssKiB, peakRssKiB: peakRssKiB() })
})

const pull = Effect.gen(function*() {
  const files = yield* Files.Files
  const name = flag(flags, "name")
  const src = flag(flags, "src")
  const out = flag(flags, "out")
  const expected = intFlag(flags, "bytes")
  const reps = intFlag(flags, "reps", 3)
  const seconds: Array<number> = []
  const baseRssKiB = rssKiB()
  for (let r = 0; r < reps; r++) {
    Fs.rmSync(out, { force: true })
    const t0 = now()
    yield* files.pull(name, src, out)
    seconds.push(now() - t0)
    const bytes = Fs.statSync(out).size
    Fs.rmSync(out, { force: true })
    if (bytes !== expected) return yield* Effect.die(new Error(`pulled ${bytes} bytes, expected ${expected}`))
    progress(`pull ${bytes} B: ${(seconds[r]!).toFixed(2)} s`)
  }
  emit({ scenario: "pull", tool, transport, seconds, bytes: expected, baseRssKiB, peakRssKiB: peakRssKiB() })
})

const programs: Record<string, Effect.Effect<void, unknown, Lxd.Services>> = {
  get,
  list,
  fanout,
  exec: execThroughput,
  push,
  pull
}

const program = programs[command]
if (program === undefined) {
  process.stderr.write(`unknown command "${command}"; one of ${Object.keys(programs).join(", ")}\n`)
  process.exit(2)
}

Effect.runPromise(program.pipe(Effect.provide(layerFor(transport)))).catch(
  (error: unknown) => {
    process.stderr.write(`effect-lxd ${command} failed: ${String(error)}\n`)
    process.exit(1)
  }
)
