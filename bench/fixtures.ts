/**
 * What the benchmark needs on the daemon, created and removed with effect-lxd:
 *
 *   pnpm exec tsx bench/fixtures.ts setup    --run bench-abc123 --list 100 --concurrency 5 --image busybox
 *   pnpm exec tsx bench/fixtures.ts teardown --run bench-abc123
 *
 * `setup` creates
 * - `<run>-get`: a stopped container (default project) for the get loop;
 * - `<run>-io`: a running container (default project) for exec and files;
 * - project `<run>` (images and profiles shared with `default`) holding `<run>-l-<i>`,
 *   `--list` stopped containers, so that the list scenario sees exactly those.
 *
 * `teardown` deletes every instance whose name starts with `<run>-` in both projects
 * (running ones forcefully), then the project. It is safe to repeat.
 */
import { Instances, Lxd, Projects } from "effect-lxd"
import * as Effect from "effect/Effect"
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

const teardown = Effect.gen(function*() {
  const instances = yield* Instances.Instances
  const projects = yield* Projects.Projects
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
  progress(`removed ${inDefault + inProject} containers and project ${run}`)
})

const programs: Record<string, Effect.Effect<void, unknown, Lxd.Services>> = { setup, teardown }
const program = programs[command]
if (program === undefined) {
  process.stderr.write(`usage: fixtures.ts setup|teardown --run bench-<id>\n`)
  process.exit(2)
}
Effect.runPromise(program.pipe(Effect.provide(layerFor("unix")))).catch((error: unknown) => {
  process.stderr.write(`fixtures ${command} failed: ${String(error)}\n`)
  process.exit(1)
})
