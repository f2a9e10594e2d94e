/**
 * Turn a run's samples into `bench/RESULTS.md`:
 *
 *   pnpm exec tsx bench/report.ts --results bench/.work/<run>/results.jsonl --meta bench/.work/<run>/meta.env --out bench/RESULTS.md
 *
 * Medians of the repetitions, with min and max; every ratio is the tool's median time
 * divided by effect-lxd's (over the unix socket) for the same scenario: above 1 means
 * slower than effect-lxd, below 1 faster. Each row also gives the client's CPU time (the
 * measure least bent by the machine's load) and the 1-minute load average when its
 * driver started and ended.
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
/** min / median / max of the seconds, each divided by `per` and shown with `show`. */
const spread = (xs: ReadonlyArray<number>, show: (x: number) => string, per = 1) =>
  `${show(Math.min(...xs) / per)} / **${show(median(xs) / per)}** / ${show(Math.max(...xs) / per)}`
const cpu = (s: Sample, per = 1) =>
  s.cpuSeconds === undefined || s.cpuSeconds.length === 0 ? "–" : `${ms(median(s.cpuSeconds) / per)} ms`
const loadOf = (s: Sample) => (s.load === undefined ? "–" : `${fixed(s.load[0], 1)}–${fixed(s.load[1], 1)}`)
const msUnit = (x: number) => `${ms(x)} ms`
const sUnit = (x: number) => `${fixed(x, 2)} s`
const toolOrder = ["effect-lxd", "undici", "undici in a fiber", "undici in Effect", "pylxd", "lxc"]
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

/**
 * The samples of a scenario (and size, for transfers), with effect-lxd over unix as the
 * reference; a peer measured over another transport (`lxc` over HTTPS) is compared with
 * effect-lxd over that transport, and its ratio says so.
 */
const pick = (scenario: Sample["scenario"], bytes?: number) => {
  const xs = sortSamples(samples.filter((s) => s.scenario === scenario && (bytes === undefined || s.bytes === bytes)))
  const refOf = (transport: string) => xs.find((s) => s.tool === "effect-lxd" && s.transport === transport)
  const ratio = (s: Sample) => {
    const own = s.tool !== "effect-lxd" && s.transport !== "unix" ? refOf(s.transport) : undefined
    const ref = own ?? refOf("unix")
    if (ref === undefined) return "–"
    const x = `${fixed(median(s.seconds) / median(ref.seconds), 2)}×`
    return own === undefined ? x : `${x} of ${label(own)}`
  }
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
  "The tools of a row take **turns** (`bench/turns.ts`): every tool's first repetition, then every " +
    "tool's second, the order rotated each round, each driver idle while another is measured. The " +
    "daemon's own speed drifts over minutes; in turns the drift falls on every tool alike.",
  "",
  "**Ratio** = the tool's median time ÷ effect-lxd's median time (unix socket) for the same work: " +
    "above 1× the tool is slower than effect-lxd, below 1× faster; `lxc` over HTTPS (a remote on the " +
    "daemon's HTTPS listener, the same TLS work) is compared with effect-lxd over HTTPS, and its " +
    "ratio says so. Times are **min / median / max** " +
    "over the repetitions. **CPU** is the median CPU time (user + system) of the client process per " +
    "repetition (or per call): the figure least bent by the machine's load. **Load** is the " +
    "1-minute load average when the tool's driver started and ended (2 cores: above 2 the tools " +
    "share the CPU with other work). MiB/s uses 1 MiB = 2^20 bytes. " +
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
    ["effect-lxd", `${meta.EFFECT_LXD ?? "?"} (this checkout: ${meta.EFFECT_LXD_RUN ?? "?"})`],
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
      "(effect-lxd: `Instances.get`, pylxd: `client.containers.get`, lxc: `lxc query`, one process per call). " +
      "*undici in Effect* is the bare undici call run in a fiber inside one `Effect.withSpan` per call, and " +
      "nothing else: the floor of any Effect 3 client; *undici in a fiber* is the same without the span. " +
      "*Warm-up*: each tool's first rounds, taken in turn like the others but not in the medians " +
      "(per call, time and CPU; `lxc` starts a new process per call and has none).",
    "",
    table(
      [
        "tool",
        "calls × rounds",
        "per call (min / median / max round)",
        "calls/s",
        "CPU per call",
        "ratio",
        "warm-up",
        "load"
      ],
      xs.map((s) => {
        const m = median(s.seconds)
        const n = s.count ?? 1
        const warm = s.warmupSeconds ?? []
        const warmCpu = s.warmupCpuSeconds ?? []
        return [
          label(s),
          `${n} × ${s.seconds.length}`,
          spread(s.seconds, msUnit, n),
          fixed(n / m, 0),
          cpu(s, n),
          ratio(s),
          warm.length === 0
            ? "–"
            : `${warm.length} × ${n}: ${warm.map((x) => ms(x / n)).join(", ")} ms (CPU ${
              warmCpu.map((x) => ms(x / n)).join(", ")
            } ms)`,
          loadOf(s)
        ]
      })
    ),
    ""
  )
}

