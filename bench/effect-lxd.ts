/**
 * The effect-lxd side of the benchmark, through the public typed services (`Instances`,
 * `Exec`, `Files`), as a user would write it.
 *
 * Run from the build (bench/run.sh compiles this file into bench/.work/dist, where
 * "effect-lxd" is the built package, as a user gets it):
 *
 *   node bench/.work/dist/effect-lxd.js get      --name N --count 500 --rounds 5 [--warmup 2] [--transport unix|https]
 *   node bench/.work/dist/effect-lxd.js getconc  --name N --count 1000 --concurrency 50 --reps 3
 *   node bench/.work/dist/effect-lxd.js execrtt  --name N --count 20 --reps 3       (`true`, one after another)
 *   node bench/.work/dist/effect-lxd.js execconc --name N --count 50 --concurrency 10 --reps 3
 *   node bench/.work/dist/effect-lxd.js startup  (import to a connected layer; one line, no reps)
 *
 * or from the sources, `pnpm exec tsx --conditions=effect-lxd-source bench/effect-lxd.ts ...`:
 *   ... list   --project P --expect 100 --reps 10
 *   ... fanout --prefix bench-x-f --count 20 --concurrency 5 --image busybox
 *   ... exec   --name N --size 200m --reps 3
 *   ... push   --name N --file F --dest /root/f --reps 3
 *   ... pull   --name N --src /root/f --out F2 --bytes B --reps 3
 *   ... imageup      --file image.tar --fingerprint FP --reps 3   (upload, then delete, each rep)
 *   ... imageexport  --fingerprint FP --out F --bytes B --reps 3
 *   ... backupexport --name N --out F --reps 3   (create, export to F, delete the backup)
 *   ... backupimport --file backup.tar --prefix P --reps 3   (a new instance P-<rep>, deleted after)
 *
 * Each prints one JSON `Sample` line (see common.ts).
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as FileSystem from "@effect/platform/FileSystem"
import { Exec, Files, Images, InstanceBackups, Instances, Lxd } from "effect-lxd"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as Fs from "node:fs"
import {
  emit,
  emitFanout,
  fanoutNames,
  fanoutSettings,
  flag,
  intFlag,
  parseArgs,
  peakRssKiB,
  progress,
  Reps,
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
  const warmup = intFlag(flags, "warmup", 0)
  yield* instances.get(name) // warm the connection
  const reps = new Reps(warmup)
  for (let r = 0; r < warmup + rounds; r++) {
    reps.start()
    for (let i = 0; i < count; i++) yield* instances.get(name)
    reps.stop()
  }
  emit({ scenario: "get", tool, transport, ...reps.fields(), count })
})

const getConcurrent = Effect.gen(function*() {
  const instances = yield* Instances.Instances
  const name = flag(flags, "name")
  const count = intFlag(flags, "count", 1000)
  const concurrency = intFlag(flags, "concurrency", 50)
  const rounds = intFlag(flags, "reps", 3)
  const all = Effect.forEach(Array.from({ length: count }), () => instances.get(name), { concurrency, discard: true })
  yield* all // warm the connections
  const reps = new Reps()
  for (let r = 0; r < rounds; r++) {
    reps.start()
    yield* all
    reps.stop()
  }
  emit({ scenario: "getconc", tool, transport, ...reps.fields(), count, concurrency })
})

const list = Effect.gen(function*() {
  const instances = yield* Instances.Instances
  const project = flag(flags, "project")
  const expect = intFlag(flags, "expect")
  const reps = intFlag(flags, "reps", 10)
  const once = Lxd.withProject(instances.list(), project)
  yield* once
  const times = new Reps()
  for (let r = 0; r < reps; r++) {
    times.start()
    const all = yield* once
    times.stop()
    if (all.length !== expect) return yield* Effect.die(new Error(`listed ${all.length} instances, expected ${expect}`))
  }
  emit({ scenario: "list", tool, transport, ...times.fields(), count: expect })
})

const fanout = Effect.gen(function*() {
  const instances = yield* Instances.Instances
  const { alias, concurrency, count, prefix, reps } = fanoutSettings(flags)
  const times = new Reps()
  for (let r = 0; r < reps; r++) {
    const names = fanoutNames(prefix, r, count)
    times.start()
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
    times.stop()
  }
  emitFanout(tool, transport, times, count, concurrency)
})

const execThroughput = Effect.gen(function*() {
  const exec = yield* Exec.Exec
  const name = flag(flags, "name")
  const size = flag(flags, "size", "200m")
  const reps = intFlag(flags, "reps", 3)
  const expected = sizeBytes(size)
  const times = new Reps()
  const baseRssKiB = rssKiB()
  for (let r = 0; r < reps; r++) {
    times.start()
    const { bytes, exitCode } = yield* Effect.scoped(Effect.gen(function*() {
      const proc = yield* exec.start(name, ["head", "-c", size, "/dev/zero"])
      const bytes = yield* Stream.runFold(proc.stdout, 0, (n, chunk) => n + chunk.length)
      return { bytes, exitCode: yield* proc.exitCode }
    }))
    const s = times.stop()
    if (exitCode !== 0 || bytes !== expected) {
      return yield* Effect.die(new Error(`exec gave exit ${exitCode} and ${bytes} bytes, expected ${expected}`))
    }
    progress(`exec ${size}: ${s.toFixed(2)} s`)
  }
  emit({ scenario: "exec", tool, transport, ...times.fields(), bytes: expected, baseRssKiB, peakRssKiB: peakRssKiB() })
})

/** `true`, run to its end: the round trip of a trivial command. */
const runTrue = Effect.gen(function*() {
  const exec = yield* Exec.Exec
  const name = flag(flags, "name")
  return Effect.flatMap(
    exec.run(name, ["true"]),
    (r) => r.exitCode === 0 ? Effect.void : Effect.die(new Error(`true exited with ${r.exitCode}`))
  )
})

