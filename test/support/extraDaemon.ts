/**
 * Throwaway LXD or Incus daemons for tests that must not touch the shared ones:
 * clustering, copies and moves between servers.
 *
 * `extraDaemon(options)` starts `/usr/bin/lxd` (or, with `kind: "incus"`,
 * `/usr/libexec/incus/incusd`) with its own `LXD_DIR` / `INCUS_DIR` (a fresh temporary
 * directory), waits for its socket, configures it without `init --auto` (a `dir` pool
 * "default", a default profile with only a root disk, no network at all), listens on
 * HTTPS at 127.0.0.1:<free port: LXD from 8643 up, Incus from 8800 up> and trusts the
 * test client certificate of that family (from its env file).
 * With `cluster: "bootstrap"` it then enables clustering; with `cluster: { join }` it
 * joins an existing (throwaway) cluster instead of being configured.
 *
 * When the scope closes: `lxd shutdown` / `incus admin shutdown`, then SIGKILL of that
 * one pid (and any copy of the daemon serving the same directory) if still alive, lazy
 * unmount of anything still mounted under its directory, and removal of the directory.
 * A process exit hook does the same (without the graceful shutdown) for daemons whose
 * scope never closed.
 *
 * ```ts
 * it.scoped("copy between servers", () =>
 *   Effect.gen(function*() {
 *     const other = yield* extraDaemon()
 *     const names = yield* Effect.provide(listInstances, other.httpsLayer)
 *   }))
 * ```
 *
 * All external fetches of the daemon end at a closed loopback port (HTTP(S)_PROXY is
 * http://127.0.0.1:9).
 *
 * Debugging: `LXD_EXTRA_DEBUG=1` prints each stop step; `LXD_EXTRA_KEEP_LOGS=<dir>` keeps a
 * copy of every daemon's log (`lxd.log` / `incus.log`) there before its directory is removed.
 *
 * Known LXD 5.0.2 behaviour this handles: a member removed from a cluster resets itself in
 * place and then ignores `lxd shutdown` (it answers, but never exits), so it is killed
 * after 5 seconds; a member that joined only trusts the client certificate after its next
 * trust refresh (~10 s) unless the certificate entry is rewritten (`reloadTrust`).
 */
import { Lxd, LxdHttp, Operations } from "effect-lxd"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { type DaemonEnv, daemons } from "./env.js"

/** Something went wrong starting, configuring or joining a throwaway daemon. */
export class ExtraDaemonError extends Data.TaggedError("ExtraDaemonError")<{
  readonly reason: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return `extra daemon: ${this.reason}`
  }
}

/** How to join an existing throwaway cluster. */
export interface JoinOptions {
  /** A member of the cluster to join (a daemon from this fixture). */
  readonly join: ExtraDaemon
  /**
   * A join token for this daemon's `name`. When absent the fixture asks `join` for one
   * (POST /1.0/cluster/members).
   */
  readonly token?: Redacted.Redacted<string> | string | undefined
}

/** Which daemon to run. */
export type DaemonKind = "lxd" | "incus"

export interface ExtraDaemonOptions {
  /** `"lxd"` (default) or `"incus"`. A daemon joining a cluster must be of the cluster's kind. */
  readonly kind?: DaemonKind | undefined
  /** Server name (and cluster member name). Default: a unique name. */
  readonly name?: string | undefined
  /**
   * `"bootstrap"`: configure, then enable clustering (this daemon becomes the first member).
   * `{ join }`: start bare and join the given cluster (pools and profiles come from it).
   * Default: a standalone daemon.
   */
  readonly cluster?: "bootstrap" | JoinOptions | undefined
  /**
   * Standalone only: skip the configuration (no pool, no profile devices, no trust), so a
   * test can join this daemon to a cluster itself. HTTPS is still set up.
   */
  readonly bare?: boolean | undefined
  /** How long the daemon may take to answer on its socket. Default 30 seconds. */
  readonly startTimeout?: Duration.DurationInput | undefined
}

