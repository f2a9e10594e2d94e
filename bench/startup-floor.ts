/**
 * The start-up floor: what loading the Effect stack costs before effect-lxd adds anything,
 * stage by stage, each in fresh processes. Not run by run.sh; for *Where the time goes*.
 *
 *   node bench/.work/dist/startup-floor.js run     --reps 10 --tmp DIR [--socket PATH]
 *   node bench/.work/dist/startup-floor.js profile --reps 3  --tmp DIR [--socket PATH]
 *
 * The modules of each stage are the ones the built package (packages/lxd/build/esm) imports,
 * found by following its relative imports from `index.js` and collecting the bare ones, so
 * the lists follow the code. Stages, each adding to the one before:
 *
 *   node         an empty module
 *   effect       every `effect/*` module effect-lxd imports
 *   platform     + every `@effect/platform/*` module it imports
 *   undici       + `undici` (the copy @effect/platform-node depends on)
 *   platform-node + every `@effect/platform-node/*` module it imports
 *   ws           + `ws`
 *   effect-lxd   + effect-lxd's `index.js` (what `import ... from "effect-lxd"` loads)
 *   connected    + `Layer.build(Lxd.layerUnix(...))` in a scope (GET /1.0), then closed
 *
 * and beside them `effect index`: only `effect`'s own index (what `import { Effect } from
 * "effect"` loads). Each stage is a generated module of static imports, run as `node FILE`;
 * `run` starts the stages in turn, `--reps` rounds (so outside load hits every stage alike),
 * and prints per stage the median, min and max of: the wall time from spawn to exit, the
 * time from the process's origin to the end of the stage's module (`performance.now()`),
 * the CPU time (`process.cpuUsage()`) and the peak RSS (`maxRSS`) at that point, and the
 * peak RSS up to exit (GNU `time`: V8 may still be compiling after the module ends). One more
 * process per stage counts the modules it loads and their source bytes by package (ESM
 * through a `module.register` load hook, CommonJS through `Module.prototype._compile`;
 * the counting processes are not timed).
 *
 * `profile` runs the `connected` stage `--reps` times under `node --cpu-prof` and prints
 * the self time by package, the functions with the most self time, and the inclusive time
 * of each of effect-lxd's module bodies (what its top level runs at import).
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { flag, intFlag, now, parseArgs, progress, readEnvFile } from "./common.js"

const { command, flags } = parseArgs(process.argv.slice(2))
const tmp = flag(flags, "tmp")
const socketPath = flag(flags, "socket", readEnvFile().LXD_SOCKET ?? "/var/lib/lxd/unix.socket")

/** The bare specifiers the built package's modules import, following `./` imports from `index.js`. */
const bareImports = (indexUrl: string): Set<string> => {
  const seen = new Set<string>()
  const bare = new Set<string>()
  const queue = [fileURLToPath(indexUrl)]
  const importRe = /^(?:import|export)\s[^;]*?from\s+"([^"]+)"/gm
  while (queue.length > 0) {
    const file = queue.pop()!
    if (seen.has(file)) continue
    seen.add(file)
    for (const m of Fs.readFileSync(file, "utf8").matchAll(importRe)) {
      const spec = m[1]!
      if (spec.startsWith(".")) queue.push(Path.resolve(Path.dirname(file), spec))
      else if (!spec.startsWith("node:")) bare.add(spec)
    }
  }
  return bare
}

/** Resolve specifiers as ESM from a parent URL, in a child (two-argument `import.meta.resolve` needs a flag on Node 20). */
const resolveFrom = (parent: string, specs: ReadonlyArray<string>): Array<string> => {
  const code =
    `const [p, ...s] = JSON.parse(process.argv[1]); console.log(JSON.stringify(s.map((x) => import.meta.resolve(x, p))))`
  const out = ChildProcess.execFileSync(process.execPath, [
    "--experimental-import-meta-resolve",
    "--no-warnings",
    "--input-type=module",
    "-e",
    code,
    JSON.stringify([parent, ...specs])
  ], { encoding: "utf8" })
  return JSON.parse(out) as Array<string>
}

interface Stage {
  readonly name: string
  readonly file: string
}

