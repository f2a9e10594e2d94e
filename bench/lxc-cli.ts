/**
 * The `lxc` CLI side: one `lxc` process per call, as a shell script would use it. Peak
 * memory of the `lxc` process comes from GNU time (`/usr/bin/time -f %M`).
 *
 *   node bench/.work/dist/lxc-cli.js get      --name N --count 500 --rounds 1
 *   node bench/.work/dist/lxc-cli.js list     --project P --expect 100 --reps 10
 *   node bench/.work/dist/lxc-cli.js fanout   --prefix bench-x-l --count 20 --concurrency 5 --image busybox
 *   node bench/.work/dist/lxc-cli.js exec     --name N --size 200m --reps 3 --tmp DIR
 *   node bench/.work/dist/lxc-cli.js execrtt  --name N --count 20 --reps 3       (`lxc exec N -- true`, one after another)
 *   node bench/.work/dist/lxc-cli.js execconc --name N --count 50 --concurrency 10 --reps 3
 *   node bench/.work/dist/lxc-cli.js push     --name N --file F --dest /root/f --reps 3 --tmp DIR
 *   node bench/.work/dist/lxc-cli.js pull     --name N --src /root/f --out F2 --bytes B --reps 3 --tmp DIR
 *   node bench/.work/dist/lxc-cli.js imageup      --file image.tar --fingerprint FP --reps 3 --tmp DIR
 *   node bench/.work/dist/lxc-cli.js imageexport  --fingerprint FP --out F --bytes B --reps 3 --tmp DIR
 *   node bench/.work/dist/lxc-cli.js backupexport --name N --out F --reps 3 --tmp DIR
 *   node bench/.work/dist/lxc-cli.js backupimport --file backup.tar --prefix P --reps 3 --tmp DIR
 *
 * `--transport https` (for `exec`, `execrtt`, `push` and `pull`; needs `--tmp`): `lxc` talks
 * to the daemon's HTTPS listener instead of its unix socket, as a remote named `bench` in a
 * configuration directory of its own (`LXD_CONF=DIR/lxc-https`) that holds the test client
 * certificate and the daemon's certificate, from the env file `scripts/lxd-setup.sh` writes.
 * The same TLS work as effect-lxd over HTTPS: the fair peer of its HTTPS rows.
 *
 * `get` and `list` use `lxc query` (the same GET as the libraries, recursion 1 for the list).
 * The CPU time of a transfer is the `lxc` process's (user + system, from GNU time).
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import {
  emit,
  fanoutNames,
  fanoutSettings,
  flag,
  intFlag,
  now,
  parseArgs,
  pool,
  progress,
  readEnvFile,
  Reps,
  waitForTurn
} from "./common.js"

const { command, flags } = parseArgs(process.argv.slice(2))
const tool = "lxc"
const transport = flag(flags, "transport", "unix")
if (transport !== "unix" && transport !== "https") throw new Error(`unknown transport ${transport}`)

/**
 * Over HTTPS: a configuration directory whose default remote, `bench`, is the daemon's
 * HTTPS listener, authenticated with the test client certificate and pinned to the
 * daemon's certificate (`servercerts/bench.crt`).
 */
const httpsConfig = (): string => {
  const env = readEnvFile()
  const url = env.LXD_HTTPS_URL
  const cert = env.LXD_CLIENT_CERT
  const key = env.LXD_CLIENT_KEY
  const serverCert = env.LXD_SERVER_CERT
  if (!url || !cert || !key || !serverCert) throw new Error("the env file lacks the HTTPS settings")
  const dir = Path.join(flag(flags, "tmp"), "lxc-https")
  Fs.mkdirSync(Path.join(dir, "servercerts"), { recursive: true })
  Fs.copyFileSync(cert, Path.join(dir, "client.crt"))
  Fs.copyFileSync(key, Path.join(dir, "client.key"))
  Fs.chmodSync(Path.join(dir, "client.key"), 0o600)
  Fs.copyFileSync(serverCert, Path.join(dir, "servercerts", "bench.crt"))
  Fs.writeFileSync(
    Path.join(dir, "config.yml"),
    [
      "default-remote: bench",
      "remotes:",
      "  bench:",
      `    addr: ${url}`,
      "    protocol: lxd",
      "    auth_type: tls",
      "    public: false",
      ""
    ].join("\n")
  )
  return dir
}