/** A running throwaway daemon. */
export interface ExtraDaemon {
  readonly kind: DaemonKind
  readonly name: string
  /** The daemon's directory (its `LXD_DIR` or `INCUS_DIR`). */
  readonly lxdDir: string
  readonly socket: string
  /** `127.0.0.1:<port>` */
  readonly httpsAddress: string
  readonly port: number
  /** `https://127.0.0.1:<port>` */
  readonly httpsUrl: string
  /**
   * Path of the certificate the HTTPS listener presents right now: `server.crt`, or
   * `cluster.crt` once the daemon is clustered.
   */
  readonly serverCert: string
  /** Reads which certificate the listener presents now (clustering changes it). */
  readonly currentServerCert: () => string
  readonly pid: number
  readonly logFile: string
  /** The connection over the unix socket. */
  readonly unixConnection: Layer.Layer<LxdHttp.LxdHttp, Lxd.ConnectError>
  /** The connection over HTTPS with the test client certificate (server cert pinned at build time). */
  readonly httpsConnection: Layer.Layer<LxdHttp.LxdHttp, Lxd.ConnectError>
  /** Every service over the unix socket. */
  readonly unixLayer: Layer.Layer<Lxd.Services, Lxd.ConnectError>
  /** Every service over HTTPS. */
  readonly httpsLayer: Layer.Layer<Lxd.Services, Lxd.ConnectError>
  /** Both, for running a body once per transport. */
  readonly transports: ReadonlyArray<
    { readonly transport: "unix" | "https"; readonly layer: Layer.Layer<Lxd.Services, Lxd.ConnectError> }
  >
}

// -----------------------------------------------------------------------------
// process bookkeeping
// -----------------------------------------------------------------------------

interface Running {
  readonly kind: DaemonKind
  readonly dir: string
  readonly child: ChildProcess.ChildProcess
  port: number | undefined
}

const running = new Map<number, Running>()
const reservedPorts = new Set<number>()
let exitHookInstalled = false

const mountsUnder = (dir: string): Array<string> => {
  let text: string
  try {
    text = Fs.readFileSync("/proc/mounts", "utf8")
  } catch {
    return []
  }
  const prefix = dir.endsWith("/") ? dir : dir + "/"
  return text
    .split("\n")
    .map((line) => line.split(" ")[1])
    .filter((m): m is string => m !== undefined)
    .map((m) => m.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8))))
    .filter((m) => m === dir || m.startsWith(prefix))
    .sort((a, b) => b.length - a.length)
}

const isAlive = (r: Running): boolean => r.child.exitCode === null && r.child.signalCode === null

const logName: Record<DaemonKind, string> = { lxd: "lxd.log", incus: "incus.log" }

/**
 * The pids of the daemon processes serving `dir`. LXD 5.0 starts a fresh copy of itself
 * (new pid, same arguments) when it is removed from a cluster, so the pid we spawned is
 * not always the one running: the daemon is recognised by its `--logfile=<dir>/lxd.log`
 * (`incus.log`) argument, which names our own temporary directory and nothing else.
 */
const daemonPids = (dir: string): Array<number> => {
  const markers = Object.values(logName).map((log) => `--logfile=${Path.join(dir, log)}`)
  const out: Array<number> = []
  let entries: Array<string>
  try {
    entries = Fs.readdirSync("/proc")
  } catch {
    return out
  }
  for (const entry of entries) {
    if (!/^[0-9]+$/.test(entry)) continue
    try {
      const args = Fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0")
      if (
        markers.some((marker) => args.includes(marker)) &&
        !Fs.readFileSync(`/proc/${entry}/stat`, "utf8").includes(") Z ")
      ) {
        out.push(Number(entry))
      }
    } catch {
      // gone meanwhile
    }
  }
  return out
}

const killAll = (pids: ReadonlyArray<number>): void => {
  for (const p of pids) {
    try {
      process.kill(p, "SIGKILL")
    } catch {
      // already gone
    }
  }
}

/** Last resort, synchronous: used at process exit for daemons whose scope never closed. */
const killSync = (pid: number, r: Running): void => {
  killAll([...(isAlive(r) ? [pid] : []), ...daemonPids(r.dir)])
  for (const m of mountsUnder(r.dir)) ChildProcess.spawnSync("umount", ["-l", m], { stdio: "ignore" })
  try {
    Fs.rmSync(r.dir, { recursive: true, force: true })
  } catch {
    // nothing more to do at exit
  }
}