const REPORT = [
  "const __c = process.cpuUsage()",
  "process.stdout.write(JSON.stringify({ sinceOrigin: performance.now() / 1000, cpu: (__c.user + __c.system) / 1e6, rss: process.resourceUsage().maxRSS }) + \"\\n\")"
].join("\n")

/** effect-lxd's own modules reachable from `index.js`, each after the modules it imports. */
const postOrder = (indexUrl: string): Array<string> => {
  const out: Array<string> = []
  const seen = new Set<string>()
  const importRe = /^(?:import|export)\s[^;]*?from\s+"(\.[^"]+)"/gm
  const visit = (file: string) => {
    if (seen.has(file)) return
    seen.add(file)
    for (const m of Fs.readFileSync(file, "utf8").matchAll(importRe)) visit(Path.resolve(Path.dirname(file), m[1]!))
    out.push(file)
  }
  visit(fileURLToPath(indexUrl))
  return out
}

const makeStages = (): Array<Stage> => {
  const indexUrl = import.meta.resolve("effect-lxd")
  const bare = [...bareImports(indexUrl)].sort()
  const group = (prefix: string) => bare.filter((s) => s === prefix || s.startsWith(prefix + "/"))
  const effect = group("effect")
  const platform = group("@effect/platform")
  const platformNode = group("@effect/platform-node")
  const ws = group("ws")
  const known = new Set([...effect, ...platform, ...platformNode, ...ws])
  const unknown = bare.filter((s) => !known.has(s))
  if (unknown.length > 0) throw new Error(`effect-lxd imports packages no stage covers: ${unknown.join(", ")}`)
  const resolved = new Map<string, string>()
  const all = [...effect, ...platform, ...platformNode, ...ws, "effect"]
  resolveFrom(indexUrl, all).forEach((url, i) => resolved.set(all[i]!, url))
  const undiciFrom = resolved.get(platformNode.find((s) => s.endsWith("/Undici")) ?? "@effect/platform-node/Undici")
  if (undiciFrom === undefined) throw new Error("effect-lxd no longer imports @effect/platform-node/Undici")
  const [undici] = resolveFrom(undiciFrom, ["undici"])
  const lines = (urls: ReadonlyArray<string>) => urls.map((u, i) => `import * as m${i} from ${JSON.stringify(u)}`)
  const effectUrls = effect.map((s) => resolved.get(s)!)
  const cumulative: Array<[string, Array<string>]> = [
    ["node", []],
    ["effect", effectUrls],
    ["platform", platform.map((s) => resolved.get(s)!)],
    ["undici", [undici!]],
    ["platform-node", platformNode.map((s) => resolved.get(s)!)],
    ["ws", ws.map((s) => resolved.get(s)!)],
    ["effect-lxd", [indexUrl]]
  ]
  Fs.mkdirSync(tmp, { recursive: true })
  const stages: Array<Stage> = []
  const write = (name: string, body: string) => {
    const file = Path.join(tmp, `floor-${stages.length}-${name.replace(/[^a-z0-9-]+/gi, "_")}.mjs`)
    Fs.writeFileSync(file, body + "\n" + REPORT + "\n")
    stages.push({ name, file })
  }
  const acc: Array<string> = []
  for (const [name, urls] of cumulative) {
    acc.push(...urls)
    write(name, lines(acc).join("\n"))
  }
  const effectModule = resolved.get("effect/Effect")!
  const layerModule = resolved.get("effect/Layer")!
  write(
    "connected",
    [
      ...lines(acc),
      `import * as Effect from ${JSON.stringify(effectModule)}`,
      `import * as Layer from ${JSON.stringify(layerModule)}`,
      `import { Lxd } from ${JSON.stringify(indexUrl)}`,
      `await Effect.runPromise(Effect.scoped(Layer.build(Lxd.layerUnix({ socketPath: ${
        JSON.stringify(socketPath)
      } }))).pipe(Effect.asVoid))`
    ].join("\n")
  )
  write("effect index", `import * as E from ${JSON.stringify(resolved.get("effect")!)}`)
  write("effect/Schema", `import * as S from ${JSON.stringify(resolved.get("effect/Schema")!)}`)
  write(
    "undici GET /1.0",
    [
      `import { Agent, request } from ${JSON.stringify(undici)}`,
      `const agent = new Agent({ connect: { socketPath: ${JSON.stringify(socketPath)} } })`,
      `const answer = await request("http://lxd/1.0", { dispatcher: agent })`,
      `if (answer.statusCode !== 200) throw new Error("GET /1.0: " + answer.statusCode)`,
      `await answer.body.json()`,
      `await agent.close()`
    ].join("\n")
  )
  return stages
}