const execRoundTrip = Effect.gen(function*() {
  const once = yield* runTrue
  const count = intFlag(flags, "count", 20)
  const rounds = intFlag(flags, "reps", 3)
  yield* once // warm the connection
  const reps = new Reps()
  for (let r = 0; r < rounds; r++) {
    reps.start()
    for (let i = 0; i < count; i++) yield* once
    reps.stop()
  }
  emit({ scenario: "execrtt", tool, transport, ...reps.fields(), count })
})

const execConcurrent = Effect.gen(function*() {
  const once = yield* runTrue
  const count = intFlag(flags, "count", 50)
  const concurrency = intFlag(flags, "concurrency", 10)
  const rounds = intFlag(flags, "reps", 3)
  yield* once
  const reps = new Reps()
  for (let r = 0; r < rounds; r++) {
    reps.start()
    yield* Effect.forEach(Array.from({ length: count }), () => once, { concurrency, discard: true })
    reps.stop()
  }
  emit({ scenario: "execconc", tool, transport, ...reps.fields(), count, concurrency })
})

const push = Effect.gen(function*() {
  const files = yield* Files.Files
  const name = flag(flags, "name")
  const file = flag(flags, "file")
  const dest = flag(flags, "dest")
  const reps = intFlag(flags, "reps", 3)
  const bytes = Fs.statSync(file).size
  const times = new Reps()
  const baseRssKiB = rssKiB()
  for (let r = 0; r < reps; r++) {
    times.start()
    yield* files.push(name, file, dest)
    progress(`push ${bytes} B: ${times.stop().toFixed(2)} s`)
  }
  emit({ scenario: "push", tool, transport, ...times.fields(), bytes, baseRssKiB, peakRssKiB: peakRssKiB() })
})

const pull = Effect.gen(function*() {
  const files = yield* Files.Files
  const name = flag(flags, "name")
  const src = flag(flags, "src")
  const out = flag(flags, "out")
  const expected = intFlag(flags, "bytes")
  const reps = intFlag(flags, "reps", 3)
  const times = new Reps()
  const baseRssKiB = rssKiB()
  for (let r = 0; r < reps; r++) {
    Fs.rmSync(out, { force: true })
    times.start()
    yield* files.pull(name, src, out)
    const s = times.stop()
    const bytes = Fs.statSync(out).size
    Fs.rmSync(out, { force: true })
    if (bytes !== expected) return yield* Effect.die(new Error(`pulled ${bytes} bytes, expected ${expected}`))
    progress(`pull ${bytes} B: ${s.toFixed(2)} s`)
  }
  emit({ scenario: "pull", tool, transport, ...times.fields(), bytes: expected, baseRssKiB, peakRssKiB: peakRssKiB() })
})

/**
 * Upload a unified image tarball from its local file (`Images.unifiedFile`: the bulk path),
 * then delete it (not timed) so that the next repetition uploads it anew.
 */
const imageUpload = Effect.gen(function*() {
  const images = yield* Images.Images
  const file = flag(flags, "file")
  const fingerprint = flag(flags, "fingerprint")
  const reps = intFlag(flags, "reps", 3)
  const bytes = Fs.statSync(file).size
  if (yield* images.exists(fingerprint)) yield* images.delete(fingerprint)
  const times = new Reps()
  const baseRssKiB = rssKiB()
  for (let r = 0; r < reps; r++) {
    times.start()
    const image = yield* images.upload(Images.unifiedFile(file))
    const s = times.stop()
    yield* images.delete(image.fingerprint)
    if (image.fingerprint !== fingerprint || image.size !== bytes) {
      return yield* Effect.die(new Error(`uploaded ${image.fingerprint} (${image.size} B), expected ${fingerprint}`))
    }
    progress(`image upload ${bytes} B: ${s.toFixed(2)} s`)
  }
  emit({ scenario: "imageup", tool, transport, ...times.fields(), bytes, baseRssKiB, peakRssKiB: peakRssKiB() })
})

