/**
 * A throwaway second Incus daemon, for migrations from the shared Incus test daemon
 * (Incus and LXD 5.0 have diverged: an Incus instance carries config keys LXD 5.0 refuses,
 * so Incus → LXD is not a migration LXD supports). `extraDaemon.ts` does the same for LXD.
 *
 * `secondIncusDaemon()` starts `incusd` with its own `INCUS_DIR` (a fresh temporary
 * directory, mode 711), waits for its socket, then over that socket: a `dir` pool
 * "default", a default profile with only a root disk (no network at all), HTTPS on
 * 127.0.0.1:<free port from 8700 up>, and trust for the Incus test client certificate.
 * Its own fetches go to a closed loopback port (HTTP(S)_PROXY=http://127.0.0.1:9).
 *
 * When the scope closes: `incus admin shutdown` against its socket, SIGKILL of that one
 * pid if it is still alive, lazy unmount of anything left under its directory, removal of
 * the directory.
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import { LxdHttp, Operations } from "effect-lxd"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { daemons } from "./env.js"

export class SecondDaemonError extends Data.TaggedError("SecondDaemonError")<{ readonly reason: string }> {
  override get message(): string {
    return `second Incus daemon: ${this.reason}`
  }
}

export interface SecondDaemon {
  readonly dir: string
  readonly socket: string
  readonly pid: number
  readonly httpsUrl: string
  readonly unixConnection: Layer.Layer<LxdHttp.LxdHttp, unknown>
  readonly httpsConnection: Layer.Layer<LxdHttp.LxdHttp, unknown>
}

const INCUSD = "/usr/libexec/incus/incusd"

const daemonEnv = (dir: string): NodeJS.ProcessEnv => ({
  PATH: `/usr/libexec/incus:${process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin"}`,
  HOME: Os.tmpdir(),
  INCUS_DIR: dir,
  HTTPS_PROXY: "http://127.0.0.1:9",
  HTTP_PROXY: "http://127.0.0.1:9",
  https_proxy: "http://127.0.0.1:9",
  http_proxy: "http://127.0.0.1:9",
  NO_PROXY: "127.0.0.1,localhost,::1",
  no_proxy: "127.0.0.1,localhost,::1"
})

const ping = (socketPath: string): Promise<boolean> =>
  new Promise((resolve) => {
    const req = Http.request({ socketPath, path: "/1.0", method: "GET", timeout: 2000 }, (res) => {
      res.resume()
      res.on("end", () => resolve(res.statusCode === 200))
    })
    req.on("timeout", () => req.destroy(new Error("timeout")))
    req.on("error", () => resolve(false))
    req.end()
  })

const portIsFree = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const s = Net.createServer()
    s.once("error", () => resolve(false))
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)))
  })

const mountsUnder = (dir: string): Array<string> => {
  let text = ""
  try {
    text = Fs.readFileSync("/proc/mounts", "utf8")
  } catch {
    return []
  }
  return text.split("\n").map((l) => l.split(" ")[1]).filter((m): m is string => m !== undefined)
    .filter((m) => m === dir || m.startsWith(dir + "/")).sort((a, b) => b.length - a.length)
}

const run = (command: string, args: ReadonlyArray<string>, env: NodeJS.ProcessEnv, timeoutMs: number) =>
  Effect.async<void>((resume) => {
    const child = ChildProcess.execFile(command, [...args], { env, timeout: timeoutMs }, () => resume(Effect.void))
    return Effect.sync(() => child.kill("SIGKILL"))
  })

const pem = (file: string) => Fs.readFileSync(file, "utf8")

/** Start a throwaway Incus daemon for the current scope. */
export const secondIncusDaemon = (
  options: { readonly startTimeout?: Duration.DurationInput } = {}
): Effect.Effect<SecondDaemon, SecondDaemonError, Scope.Scope> =>
  Effect.gen(function*() {
    const env = daemons().find((d) => d.kind === "incus")
    if (env === undefined) return yield* new SecondDaemonError({ reason: "no Incus test environment" })

    const started = yield* Effect.acquireRelease(
      Effect.try({
        try: () => {
          const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "incus-second-"))
          Fs.chmodSync(dir, 0o711)
          const out = Fs.openSync(Path.join(dir, "incusd.stdout"), "a")
          const child = ChildProcess.spawn(INCUSD, ["--group", "incus-admin", `--logfile=${Path.join(dir, "incus.log")}`], {
            cwd: "/",
            env: daemonEnv(dir),
            detached: true,
            stdio: ["ignore", out, out]
          })
          Fs.closeSync(out)
          child.unref()
          const exited = new Promise<void>((resolve) => {
            child.once("exit", () => resolve())
            child.once("error", () => resolve())
          })
          if (child.pid === undefined) throw new Error("spawn gave no pid")
          return { dir, child, pid: child.pid, exited }
        },
        catch: (e) => new SecondDaemonError({ reason: `cannot start incusd: ${String(e)}` })
      }),
      ({ child, dir, exited, pid }) =>
        Effect.gen(function*() {
          const alive = () => child.exitCode === null && child.signalCode === null
          if (alive()) {
            yield* run("incus", ["admin", "shutdown", "--timeout=20"], daemonEnv(dir), 30_000)
            const gone = yield* Effect.promise(() => exited).pipe(Effect.timeout("5 seconds"), Effect.isSuccess)
            if (!gone && alive()) {
              yield* Effect.sync(() => {
                try {
                  process.kill(pid, "SIGKILL")
                } catch {
                  // already gone
                }
              })
              yield* Effect.promise(() => exited).pipe(Effect.timeout("10 seconds"), Effect.ignore)
            }
          }
          for (const m of mountsUnder(dir)) yield* run("umount", ["-l", m], process.env, 10_000)
          yield* Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
        })
    )
    const socket = Path.join(started.dir, "unix.socket")
    const deadline = Date.now() + Duration.toMillis(Duration.decode(options.startTimeout ?? "30 seconds"))
    while (!(yield* Effect.promise(() => ping(socket)))) {
      if (started.child.exitCode !== null || Date.now() > deadline) {
        return yield* new SecondDaemonError({ reason: "incusd did not come up (see its log)" })
      }
      yield* Effect.sleep("50 millis")
    }

    const unixConnection = LxdHttp.layerUnix({ socketPath: socket })
    const port = yield* Effect.gen(function*() {
      const ops = yield* Operations.Operations
      yield* ops.run({ method: "POST", path: "/1.0/storage-pools", project: null, body: { name: "default", driver: "dir", config: {} } })
      yield* ops.run({
        method: "PUT",
        path: "/1.0/profiles/default",
        body: { description: "Default Incus profile", config: {}, devices: { root: { type: "disk", path: "/", pool: "default" } } }
      })
      yield* ops.run({
        method: "POST",
        path: "/1.0/certificates",
        project: null,
        body: {
          type: "client",
          name: "incus-test-client",
          certificate: pem(env.clientCert).replace(/-----(BEGIN|END) CERTIFICATE-----/g, "").replace(/\s+/g, ""),
          restricted: false,
          projects: []
        }
      })
      for (let p = 8700; p < 8750; p++) {
        if (!(yield* Effect.promise(() => portIsFree(p)))) continue
        const set = yield* Effect.either(
          ops.run({ method: "PATCH", path: "/1.0", project: null, body: { config: { "core.https_address": `127.0.0.1:${p}` } } })
        )
        if (set._tag === "Right") return p
      }
      return yield* new SecondDaemonError({ reason: "no free port for HTTPS" })
    }).pipe(
      Effect.provide(Operations.layer.pipe(Layer.provideMerge(unixConnection))),
      Effect.mapError((e) => e instanceof SecondDaemonError ? e : new SecondDaemonError({ reason: `configuring: ${e.message}` }))
    )
    const httpsUrl = `https://127.0.0.1:${port}`
    return {
      dir: started.dir,
      socket,
      pid: started.pid,
      httpsUrl,
      unixConnection,
      httpsConnection: LxdHttp.layerHttps({
        url: httpsUrl,
        cert: pem(env.clientCert),
        key: Redacted.make(pem(env.clientKey)),
        serverCert: pem(Path.join(started.dir, "server.crt"))
      })
    }
  })
