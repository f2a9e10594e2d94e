/**
 * The floor: a bare undici loop on the unix socket, no Effect, no decoding beyond
 * `JSON.parse`, operations waited on with `/wait`. What any Node client pays at least.
 *
 *   node bench/.work/dist/undici-loop.js get     --name N --count 500 --rounds 5 [--warmup 2]
 *   node bench/.work/dist/undici-loop.js geteffect --name N --count 500 --rounds 5 [--warmup 2] [--span none]
 *     (the same in a fiber and a span; with `--span none`, in a fiber only)
 *   node bench/.work/dist/undici-loop.js getconc --name N --count 1000 --concurrency 50 --reps 3
 *   node bench/.work/dist/undici-loop.js list    --project P --expect 100 --reps 10
 *   node bench/.work/dist/undici-loop.js fanout  --prefix bench-x-u --count 20 --concurrency 5 --image busybox
 *
 * The agent has undici's defaults (no limit on connections per origin, no pipelining).
 */
import { Agent, request } from "@effect/platform-node/Undici"
import * as Effect from "effect/Effect"
import {
  emit,
  emitFanout,
  fanoutNames,
  fanoutSettings,
  flag,
  intFlag,
  parseArgs,
  pool,
  readEnvFile,
  Reps
} from "./common.js"

const { command, flags } = parseArgs(process.argv.slice(2))
const socketPath = readEnvFile().LXD_SOCKET ?? "/var/lib/lxd/unix.socket"
const dispatcher = new Agent({ connect: { socketPath } })
const tool = "undici"
const transport = "unix"

interface Envelope {
  readonly type: "sync" | "async" | "error"
  readonly error?: string
  readonly metadata: unknown
  readonly operation?: string
}

const call = async (method: "GET" | "POST" | "PUT" | "DELETE", path: string, body?: unknown): Promise<Envelope> => {
  const res = await request(`http://lxd${path}`, {
    method,
    dispatcher,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) })
  })
  const envelope = (await res.body.json()) as Envelope
  if (envelope.type === "error") throw new Error(`${method} ${path}: ${envelope.error}`)
  return envelope
}

/** Send, and wait for the operation if one was started. */
const run = async (method: "POST" | "PUT" | "DELETE", path: string, body?: unknown): Promise<void> => {
  const envelope = await call(method, path, body)
  if (envelope.type !== "async" || envelope.operation === undefined) return
  const done = await call("GET", `${envelope.operation}/wait?timeout=60`)
  const op = done.metadata as { readonly status: string; readonly err?: string }
  if (op.status !== "Success") throw new Error(`${method} ${path}: ${op.err}`)
}

const get = async () => {
  const name = encodeURIComponent(flag(flags, "name"))
  const count = intFlag(flags, "count", 500)
  const rounds = intFlag(flags, "rounds", 5)
  const warmup = intFlag(flags, "warmup", 0)
  await call("GET", `/1.0/instances/${name}`)
  const reps = new Reps(warmup)
  for (let r = 0; r < warmup + rounds; r++) {
    reps.start()
    for (let i = 0; i < count; i++) await call("GET", `/1.0/instances/${name}`)
    reps.stop()
  }
  emit({ scenario: "get", tool, transport, ...reps.fields(), count })
}

/**
 * The floor of any Effect 3 client: the same call run in a fiber, in one span per call
 * (`Effect.withSpan`, as a library's public call is), and nothing else: no schema, no
 * checks, no HTTP span. With `--span none`, the call in a fiber without the span: what
 * the span itself costs is the difference between the two.
 */
const getInEffect = async () => {
  const name = encodeURIComponent(flag(flags, "name"))
  const count = intFlag(flags, "count", 500)
  const rounds = intFlag(flags, "rounds", 5)
  const warmup = intFlag(flags, "warmup", 0)
  const spanned = flag(flags, "span", "get") !== "none"
  const bare = Effect.promise(() => call("GET", `/1.0/instances/${name}`))
  const one = spanned ? Effect.withSpan(bare, "get", { captureStackTrace: false }) : bare
  const reps = await Effect.runPromise(Effect.gen(function*() {
    yield* one
    const reps = new Reps(warmup)
    for (let r = 0; r < warmup + rounds; r++) {
      reps.start()
      for (let i = 0; i < count; i++) yield* one
      reps.stop()
    }
    return reps
  }))
  emit({
    scenario: "get",
    tool: spanned ? "undici in Effect" : "undici in a fiber",
    transport,
    ...reps.fields(),
    count
  })
}

const getConcurrent = async () => {
  const name = encodeURIComponent(flag(flags, "name"))
  const count = intFlag(flags, "count", 1000)
  const concurrency = intFlag(flags, "concurrency", 50)
  const rounds = intFlag(flags, "reps", 3)
  const all = () =>
    pool(Array.from({ length: count }), concurrency, async () => {
      await call("GET", `/1.0/instances/${name}`)
    })
  await all()
  const reps = new Reps()
  for (let r = 0; r < rounds; r++) {
    reps.start()
    await all()
    reps.stop()
  }
  emit({ scenario: "getconc", tool, transport, ...reps.fields(), count, concurrency })
}

const list = async () => {
  const project = encodeURIComponent(flag(flags, "project"))
  const expect = intFlag(flags, "expect")
  const reps = intFlag(flags, "reps", 10)
  const path = `/1.0/instances?recursion=1&project=${project}`
  await call("GET", path)
  const times = new Reps()
  for (let r = 0; r < reps; r++) {
    times.start()
    const all = (await call("GET", path)).metadata as ReadonlyArray<unknown>
    times.stop()
    if (all.length !== expect) throw new Error(`listed ${all.length} instances, expected ${expect}`)
  }
  emit({ scenario: "list", tool, transport, ...times.fields(), count: expect })
}

const fanout = async () => {
  const { alias, concurrency, count, prefix, reps } = fanoutSettings(flags)
  const times = new Reps()
  for (let r = 0; r < reps; r++) {
    const names = fanoutNames(prefix, r, count)
    times.start()
    await pool(names, concurrency, async (name) => {
      const path = `/1.0/instances/${encodeURIComponent(name)}`
      try {
        await run("POST", "/1.0/instances", { name, source: { type: "image", alias }, profiles: ["default"] })
        await run("PUT", `${path}/state`, { action: "start", timeout: 30 })
        await run("PUT", `${path}/state`, { action: "stop", force: true, timeout: 30 })
        await run("DELETE", path)
      } catch (error) {
        await run("PUT", `${path}/state`, { action: "stop", force: true }).catch(() => undefined)
        await run("DELETE", path).catch(() => undefined)
        throw error
      }
    })
    times.stop()
  }
  emitFanout(tool, transport, times, count, concurrency)
}

const programs: Record<string, () => Promise<void>> = {
  get,
  geteffect: getInEffect,
  getconc: getConcurrent,
  list,
  fanout
}
const program = programs[command]
if (program === undefined) {
  process.stderr.write(`unknown command "${command}"; one of ${Object.keys(programs).join(", ")}\n`)
  process.exit(2)
}
program().then(
  () => dispatcher.close(),
  (error: unknown) => {
    process.stderr.write(`undici ${command} failed: ${String(error)}\n`)
    process.exit(1)
  }
)