// Refused before the HTTPS configuration directory exists, so a refusal leaves nothing behind.
const HTTPS_SCENARIOS = new Set(["exec", "execrtt", "push", "pull"])
if (transport === "https" && !HTTPS_SCENARIOS.has(command)) {
  throw new Error(`lxc ${command} is measured over the unix socket only`)
}

/** The environment of every `lxc` process: over HTTPS, its own configuration; never a proxy for the loopback listener. */
const lxcConf = transport === "https" ? httpsConfig() : undefined
const lxcEnv: NodeJS.ProcessEnv = lxcConf === undefined
  ? process.env
  : { ...process.env, LXD_CONF: lxcConf, NO_PROXY: "127.0.0.1,localhost", no_proxy: "127.0.0.1,localhost" }
/** An instance as `lxc` names it: over HTTPS, on the `bench` remote. */
const on = (name: string): string => (transport === "https" ? `bench:${name}` : name)

/** Run `lxc args`, counting (and discarding) its stdout; fail on a non-zero exit. */
/**
 * How long one `lxc` process may take. `lxc exec <name> -- true` run 10 at once now and
 * then never exits (seen with lxc 5.0.2: the command has ended, the operation is gone,
 * the client waits on), and it forwards SIGTERM to the remote command, so it gets SIGKILL.
 */
const LXC_TIMEOUT_MS = 120_000

const lxc = (args: ReadonlyArray<string>, options: { readonly rssFile?: string } = {}): Promise<{
  readonly stdoutBytes: number
  readonly stdout: string
}> =>
  new Promise((resolve, reject) => {
    const [cmd, argv] = options.rssFile === undefined
      ? ["lxc", args]
      : ["/usr/bin/time", ["-f", "%M %U %S", "-o", options.rssFile, "lxc", ...args]]
    const child = ChildProcess.spawn(cmd, argv, { stdio: ["ignore", "pipe", "pipe"], env: lxcEnv })
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
    let hung = false
    const timer = setTimeout(() => {
      hung = true
      child.kill("SIGKILL")
    }, LXC_TIMEOUT_MS)
    child.on("error", reject)
    child.on("close", (code) => {
      clearTimeout(timer)
      if (hung) reject(new Error(`lxc ${args.join(" ")} did not exit within ${LXC_TIMEOUT_MS / 1000} s (killed)`))
      else if (code === 0) resolve({ stdoutBytes, stdout: Buffer.concat(keep).toString() })
      else reject(new Error(`lxc ${args.join(" ")} exited with ${code}: ${stderr.trim().slice(-500)}`))
    })
  })

/** Peak RSS in KiB and CPU seconds (user + system) that GNU time wrote. */
const readTime = (file: string): { readonly rss: number; readonly cpu: number } => {
  const lines = Fs.readFileSync(file, "utf8").trim().split("\n")
  const [rss = NaN, user = NaN, sys = NaN] = lines[lines.length - 1]!.split(" ").map(Number)
  return { rss, cpu: user + sys }
}

const get = async () => {
  const name = flag(flags, "name")
  const count = intFlag(flags, "count", 500)
  const rounds = intFlag(flags, "rounds", 1)
  const seconds: Array<number> = []
  for (let r = 0; r < rounds; r++) {
    waitForTurn()
    const t0 = now()
    for (let i = 0; i < count; i++) await lxc(["query", `/1.0/instances/${encodeURIComponent(name)}`])
    seconds.push(now() - t0)
    progress(`lxc get x${count}: ${seconds[r]!.toFixed(2)} s`)
  }
  emit({ scenario: "get", tool, transport, seconds, count })
}