interface Measure {
  readonly wall: number
  readonly sinceOrigin: number
  readonly cpu: number
  readonly rss: number
  /** Peak RSS up to exit (GNU time), KiB. */
  readonly exitRss: number
}

const spawn = (argv: ReadonlyArray<string>, wrapper: ReadonlyArray<string> = []) =>
  new Promise<{ wall: number; stdout: string }>((resolve, reject) => {
    const t0 = now()
    const [exe, ...args] = [...wrapper, process.execPath, ...argv]
    const child = ChildProcess.spawn(exe!, args, { stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()))
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
    child.on("error", reject)
    child.on("close", (code) => {
      const wall = now() - t0
      if (code !== 0) return reject(new Error(`node ${argv.join(" ")} exited with ${code}: ${stderr.slice(-800)}`))
      resolve({ wall, stdout })
    })
  })

/** One process of the stage, under GNU time for the peak RSS up to exit (V8's work after the module ends included). */
const measure = async (stage: Stage): Promise<Measure> => {
  const rssFile = Path.join(tmp, "floor-time.out")
  const { stdout, wall } = await spawn([stage.file], ["/usr/bin/time", "-f", "%M", "-o", rssFile])
  const r = JSON.parse(stdout.trim().split("\n").pop()!) as Omit<Measure, "wall" | "exitRss">
  return { wall, ...r, exitRss: Number(Fs.readFileSync(rssFile, "utf8").trim().split("\n").pop()) }
}

/** Which package a loaded module belongs to. */
const packageOf = (url: string): string | undefined => {
  if (url.startsWith("node:")) return undefined
  const p = url.startsWith("file:") ? fileURLToPath(url) : url
  if (p.startsWith(tmp)) return undefined
  if (p.includes(`${Path.sep}packages${Path.sep}lxd${Path.sep}build${Path.sep}`)) return "effect-lxd"
  const i = p.lastIndexOf(`${Path.sep}node_modules${Path.sep}`)
  if (i < 0) return p
  const parts = p.slice(i + 14).split(Path.sep)
  return parts[0]!.startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0]!
}

const COUNT_HOOKS = `import { appendFileSync } from "node:fs"
export async function load(url, context, next) {
  const r = await next(url, context)
  if (r.format !== "commonjs") {
    const n = r.source == null ? 0 : typeof r.source === "string" ? Buffer.byteLength(r.source) : r.source.byteLength
    appendFileSync(process.env.FLOOR_LOAD_LOG, url + " " + n + "\\n")
  }
  return r
}
`
const COUNT_REGISTER = `import { register, createRequire } from "node:module"
import { appendFileSync } from "node:fs"
register(new URL("./floor-count-hooks.mjs", import.meta.url))
const Module = createRequire(import.meta.url)("node:module")
const compile = Module.prototype._compile
Module.prototype._compile = function (content, filename) {
  appendFileSync(process.env.FLOOR_LOAD_LOG, "file://" + filename + " " + Buffer.byteLength(content) + "\\n")
  return compile.call(this, content, filename)
}
`

