/**
 * Not run by run.sh: the client-side cost of reading instances, without the daemon's time.
 * For *Where the time goes* (Calls) and for comparing two builds side by side.
 *
 *   node bench/.work/dist/decode.js capture --name N --project P --out DIR
 *     saves the daemon's own answers (the bodies of `GET /1.0`, `GET /1.0/instances/N` and
 *     `GET /1.0/instances?recursion=1&project=P`) as server.json, get.json, list.json
 *   node bench/.work/dist/decode.js schema --dir DIR [--reps 300]
 *     `JSON.parse` and the public `Instances.Instance` schema on those bodies, in this
 *     process: the first decode of each (cold), then medians of `--reps` (hot)
 *   node bench/.work/dist/decode.js calls --dir DIR [--count 2000] [--reps 5] [--lists 100]
 *     `Instances.get` and `Instances.list` through `Lxd.layerUnix`, against a replay server
 *     in a child process that answers at once with the saved bodies: the first call of
 *     each (cold), then CPU per call over `--reps` rounds of `--count` gets and `--lists` lists
 *
 * Each command prints one JSON line; CPU is this process's user + system time (the replay
 * server's is not counted). Profile with `node --cpu-prof bench/.work/dist/decode.js ...`.
 */
import { Instances, Lxd } from "effect-lxd"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { cpuNow, flag, intFlag, now, parseArgs, readEnvFile } from "./common.js"

const { command, flags } = parseArgs(process.argv.slice(2))

const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s[s.length >> 1]!
}

/** Milliseconds of CPU and of wall clock that `f` took. */
const measure = (f: () => void): { readonly cpu: number; readonly wall: number } => {
  const c0 = cpuNow()
  const t0 = now()
  f()
  return { cpu: (cpuNow() - c0) * 1000, wall: (now() - t0) * 1000 }
}

const round3 = (x: number) => Math.round(x * 1000) / 1000

const read = (dir: string, file: string) => Fs.readFileSync(Path.join(dir, file), "utf8")

/** The body of a GET on the daemon's unix socket, as it came. */
const getBody = (socketPath: string, path: string) =>
  new Promise<string>((resolve, reject) => {
    Http.get({ socketPath, path, headers: { host: "lxd" } }, (res) => {
      let body = ""
      res.setEncoding("utf8")
      res.on("data", (d: string) => (body += d))
      res.on(
        "end",
        () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`${path}: HTTP ${res.statusCode}`)))
      )
    }).on("error", reject)
  })

const capture = async () => {
  const socketPath = readEnvFile().LXD_SOCKET ?? "/var/lib/lxd/unix.socket"
  const out = flag(flags, "out")
  const name = encodeURIComponent(flag(flags, "name"))
  const project = encodeURIComponent(flag(flags, "project"))
  Fs.mkdirSync(out, { recursive: true })
  Fs.writeFileSync(Path.join(out, "server.json"), await getBody(socketPath, "/1.0"))
  Fs.writeFileSync(Path.join(out, "get.json"), await getBody(socketPath, `/1.0/instances/${name}`))
  Fs.writeFileSync(
    Path.join(out, "list.json"),
    await getBody(socketPath, `/1.0/instances?recursion=1&project=${project}`)
  )
  console.log(JSON.stringify({ captured: out }))
}

/** The metadata of a saved sync answer. */
const metadataOf = (text: string): unknown => (JSON.parse(text) as { readonly metadata: unknown }).metadata

const schema = () => {
  const dir = flag(flags, "dir")
  const reps = intFlag(flags, "reps", 300)
  const getText = read(dir, "get.json")
  const listText = read(dir, "list.json")
  const decodeOne = Schema.decodeUnknownEither(Instances.Instance, { onExcessProperty: "ignore" })
  const decodeList = Schema.decodeUnknownEither(Schema.Array(Instances.Instance), { onExcessProperty: "ignore" })
  const check = (result: Either.Either<unknown, unknown>) => {
    if (Either.isLeft(result)) throw new Error(String(result.left))
  }
  // cold: the first decode in this process
  const getMeta = metadataOf(getText)
  const coldGet = measure(() => check(decodeOne(getMeta)))
  const listMeta = metadataOf(listText)
  const count = (listMeta as ReadonlyArray<unknown>).length
  const coldList = measure(() => check(decodeList(listMeta)))
  // hot: a fresh parse before each decode (outside the decode's time), as a call has
  const parseList: Array<number> = []
  const decodeListCpu: Array<number> = []
  const decodeGetCpu: Array<number> = []
  for (let r = 0; r < reps; r++) {
    let meta: unknown
    parseList.push(measure(() => (meta = metadataOf(listText))).cpu)
    decodeListCpu.push(measure(() => check(decodeList(meta))).cpu)
    const metas = Array.from({ length: 100 }, () => metadataOf(getText))
    decodeGetCpu.push(measure(() => metas.forEach((m) => check(decodeOne(m)))).cpu / 100)
  }
  console.log(JSON.stringify({
    what: "schema",
    instances: count,
    listBytes: Buffer.byteLength(listText),
    coldGetMs: round3(coldGet.cpu),
    coldListMs: round3(coldList.cpu),
    hotParseListMs: round3(median(parseList)),
    hotDecodeListMs: round3(median(decodeListCpu)),
    hotDecodeGetMs: round3(median(decodeGetCpu))
  }))
}

