/**
 * Start-up: the time and memory from `import` to a connected client, for each tool, each
 * in a fresh process (what a script or a CLI pays on every run).
 *
 *   node bench/.work/dist/startup.js run --reps 10 --tmp DIR [--https 1]
 *
 * `run` starts, `--reps` times each, one after another:
 * - effect-lxd: `node startup.js probe --transport unix|https`: imports the built
 *   `effect-lxd`, builds `Lxd.layerUnix` (or `layerHttps`), which proves the connection with
 *   `GET /1.0`, and closes it;
 * - pylxd: `python3 -c 'import pylxd; pylxd.Client()'` (`Client()` also does `GET /1.0`);
 * - lxc: `lxc query /1.0`.
 *
 * Each is timed from spawn to exit (wall clock, and its CPU and peak RSS from GNU time);
 * the two libraries also report the time from their first import to the connected client
 * measured inside the process. One JSON `Sample` line per tool.
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { emit, flag, intFlag, now, parseArgs, progress, readEnvFile } from "./common.js"

const { command, flags } = parseArgs(process.argv.slice(2))

const probe = async () => {
  const t0 = now()
  const transport = flag(flags, "transport", "unix")
  const { Layer, Effect, Redacted } = await import("effect")
  const { Lxd } = await import("effect-lxd")
  const env = readEnvFile()
  const layer = transport === "https"
    ? Lxd.layerHttps({
      url: env.LXD_HTTPS_URL!,
      cert: Fs.readFileSync(env.LXD_CLIENT_CERT!, "utf8"),
      key: Redacted.make(Fs.readFileSync(env.LXD_CLIENT_KEY!, "utf8")),
      serverCert: Fs.readFileSync(env.LXD_SERVER_CERT!, "utf8")
    })
    : Lxd.layerUnix({ socketPath: env.LXD_SOCKET ?? "/var/lib/lxd/unix.socket" })
  await Effect.runPromise(Effect.scoped(Layer.build(layer)).pipe(Effect.asVoid))
  process.stdout.write(JSON.stringify({ inner: now() - t0 }) + "\n")
}

const PYLXD = [
  "import time; t0 = time.perf_counter()",
  "import pylxd, json, warnings; warnings.simplefilter('ignore'); pylxd.Client()",
  "print(json.dumps({'inner': time.perf_counter() - t0}))"
].join("\n")

/** Spawn under GNU time; wall seconds, CPU seconds, peak RSS and the stdout. */
const timed = (argv: ReadonlyArray<string>, rssFile: string) =>
  new Promise<{ wall: number; cpu: number; rss: number; stdout: string }>((resolve, reject) => {
    const t0 = now()
    const child = ChildProcess.spawn("/usr/bin/time", ["-f", "%M %U %S", "-o", rssFile, ...argv], {
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()))
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
    child.on("error", reject)
    child.on("close", (code) => {
      const wall = now() - t0
      if (code !== 0) return reject(new Error(`${argv.join(" ")} exited with ${code}: ${stderr.slice(-500)}`))
      const last = Fs.readFileSync(rssFile, "utf8").trim().split("\n").pop()!.split(" ").map(Number)
      resolve({ wall, rss: last[0]!, cpu: last[1]! + last[2]!, stdout })
    })
  })

const run = async () => {
  const reps = intFlag(flags, "reps", 10)
  const rssFile = Path.join(flag(flags, "tmp"), `startup-${process.pid}.rss`)
  const self = fileURLToPath(import.meta.url)
  const tools: Array<{ tool: string; transport: string; argv: ReadonlyArray<string>; inner: boolean }> = [
    {
      tool: "effect-lxd",
      transport: "unix",
      argv: [process.execPath, self, "probe", "--transport", "unix"],
      inner: true
    },
    ...(flag(flags, "https", "1") === "1"
      ? [{
        tool: "effect-lxd",
        transport: "https",
        argv: [process.execPath, self, "probe", "--transport", "https"],
        inner: true
      }]
      : []),
    { tool: "pylxd", transport: "unix", argv: ["/usr/bin/python3", "-c", PYLXD], inner: true },
    { tool: "lxc", transport: "unix", argv: ["lxc", "query", "/1.0"], inner: false }
  ]
  for (const t of tools) {
    const seconds: Array<number> = []
    const cpuSeconds: Array<number> = []
    const innerSeconds: Array<number> = []
    let peak = 0
    for (let r = 0; r < reps; r++) {
      const { cpu, rss, stdout, wall } = await timed(t.argv, rssFile)
      seconds.push(wall)
      cpuSeconds.push(cpu)
      peak = Math.max(peak, rss)
      if (t.inner) innerSeconds.push((JSON.parse(stdout.trim().split("\n").pop()!) as { inner: number }).inner)
    }
    progress(`startup ${t.tool} ${t.transport}: ${seconds.map((s) => s.toFixed(3)).join(" ")} s`)
    emit({
      scenario: "startup",
      tool: t.tool,
      transport: t.transport,
      seconds,
      cpuSeconds,
      peakRssKiB: peak,
      ...(t.inner ? { innerSeconds } : {})
    })
  }
  Fs.rmSync(rssFile, { force: true })
}

const programs: Record<string, () => Promise<void>> = { probe, run }
const program = programs[command]
if (program === undefined) {
  process.stderr.write(`unknown command "${command}"; one of ${Object.keys(programs).join(", ")}\n`)
  process.exit(2)
}
program().catch((error: unknown) => {
  process.stderr.write(`startup ${command} failed: ${String(error)}\n`)
  process.exit(1)
})
