/**
 * Turn a run's samples into `bench/RESULTS.md`:
 *
 *   pnpm exec tsx bench/report.ts --results bench/.work/<run>/results.jsonl --meta bench/.work/<run>/meta.env --out bench/RESULTS.md
 *
 * Medians of the repetitions; every ratio is the tool's median time divided by
 * effect-lxd's (over the unix socket) for the same scenario: above 1 means slower than
 * effect-lxd, below 1 faster.
 */
import * as Fs from "node:fs"
import * as Os from "node:os"
import { flag, parseArgs, type Sample } from "./common.js"

const { flags } = parseArgs(["report", ...process.argv.slice(2)])
const samples: Array<Sample> = Fs.readFileSync(flag(flags, "results"), "utf8")
  .split("\n")
  .filter((l) => l.trim().startsWith("{"))
  .map((l) => JSON.parse(l) as Sample)
const meta: Record<string, string> = {}
for (const line of Fs.readFileSync(flag(flags, "meta"), "utf8").split("\n")) {
  const i = line.indexOf("=")
  if (i > 0) meta[line.slice(0, i)] = line.slice(i + 1)
}

const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}
const MiB = 1024 * 1024
const fixed = (x: number, digits: number) => x.toFixed(digits)
const ms = (s: number) => fixed(s * 1000, s < 0.01 ? 2 : 1)
const mib = (kib: number | undefined) => (kib === undefined ? "–" : fixed(kib / 1024, 0))
const label = (s: Sample) => (s.transport === "unix" ? s.tool : `${s.tool} (${s.transport})`)
const toolOrder = ["effect-lxd", "undici", "pylxd", "lxc"]
const sortSamples = (xs: Array<Sample>) =>
  xs.sort((a, b) =>
    toolOrder.indexOf(a.tool) - toolOrder.indexOf(b.tool) ||
    (a.transport === "unix" ? -1 : 1) - (b.transport === "unix" ? -1 : 1)
  )

const table = (
  head: ReadonlyArray<string>,
  rows: ReadonlyArray<ReadonlyArray<string>>,
  align: "numbers" | "left" = "numbers"
): string =>
  [
    `| ${head.join(" | ")} |`,
    `|${head.map((_, i) => (i === 0 || align === "left" ? " --- " : " ---: ")).join("|")}|`,
    ...rows.map((r) => `| ${r.join(" | ")} |`)
  ].join("\n")

/** The samples of a scenario (and size, for transfers), with effect-lxd over unix as the reference. */
const pick = (scenario: Sample["scenario"], bytes?: number) => {
  const xs = sortSamples(samples.filter((s) => s.scenario === scenario && (bytes === undefined || s.bytes === bytes)))
  const ref = xs.find((s) => s.tool === "effect-lxd" && s.transport === "unix")
  const ratio = (s: Sample) => (ref === undefined ? "–" : `${fixed(median(s.seconds) / median(ref.seconds), 2)}×`)
  return { xs, ratio }
}

const out: Array<string> = []
const p = (...lines: Array<string>) => out.push(...lines)

const cpus = Os.cpus()
p(
  "# Benchmark results",
  "",
  `Written by \`bash bench/run.sh\` (run \`${meta.RUN ?? "?"}\`, ${meta.DATE ?? new Date().toISOString()}), ` +
    "all tools against the same LXD daemon in one run. How to run and what each scenario does: " +
    "[README.md](README.md).",
  "",
  "**Ratio** = the tool's median time ÷ effect-lxd's median time (unix socket) for the same work: " +
    "above 1× the tool is slower than effect-lxd, below 1× faster. MiB/s uses 1 MiB = 2^20 bytes. " +
    "Peak RSS is the peak resident memory of the client process doing the work (getrusage; " +
    "for `lxc`, GNU time), *base* its RSS just before the first repetition.",
  "",
  "## Machine and versions",
  "",
  table(["", ""], [
    ["CPU", `${cpus[0]?.model ?? "?"} (${cpus.length} cores, shared with other work during the run)`],
    ["RAM", `${fixed(Os.totalmem() / 1024 ** 3, 1)} GiB`],
    ["Load average (1, 5, 15 min)", `${meta.LOAD_START ?? "?"} at the start, ${meta.LOAD_END ?? "?"} at the end`],
    ["Kernel", `${Os.type()} ${Os.release()}`],
    ["OS", meta.OS ?? "?"],
    ["LXD (server)", `${meta.LXD_SERVER ?? "?"} (storage driver \`${meta.LXD_STORAGE ?? "?"}\`)`],
    ["lxc (client)", meta.LXC ?? "?"],
    ["Node.js", meta.NODE ?? process.version],
    ["effect / @effect/platform-node", `${meta.EFFECT ?? "?"} / ${meta.PLATFORM_NODE ?? "?"}`],
    ["undici", meta.UNDICI ?? "?"],
    ["effect-lxd", `${meta.EFFECT_LXD ?? "?"} (this checkout, run with tsx ${meta.TSX ?? "?"})`],
    ["Python / pylxd", `${meta.PYTHON ?? "?"} / ${meta.PYLXD ?? "?"} (Debian python3-pylxd)`]
  ], "left"),
  ""
)

