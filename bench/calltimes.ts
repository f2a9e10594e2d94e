/**
 * The daemon's side of a row, call by call: a proxy between a client and the daemon's
 * unix socket that notes when each HTTP request starts, when its answer's head comes
 * back and when the answer's last byte passes, and `phases`, which turns those notes into
 * the parts of one repetition (making the backup, downloading it, deleting it; sending an
 * image, the daemon's work on it). Both clients talk to the same daemon through the same
 * kind of proxy, so a part that takes the same time for both is the daemon's pace, and
 * what is left of a repetition's time is the client's own.
 *
 *   node bench/.work/dist/calltimes.js proxy --listen /tmp/p.sock --upstream /var/lib/lxd/unix.socket --log calls.jsonl
 *   node bench/.work/dist/calltimes.js phases --log calls.jsonl --samples drivers.jsonl --of backupexport --tool lxc
 *
 * `proxy` runs until SIGTERM or SIGINT and then writes out its log. It passes bytes both
 * ways with backpressure: it reads from one side only as fast as the other takes them,
 * so that the time the last byte of an answer passes is (within a socket buffer) the
 * time the client has read it. It looks at the first bytes of each piece only: a piece
 * from the client that starts with a request line starts a new call (the request bodies
 * of these rows are JSON, or a tarball that does not start with one); on a connection
 * upgraded to a websocket (`101`), every piece from the daemon is noted (an event).
 *
 * `phases` reads that log and the tool's sample line among the drivers' (its seconds per repetition) and
 * prints one sample line of scenario `phases` (see `Sample.phases`).
 */
import * as Fs from "node:fs"
import * as Net from "node:net"
import { emit, flag, parseArgs, type Sample } from "./common.js"

/** One HTTP call seen by the proxy (milliseconds since the proxy started). */
interface CallRecord {
  readonly kind: "call"
  /** Which connection (numbered in the order they were accepted). */
  readonly conn: number
  readonly method: string
  readonly path: string
  readonly request: number
  /** The final answer's head (after any `100 Continue`). */
  readonly head: number | undefined
  /** The last byte of the answer seen before the next request or the close. */
  readonly last: number | undefined
  readonly status: number | undefined
}

/** A piece the daemon sent on a websocket connection. */
interface EventRecord {
  readonly kind: "event"
  readonly conn: number
  readonly at: number
}

type LogRecord = CallRecord | EventRecord

const REQUEST_LINE = /^(GET|POST|PUT|PATCH|DELETE|HEAD) (\S+) HTTP\/1\.1\r\n/

/** `from`'s pieces written to `to`, each seen first; `from` waits while `to` is full. */
const relay = (from: Net.Socket, to: Net.Socket, see: (piece: Buffer) => void) =>
  from.on("data", (piece: Buffer) => {
    see(piece)
    if (!to.write(piece)) {
      from.pause()
      to.once("drain", () => from.resume())
    }
  })

const proxy = (listen: string, upstream: string, logFile: string) => {
  const started = process.hrtime.bigint()
  const at = () => Number(process.hrtime.bigint() - started) / 1e6
  const records: Array<LogRecord> = []
  let conns = 0
  Fs.rmSync(listen, { force: true })
  const server = Net.createServer((client) => {
    const conn = ++conns
    const daemon = Net.connect(upstream)
    let call:
      | { method: string; path: string; request: number; head?: number; last?: number; status?: number }
      | undefined
    let upgraded = false
    const finish = () => {
      if (call === undefined) return
      records.push({
        kind: "call",
        conn,
        method: call.method,
        path: call.path,
        request: call.request,
        head: call.head,
        last: call.last,
        status: call.status
      })
      call = undefined
    }
    relay(client, daemon, (piece) => {
      const line = upgraded ? null : REQUEST_LINE.exec(piece.subarray(0, 2048).toString("latin1"))
      if (line !== null) {
        finish()
        call = { method: line[1]!, path: line[2]!, request: at() }
      }
    })
    relay(daemon, client, (piece) => {
      const now = at()
      if (upgraded) records.push({ kind: "event", conn, at: now })
      else if (call !== undefined) {
        const status = piece.subarray(0, 9).toString("latin1") === "HTTP/1.1 "
          ? Number(piece.subarray(9, 12).toString("latin1"))
          : undefined
        // a `100 Continue` is not the answer: the final head comes after it
        if (status !== undefined && status >= 200 && call.head === undefined) {
          call.head = now
          call.status = status
        } else if (status === 101) {
          call.head = now
          call.status = status
          upgraded = true
        }
        call.last = now
      }
    })
    client.on("end", () => daemon.end())
    daemon.on("end", () => client.end())
    client.on("error", () => daemon.destroy())
    daemon.on("error", () => client.destroy())
    client.on("close", () => {
      finish()
      daemon.destroy()
    })
  })
  server.listen(listen)
  const stop = () => {
    server.close()
    Fs.writeFileSync(logFile, records.map((r) => JSON.stringify(r)).join("\n") + "\n")
    process.exit(0)
  }
  process.once("SIGTERM", stop)
  process.once("SIGINT", stop)
}

// ------------------------------------------------------------------ phases

/** The parts of one repetition, in milliseconds; `undefined` where the log lacks a call. */
type Parts = Record<string, number | undefined>

const isWait = (r: CallRecord) => r.method === "GET" && /^\/1\.0\/operations\/[^/]+\/wait/.test(r.path)