// (a2) concurrent gets
{
  const { xs, ratio } = pick("getconc")
  if (xs.length > 0) {
    const n = xs[0]?.count ?? 0
    const c = xs[0]?.concurrency ?? "?"
    p(
      `## (a2) ${n} gets, ${c} at a time`,
      "",
      `The same GET, ${n} calls with at most ${c} in flight (effect-lxd: \`Effect.forEach\` with ` +
        "`concurrency`; undici: a pool of async workers on one `Agent` with undici's defaults). " +
        "Throughput is calls per second of the median round.",
      "",
      table(
        ["tool", "calls × rounds", "round (min / median / max)", "calls/s", "CPU per call", "ratio", "load"],
        xs.map((s) => [
          label(s),
          `${s.count} × ${s.seconds.length}`,
          spread(s.seconds, sUnit),
          fixed((s.count ?? 0) / median(s.seconds), 0),
          cpu(s, s.count ?? 1),
          ratio(s),
          loadOf(s)
        ])
      ),
      ""
    )
  }
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
      ["tool", "reps", "min / median / max", "CPU", "ratio", "load"],
      xs.map((s) => [
        label(s),
        String(s.seconds.length),
        spread(s.seconds, msUnit),
        cpu(s),
        ratio(s),
        loadOf(s)
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
      ["tool", "containers × reps", "concurrency", "total (min / median / max)", "per container", "ratio", "load"],
      xs.map((s) => {
        const m = median(s.seconds)
        const c = /concurrency (\d+)/.exec(s.note ?? "")?.[1] ?? "?"
        return [
          label(s),
          `${s.count} × ${s.seconds.length}`,
          c,
          spread(s.seconds, sUnit),
          `${fixed(m / (s.count ?? 1), 2)} s`,
          ratio(s),
          loadOf(s)
        ]
      })
    ),
    ""
  )
}

const transferRows = (xs: ReadonlyArray<Sample>, ratio: (s: Sample) => string) =>
  xs.map((s) => {
    if (s.unsupported !== undefined) return [label(s), "–", `*${s.unsupported}*`, "–", "–", "–", "–", "–", loadOf(s)]
    const m = median(s.seconds)
    return [
      label(s),
      String(s.seconds.length),
      spread(s.seconds, sUnit),
      fixed((s.bytes ?? 0) / MiB / m, 0),
      s.cpuSeconds === undefined || s.cpuSeconds.length === 0 ? "–" : sUnit(median(s.cpuSeconds)),
      ratio(s),
      mib(s.peakRssKiB),
      mib(s.baseRssKiB),
      loadOf(s)
    ]
  })
const transferHead = [
  "tool",
  "reps",
  "min / median / max",
  "MiB/s",
  "CPU",
  "ratio",
  "peak RSS (MiB)",
  "base RSS (MiB)",
  "load"
]

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