const cleanUpAll = () => {
  for (const [pid, r] of running) killSync(pid, r)
  running.clear()
}

// A worker that is terminated (vitest stops its workers with SIGTERM) never runs the
// scopes' finalizers: clean up synchronously, then die of the same signal.
const signals = ["SIGTERM", "SIGINT", "SIGHUP"] as const
const onSignal = (signal: NodeJS.Signals) => {
  cleanUpAll()
  uninstallSignalHooks()
  process.kill(process.pid, signal)
}
let signalHooksInstalled = false
const installSignalHooks = () => {
  if (signalHooksInstalled) return
  signalHooksInstalled = true
  for (const s of signals) process.on(s, onSignal)
}
const uninstallSignalHooks = () => {
  if (!signalHooksInstalled) return
  signalHooksInstalled = false
  for (const s of signals) process.removeListener(s, onSignal)
}

const installExitHook = () => {
  installSignalHooks()
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.once("exit", cleanUpAll)
}

// -----------------------------------------------------------------------------
// helpers
// -----------------------------------------------------------------------------

const ports: Record<DaemonKind, { readonly first: number; readonly last: number }> = {
  lxd: { first: 8643, last: 8699 },
  incus: { first: 8800, last: 8899 }
}

const portIsFree = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const server = Net.createServer()
    server.once("error", () => resolve(false))
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)))
  })

/** Reserve a free loopback port (in this process) from the kind's range. */
const reservePort = (kind: DaemonKind): Effect.Effect<number, ExtraDaemonError> =>
  Effect.gen(function*() {
    const { first, last } = ports[kind]
    for (let port = first; port <= last; port++) {
      if (reservedPorts.has(port)) continue
      reservedPorts.add(port)
      if (yield* Effect.promise(() => portIsFree(port))) return port
      reservedPorts.delete(port)
    }
    return yield* new ExtraDaemonError({ reason: `no free port in 127.0.0.1:${first}-${last}` })
  })

const pingSocket = (socketPath: string): Promise<boolean> =>
  new Promise((resolve) => {
    const req = Http.request({ socketPath, path: "/1.0", method: "GET", timeout: 2000 }, (res) => {
      res.resume()
      res.on("end", () => resolve(res.statusCode === 200))
    })
    req.on("timeout", () => req.destroy(new Error("timeout")))
    req.on("error", () => resolve(false))
    req.end()
  })

const logTail = (file: string): string => {
  try {
    return Fs.readFileSync(file, "utf8").split("\n").slice(-8).join("\n")
  } catch {
    return "(no log)"
  }
}

const runCommand = (command: string, args: ReadonlyArray<string>, env: NodeJS.ProcessEnv, timeoutMs: number) =>
  Effect.async<void>((resume) => {
    const child = ChildProcess.execFile(
      command,
      [...args],
      { env, timeout: timeoutMs, killSignal: "SIGKILL" },
      () => resume(Effect.void)
    )
    return Effect.sync(() => child.kill("SIGKILL"))
  })

const systemPath = process.env.PATH ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

const daemonEnv = (kind: DaemonKind, dir: string): NodeJS.ProcessEnv => ({
  ...(kind === "lxd"
    ? { PATH: systemPath, LXD_DIR: dir }
    // incusd finds its helpers in /usr/libexec/incus; the CLI (shutdown) finds the socket
    // from INCUS_DIR and keeps its own config under HOME, inside our directory
    : { PATH: `/usr/libexec/incus:${systemPath}`, INCUS_DIR: dir, HOME: dir }),
  HTTPS_PROXY: "http://127.0.0.1:9",
  HTTP_PROXY: "http://127.0.0.1:9",
  https_proxy: "http://127.0.0.1:9",
  http_proxy: "http://127.0.0.1:9",
  NO_PROXY: "127.0.0.1,localhost,::1",
  no_proxy: "127.0.0.1,localhost,::1"
})

const clientEnv = (kind: DaemonKind): DaemonEnv => {
  const env = daemons().find((d) => d.kind === kind)
  if (env === undefined) throw new Error(`no ${kind} test environment (client certificate) found`)
  return env
}