/**
 * When the client learned that the operation it waited for had ended: the answer to its
 * `/wait` after `from` (effect-lxd); else (`lxc`, which asks for the operation once and
 * then waits for its event on `/1.0/events`) the later of the last answer to a
 * `GET /1.0/operations/<id>` and the last event on the websocket the repetition opened
 * around `opened`, before `until` or the next `GET /1.0` (a new `lxc` process: the
 * driver's clean-up).
 */
const doneAt = (
  calls: ReadonlyArray<CallRecord>,
  events: ReadonlyArray<EventRecord>,
  from: number,
  until: number,
  opened: readonly [number, number]
) => {
  const wait = calls.find((r) => isWait(r) && r.request >= from && r.request < until)
  if (wait !== undefined) return wait.head
  const next = calls.find((r) => r.method === "GET" && r.path === "/1.0" && r.request >= from)
  const end = Math.min(until, next?.request ?? Infinity)
  const socket = calls.find((r) =>
    r.path.startsWith("/1.0/events") && r.status === 101 && r.request >= opened[0] && r.request <= opened[1]
  )
  const times = [
    ...events.filter((e) => e.conn === socket?.conn && e.at >= from && e.at < end).map((e) => e.at),
    ...calls.filter((r) =>
      r.method === "GET" && /^\/1\.0\/operations\/[^/?]+$/.test(r.path) && r.request >= from && r.request < end
    ).map((r) => r.head ?? -Infinity)
  ]
  return times.length === 0 ? undefined : Math.max(...times)
}

const span = (from: number | undefined, to: number | undefined) =>
  from === undefined || to === undefined ? undefined : to - from

/** Backup export: `POST .../backups` (waited), `GET .../export`, `DELETE` (waited). */
const backupExportParts = (calls: ReadonlyArray<CallRecord>, events: ReadonlyArray<EventRecord>): Array<Parts> => {
  const starts = calls.filter((r) => r.method === "POST" && /\/backups$/.test(r.path))
  return starts.map((post, i) => {
    const until = starts[i + 1]?.request ?? Infinity
    const within = calls.filter((r) => r.request >= post.request && r.request < until)
    const download = within.find((r) => r.method === "GET" && r.path.endsWith("/export"))
    const del = within.find((r) => r.method === "DELETE")
    const end = del === undefined
      ? undefined
      : doneAt(calls, events, del.request, until, [post.request - 200, post.request + 200])
    return {
      "making the backup (waited)": span(post.request, download?.request),
      "the download": span(download?.request, download?.last),
      "deleting it (waited)": span(del?.request, end),
      "the calls, end to end": span(post.request, end)
    }
  })
}

/** Image upload: `POST /1.0/images` with the tarball, then the daemon's work (waited). */
const imageUploadParts = (calls: ReadonlyArray<CallRecord>, events: ReadonlyArray<EventRecord>): Array<Parts> => {
  const starts = calls.filter((r) => r.method === "POST" && r.path === "/1.0/images")
  return starts.map((post, i) => {
    const until = starts[i + 1]?.request ?? Infinity
    const answered = post.head
    const end = answered === undefined
      ? undefined
      : doneAt(calls, events, answered, until, [post.request, answered + 200])
    return {
      "sending the tarball (until the answer)": span(post.request, answered),
      "the daemon's work on it (waited)": span(answered, end),
      "the calls, end to end": span(post.request, end)
    }
  })
}

const partsOf: Record<string, typeof backupExportParts | undefined> = {
  backupexport: backupExportParts,
  imageup: imageUploadParts
}

const phases = (logFile: string, samplesFile: string, of: string, tool: string) => {
  const records = Fs.readFileSync(logFile, "utf8").split("\n").filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as LogRecord)
  const calls = records.filter((r): r is CallRecord => r.kind === "call").sort((a, b) => a.request - b.request)
  const events = records.filter((r): r is EventRecord => r.kind === "event").sort((a, b) => a.at - b.at)
  const driver = Fs.readFileSync(samplesFile, "utf8").split("\n").filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as Sample).find((s) => s.scenario === of && s.tool === tool)
  if (driver === undefined) throw new Error(`no ${of} sample of ${tool} in ${samplesFile}`)
  const parts = partsOf[of]
  if (parts === undefined) throw new Error(`no phases for ${of}`)
  const reps = parts(calls, events)
  if (reps.length !== driver.seconds.length) {
    throw new Error(`${logFile} has ${reps.length} repetitions of ${of}, the driver ${driver.seconds.length}`)
  }
  const names = Object.keys(reps[0] ?? {})
  const out: Record<string, Array<number>> = {}
  for (const name of names) {
    const values = reps.map((r) => r[name])
    if (values.some((v) => v === undefined)) throw new Error(`${logFile}: "${name}" is missing in a repetition`)
    out[name] = values.map((v) => v! / 1000)
  }
  // what the repetition took beyond its calls: the client's own work (and its start, for lxc)
  out["the client's own time"] = driver.seconds.map((s, i) => s - out["the calls, end to end"]![i]!)
  emit({
    scenario: "phases",
    of: of as Sample["of"],
    tool,
    transport: "unix",
    seconds: driver.seconds,
    cpuSeconds: driver.cpuSeconds,
    bytes: driver.bytes,
    phases: out,
    load: driver.load
  })
}

const { command, flags } = parseArgs(process.argv.slice(2))
if (command === "proxy") proxy(flag(flags, "listen"), flag(flags, "upstream"), flag(flags, "log"))
else if (command === "phases") {
  phases(flag(flags, "log"), flag(flags, "samples"), flag(flags, "of"), flag(flags, "tool"))
} else {
  process.stderr.write(
    "usage: calltimes.js proxy --listen L --upstream U --log F | phases --log F --samples S --of X --tool T\n"
  )
  process.exit(2)
}