// (a) get
{
  const { xs, ratio } = pick("get")
  p(
    "## (a) Get one instance, N times in a row",
    "",
    "`GET /1.0/instances/<name>` of a stopped container, sequentially, decoded into each client's model " +
      "(effect-lxd: `Instances.get`, pylxd: `client.containers.get`, lxc: `lxc query`, one process per call).",
    "",
    table(
      ["tool", "calls × rounds", "median round", "per call", "calls/s", "ratio"],
      xs.map((s) => {
        const m = median(s.seconds)
        const n = s.count ?? 1
        return [
          label(s),
          `${n} × ${s.seconds.length}`,
          `${fixed(m, 2)} s`,
          `${ms(m / n)} ms`,
          fixed(n / m, 0),
          ratio(s)
        ]
      })
    ),
    ""
  )
}

// (b) list
{
  const { xs, ratio } = pick("list")
  const n = xs[0]?.count ?? 0
  p(
    `## (b) List ${n} instances with recursion 1`,
    "",
    `\`GET /1.0/instances?recursion=1\` in a project holding exactly ${n} stopped containers, ` +
      "decoded (effect-lxd: `Instances.list` under `Lxd.withProject`; pylxd 2.2 has no project support and " +
      "`containers.all()` returns names only, so it goes through `client.api.containers.get(recursion=1)` " +
      "and builds `Container` models; lxc: `lxc query`).",
    "",
    table(
      ["tool", "reps", "median", "min", "max", "ratio"],
      xs.map((s) => [
        label(s),
        String(s.seconds.length),
        `${ms(median(s.seconds))} ms`,
        `${ms(Math.min(...s.seconds))} ms`,
        `${ms(Math.max(...s.seconds))} ms`,
        ratio(s)
      ])
    ),
    ""
  )
}

// (c) fan-out
{
  const { xs, ratio } = pick("fanout")
  const n = xs[0]?.count ?? 0
  const c = /concurrency (\d+)/.exec(xs[0]?.note ?? "")?.[1] ?? "?"
  p(
    `## (c) Create, start and delete ${n} containers, bounded concurrency`,
    "",
    "Each container: create from the `busybox` alias with `profiles: [\"default\"]` (waited), start (waited), " +
      `forced stop and delete (waited); at most ${c} containers in flight. The daemon does nearly all the work here ` +
      "(effect-lxd: `Instances.create/start/delete({ force: true })` under `Effect.forEach({ concurrency })`; " +
      "pylxd: a thread pool; lxc: `lxc init`, `lxc start`, `lxc delete --force`, three processes per container).",
    "",
    table(
      ["tool", "containers × reps", "concurrency", "median total", "per container", "ratio"],
      xs.map((s) => {
        const m = median(s.seconds)
        const c = /concurrency (\d+)/.exec(s.note ?? "")?.[1] ?? "?"
        return [
          label(s),
          `${s.count} × ${s.seconds.length}`,
          c,
          `${fixed(m, 2)} s`,
          `${fixed(m / (s.count ?? 1), 2)} s`,
          ratio(s)
        ]
      })
    ),
    ""
  )
}

const transferRows = (xs: ReadonlyArray<Sample>, ratio: (s: Sample) => string) =>
  xs.map((s) => {
    const m = median(s.seconds)
    return [
      label(s),
      String(s.seconds.length),
      `${fixed(m, 2)} s`,
      fixed((s.bytes ?? 0) / MiB / m, 0),
      ratio(s),
      mib(s.peakRssKiB),
      mib(s.baseRssKiB)
    ]
  })
const transferHead = ["tool", "reps", "median", "MiB/s", "ratio", "peak RSS (MiB)", "base RSS (MiB)"]