const binary: Record<DaemonKind, { readonly daemon: string; readonly group: string }> = {
  lxd: { daemon: "/usr/bin/lxd", group: "lxd" },
  incus: { daemon: "/usr/libexec/incus/incusd", group: "incus-admin" }
}

/** The graceful stop: `lxd shutdown` / `incus admin shutdown` against the daemon's directory. */
const shutdownCommand: Record<DaemonKind, { readonly command: string; readonly args: ReadonlyArray<string> }> = {
  lxd: { command: "/usr/bin/lxd", args: ["shutdown", "--timeout=20"] },
  incus: { command: "/usr/bin/incus", args: ["admin", "shutdown", "--timeout=20"] }
}

/** The name the test client certificate is trusted under. */
const clientName = (kind: DaemonKind) => `${kind}-test-client`

const fail = (reason: string) => (cause: unknown) => new ExtraDaemonError({ reason, cause })

// -----------------------------------------------------------------------------
// start and stop
// -----------------------------------------------------------------------------

const launch = (
  kind: DaemonKind
): Effect.Effect<{ readonly pid: number; readonly run: Running; readonly logFile: string }, ExtraDaemonError> =>
  Effect.try({
    try: () => {
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), `${kind}-extra-`))
      try {
        Fs.chmodSync(dir, 0o711)
        const logFile = Path.join(dir, logName[kind])
        const out = Fs.openSync(Path.join(dir, `${kind}.stdout`), "a")
        let child: ChildProcess.ChildProcess
        try {
          child = ChildProcess.spawn(binary[kind].daemon, ["--group", binary[kind].group, `--logfile=${logFile}`], {
            cwd: "/",
            env: daemonEnv(kind, dir),
            detached: true,
            stdio: ["ignore", out, out]
          })
        } finally {
          Fs.closeSync(out)
        }
        child.unref()
        if (child.pid === undefined) throw new Error("spawn gave no pid")
        const run: Running = { kind, dir, child, port: undefined }
        running.set(child.pid, run)
        installExitHook()
        return { pid: child.pid, run, logFile }
      } catch (e) {
        Fs.rmSync(dir, { recursive: true, force: true })
        throw e
      }
    },
    catch: fail(`could not start ${binary[kind].daemon}`)
  })

const debug = (message: string) =>
  Effect.sync(() => {
    if (process.env.LXD_EXTRA_DEBUG) console.error(`[extraDaemon ${new Date().toISOString()}] ${message}`)
  })

const stop = (pid: number, r: Running): Effect.Effect<void> =>
  Effect.gen(function*() {
    yield* debug(`stopping ${pid} (${r.dir}), alive ${isAlive(r)}`)
    // polled, not raced: a release runs uninterruptibly, where a timeout cannot cut a wait short
    const waitExit = (ms: number) =>
      Effect.gen(function*() {
        for (let waited = 0; waited < ms && isAlive(r); waited += 50) yield* Effect.sleep("50 millis")
      })
    const others = () => daemonPids(r.dir).filter((p) => p !== pid)
    if (isAlive(r) || others().length > 0) {
      const shutdown = shutdownCommand[r.kind]
      yield* runCommand(shutdown.command, shutdown.args, daemonEnv(r.kind, r.dir), 30_000)
      yield* debug(`${r.kind} shutdown returned for ${r.dir}`)
      yield* waitExit(5_000)
    }
    // whatever still runs (the spawned pid, or a copy it started of itself) is killed
    for (let attempt = 0; attempt < 50; attempt++) {
      const left = [...(isAlive(r) ? [pid] : []), ...others()]
      if (left.length === 0) break
      killAll(left)
      yield* Effect.sleep("100 millis")
    }
    yield* debug(`no process left for ${r.dir}`)
    for (const m of mountsUnder(r.dir)) {
      yield* runCommand("umount", ["-l", m], process.env, 10_000)
    }
    yield* Effect.sync(() => {
      // for debugging: keep the daemon's log (LXD_EXTRA_KEEP_LOGS=<directory>)
      const keep = process.env.LXD_EXTRA_KEEP_LOGS
      if (keep !== undefined && keep !== "") {
        try {
          Fs.mkdirSync(keep, { recursive: true })
          Fs.copyFileSync(Path.join(r.dir, logName[r.kind]), Path.join(keep, `${Path.basename(r.dir)}.log`))
        } catch {
          // best effort
        }
      }
      try {
        Fs.rmSync(r.dir, { recursive: true, force: true })
      } catch {
        // leave it; reported by the leak check in the tests
      }
      if (r.port !== undefined) reservedPorts.delete(r.port)
      running.delete(pid)
      if (running.size === 0) uninstallSignalHooks()
    })
  })

