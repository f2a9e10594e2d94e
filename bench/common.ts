/**
 * Shared bits of the benchmark drivers: argument parsing, the test daemon's env file,
 * timing, peak memory and the result line every driver prints.
 *
 * Every driver prints one JSON object per measurement on stdout (`Sample`), which
 * `bench/run.sh` collects into `bench/.work/<run>/results.jsonl` and `bench/report.ts`
 * turns into `bench/RESULTS.md`. Progress and diagnostics go to stderr.
 */
import * as Fs from "node:fs"

/** One measurement: a scenario, a tool, and the seconds each repetition took. */
export interface Sample {
  readonly scenario:
    | "get"
    | "getconc"
    | "list"
    | "fanout"
    | "exec"
    | "execrtt"
    | "execconc"
    | "push"
    | "pull"
    | "startup"
    | "imageup"
    | "imageexport"
    | "backupexport"
    | "backupimport"
    | "phases"
  /** `phases`: which row's work was timed call by call (`bench/calltimes.ts`). */
  readonly of?: "backupexport" | "imageup" | undefined
  /**
   * `phases`: seconds of each part of each repetition, as the proxy of `calltimes.ts` saw
   * the calls (the last part is what the client spent beyond its calls).
   */
  readonly phases?: Readonly<Record<string, ReadonlyArray<number>>> | undefined
  /** `effect-lxd`, `undici`, `lxc`, `pylxd` */
  readonly tool: string
  /** `unix` or `https` */
  readonly transport: string
  /** Wall-clock seconds of each repetition. */
  readonly seconds: ReadonlyArray<number>
  /** Calls (get, list) or containers (fanout) per repetition. */
  readonly count?: number | undefined
  /** Bytes moved per repetition (exec, push, pull, images, backups). */
  readonly bytes?: number | undefined
  /** Peak resident set size of the process doing the work, in KiB. */
  readonly peakRssKiB?: number | undefined
  /** Resident set size right before the first repetition, in KiB. */
  readonly baseRssKiB?: number | undefined
  /** CPU seconds (user + system) the client process spent in each repetition. */
  readonly cpuSeconds?: ReadonlyArray<number> | undefined
  /** The warm-up repetitions (taken in turn before the others, not in the medians): wall-clock and CPU seconds. */
  readonly warmupSeconds?: ReadonlyArray<number> | undefined
  readonly warmupCpuSeconds?: ReadonlyArray<number> | undefined
  /** The machine's 1-minute load average when the driver started and when it ended. */
  readonly load?: readonly [number, number] | undefined
  /** Start-up: seconds from the first import to a connected client, measured inside the process. */
  readonly innerSeconds?: ReadonlyArray<number> | undefined
  /** Concurrency of the scenario, when it has one. */
  readonly concurrency?: number | undefined
  /** The tool cannot do this work: why (the row says so instead of giving times). */
  readonly unsupported?: string | undefined
  /** Anything worth a footnote. */
  readonly note?: string | undefined
}

/** The machine's 1-minute load average now. */
export const load1 = (): number => Number(Fs.readFileSync("/proc/loadavg", "utf8").split(" ")[0])

const loadAtStart = load1()

/** Print a sample for run.sh to collect (with the load average at the driver's start and now). */
export const emit = (sample: Sample): void => {
  process.stdout.write(JSON.stringify({ load: [loadAtStart, load1()], ...sample }) + "\n")
}

/** This process's CPU time (user + system) so far, in seconds. */
export const cpuNow = (): number => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1e6
}

/**
 * Taking turns (`bench/turns.ts`): when the coordinator runs this driver beside the other
 * tools of a row, it sets `BENCH_TURNS=1` and gives the driver fd 3. Before each
 * repetition the driver says `ready` on fd 3 (its previous repetition, untimed clean-up
 * included, is over) and blocks until the coordinator writes a line on its stdin. The
 * block is synchronous on purpose: while another tool is measured, this process runs
 * nothing at all, not even its event loop.
 */
const turns = process.env.BENCH_TURNS === "1"

export const waitForTurn = (): void => {
  if (!turns) return
  Fs.writeSync(3, "ready\n")
  const byte = Buffer.alloc(1)
  for (;;) {
    let n: number
    try {
      n = Fs.readSync(0, byte, 0, 1, null)
    } catch (e) {
      // a non-blocking stdin: wait a little and read again
      if ((e as NodeJS.ErrnoException).code === "EAGAIN") {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1)
        continue
      }
      throw e
    }
    if (n === 0) throw new Error("the turn coordinator went away")
    if (byte[0] === 0x0a) return
  }
}