/** Modules and source bytes by package, loaded by one process of the stage. */
const count = async (stage: Stage): Promise<Map<string, { modules: number; bytes: number }>> => {
  const register = Path.join(tmp, "floor-count-register.mjs")
  Fs.writeFileSync(Path.join(tmp, "floor-count-hooks.mjs"), COUNT_HOOKS)
  Fs.writeFileSync(register, COUNT_REGISTER)
  const log = Path.join(tmp, "floor-count.log")
  Fs.rmSync(log, { force: true })
  process.env.FLOOR_LOAD_LOG = log
  await spawn(["--import", pathToFileURL(register).href, stage.file])
  const byPackage = new Map<string, { modules: number; bytes: number }>()
  const seen = new Set<string>()
  for (const line of Fs.existsSync(log) ? Fs.readFileSync(log, "utf8").trim().split("\n") : []) {
    const [url, bytes] = line.split(" ")
    if (url === undefined || seen.has(url)) continue
    seen.add(url)
    const pkg = packageOf(url)
    if (pkg === undefined) continue
    const entry = byPackage.get(pkg) ?? { modules: 0, bytes: 0 }
    byPackage.set(pkg, { modules: entry.modules + 1, bytes: entry.bytes + Number(bytes) })
  }
  Fs.rmSync(log, { force: true })
  return byPackage
}

const sortNum = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)
const median = (xs: ReadonlyArray<number>) => {
  const s = sortNum(xs)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}
const ms = (s: number) => (s * 1000).toFixed(0)
const mib = (kib: number) => (kib / 1024).toFixed(1)
const load1 = () => Fs.readFileSync("/proc/loadavg", "utf8").split(" ")[0]!

const run = async () => {
  const reps = intFlag(flags, "reps", 10)
  const stages = makeStages()
  const loadStart = load1()
  const results = new Map<string, Array<Measure>>(stages.map((s) => [s.name, []]))
  for (let r = 0; r < reps; r++) {
    for (const stage of stages) results.get(stage.name)!.push(await measure(stage))
    progress(`floor round ${r + 1}/${reps}`)
  }
  const loadEnd = load1()
  const rows: Array<string> = []
  rows.push(`load ${loadStart} -> ${loadEnd}; ${reps} fresh processes per stage; median (min-max)`)
  rows.push(
    "| stage | modules by package | wall, spawn to exit, ms | origin to loaded, ms | CPU, ms | peak RSS at the end, MiB | peak RSS to exit, MiB |"
  )
  rows.push("| --- | --- | --- | --- | --- | --- | --- |")
  for (const stage of stages) {
    const xs = results.get(stage.name)!
    const packages = await count(stage)
    const modules = [...packages.values()].reduce((n, p) => n + p.modules, 0)
    const f = (pick: (m: Measure) => number, show: (n: number) => string) => {
      const v = sortNum(xs.map(pick))
      return `${show(median(v))} (${show(v[0]!)}-${show(v[v.length - 1]!)})`
    }
    process.stdout.write(
      JSON.stringify({
        stage: stage.name,
        load: [Number(loadStart), Number(loadEnd)],
        packages: Object.fromEntries(packages),
        wall: xs.map((m) => m.wall),
        sinceOrigin: xs.map((m) => m.sinceOrigin),
        cpu: xs.map((m) => m.cpu),
        rssKiB: xs.map((m) => m.rss),
        exitRssKiB: xs.map((m) => m.exitRss)
      }) + "\n"
    )
    const byPkg = [...packages].sort((a, b) => b[1].modules - a[1].modules).map(([p, c]) => `${p} ${c.modules}`)
    rows.push(
      `| ${stage.name} | ${modules}: ${byPkg.join(", ")} | ${f((m) => m.wall, ms)} | ${f((m) => m.sinceOrigin, ms)} | ${
        f((m) => m.cpu, ms)
      } | ${f((m) => m.rss, mib)} | ${f((m) => m.exitRss, mib)} |`
    )
  }
  process.stderr.write(rows.join("\n") + "\n")
}