/** `lxc exec N -- true`, a new process each time. */
const execTrue = (name: string) => lxc(["exec", on(name), "--", "true"])

const execRoundTrip = async () => {
  const name = flag(flags, "name")
  const count = intFlag(flags, "count", 20)
  const rounds = intFlag(flags, "reps", 3)
  await execTrue(name)
  const reps = new Reps()
  for (let r = 0; r < rounds; r++) {
    reps.start()
    for (let i = 0; i < count; i++) await execTrue(name)
    reps.stop()
  }
  // CPU here is this driver's, not lxc's: not reported
  emit({ scenario: "execrtt", tool, transport, seconds: reps.seconds, count })
}

const execConcurrent = async () => {
  const name = flag(flags, "name")
  const count = intFlag(flags, "count", 50)
  const concurrency = intFlag(flags, "concurrency", 10)
  const rounds = intFlag(flags, "reps", 3)
  await execTrue(name)
  const reps = new Reps()
  for (let r = 0; r < rounds; r++) {
    reps.start()
    await pool(Array.from({ length: count }), concurrency, async () => {
      await execTrue(name)
    })
    reps.stop()
  }
  emit({ scenario: "execconc", tool, transport, seconds: reps.seconds, count, concurrency })
}

const list = async () => {
  const project = flag(flags, "project")
  const expect = intFlag(flags, "expect")
  const reps = intFlag(flags, "reps", 10)
  const seconds: Array<number> = []
  for (let r = 0; r < reps; r++) {
    waitForTurn()
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
    waitForTurn()
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
  scenario: "exec" | "push" | "pull" | "imageup" | "imageexport" | "backupexport" | "backupimport",
  bytes: number | (() => number),
  once: (rssFile: string, rep: number) => Promise<void>,
  after: (rep: number) => Promise<void> = async () => {}
) => {
  const reps = intFlag(flags, "reps", 3)
  const rssFile = Path.join(flag(flags, "tmp"), `lxc-${scenario}-${process.pid}.rss`)
  const seconds: Array<number> = []
  const cpuSeconds: Array<number> = []
  let peak = 0
  for (let r = 0; r < reps; r++) {
    waitForTurn()
    const t0 = now()
    await once(rssFile, r)
    seconds.push(now() - t0)
    const { cpu, rss } = readTime(rssFile)
    peak = Math.max(peak, rss)
    cpuSeconds.push(cpu)
    const n = typeof bytes === "number" ? bytes : bytes()
    await after(r)
    progress(`lxc ${scenario} ${n} B: ${seconds[r]!.toFixed(2)} s`)
  }
  Fs.rmSync(rssFile, { force: true })
  const total = typeof bytes === "number" ? bytes : bytes()
  emit({ scenario, tool, transport, seconds, cpuSeconds, bytes: total, peakRssKiB: peak })
}

const exec = async () => {
  const name = flag(flags, "name")
  const size = flag(flags, "size", "200m")
  const expected = sizeBytes(size)
  await transfers("exec", expected, async (rssFile) => {
    const { stdoutBytes } = await lxc(["exec", on(name), "--", "head", "-c", size, "/dev/zero"], { rssFile })
    if (stdoutBytes !== expected) throw new Error(`lxc exec gave ${stdoutBytes} bytes, expected ${expected}`)
  })
}

const push = async () => {
  const name = flag(flags, "name")
  const file = flag(flags, "file")
  const dest = flag(flags, "dest")
  await transfers("push", Fs.statSync(file).size, async (rssFile) => {
    await lxc(["file", "push", "--quiet", file, `${on(name)}${dest}`], { rssFile })
  })
}

const pull = async () => {
  const name = flag(flags, "name")
  const src = flag(flags, "src")
  const out = flag(flags, "out")
  const expected = intFlag(flags, "bytes")
  await transfers("pull", expected, async (rssFile) => {
    Fs.rmSync(out, { force: true })
    await lxc(["file", "pull", "--quiet", `${on(name)}${src}`, out], { rssFile })
    const got = Fs.statSync(out).size
    Fs.rmSync(out, { force: true })
    if (got !== expected) throw new Error(`lxc file pull gave ${got} bytes, expected ${expected}`)
  })
}

/** Whether the daemon has an image with this fingerprint. */
const hasImage = async (fingerprint: string) =>
  lxc(["query", `/1.0/images/${encodeURIComponent(fingerprint)}`]).then(() => true, () => false)

/** `lxc image import F`, then (not timed) `lxc image delete` so that the next repetition uploads it anew. */
const imageUpload = async () => {
  const file = flag(flags, "file")
  const fingerprint = flag(flags, "fingerprint")
  if (await hasImage(fingerprint)) await lxc(["image", "delete", fingerprint])
  await transfers("imageup", Fs.statSync(file).size, async (rssFile) => {
    await lxc(["image", "import", "--quiet", file], { rssFile })
  }, async () => {
    if (!(await hasImage(fingerprint))) throw new Error(`lxc image import did not make image ${fingerprint}`)
    await lxc(["image", "delete", fingerprint])
  })
}

/** `lxc image export FP F`: lxc adds the extension of the server's file name (`F.tar` here). */
const imageExport = async () => {
  const fingerprint = flag(flags, "fingerprint")
  const out = flag(flags, "out")
  const expected = intFlag(flags, "bytes")
  const written = () => Fs.readdirSync(Path.dirname(out)).filter((f) => f.startsWith(Path.basename(out)))
  const clear = () => written().forEach((f) => Fs.rmSync(Path.join(Path.dirname(out), f), { force: true }))
  await transfers("imageexport", expected, async (rssFile) => {
    clear()
    await lxc(["image", "export", "--quiet", fingerprint, out], { rssFile })
    const files = written()
    const got = files.reduce((n, f) => n + Fs.statSync(Path.join(Path.dirname(out), f)).size, 0)
    clear()
    if (got !== expected) {
      throw new Error(`lxc image export wrote ${got} bytes (${files.join(", ")}), expected ${expected}`)
    }
  })
}

/** `lxc export N F --instance-only --compression none` (it makes the backup, downloads it, deletes it). */
const backupExport = async () => {
  const name = flag(flags, "name")
  const out = flag(flags, "out")
  let bytes = 0
  await transfers("backupexport", () => bytes, async (rssFile) => {
    Fs.rmSync(out, { force: true })
    await lxc(["export", "--quiet", "--instance-only", "--compression", "none", name, out], { rssFile })
    bytes = Fs.statSync(out).size
    Fs.rmSync(out, { force: true })
  })
}

/** `lxc import F P-<rep>`, then (not timed) `lxc delete --force P-<rep>`. */
const backupImport = async () => {
  const file = flag(flags, "file")
  const prefix = flag(flags, "prefix")
  const name = (r: number) => `${prefix}-unix-${r}`
  await transfers("backupimport", Fs.statSync(file).size, async (rssFile, r) => {
    try {
      await lxc(["import", "--quiet", file, name(r)], { rssFile })
    } catch (error) {
      await lxc(["delete", "--force", name(r)]).catch(() => undefined)
      throw error
    }
  }, async (r) => {
    await lxc(["delete", "--force", name(r)])
  })
}

const programs: Record<string, () => Promise<void>> = {
  get,
  list,
  fanout,
  exec,
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
  // over HTTPS an unknown command was refused before the configuration directory was made
  process.stderr.write(`unknown command "${command}"; one of ${Object.keys(programs).join(", ")}\n`)
  process.exit(2)
}
program()
  .finally(() => {
    if (lxcConf !== undefined) Fs.rmSync(lxcConf, { recursive: true, force: true })
  })
  .catch((error: unknown) => {
    process.stderr.write(`lxc ${command} failed: ${String(error)}\n`)
    process.exit(1)
  })