const waitReady = (socket: string, logFile: string, r: Running, timeout: Duration.DurationInput) =>
  Effect.gen(function*() {
    const deadline = Date.now() + Duration.toMillis(Duration.decode(timeout))
    while (Date.now() < deadline) {
      if (!isAlive(r)) {
        return yield* new ExtraDaemonError({ reason: `the daemon exited during start-up:\n${logTail(logFile)}` })
      }
      if (yield* Effect.promise(() => pingSocket(socket))) return
      yield* Effect.sleep("50 millis")
    }
    return yield* new ExtraDaemonError({
      reason: `no answer on ${socket} within the start timeout:\n${logTail(logFile)}`
    })
  })

// -----------------------------------------------------------------------------
// configuration (over the daemon's own unix socket)
// -----------------------------------------------------------------------------

const pemToBase64Der = (pem: string): string =>
  pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, "").replace(/\s+/g, "")

const ClusterConfig = Schema.Struct({
  member_config: Schema.optionalWith(
    Schema.NullOr(Schema.Array(Schema.Struct({ entity: Schema.String, name: Schema.String, key: Schema.String }))),
    { default: () => null }
  )
})

const TokenMetadata = Schema.Struct({
  serverName: Schema.optional(Schema.String),
  fingerprint: Schema.String,
  addresses: Schema.NullOr(Schema.Array(Schema.String)),
  secret: Schema.String,
  expiresAt: Schema.optional(Schema.String)
})

const onSocket = <A, E>(socket: string, effect: Effect.Effect<A, E, LxdHttp.LxdHttp | Operations.Operations>) =>
  Effect.provide(effect, Operations.layer.pipe(Layer.provideMerge(LxdHttp.layerUnix({ socketPath: socket }))))

/** Point core.https_address at a free loopback port; tries the next port if LXD cannot bind. */
const listenHttps = (socket: string, r: Running) =>
  onSocket(
    socket,
    Effect.gen(function*() {
      const ops = yield* Operations.Operations
      let lastError: unknown = undefined
      for (let attempt = 0; attempt < 10; attempt++) {
        const port = yield* reservePort(r.kind)
        const set = yield* Effect.either(
          ops.run({
            method: "PATCH",
            path: "/1.0",
            project: null,
            body: { config: { "core.https_address": `127.0.0.1:${port}` } }
          })
        )
        if (set._tag === "Right") {
          r.port = port
          return port
        }
        lastError = set.left
        // another process took it between our check and LXD's bind: keep it reserved, move on
      }
      return yield* new ExtraDaemonError({ reason: "could not bind core.https_address", cause: lastError })
    })
  )

const configureStandalone = (kind: DaemonKind, socket: string, clientCert: string) =>
  onSocket(
    socket,
    Effect.gen(function*() {
      const ops = yield* Operations.Operations
      yield* ops.run({
        method: "POST",
        path: "/1.0/storage-pools",
        project: null,
        body: { name: "default", driver: "dir", config: {} }
      })
      yield* ops.run({
        method: "PUT",
        path: "/1.0/profiles/default",
        project: null,
        body: {
          description: `Default ${kind === "lxd" ? "LXD" : "Incus"} profile`,
          config: {},
          devices: { root: { type: "disk", path: "/", pool: "default" } }
        }
      })
      yield* ops.run({
        method: "POST",
        path: "/1.0/certificates",
        project: null,
        body: {
          type: "client",
          name: clientName(kind),
          certificate: pemToBase64Der(clientCert),
          restricted: false,
          projects: []
        }
      })
    })
  )

const bootstrap = (socket: string, name: string) =>
  onSocket(
    socket,
    Effect.gen(function*() {
      const ops = yield* Operations.Operations
      yield* ops.run({
        method: "PUT",
        path: "/1.0/cluster",
        project: null,
        target: null,
        body: { server_name: name, enabled: true }
      })
    })
  )

