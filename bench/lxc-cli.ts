/**
 * The `lxc` CLI side: one `lxc` process per call, as a shell script would use it. Peak
 * memory of the `lxc` process comes from GNU time (`/usr/bin/time -f %M`).
 *
 *   pnpm exec tsx bench/lxc-cli.ts get    --name N --count 500 --rounds 1
 *   pnpm exec tsx bench/lxc-cli.ts list   --project P --expect 100 --reps 10
 *   pnpm exec tsx bench/lxc-cli.ts fanout --prefix bench-x-l --count 20 --concurrency 5 --image busybox
 *   pnpm exec tsx bench/lxc-cli.ts exec   --name N --size 200m --reps 3 --tmp DIR
 *   pnpm exec tsx bench/lxc-cli.ts push   --name N --file F --dest /root/f --reps 3 --tmp DIR
 *   pnpm exec tsx bench/lxc-cli.ts pull   --name N --src /root/f --out F2 --bytes B --reps 3 --tmp DIR
 *
 * `get` and `list` use `lxc query` (the same GET as the libraries, recursion 1 for the list).
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { emit, fanoutNames, fanoutSettings, flag, intFlag, now, parseArgs, pool, progress } from "./common.js"

const { command, flags } = parseArgs(process.argv.slice(2))
const tool = "lxc"
const transport = "unix"

/** Run `lxc args`, counting (and discarding) its stdout; fail on a non-zero exit. */
const lxc = (args: ReadonlyArray<string>, options: { readonly rssFile?: string } = {}): Promise<{
  readonly stdoutBytes: number
  readonly stdout: string
}> =>
  new Promise((resolve, reject) => {
    const [cmd, argv] = options.rssFile === undefined
      ? ["lxc", args]
      : ["/usr/bin/time", ["-f", "%M", "-o", options.rssFile, "lxc", ...args]]
    const child = ChildProcess.spawn(cmd, argv, { stdio: ["ignore", "pipe", "pipe"] })
    let stdoutBytes = 0
    const keep: Array<Buffer> = []
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => {
      stdoutBytes += chunk.length
      if (stdoutBytes <= 1 << 20) keep.push(chunk) // enough for JSON answers
    })
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    child.on("error", reject)
    child.on("close", (code) => {
      if (code === 0) resolve({ stdoutBytes, stdout: Buffer.concat(keep).toString() })
      else reject(new Error(`lxc ${args.join(" ")} exited with ${code}: ${stderr.trim().slice(-500)}`))
    })
  })

/** Peak RSS in KiB that GNU time wrote. */
const readRss = (file: string): number => {
  const lines = Fs.readFileSync(file, "utf8").trim().split("\n")
  return Number(lines[lines.length - 1])
}

const get = async () => {
  const name = flag(flags, "name")
  const count = intFlag(flags, "count", 500)
  const rounds = intFlag(flags, "rounds", 1)
  const seconds: Array<number> = []
  for (let r = 0; r < rounds; r++) {
    const t0 = now()
    for (let i = 0; i < count; i++) await lxc(["query", `/1.0/instances/${encodeURIComponent(name)}`])
    seconds.push(now() - t0)
    progress(`lxc get x${count}: ${seconds[r]!.toFixed(2)} s`)
  }
  emit({ scenario: "get", tool, transport, seconds, count })
}

const list = async () => {
  const project = flag(flags, "project")
  const expect = intFlag(flags, "expect")
  const reps = intFlag(flags, "reps", 10)
  const seconds: Array<number> = []
  for (let r = 0; r < reps; r++) {
    const t0 = now()
    const { stdout } = await lxc(["query", `/1.0/instances?recursion=1&project=${encodeURIComponent(project)}`])
    seconds.push(now() - t0)
    const n = (JSON.parse(stdout) as ReadonlyArray<unknown>).length
    if (n !== expect) throw new Error(`listed ${n} instances, expected ${expect}`)
  }
  emit({ scenario: "list", tool, transport, seconds, count: expect })
}

const fanout = async () => {
  const { alias, concurrency, count, prefix, reps } = fanoutSettings(flags)
  const seconds: Array<number> = []
  for (let r = 0; r < reps; r++) {
    const names = fanoutNames(prefix, r, count)
    const t0 = now()
    await pool(names, concurrency, async (name) => {
      try {
        await lxc(["init", alias, name, "--profile", "default"])
        await lxc(["start", name])
        await lxc(["delete", "--force", name])
      } catch (error) {
        await lxc(["delete", "--force", name]).catch(() => undefined)
        throw error
      }
    })
    seconds.push(now() - t0)
  }
  emit({ scenario: "fanout", tool, transport, seconds, count, note: `concurrency ${concurrency}` })
}

const sizeBytes = (size: string): number => {
  const m = /^(\d+)([kmg]?)$/.exec(size)
  if (!m) throw new Error(`bad size ${size}`)
  return Number(m[1]) * ({ "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 } as const)[m[2] as "" | "k" | "m" | "g"]
}

/** Repeat a transfer, measuring each run's time and the largest peak RSS of `lxc`. */
const transfers = async (
  scenario: "exec" | "push" | "pull",
  bytes: number,
  once: (rssFile: string) => Promise<void>
) => {
  const reps = intFlag(flags, "reps", 3)
  const rssFile = Path.join(flag(flags, "tmp"), `lxc-${scenario}-${process.pid}.rss`)
  const seconds: Array<number> = []
  let peak = 0
  for (let r = 0; r < reps; r++) {
    const t0 = now()
    await once(rssFile)
    seconds.push(now() - t0)
    peak = Math.max(peak, readRss(rssFile))
    progress(`lxc ${scenario} ${bytes} B: ${seconds[r]!.toFixed(2)} s`)
  }
  Fs.rmSync(rssFile, { force: true })
  emit({ scenario, tool, transport, seconds, bytes, peakRssKiB: peak })
}

const exec = async () => {
  const name = flag(flags, "name")
  const size = flag(flags, "size", "200m")
  const expected = sizeBytes(size)
  await transfers("exec", expected, async (rssFile) => {
    const { stdoutBytes } = await lxc(["exec", name, "--", "head", "-c", size, "/dev/zero"], { rssFile })
    if (stdoutBytes !== expected) throw new Error(`lxc exec gave ${stdoutBytes} bytes, expected ${expected}`)
  })
}

const push = async () => {
  const name = flag(flags, "name")
  const file = flag(flags, "file")
  const dest = flag(flags, "dest")
  await transfers("push", Fs.statSync(file).size, async (rssFile) => {
    await lxc(["file", "push", "--quiet", file, `${name}${dest}`], { rssFile })
  })
}

const pull = async () => {
  const name = flag(flags, "name")
  const src = flag(flags, "src")
  const out = flag(flags, "out")
  const expected = intFlag(flags, "bytes")
  await transfers("pull", expected, async (rssFile) => {
    Fs.rmSync(out, { force: true })
    await lxc(["file", "pull", "--quiet", `${name}${src}`, out], { rssFile })
    const got = Fs.statSync(out).size
    Fs.rmSync(out, { force: true })
    if (got !== expected) throw new Error(`lxc file pull gave ${got} bytes, expected ${expected}`)
  })
}

const programs: Record<string, () => Promise<void>> = { get, list, fanout, exec, push, pull }
const program = programs[command]
if (program === undefined) {
  process.stderr.write(`unknown command "${command}"; one of ${Object.keys(programs).join(", ")}\n`)
  process.exit(2)
}
program().catch((error: unknown) => {
  process.stderr.write(`lxc ${command} failed: ${String(error)}\n`)
  process.exit(1)
})