// (d2) exec round trip, (d3) concurrent execs
{
  const { xs, ratio } = pick("execrtt")
  if (xs.length > 0) {
    const n = xs[0]?.count ?? 0
    p(
      `## (d2) Exec round trip: \`true\`, ${n} times one after another`,
      "",
      "From the request to the exit status of a command that does nothing (effect-lxd: `Exec.run`; " +
        "pylxd: `execute`; lxc: `lxc exec <name> -- true`, a new process each time, as a script runs it).",
      "",
      table(
        ["tool", "runs × rounds", "per run (min / median / max round)", "CPU per run", "ratio", "load"],
        xs.map((s) => [
          label(s),
          `${n} × ${s.seconds.length}`,
          spread(s.seconds, msUnit, s.count ?? 1),
          cpu(s, s.count ?? 1),
          ratio(s),
          loadOf(s)
        ])
      ),
      ""
    )
  }
}
{
  const { xs, ratio } = pick("execconc")
  if (xs.length > 0) {
    const n = xs[0]?.count ?? 0
    const c = xs[0]?.concurrency ?? "?"
    p(
      `## (d3) ${n} execs of \`true\`, ${c} at a time`,
      "",
      "Total time of the batch (effect-lxd: `Exec.run` under `Effect.forEach({ concurrency })`; " +
        "pylxd: a thread pool; lxc: that many `lxc exec` processes at once).",
      "",
      table(
        ["tool", "runs × rounds", "total (min / median / max)", "CPU", "ratio", "load"],
        xs.map((s) =>
          s.unsupported !== undefined
            ? [label(s), "–", `*${s.unsupported}*`, "–", "–", loadOf(s)]
            : [
              label(s),
              `${n} × ${s.seconds.length}`,
              spread(s.seconds, sUnit),
              cpu(s),
              ratio(s),
              loadOf(s)
            ]
        )
      ),
      ""
    )
  }
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

// (f) start-up
{
  const { xs, ratio } = pick("startup")
  if (xs.length > 0) {
    p(
      "## (f) Start-up: from `import` to a connected client",
      "",
      "A fresh process per run (effect-lxd: `node` importing the built package and building " +
        "`Lxd.layerUnix`/`layerHttps`, which proves the connection with `GET /1.0`; pylxd: " +
        "`python3 -c 'import pylxd; pylxd.Client()'`, which also does `GET /1.0`; lxc: `lxc query /1.0`). " +
        "*Process* is spawn to exit; *import → connected* is measured inside the process, from the " +
        "first import of the library.",
      "",
      table(
        [
          "tool",
          "runs",
          "process (min / median / max)",
          "import → connected (median)",
          "CPU",
          "peak RSS (MiB)",
          "ratio",
          "load"
        ],
        xs.map((s) => [
          label(s),
          String(s.seconds.length),
          spread(s.seconds, msUnit),
          s.innerSeconds === undefined ? "–" : msUnit(median(s.innerSeconds)),
          cpu(s),
          mib(s.peakRssKiB),
          ratio(s),
          loadOf(s)
        ])
      ),
      ""
    )
  }
}

// (g) images, (h) backups
const sectionOf = (
  title: string,
  text: string,
  rows: ReadonlyArray<{ readonly scenario: Sample["scenario"]; readonly heading: string }>
) => {
  const present = rows.filter((r) => samples.some((s) => s.scenario === r.scenario))
  if (present.length === 0) return
  p(title, "", text, "")
  for (const r of present) {
    const { ratio, xs } = pick(r.scenario)
    const size = xs.find((s) => s.bytes !== undefined)?.bytes ?? 0
    p(`### ${r.heading}, ${fixed(size / MiB, 0)} MiB`, "", table(transferHead, transferRows(xs, ratio)), "")
  }
}
sectionOf(
  "## (g) Image upload and export",
  "A unified image tarball (uncompressed: `metadata.yaml` and a rootfs holding random bytes) uploaded " +
    "(`POST /1.0/images`, waited until the image is in; deleted after each repetition, not timed), then " +
    "exported to a local file (`GET /1.0/images/<fp>/export`). effect-lxd: `Images.upload(Images.unifiedFile(file))` / " +
    "`Images.exportTo(fp, out)` (local files, the bulk path; both hash what they move); lxc: `lxc image import` / " +
    "`lxc image export`; pylxd: `images.create(open(f).read())` / `image.export()` copied to the file. " +
    "MiB/s counts the tarball's bytes.",
  [{ scenario: "imageup", heading: "upload" }, { scenario: "imageexport", heading: "export" }]
)
sectionOf(
  "## (h) Instance backup export and import",
  "A stopped container holding random bytes. *Export* is what `lxc export --instance-only --compression none` " +
    "does: make the backup on the server (waited), download its tarball to a local file, delete the backup " +
    "(effect-lxd: `InstanceBackups.create` / `exportTo(instance, backup, out)` / `delete`). *Import* creates a new " +
    "instance from that tarball (`POST /1.0/instances` with the tarball as the body, waited; the instance is " +
    "deleted after each repetition, not timed; effect-lxd: `InstanceBackups.importFile(file)`, lxc: " +
    "`lxc import`). Uncompressed, so that the daemon's compression does not hide the transfer. MiB/s counts " +
    "the tarball's bytes.",
  [{ scenario: "backupexport", heading: "export" }, { scenario: "backupimport", heading: "import" }]
)

// (i) the upload and the export, call by call
{
  const timed = samples.filter((s) => s.scenario === "phases" && s.phases !== undefined)
  const rows: ReadonlyArray<{ readonly of: Sample["of"]; readonly heading: string }> = [
    { of: "imageup", heading: "Image upload (g)" },
    { of: "backupexport", heading: "Backup export (h)" }
  ]
  if (timed.length > 0) {
    p(
      "## (i) Image upload and backup export, call by call",
      "",
      "The same drivers as in (g) and (h), effect-lxd over unix and `lxc`, again in turns, each through a proxy " +
        "of its own between it and the daemon's socket (`bench/calltimes.ts`) that notes when every request " +
        "starts, when its answer comes back and when the answer's last byte has passed. Each part is the " +
        "daemon's side of the client's calls for that step (for a waited step, until the client learns the " +
        "operation ended: its `/wait` answer for effect-lxd, the event for `lxc`); the download passes " +
        "through the proxy, which sets its pace for both. *The client's own time* is the repetition's time " +
        "less its calls end to end: what the client spends outside the daemon's calls (for `lxc`, its process " +
        "start is in it). Medians, with min–max.",
      ""
    )
    for (const r of rows) {
      const xs = sortSamples(timed.filter((s) => s.of === r.of))
      if (xs.length === 0) continue
      const names = Object.keys(xs[0]!.phases!)
      const cell = (values: ReadonlyArray<number> | undefined) =>
        values === undefined || values.length === 0
          ? "–"
          : `**${ms(median(values))}** (${ms(Math.min(...values))}–${ms(Math.max(...values))})`
      p(
        `### ${r.heading}`,
        "",
        table(
          ["tool", "reps", ...names.map((n) => `${n} (ms)`), "the repetition (ms)", "load"],
          xs.map((s) => [
            label(s),
            String(s.seconds.length),
            ...names.map((n) => cell(s.phases![n])),
            cell(s.seconds),
            loadOf(s)
          ])
        ),
        ""
      )
    }
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