/** A join token from a member of the cluster, encoded as `lxc cluster add` prints it. */
export const joinToken = (
  member: ExtraDaemon,
  name: string
): Effect.Effect<Redacted.Redacted<string>, ExtraDaemonError> =>
  onSocket(
    member.socket,
    Effect.gen(function*() {
      const ops = yield* Operations.Operations
      const started = yield* ops.start({
        method: "POST",
        path: "/1.0/cluster/members",
        project: null,
        target: null,
        body: { server_name: name }
      })
      if (started._tag !== "Async") return yield* new ExtraDaemonError({ reason: "expected a token operation" })
      const meta = yield* Schema.decodeUnknown(TokenMetadata)(started.operation.metadata).pipe(
        Effect.mapError(() => new ExtraDaemonError({ reason: "malformed join token operation" }))
      )
      return Redacted.make(
        Buffer.from(JSON.stringify({
          server_name: name,
          fingerprint: meta.fingerprint,
          addresses: meta.addresses ?? [],
          secret: meta.secret,
          ...(meta.expiresAt === undefined ? {} : { expires_at: meta.expiresAt })
        })).toString("base64")
      )
    })
  ).pipe(Effect.mapError((e) =>
    e instanceof ExtraDaemonError ? e : new ExtraDaemonError({ reason: "join token request failed", cause: e })
  ))

const joinCluster = (
  kind: DaemonKind,
  socket: string,
  name: string,
  port: number,
  options: JoinOptions,
  clientFingerprint: string
) =>
  Effect.gen(function*() {
    const leader = options.join
    const token = options.token === undefined
      ? yield* joinToken(leader, name)
      : Redacted.isRedacted(options.token)
      ? options.token
      : Redacted.make(options.token)
    const memberConfig = yield* onSocket(
      leader.socket,
      Effect.flatMap(LxdHttp.LxdHttp, (http) =>
        http.sync({ method: "GET", path: "/1.0/cluster", project: null, target: null }, ClusterConfig))
    )
    yield* onSocket(
      socket,
      Effect.gen(function*() {
        const ops = yield* Operations.Operations
        yield* ops.run({
          method: "PUT",
          path: "/1.0/cluster",
          project: null,
          target: null,
          body: {
            server_name: name,
            enabled: true,
            server_address: `127.0.0.1:${port}`,
            cluster_address: leader.httpsAddress,
            cluster_certificate: Fs.readFileSync(leader.currentServerCert(), "utf8"),
            // LXD 5.0 reads the token from cluster_password, newer servers and Incus from cluster_token
            cluster_token: Redacted.value(token),
            ...(kind === "lxd" ? { cluster_password: Redacted.value(token) } : {}),
            member_config: (memberConfig.member_config ?? []).map((c) => ({ ...c, value: "" }))
          }
        })
      })
    )
    yield* reloadTrustOn(kind, socket, clientFingerprint)
  })

/**
 * A new member loads the cluster's trust store only on its next periodic refresh (~10 s),
 * so HTTPS calls to it are refused until then; rewriting the client certificate's entry
 * makes it reload its cache now.
 */
const reloadTrustOn = (kind: DaemonKind, socket: string, clientFingerprint: string) =>
  onSocket(
    socket,
    Effect.flatMap(Operations.Operations, (ops) =>
      ops.run({
        method: "PATCH",
        path: `/1.0/certificates/${encodeURIComponent(clientFingerprint)}`,
        project: null,
        target: null,
        body: { name: clientName(kind) }
      }))
  )

/**
 * After joining a daemon to a cluster yourself (with `Cluster.join`), make it trust the
 * test client over HTTPS right away (see `reloadTrustOn`).
 */
export const reloadTrust = (daemon: ExtraDaemon): Effect.Effect<void, ExtraDaemonError> =>
  Effect.try({ try: () => clientEnv(daemon.kind), catch: fail(`no ${daemon.kind} test environment`) }).pipe(
    Effect.flatMap((env) => reloadTrustOn(daemon.kind, daemon.socket, env.clientFingerprint)),
    Effect.asVoid,
    Effect.mapError((e) =>
      e instanceof ExtraDaemonError ? e : new ExtraDaemonError({ reason: "reloading trust failed", cause: e })
    )
  )

