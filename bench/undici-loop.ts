/**
 * The floor: a bare undici loop on the unix socket, no Effect, no decoding beyond
 * `JSON.parse`, operations waited on with `/wait`. What any Node client pays at least.
 *
 *   pnpm exec tsx bench/undici-loop.ts get    --name N --count 500 --rounds 5
 *   pnpm exec tsx bench/undici-loop.ts list   --project P --expect 100 --reps 10
 *   pnpm exec tsx bench/undici-loop.ts fanout --prefix bench-x-u --count 20 --concurrency 5 --image busybox
 */
import { Agent, request } from "@effect/platform-node/Undici"
import { emit, fanoutNames, fanoutSettings, flag, intFlag, now, parseArgs, pool, readEnvFile } from "./common.js"

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
  await call("GET", `/1.0/instances/${name}`)
  const seconds: Array<number> = []
  for (let r = 0; r < rounds; r++) {
    const t0 = now()
    for (let i = 0; i < count; i++) await call("GET", `/1.0/instances/${name}`)
    seconds.push(now() - t0)
  }
  emit({ scenario: "get", tool, transport, seconds, count })
}

const list = async () => {
  const project = encodeURIComponent(flag(flags, "project"))
  const expect = intFlag(flags, "expect")
  const reps = intFlag(flags, "reps", 10)
  const path = `/1.0/instances?recursion=1&project=${project}`
  await call("GET", path)
  const seconds: Array<number> = []
  for (let r = 0; r < reps; r++) {
    const t0 = now()
    const all = (await call("GET", path)).metadata as ReadonlyArray<unknown>
    seconds.push(now() - t0)
    if (all.length !== expect) throw new Error(`listed ${all.length} instances, expected ${expect}`)
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
    seconds.push(now() - t0)
  }
  emit({ scenario: "fanout", tool, transport, seconds, count, note: `concurrency ${concurrency}` })
}

const programs: Record<string, () => Promise<void>> = { get, list, fanout }
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