/** The replay server (the child process): each saved body for its path, at once. */
const serve = () => {
  const dir = flag(flags, "dir")
  const socketPath = flag(flags, "socket")
  const server = read(dir, "server.json")
  const get = read(dir, "get.json")
  const list = read(dir, "list.json")
  const http = Http.createServer((req, res) => {
    const url = req.url ?? ""
    const body = url === "/1.0"
      ? server
      : url.startsWith("/1.0/instances?")
      ? list
      : url.startsWith("/1.0/instances/")
      ? get
      : undefined
    if (body === undefined) {
      res.writeHead(404, { "content-type": "application/json" })
      res.end(JSON.stringify({ type: "error", error: "not found", error_code: 404 }))
      return
    }
    res.writeHead(200, { "content-type": "application/json", etag: "\"replay\"" })
    res.end(body)
  })
  http.listen(socketPath, () => process.stdout.write("ready\n"))
  process.on("SIGTERM", () => http.close(() => process.exit(0)))
}

const startReplay = (dir: string, socketPath: string) =>
  new Promise<ChildProcess.ChildProcess>((resolve, reject) => {
    const child = ChildProcess.spawn(
      process.execPath,
      [fileURLToPath(import.meta.url), "serve", "--dir", dir, "--socket", socketPath],
      { stdio: ["ignore", "pipe", "inherit"] }
    )
    child.on("error", reject)
    child.stdout!.once("data", () => resolve(child))
  })

const calls = async () => {
  const dir = flag(flags, "dir")
  const count = intFlag(flags, "count", 2000)
  const rounds = intFlag(flags, "reps", 5)
  const lists = intFlag(flags, "lists", 100)
  const tmp = Fs.mkdtempSync(Path.join(Os.tmpdir(), "decode-bench-"))
  const socketPath = Path.join(tmp, "replay.socket")
  const child = await startReplay(dir, socketPath)
  const name = (metadataOf(read(dir, "get.json")) as { readonly name: string }).name
  const expect = (metadataOf(read(dir, "list.json")) as ReadonlyArray<unknown>).length
  const program = Effect.gen(function*() {
    const instances = yield* Instances.Instances
    const timed = <A, E>(effect: Effect.Effect<A, E>) =>
      Effect.gen(function*() {
        const c0 = cpuNow()
        const t0 = now()
        const value = yield* effect
        return { value, cpu: (cpuNow() - c0) * 1000, wall: (now() - t0) * 1000 }
      })
    const coldGet = yield* timed(instances.get(name))
    const coldList = yield* timed(instances.list())
    if (coldList.value.length !== expect) return yield* Effect.die(new Error(`listed ${coldList.value.length}`))
    const getCpu: Array<number> = []
    const getWall: Array<number> = []
    for (let r = 0; r < rounds; r++) {
      const round = yield* timed(Effect.repeatN(instances.get(name), count - 1))
      getCpu.push(round.cpu / count)
      getWall.push(round.wall / count)
    }
    const listCpu: Array<number> = []
    const listWall: Array<number> = []
    for (let r = 0; r < lists; r++) {
      const one = yield* timed(instances.list())
      listCpu.push(one.cpu)
      listWall.push(one.wall)
    }
    return {
      what: "calls",
      coldGetMs: round3(coldGet.cpu),
      coldListMs: round3(coldList.cpu),
      getCpuMs: round3(median(getCpu)),
      getWallMs: round3(median(getWall)),
      listCpuMs: round3(median(listCpu)),
      listWallMs: round3(median(listWall)),
      listCpuFirst10Ms: round3(median(listCpu.slice(0, 10)))
    }
  })
  try {
    const result = await Effect.runPromise(Effect.provide(program, Lxd.layerUnix({ socketPath })))
    console.log(JSON.stringify(result))
  } finally {
    child.kill("SIGTERM")
    Fs.rmSync(tmp, { recursive: true, force: true })
  }
}

const commands: Record<string, () => unknown> = { capture, schema, serve, calls }
const run = commands[command]
if (run === undefined) {
  console.error(`usage: decode.js capture|schema|calls|serve ... (see the header of bench/decode.ts)`)
  process.exit(2)
}
Promise.resolve(run()).catch((e: unknown) => {
  console.error(e)
  process.exit(1)
})
