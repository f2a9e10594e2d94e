/**
 * Where the memory of a big transfer goes: `Files.push` or `Files.pull` of one file, with
 * `process.memoryUsage()` sampled every 20 ms (RSS, V8 heap, external memory and the
 * ArrayBuffers in it). Not part of `run.sh`; a profiling aid for bench/README.md.
 *
 *   node bench/.work/dist/memtrace.js push --name N --file F --dest /root/f
 *   node bench/.work/dist/memtrace.js pull --name N --src /root/f --out F2
 *
 * Prints the figures before the transfer, at the sample with the highest RSS, the highest
 * value of each field, and the peak RSS of the process (getrusage).
 */
import { Files } from "effect-lxd"
import * as Effect from "effect/Effect"
import { flag, now, parseArgs } from "./common.js"
import { layerFor } from "./connect.js"

const { command, flags } = parseArgs(process.argv.slice(2))
const MiB = (x: number) => (x / 1048576).toFixed(0)
const show = (m: NodeJS.MemoryUsage) =>
  `rss ${MiB(m.rss)}, heap ${MiB(m.heapUsed)}/${MiB(m.heapTotal)}, external ${MiB(m.external)} ` +
  `(ArrayBuffers ${MiB(m.arrayBuffers)}) MiB`

const program = Effect.gen(function*() {
  const files = yield* Files.Files
  const name = flag(flags, "name")
  const samples: Array<NodeJS.MemoryUsage> = []
  const before = process.memoryUsage()
  const timer = setInterval(() => samples.push(process.memoryUsage()), 20)
  const t0 = now()
  if (command === "push") yield* files.push(name, flag(flags, "file"), flag(flags, "dest"))
  else if (command === "pull") yield* files.pull(name, flag(flags, "src"), flag(flags, "out"))
  else return yield* Effect.die(new Error(`unknown command ${command}; push or pull`))
  clearInterval(timer)
  const top = samples.reduce((a, b) => (b.rss > a.rss ? b : a), before)
  const most = (k: keyof NodeJS.MemoryUsage) => MiB(Math.max(...samples.map((s) => s[k])))
  process.stdout.write(
    `${command} ${(now() - t0).toFixed(2)} s, ${samples.length} samples\n` +
      `  before:       ${show(before)}\n` +
      `  at peak RSS:  ${show(top)}\n` +
      `  highest:      heap used ${most("heapUsed")}, heap total ${most("heapTotal")}, ` +
      `external ${most("external")}, ArrayBuffers ${most("arrayBuffers")} MiB\n` +
      `  peak RSS (getrusage): ${MiB(process.resourceUsage().maxRSS * 1024)} MiB\n`
  )
})

Effect.runPromise(program.pipe(Effect.provide(layerFor(flag(flags, "transport", "unix"))))).catch(
  (error: unknown) => {
    process.stderr.write(`memtrace failed: ${String(error)}\n`)
    process.exit(1)
  }
)