// -----------------------------------------------------------------------------
// the fixture
// -----------------------------------------------------------------------------

/**
 * Start a throwaway LXD (or Incus) daemon for the current scope (see the module comment).
 */
export const extraDaemon = (
  options: ExtraDaemonOptions = {}
): Effect.Effect<ExtraDaemon, ExtraDaemonError, Scope.Scope> =>
  Effect.gen(function*() {
    const kind = options.kind ?? "lxd"
    if (typeof options.cluster === "object" && options.cluster.join.kind !== kind) {
      return yield* new ExtraDaemonError({
        reason: `a ${kind} daemon cannot join a ${options.cluster.join.kind} cluster`
      })
    }
    const env = yield* Effect.try({ try: () => clientEnv(kind), catch: fail(`no ${kind} test environment`) })
    const clientCert = yield* Effect.try({
      try: () => Fs.readFileSync(env.clientCert, "utf8"),
      catch: fail("cannot read the client certificate")
    })
    const clientKey = yield* Effect.try({
      try: () => Fs.readFileSync(env.clientKey, "utf8"),
      catch: fail("cannot read the client key")
    })
    const name = options.name ?? `t-m-${Math.random().toString(36).slice(2, 8)}`

    const { logFile, pid, run } = yield* Effect.acquireRelease(launch(kind), ({ pid, run }) => stop(pid, run))
    const dir = run.dir
    const socket = Path.join(dir, "unix.socket")
    yield* waitReady(socket, logFile, run, options.startTimeout ?? "30 seconds")

    const configure = Effect.gen(function*() {
      const port = yield* listenHttps(socket, run)
      const cluster = options.cluster
      if (cluster !== undefined && cluster !== "bootstrap") {
        yield* joinCluster(kind, socket, name, port, cluster, env.clientFingerprint)
      } else if (options.bare !== true || cluster === "bootstrap") {
        yield* configureStandalone(kind, socket, clientCert)
        if (cluster === "bootstrap") yield* bootstrap(socket, name)
      }
      return port
    })
    const port = yield* configure.pipe(
      Effect.mapError((e) =>
        e instanceof ExtraDaemonError
          ? e
          : new ExtraDaemonError({ reason: `configuring ${name} failed: ${String(e)}\n${logTail(logFile)}`, cause: e })
      )
    )

    const currentServerCert = () => {
      const clusterCert = Path.join(dir, "cluster.crt")
      return Fs.existsSync(clusterCert) ? clusterCert : Path.join(dir, "server.crt")
    }
    const httpsUrl = `https://127.0.0.1:${port}`
    const unixConnection = LxdHttp.layerUnix({ socketPath: socket })
    const httpsConnection = Layer.unwrapEffect(
      Effect.sync(() =>
        LxdHttp.layerHttps({
          url: httpsUrl,
          cert: clientCert,
          key: Redacted.make(clientKey),
          serverCert: Fs.readFileSync(currentServerCert(), "utf8")
        })
      )
    )
    const unixLayer = Lxd.layer(unixConnection)
    const httpsLayer = Lxd.layer(httpsConnection)
    return {
      kind,
      name,
      lxdDir: dir,
      socket,
      httpsAddress: `127.0.0.1:${port}`,
      port,
      httpsUrl,
      serverCert: currentServerCert(),
      currentServerCert,
      pid,
      logFile,
      unixConnection,
      httpsConnection,
      unixLayer,
      httpsLayer,
      transports: [{ transport: "unix", layer: unixLayer }, { transport: "https", layer: httpsLayer }]
    } satisfies ExtraDaemon
  })

/** The pids of the throwaway daemons this process still runs (for leak checks in tests). */
export const runningExtraDaemons = (): ReadonlyArray<{ readonly pid: number; readonly lxdDir: string }> =>
  [...running].map(([pid, r]) => ({ pid, lxdDir: r.dir }))

/** Daemon processes still serving a directory of this fixture (for leak checks in tests). */
export const processesServing = (dir: string): ReadonlyArray<number> => daemonPids(dir)

/** Mount points still present under a directory (for leak checks in tests). */
export const mountsBelow = (dir: string): ReadonlyArray<string> => mountsUnder(dir)