/**
 * Wall-clock and CPU seconds of each repetition (each one taken in turn, see `waitForTurn`).
 * The first `warmup` repetitions are kept apart (`warmupSeconds`, `warmupCpuSeconds`):
 * taken in turn like the others and reported, but not in the medians.
 */
export class Reps {
  readonly seconds: Array<number> = []
  readonly cpuSeconds: Array<number> = []
  readonly warmupSeconds: Array<number> = []
  readonly warmupCpuSeconds: Array<number> = []
  private t0 = 0
  private c0 = 0
  constructor(private readonly warmup = 0) {}
  start(): void {
    waitForTurn()
    this.t0 = now()
    this.c0 = cpuNow()
  }
  stop(): number {
    const s = now() - this.t0
    const c = cpuNow() - this.c0
    const warming = this.warmupSeconds.length < this.warmup
    ;(warming ? this.warmupSeconds : this.seconds).push(s)
    ;(warming ? this.warmupCpuSeconds : this.cpuSeconds).push(c)
    return s
  }
  /** The sample's fields: the repetitions and the warm-up ones (when there were any). */
  fields() {
    return {
      seconds: this.seconds,
      cpuSeconds: this.cpuSeconds,
      ...(this.warmup === 0 ? {} : { warmupSeconds: this.warmupSeconds, warmupCpuSeconds: this.warmupCpuSeconds })
    }
  }
}

/** `--key value` pairs after the sub-command. */
export const parseArgs = (
  argv: ReadonlyArray<string>
): { readonly command: string; readonly flags: Map<string, string> } => {
  const [command = "", ...rest] = argv
  const flags = new Map<string, string>()
  for (let i = 0; i < rest.length; i += 2) {
    const key = rest[i]!
    if (!key.startsWith("--") || rest[i + 1] === undefined) throw new Error(`bad argument near "${key}"`)
    flags.set(key.slice(2), rest[i + 1]!)
  }
  return { command, flags }
}

export const flag = (flags: Map<string, string>, key: string, fallback?: string): string => {
  const value = flags.get(key) ?? fallback
  if (value === undefined) throw new Error(`missing --${key}`)
  return value
}

export const intFlag = (flags: Map<string, string>, key: string, fallback?: number): number => {
  const value = Number(flag(flags, key, fallback === undefined ? undefined : String(fallback)))
  if (!Number.isInteger(value) || value < 0) throw new Error(`--${key} must be a non-negative integer`)
  return value
}

/** The key=value lines of the env file `scripts/lxd-setup.sh` writes. */
export const readEnvFile = (
  file = process.env.LXD_TEST_ENV ?? "/var/lib/lxd-test/lxd-test.env"
): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const line of Fs.readFileSync(file, "utf8").split("\n")) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim())
    if (m) out[m[1]!] = m[2]!
  }
  return out
}

/** Seconds since an arbitrary point, with sub-millisecond resolution. */
export const now = (): number => Number(process.hrtime.bigint()) / 1e9

/** This process's peak resident set size so far (getrusage), in KiB. */
export const peakRssKiB = (): number => process.resourceUsage().maxRSS

/** This process's resident set size now, in KiB. */
export const rssKiB = (): number => Math.round(process.memoryUsage.rss() / 1024)

/** Log progress to stderr. */
export const progress = (message: string): void => {
  process.stderr.write(`  ${message}\n`)
}

/** Run `task` over `items`, at most `concurrency` at a time (for the plain-Promise drivers). */
export const pool = async <A>(items: ReadonlyArray<A>, concurrency: number, task: (a: A) => Promise<void>) => {
  let next = 0
  const worker = async () => {
    while (next < items.length) await task(items[next++]!)
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker))
}

/** The fan-out scenario's settings, the same for every driver. */
export const fanoutSettings = (flags: Map<string, string>) => ({
  prefix: flag(flags, "prefix"),
  count: intFlag(flags, "count", 20),
  concurrency: intFlag(flags, "concurrency", 5),
  alias: flag(flags, "image", "busybox"),
  reps: intFlag(flags, "reps", 1)
})

/** The fan-out scenario's sample line. */
export const emitFanout = (tool: string, transport: string, times: Reps, count: number, concurrency: number): void =>
  emit({
    scenario: "fanout",
    tool,
    transport,
    ...times.fields(),
    count,
    concurrency,
    note: `concurrency ${concurrency}`
  })

/** The container names of one fan-out round. */
export const fanoutNames = (prefix: string, round: number, count: number): Array<string> =>
  Array.from({ length: count }, (_, i) => `${prefix}-${round}-${i}`)
