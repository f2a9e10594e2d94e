/**
 * One row's tools, measured in turns: repetition 1 of every tool, then repetition 2 of
 * every tool, and so on, the order rotated by one each round. The daemon's own speed
 * drifts over minutes (a `GET` of the same instance took 3.2 ms a call in one minute and
 * 5.0 ms in the next, for undici and effect-lxd alike); a row that measured each tool
 * in its own block of time compared the drift as much as the tools.
 *
 *   node bench/.work/dist/turns.js :: node eff.js get ... :: node undici-loop.js get ... :: python3 pylxd_driver.py get ...
 *
 * Each command after a `::` is one driver. It runs with `BENCH_TURNS=1` and a pipe on
 * fd 3: before each repetition it says `ready` there and waits for a line on its stdin
 * (`waitForTurn` in common.ts, `wait_for_turn` in pylxd_driver.py). The coordinator
 * starts every driver, waits until all are ready (their warm-up done), then hands out
 * one turn at a time: a turn ends when that driver is ready again, or has exited. A
 * driver's sample lines (stdout) pass through to this process's stdout; its stderr is
 * this process's stderr. Exits 1 when any driver failed, after the others have finished.
 */
import * as ChildProcess from "node:child_process"
import type { Readable, Writable } from "node:stream"

interface Driver {
  readonly label: string
  readonly child: ChildProcess.ChildProcess
  /** Resolves at the driver's next `ready` (true) or when it exits (false). */
  next: () => Promise<boolean>
  exited: boolean
  failed: boolean
}

const commands = (argv: ReadonlyArray<string>): ReadonlyArray<ReadonlyArray<string>> => {
  const out: Array<Array<string>> = []
  for (const arg of argv) {
    if (arg === "::") out.push([])
    else if (out.length === 0) throw new Error(`usage: turns.js :: COMMAND... [:: COMMAND...]`)
    else out[out.length - 1]!.push(arg)
  }
  if (out.length === 0 || out.some((c) => c.length === 0)) {
    throw new Error("usage: turns.js :: COMMAND... [:: COMMAND...]")
  }
  return out
}

const start = (command: ReadonlyArray<string>): Driver => {
  const [file, ...args] = command
  const child = ChildProcess.spawn(file!, args, {
    stdio: ["pipe", "inherit", "inherit", "pipe"],
    env: { ...process.env, BENCH_TURNS: "1" }
  })
  const signals = child.stdio[3] as Readable
  let buffered = ""
  let readies = 0
  const waiters: Array<(ready: boolean) => void> = []
  const driver: Driver = {
    label: command.slice(0, 3).join(" "),
    child,
    exited: false,
    failed: false,
    next: () =>
      new Promise<boolean>((resolve) => {
        if (readies > 0) {
          readies--
          resolve(true)
        } else if (driver.exited) resolve(false)
        else waiters.push(resolve)
      })
  }
  signals.setEncoding("utf8")
  signals.on("data", (text: string) => {
    buffered += text
    let nl: number
    while ((nl = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, nl)
      buffered = buffered.slice(nl + 1)
      if (line !== "ready") continue
      const waiter = waiters.shift()
      if (waiter === undefined) readies++
      else waiter(true)
    }
  })
  child.on("error", (error) => {
    process.stderr.write(`turns: ${driver.label}: ${error.message}\n`)
  })
  child.on("close", (code, signal) => {
    driver.exited = true
    if (code !== 0) {
      driver.failed = true
      process.stderr.write(`turns: ${driver.label} exited with ${code ?? signal}\n`)
    }
    for (const waiter of waiters.splice(0)) waiter(false)
  }) // a driver that is gone makes writes to its stdin fail; that is seen at its exit
  ;(child.stdin as Writable).on("error", () => undefined)
  return driver
}

const main = async () => {
  const drivers = commands(process.argv.slice(2)).map(start)
  // everyone warmed up and waiting (or already gone) before the first turn
  let waiting = await Promise.all(drivers.map((d) => d.next()))
  let round = 0
  while (waiting.some((w) => w)) {
    const order = drivers.map((_, i) => (i + round) % drivers.length)
    const next = [...waiting]
    for (const i of order) {
      if (!waiting[i]) continue
      ;(drivers[i]!.child.stdin as Writable).write("\n")
      next[i] = await drivers[i]!.next()
    }
    waiting = next
    round++
  }
  await Promise.all(drivers.map((d) => d.exited ? undefined : new Promise((resolve) => d.child.once("close", resolve))))
  for (const d of drivers) (d.child.stdin as Writable).end()
  if (drivers.some((d) => d.failed)) process.exit(1)
}

main().catch((error: unknown) => {
  process.stderr.write(`turns: ${String(error)}\n`)
  process.exit(1)
})
