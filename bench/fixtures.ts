/**
 * What the benchmark needs on the daemon, created and removed with effect-lxd:
 *
 *   pnpm exec tsx bench/fixtures.ts setup    --run bench-abc123 --list 100 --concurrency 5 --image busybox
 *   pnpm exec tsx bench/fixtures.ts backup   --run bench-abc123 --size 100m --image busybox
 *   pnpm exec tsx bench/fixtures.ts image    --run bench-abc123 --file image.tar
 *   pnpm exec tsx bench/fixtures.ts teardown --run bench-abc123
 *
 * `setup` creates
 * - `<run>-get`: a stopped container (default project) for the get loop;
 * - `<run>-io`: a running container (default project) for exec and files;
 * - project `<run>` (images and profiles shared with `default`) holding `<run>-l-<i>`,
 *   `--list` stopped containers, so that the list scenario sees exactly those.
 *
 * `backup` creates `<run>-bk`, a stopped container holding `--size` random bytes in
 * `/root/data.bin`, for the backup rows; `image` uploads the unified tarball `--file`
 * (made by run.sh, its metadata carrying the property `bench.run=<run>`) for the image
 * export rows.
 *
 * `teardown` deletes every instance whose name starts with `<run>-` in both projects
 * (running ones forcefully, with their backups), then the project, then every image whose
 * property `bench.run` is `<run>`. It is safe to repeat.
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as FileSystem from "@effect/platform/FileSystem"
import { Exec, Images, Instances, Lxd, Projects } from "effect-lxd"
import * as Effect from "effect/Effect"
import * as Fs from "node:fs"
import { flag, intFlag, parseArgs, progress } from "./common.js"
import { layerFor } from "./connect.js"

const { command, flags } = parseArgs(process.argv.slice(2))
const run = flag(flags, "run")
if (!/^bench-[a-z0-9]+$/.test(run)) throw new Error(`--run must look like bench-<id>, got ${run}`)

const setup = Effect.gen(function*() {
  const instances = yield* Instances.Instances
  const projects = yield* Projects.Projects
  const count = intFlag(flags, "list", 100)
  const concurrency = intFlag(flags, "concurrency", 5)
  const alias = flag(flags, "image", "busybox")
  const source = { type: "image", alias } as const

  yield* instances.create({ name: `${run}-get`, source, profiles: ["default"] })
  yield* instances.create({ name: `${run}-io`, source, profiles: ["default"], start: true })
  yield* projects.create({
    name: run,
    description: "effect-lxd benchmark (temporary)",
    features: { images: false, profiles: false, storageVolumes: false }
  })
  const t0 = Date.now()
  yield* Effect.forEach(
    Array.from({ length: count }, (_, i) => `${run}-l-${String(i).padStart(3, "0")}`),
    (name) => instances.create({ name, source, profiles: ["default"] }),
    { concurrency, discard: true }
  ).pipe(Lxd.withProject(run))
  progress(`created ${count} containers in project ${run} in ${((Date.now() - t0) / 1000).toFixed(1)} s`)
})

const backupSource = Effect.gen(function*() {
  const instances = yield* Instances.Instances
  const exec = yield* Exec.Exec
  const size = flag(flags, "size", "100m")
  const alias = flag(flags, "image", "busybox")
  const name = `${run}-bk`
  yield* instances.create({ name, source: { type: "image", alias }, profiles: ["default"], start: true })
  const filled = yield* exec.run(name, ["sh", "-c", `head -c ${size} /dev/urandom > /root/data.bin && sync`])
  if (filled.exitCode !== 0) return yield* Effect.die(new Error(`filling ${name} exited with ${filled.exitCode}`))
  yield* instances.stop(name, { force: true })
  progress(`created ${name} with ${size} of random data`)
})

const image = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const images = yield* Images.Images
  const file = flag(flags, "file")
  const made = yield* images.upload(Images.unified(fs.stream(file), { contentLength: Fs.statSync(file).size }))
  if (made.properties["bench.run"] !== run) {
    yield* images.delete(made.fingerprint)
    return yield* Effect.die(new Error(`the image ${made.fingerprint} lacks the property bench.run=${run}`))
  }
  progress(`uploaded image ${made.fingerprint}`)
})

const teardown = Effect.gen(function*() {
  const instances = yield* Instances.Instances
  const projects = yield* Projects.Projects
  const images = yield* Images.Images
  const concurrency = intFlag(flags, "concurrency", 5)
  const clean = Effect.gen(function*() {
    const mine = (yield* instances.listNames()).filter((n) => n.startsWith(`${run}-`))
    yield* Effect.forEach(mine, (name) => instances.delete(name, { force: true }).pipe(Effect.ignore), {
      concurrency,
      discard: true
    })
    return mine.length
  })
  const inDefault = yield* clean
  let inProject = 0
  if (yield* projects.exists(run)) {
    inProject = yield* clean.pipe(Lxd.withProject(run))
    yield* projects.delete(run)
  }
  const mineImages = (yield* images.list()).filter((i) => i.properties["bench.run"] === run)
  yield* Effect.forEach(mineImages, (i) => images.delete(i.fingerprint), { discard: true })
  progress(`removed ${inDefault + inProject} containers, project ${run} and ${mineImages.length} images`)
})

const programs: Record<string, Effect.Effect<void, unknown, Lxd.Services | FileSystem.FileSystem>> = {
  setup,
  backup: backupSource,
  image,
  teardown
}
const program = programs[command]
if (program === undefined) {
  process.stderr.write(`usage: fixtures.ts setup|backup|image|teardown --run bench-<id>\n`)
  process.exit(2)
}
Effect.runPromise(program.pipe(Effect.provide(layerFor("unix")), Effect.provide(NodeFileSystem.layer))).catch(
  (error: unknown) => {
    process.stderr.write(`fixtures ${command} failed: ${String(error)}\n`)
    process.exit(1)
  }
)