interface ProfileNode {
  readonly id: number
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number }
  readonly children?: ReadonlyArray<number>
}
interface Profile {
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

const category = (node: ProfileNode): string => {
  const { functionName, url } = node.callFrame
  if (url === "") return functionName.startsWith("(") ? functionName : `native ${functionName}`
  if (url.startsWith("node:")) return "node internals"
  return packageOf(url) ?? "the stage module"
}

/** Spins for 3 ms so that the profile has samples in it: they split the profile into import and connect. */
const MARKER = "floorImportsDone"
const MARK = `const ${MARKER} = () => { const t = performance.now(); while (performance.now() - t < 3); }\n${MARKER}()`

interface Phase {
  readonly byCategory: Map<string, number>
  readonly byFunction: Map<string, number>
  total: number
}

const profile = async () => {
  const reps = intFlag(flags, "reps", 3)
  const connected = makeStages().find((s) => s.name === "connected")!
  const source = Fs.readFileSync(connected.file, "utf8").split("\n")
  const lastImport = source.map((l) => l.startsWith("import ")).lastIndexOf(true)
  const marked = Path.join(tmp, "floor-profiled.mjs")
  Fs.writeFileSync(marked, [...source.slice(0, lastImport + 1), MARK, ...source.slice(lastImport + 1)].join("\n"))
  const interval = intFlag(flags, "interval", 100)
  const dir = Path.join(tmp, "floor-prof")
  Fs.rmSync(dir, { recursive: true, force: true })
  for (let r = 0; r < reps; r++) {
    await spawn(["--cpu-prof", "--cpu-prof-interval", String(interval), "--cpu-prof-dir", dir, marked])
  }
  const short = (url: string) =>
    url.replace(/^.*\/node_modules\//, "").replace(/^.*\/packages\/lxd\/build\/esm\//, "effect-lxd/")
  for (const file of Fs.readdirSync(dir).filter((f) => f.endsWith(".cpuprofile")).sort()) {
    const prof = JSON.parse(Fs.readFileSync(Path.join(dir, file), "utf8")) as Profile
    const byId = new Map(prof.nodes.map((n) => [n.id, n]))
    const markAt = prof.samples.findIndex((id) => byId.get(id)!.callFrame.functionName === MARKER)
    if (markAt < 0) throw new Error(`${file}: no sample in ${MARKER}`)
    const phases = { import: newPhase(), connect: newPhase() }
    const self = new Map<number, number>()
    prof.samples.forEach((id, i) => {
      const t = (prof.timeDeltas[i] ?? 0) / 1000
      self.set(id, (self.get(id) ?? 0) + t)
      const node = byId.get(id)!
      if (node.callFrame.functionName === MARKER) return
      const phase = i < markAt ? phases.import : phases.connect
      phase.total += t
      const cat = category(node)
      phase.byCategory.set(cat, (phase.byCategory.get(cat) ?? 0) + t)
      const key = `${node.callFrame.functionName || "(top level)"} ${short(node.callFrame.url)}`
      phase.byFunction.set(key, (phase.byFunction.get(key) ?? 0) + t)
    })
    const inclusive = (id: number): number =>
      (self.get(id) ?? 0) + (byId.get(id)!.children ?? []).reduce((a, c) => a + inclusive(c), 0)
    const bodies = new Map<string, number>()
    for (const node of prof.nodes) {
      const { functionName, lineNumber, url } = node.callFrame
      if (functionName !== "" || lineNumber !== 0 || packageOf(url) !== "effect-lxd") continue
      bodies.set(short(url), (bodies.get(short(url)) ?? 0) + inclusive(node.id))
    }
    const top = <K>(m: Map<K, number>, n: number) =>
      [...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => `    ${v.toFixed(1)} ms ${String(k)}`)
    const bodyTotal = [...bodies.values()].reduce((a, b) => a + b, 0)
    const lines = [`${file} (sampled every ${interval} us)`]
    for (const [name, phase] of Object.entries(phases)) {
      lines.push(`  ${name}: ${phase.total.toFixed(0)} ms; self time by package:`, ...top(phase.byCategory, 12))
      lines.push(`  ${name}: functions with the most self time:`, ...top(phase.byFunction, 12))
    }
    lines.push(`  effect-lxd module bodies, inclusive: ${bodyTotal.toFixed(1)} ms over ${bodies.size} modules:`)
    lines.push(...top(bodies, 12))
    process.stderr.write(lines.join("\n") + "\n")
    process.stdout.write(
      JSON.stringify({
        profile: file,
        importMs: phases.import.total,
        connectMs: phases.connect.total,
        importByPackage: Object.fromEntries(phases.import.byCategory),
        connectByPackage: Object.fromEntries(phases.connect.byCategory),
        effectLxdBodiesMs: Object.fromEntries(bodies)
      }) + "\n"
    )
  }
}

const newPhase = (): Phase => ({ byCategory: new Map(), byFunction: new Map(), total: 0 })

/**
 * Each of effect-lxd's modules alone: one process loads the whole Effect stack (the `ws`
 * stage), then imports effect-lxd's modules one at a time, each after those it imports,
 * so that each `import()` reads, compiles and runs that one module. Median of `--reps`
 * processes; the first module to call a piece of Effect also pays for V8 compiling it.
 */
const modules = async () => {
  const reps = intFlag(flags, "reps", 10)
  const stages = makeStages()
  const ws = stages.find((s) => s.name === "ws")!
  const indexUrl = import.meta.resolve("effect-lxd")
  const order = postOrder(indexUrl)
  const root = Path.dirname(fileURLToPath(indexUrl))
  const deps = Fs.readFileSync(ws.file, "utf8").split("\n").filter((l) => l.startsWith("import "))
  const file = Path.join(tmp, "floor-modules.mjs")
  Fs.writeFileSync(
    file,
    [
      ...deps,
      `const files = ${JSON.stringify(order.map((f) => pathToFileURL(f).href))}`,
      "const out = {}",
      "// the cost of an import itself: modules with nothing in them",
      "const empty = []",
      "for (let i = 0; i < 20; i++) {",
      "  const t = performance.now(); const c = process.cpuUsage()",
      "  await import(`data:text/javascript,export const n${i} = ${i}`)",
      "  const d = process.cpuUsage(c)",
      "  empty.push([performance.now() - t, (d.user + d.system) / 1000])",
      "}",
      "out.empty = empty.sort((a, b) => a[0] - b[0])[10]",
      "for (const f of files) {",
      "  const t = performance.now(); const c = process.cpuUsage()",
      "  await import(f)",
      "  const d = process.cpuUsage(c)",
      "  out[f] = [performance.now() - t, (d.user + d.system) / 1000]",
      "}",
      "process.stdout.write(JSON.stringify(out) + \"\\n\")"
    ].join("\n")
  )
  const runs: Array<Record<string, [number, number]>> = []
  for (let r = 0; r < reps; r++) {
    const { stdout } = await spawn([file])
    runs.push(JSON.parse(stdout.trim().split("\n").pop()!) as Record<string, [number, number]>)
  }
  const rows = order.map((f) => {
    const url = pathToFileURL(f).href
    return {
      module: Path.relative(root, f),
      bytes: Fs.statSync(f).size,
      ms: median(runs.map((r) => r[url]![0])),
      cpuMs: median(runs.map((r) => r[url]![1]))
    }
  })
  const sum = (k: "ms" | "cpuMs" | "bytes") => rows.reduce((a, r) => a + r[k], 0)
  const empty = [median(runs.map((r) => r.empty![0])), median(runs.map((r) => r.empty![1]))] as const
  process.stdout.write(JSON.stringify({ modules: rows, emptyImport: empty }) + "\n")
  process.stderr.write(
    [
      `${rows.length} modules, ${sum("bytes")} bytes; sum of the medians: ${sum("ms").toFixed(1)} ms, CPU ${
        sum("cpuMs").toFixed(1)
      } ms (median of ${reps} processes each); an empty module's import: ${empty[0].toFixed(2)} ms, CPU ${
        empty[1].toFixed(2)
      } ms; the costliest:`,
      ...[...rows].sort((a, b) => b.ms - a.ms).slice(0, 25).map((r) =>
        `  ${r.ms.toFixed(1).padStart(6)} ms  CPU ${r.cpuMs.toFixed(1).padStart(6)} ms  ${
          String(r.bytes).padStart(6)
        } B  ${r.module}`
      )
    ].join("\n") + "\n"
  )
}

const programs: Record<string, () => Promise<void>> = { run, profile, modules }
const program = programs[command]
if (program === undefined) {
  process.stderr.write(`unknown command "${command}"; one of ${Object.keys(programs).join(", ")}\n`)
  process.exit(2)
}
program().catch((error: unknown) => {
  process.stderr.write(`startup-floor ${command} failed: ${String(error)}\n`)
  process.exit(1)
})