/** Export an image to a local file (`Images.exportTo`: the bulk path, the fingerprint checked). */
const imageExport = Effect.gen(function*() {
  const images = yield* Images.Images
  const fingerprint = flag(flags, "fingerprint")
  const out = flag(flags, "out")
  const expected = intFlag(flags, "bytes")
  const reps = intFlag(flags, "reps", 3)
  const times = new Reps()
  const baseRssKiB = rssKiB()
  for (let r = 0; r < reps; r++) {
    Fs.rmSync(out, { force: true })
    times.start()
    yield* images.exportTo(fingerprint, out)
    const s = times.stop()
    const bytes = Fs.statSync(out).size
    Fs.rmSync(out, { force: true })
    if (bytes !== expected) return yield* Effect.die(new Error(`exported ${bytes} bytes, expected ${expected}`))
    progress(`image export ${bytes} B: ${s.toFixed(2)} s`)
  }
  emit({
    scenario: "imageexport",
    tool,
    transport,
    ...times.fields(),
    bytes: expected,
    baseRssKiB,
    peakRssKiB: peakRssKiB()
  })
})

/**
 * What `lxc export` does: make a backup (instance only, uncompressed), save it into a
 * local file (`InstanceBackups.exportTo`: the bulk path), delete the backup on the server.
 */
const backupExport = Effect.gen(function*() {
  const backups = yield* InstanceBackups.InstanceBackups
  const name = flag(flags, "name")
  const out = flag(flags, "out")
  const reps = intFlag(flags, "reps", 3)
  const times = new Reps()
  const baseRssKiB = rssKiB()
  let bytes = 0
  for (let r = 0; r < reps; r++) {
    Fs.rmSync(out, { force: true })
    times.start()
    const backup = yield* backups.create(name, { instanceOnly: true, compressionAlgorithm: "none" })
    yield* backups.exportTo(name, backup.name, out).pipe(
      Effect.ensuring(backups.delete(name, backup.name).pipe(Effect.orDie))
    )
    const s = times.stop()
    bytes = Fs.statSync(out).size
    Fs.rmSync(out, { force: true })
    progress(`backup export ${bytes} B: ${s.toFixed(2)} s`)
  }
  emit({ scenario: "backupexport", tool, transport, ...times.fields(), bytes, baseRssKiB, peakRssKiB: peakRssKiB() })
})

/** A new instance from a local backup tarball (`InstanceBackups.importFile`: the bulk path), deleted after each repetition (not timed). */
const backupImport = Effect.gen(function*() {
  const backups = yield* InstanceBackups.InstanceBackups
  const instances = yield* Instances.Instances
  const file = flag(flags, "file")
  const prefix = flag(flags, "prefix")
  const reps = intFlag(flags, "reps", 3)
  const bytes = Fs.statSync(file).size
  const times = new Reps()
  const baseRssKiB = rssKiB()
  for (let r = 0; r < reps; r++) {
    const name = `${prefix}-${transport}-${r}`
    times.start()
    const made = yield* backups.importFile(file, { name }).pipe(
      Effect.onError(() => instances.delete(name, { force: true }).pipe(Effect.ignore))
    )
    const s = times.stop()
    yield* instances.delete(name, { force: true })
    if (made.name !== name) return yield* Effect.die(new Error(`imported ${made.name}, expected ${name}`))
    progress(`backup import ${bytes} B: ${s.toFixed(2)} s`)
  }
  emit({ scenario: "backupimport", tool, transport, ...times.fields(), bytes, baseRssKiB, peakRssKiB: peakRssKiB() })
})

const programs: Record<string, Effect.Effect<void, unknown, Lxd.Services | FileSystem.FileSystem>> = {
  get,
  getconc: getConcurrent,
  list,
  fanout,
  exec: execThroughput,
  execrtt: execRoundTrip,
  execconc: execConcurrent,
  push,
  pull,
  imageup: imageUpload,
  imageexport: imageExport,
  backupexport: backupExport,
  backupimport: backupImport
}

const program = programs[command]
if (program === undefined) {
  process.stderr.write(`unknown command "${command}"; one of ${Object.keys(programs).join(", ")}\n`)
  process.exit(2)
}

Effect.runPromise(program.pipe(Effect.provide(layerFor(transport)), Effect.provide(NodeFileSystem.layer))).catch(
  (error: unknown) => {
    process.stderr.write(`effect-lxd ${command} failed: ${String(error)}\n`)
    process.exit(1)
  }
)