// (d) exec
{
  const { xs, ratio } = pick("exec")
  const size = xs[0]?.bytes ?? 0
  p(
    `## (d) Exec output throughput: \`head -c ${fixed(size / MiB, 0)}m /dev/zero\``,
    "",
    "The command's stdout read to the end and counted (effect-lxd: `Exec.start` and its `stdout` Stream; " +
      "pylxd: `execute(decode=False, stdout_handler=...)`; lxc: `lxc exec` with stdout on a pipe).",
    "",
    table(transferHead, transferRows(xs, ratio)),
    ""
  )
}

// (e) files
{
  const sizes = [
    ...new Set(samples.filter((s) => s.scenario === "push" || s.scenario === "pull").map((s) => s.bytes ?? 0))
  ]
    .sort((a, b) => a - b)
  p(
    "## (e) File push and pull",
    "",
    "A local file of random bytes pushed into a running container, then pulled back to a local file " +
      "(effect-lxd: `Files.push` / `Files.pull`; lxc: `lxc file push` / `lxc file pull`; pylxd: " +
      "`files.put(path, open(f).read())` / `open(out).write(files.get(path))`, as its documentation shows).",
    ""
  )
  for (const op of ["push", "pull"] as const) {
    for (const size of sizes) {
      const { xs, ratio } = pick(op, size)
      if (xs.length === 0) continue
      p(`### ${op}, ${fixed(size / MiB, 0)} MiB`, "", table(transferHead, transferRows(xs, ratio)), "")
    }
  }
  const ours = sortSamples(
    samples.filter((s) => s.tool === "effect-lxd" && (s.scenario === "push" || s.scenario === "pull"))
  )
  if (ours.length > 0) {
    p(
      "### effect-lxd's memory as the file grows",
      "",
      "Streaming means the peak should not follow the file size: the growth over the base stays " +
        "in the same range at every size.",
      "",
      table(
        ["operation", "transport", "file", "peak RSS (MiB)", "base RSS (MiB)", "growth (MiB)"],
        ours
          .sort((a, b) =>
            a.scenario.localeCompare(b.scenario) || a.transport.localeCompare(b.transport) ||
            (a.bytes ?? 0) - (b.bytes ?? 0)
          )
          .map((s) => [
            s.scenario,
            s.transport,
            `${fixed((s.bytes ?? 0) / MiB, 0)} MiB`,
            mib(s.peakRssKiB),
            mib(s.baseRssKiB),
            s.peakRssKiB === undefined || s.baseRssKiB === undefined ? "–" : mib(s.peakRssKiB - s.baseRssKiB)
          ])
      ),
      ""
    )
    // the verdict: growth at the largest size against growth at the smallest, per operation
    for (const op of ["push", "pull"] as const) {
      const unix = ours.filter((s) =>
        s.scenario === op && s.transport === "unix" && s.peakRssKiB !== undefined && s.baseRssKiB !== undefined
      )
        .sort((a, b) => (a.bytes ?? 0) - (b.bytes ?? 0))
      if (unix.length < 2) continue
      const small = unix[0]!
      const big = unix[unix.length - 1]!
      const growth = (s: Sample) => (s.peakRssKiB! - s.baseRssKiB!) / 1024
      const flat = growth(big) <= Math.max(1.5 * growth(small), growth(small) + 32)
      p(
        `- **${op}: ${flat ? "flat" : "NOT flat"}**: ${fixed(growth(big), 0)} MiB over the base at ` +
          `${fixed((big.bytes ?? 0) / MiB, 0)} MiB against ${fixed(growth(small), 0)} MiB at ` +
          `${fixed((small.bytes ?? 0) / MiB, 0)} MiB (flat = at most 1.5× or 32 MiB more).`
      )
    }
    p("")
  }
}

if (meta.FAILED) {
  p("## Failed in this run", "", ...meta.FAILED.split(",").map((f) => `- ${f} (see the run's log.txt)`), "")
}

const notes = samples.filter((s) => s.note !== undefined && !/^concurrency/.test(s.note))
if (notes.length > 0) {
  p("## Notes from the drivers", "", ...[...new Set(notes.map((s) => `- ${s.tool} ${s.scenario}: ${s.note}`))], "")
}
p("Caveats (shared machine, what each number includes): see [README.md](README.md#caveats).", "")

Fs.writeFileSync(flag(flags, "out"), out.join("\n"))
process.stderr.write(`wrote ${flag(flags, "out")}\n`)
