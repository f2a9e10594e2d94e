/**
 * A test kit: an in-process fake LXD (or Incus) server to test your programs against,
 * without a daemon. It plugs in under `LxdHttp` as a transport, so every service, the
 * envelope decoding and the error mapping run exactly as against a real server; only the
 * bytes come from memory.
 *
 * The fake keeps state and follows LXD's rules: instances (created from an image alias or
 * fingerprint, or empty, as background operations; start, stop, restart, freeze,
 * unfreeze; delete refused while running; ETags with 412 on a stale `If-Match`),
 * snapshots, background operations (wait with a timeout, cancel, failure, reaping),
 * images and aliases, profiles, projects (every call honours `withProject`), one storage
 * pool with custom volumes, one bridge network, exec over the websocket protocol with a
 * command handler you supply, a file tree per instance, and the events websocket.
 *
 * From the test, `FakeLxd` injects faults: fail the next requests that match, delay
 * answers, drop a connection in the middle of a body, make an operation fail, stop the
 * "daemon" (every websocket closes, calls fail with `TransportError`) and start it again.
 *
 * `serveUnix` serves the same fake on a unix socket, for other clients: the real `lxc`
 * (with `LXD_DIR` pointing at the socket's directory), or `Lxd.layerUnix`.
 *
 * Not modelled: image uploads and exports, copies between servers and migration,
 * clustering, VMs' specifics, backups, console, metrics, certificates beyond trust
 * tokens, storage pools other than the one, networks other than the bridge.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Instances } from "effect-lxd"
 * import * as Testing from "effect-lxd/testing"
 *
 * const program = Effect.gen(function* () {
 *   const instances = yield* Instances.Instances
 *   const fake = yield* Testing.FakeLxd
 *   yield* instances.create({ name: "web1", source: { type: "image", alias: "busybox" }, start: true })
 *   // the next start of web1 fails with the server's 500
 *   yield* fake.failNext({ method: "PUT", path: "/1.0/instances/web1/state", status: 500, message: "boom" })
 *   return yield* Effect.either(instances.restart("web1"))
 * })
 *
 * export const main = () => Effect.runPromise(program.pipe(Effect.provide(Testing.layer())))
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as PubSub from "effect/PubSub"
import type * as Scope from "effect/Scope"
import type * as CommandsInternal from "./internal/testing/commands.js"
import { builtins as builtinCommands } from "./internal/testing/commands.js"
import * as Server from "./internal/testing/server.js"
import * as FakeTransport from "./internal/testing/transport.js"
import * as UnixServer from "./internal/testing/unixServer.js"
import * as Lxd from "./Lxd.js"
import type { TransportError } from "./LxdError.js"
import * as LxdHttp from "./LxdHttp.js"
import * as LxdTransport from "./LxdTransport.js"

/**
 * Which server the fake plays: LXD 5.0 (the LTS in Debian 12), LXD 6.x (storage, network
 * and profile writes answer with background operations; `explicit_trust_token`;
 * selective recursion), or Incus 6.0 (`X-Incus-*` headers). Each advertises its
 * extension list in `GET /1.0`.
 *
 * @since 0.1.0
 * @category models
 */
export type Dialect = Server.FakeDialect

/**
 * An image the fake starts with (default: one image with the alias `busybox`).
 *
 * @since 0.1.0
 * @category models
 */
export type SeedImage = Server.SeedImage

/**
 * What a command sees while it runs in the fake: its command line, environment, working
 * directory, user and group, stdin as a stream, writers for stdout and stderr, and the
 * instance's file tree.
 *
 * @since 0.1.0
 * @category models
 */
export type ExecContext = CommandsInternal.ExecContext

/**
 * A command implementation for exec in the fake: an Effect giving the exit code, or
 * `undefined` when the handler does not know the command (the built-in commands are
 * asked next; a command nobody knows exits with 127). A signal from the client
 * interrupts the effect and makes the exit code 128 + the signal number; a command
 * path that exists in the instance's file tree without an execute bit exits with 126.
 *
 * @since 0.1.0
 * @category models
 */
export type CommandHandler = CommandsInternal.CommandHandler

/**
 * The commands the fake knows without a handler: `echo` (with `-n`), `cat` (stdin, or
 * files of the instance), `true`, `false`, `sleep N`, `printf` (`%s`, `%d`, `\n`),
 * `env`, `pwd`, and `sh -c` running `;`-separated commands among these, where
 * `exit N` ends the script and a trailing `>&2` sends a command's output to stderr.
 * Use it to fall back explicitly from your own handler.
 *
 * @since 0.1.0
 * @category commands
 */
export const builtins: CommandHandler = builtinCommands

/**
 * Which requests a fault applies to: a method, and a decoded path without the query,
 * equal to a string or matching a regular expression. An absent field matches anything.
 *
 * @since 0.1.0
 * @category models
 */
export type RequestMatch = FakeTransport.RequestMatch

/**
 * A request the fake received (for assertions on what a program sent).
 *
 * @since 0.1.0
 * @category models
 */
export type RecordedRequest = FakeTransport.RecordedRequest

/**
 * @since 0.1.0
 * @category options
 */
export interface Options {
  /** Which server to play. Default `lxd-5.0`. */
  readonly dialect?: Dialect | undefined
  /** The images the fake starts with. Default: one, with the alias `busybox`. */
  readonly images?: ReadonlyArray<SeedImage> | undefined
  /** Runs exec'd commands; falls back to `builtins`. */
  readonly commands?: CommandHandler | undefined
  /** How long a finished operation stays known before it is reaped. Default 5 seconds (as LXD). */
  readonly operationRetention?: Duration.DurationInput | undefined
  /** How long each background operation takes. Default 0 (finishes at once). */
  readonly operationDuration?: Duration.DurationInput | undefined
  /**
   * Host paths that exist, for disk devices with a `source`: a source outside them
   * makes creating or starting the instance fail, as on a real host. Default `/tmp`,
   * `/srv`, `/mnt`, `/home`.
   */
  readonly hostPaths?: ReadonlyArray<string> | undefined
  /** How long an exec waits for its websockets. Default 5 seconds (10 on LXD 6.x). */
  readonly websocketConnectTimeout?: Duration.DurationInput | undefined
  /**
   * Whether the server trusts the client. Untrusted, `GET /1.0` gives the short view
   * (`auth: "untrusted"`, no `environment`), every other call 403, and joining with a
   * trust token (`Certificates.createToken` while trusted, then `setTrusted(false)`)
   * makes the client trusted. Default `true`.
   */
  readonly trusted?: boolean | undefined
  /**
   * The PEM certificate the client of the in-memory transport stands for: the trust store
   * (`Certificates.list`, `get`) lists it as a `client` certificate. Default: none, the
   * store starts empty.
   */
  readonly clientCertificate?: string | undefined
  /** `server_name` in `GET /1.0`. Default `fake`. */
  readonly serverName?: string | undefined
  /** Options of the `LxdHttp` built on the fake (timeouts, sizes). */
  readonly protocol?: LxdHttp.ProtocolOptions | undefined
}

/**
 * The fake's control surface, for the test.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** Which server the fake plays. */
  readonly dialect: Dialect
  /** The transport the fake serves (to build an `LxdHttp` of your own on it). */
  readonly transport: LxdTransport.Service
  /**
   * Answer the next `times` (default 1) requests that match with an error envelope:
   * `status` (default 500) and `message` (default "injected failure").
   */
  readonly failNext: (
    options: RequestMatch & {
      readonly times?: number | undefined
      readonly status?: number | undefined
      readonly message?: string | undefined
    }
  ) => Effect.Effect<void>
  /** Hold the answers to the next `times` (default: every) matching requests for `duration`. */
  readonly delay: (
    options: RequestMatch & { readonly duration: Duration.DurationInput; readonly times?: number | undefined }
  ) => Effect.Effect<void>
  /**
   * Cut the connection of the next `times` (default 1) matching requests in the middle of
   * the answer's body, after `afterBytes` bytes (default: half of it). The client sees a
   * `TransportError`.
   */
  readonly dropConnection: (
    options: RequestMatch & { readonly times?: number | undefined; readonly afterBytes?: number | undefined }
  ) => Effect.Effect<void>
  /**
   * Make the next `times` (default 1) background operations fail with `message`: only
   * those whose description matches (`"Starting instance"`, `/snapshot/i`) when given.
   */
  readonly failNextOperation: (options: {
    readonly message: string
    readonly description?: string | RegExp | undefined
    readonly times?: number | undefined
  }) => Effect.Effect<void>
  /** Forget every injected fault that has not fired yet. */
  readonly clearFaults: Effect.Effect<void>
  /** Keep new background operations running (status `Running`) until `releaseOperations`. */
  readonly holdOperations: Effect.Effect<void>
  /** Let held operations finish. */
  readonly releaseOperations: Effect.Effect<void>
  /**
   * Stop the daemon: every websocket closes, every request fails with a connection error
   * (`TransportError` to the library). The state is kept for `start`.
   */
  readonly stop: Effect.Effect<void>
  /** Start the daemon again. */
  readonly start: Effect.Effect<void>
  /** Whether the daemon runs. */
  readonly isRunning: Effect.Effect<boolean>
  /** Every request received so far, oldest first. */
  readonly requests: Effect.Effect<ReadonlyArray<RecordedRequest>>
  /** How many websockets are open on the fake now (for leak checks). */
  readonly openWebSockets: Effect.Effect<number>
  /** The names of the instances in a project (default `default`), straight from the state. */
  readonly instanceNames: (project?: string) => Effect.Effect<ReadonlyArray<string>>
  /** How many operations the fake knows (running, or finished and not reaped yet). */
  readonly operationCount: Effect.Effect<number>
  /** Trust or stop trusting the client (see `Options.trusted`). */
  readonly setTrusted: (trusted: boolean) => Effect.Effect<void>
}

/**
 * The fake server of the current test.
 *
 * @since 0.1.0
 * @category tags
 */
export class FakeLxd extends Context.Tag("effect-lxd/testing/FakeLxd")<FakeLxd, Service>() {}

/**
 * A fake server in the current scope (its operations and websockets end with it).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<Service, never, Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const events = yield* Effect.acquireRelease(PubSub.unbounded<Server.FakeEvent>(), PubSub.shutdown)
    const gate = yield* Effect.makeLatch(true)
    const server = new Server.FakeServer(
      { ...options, dialect: options.dialect ?? "lxd-5.0" },
      scope,
      events,
      gate
    )
    const faults: FakeTransport.Faults = { list: [], requests: [] }
    const address = `fake:${server.dialect}`
    const transport = LxdTransport.make(FakeTransport.make(server, faults, address))
    yield* Effect.addFinalizer(() => server.stop())
    const count = (times: number | undefined, fallback: number) => times ?? fallback
    return FakeLxd.of({
      dialect: server.dialect,
      transport,
      failNext: (o) =>
        Effect.sync(() =>
          FakeTransport.add(faults, o, {
            _tag: "Fail",
            status: o.status ?? 500,
            message: o.message ?? "injected failure"
          }, count(o.times, 1))
        ),
      delay: (o) =>
        Effect.sync(() =>
          FakeTransport.add(
            faults,
            o,
            { _tag: "Delay", duration: Duration.decode(o.duration) },
            count(o.times, Number.POSITIVE_INFINITY)
          )
        ),
      dropConnection: (o) =>
        Effect.sync(() => FakeTransport.add(faults, o, { _tag: "Drop", afterBytes: o.afterBytes }, count(o.times, 1))),
      failNextOperation: (o) =>
        Effect.sync(() => {
          server.operationFaults.push({ description: o.description, message: o.message, remaining: o.times ?? 1 })
        }),
      clearFaults: Effect.sync(() => {
        faults.list.length = 0
        server.operationFaults.length = 0
      }),
      holdOperations: gate.close,
      releaseOperations: gate.open,
      stop: server.stop(),
      start: server.start(),
      isRunning: Effect.sync(() => !server.stopped),
      requests: Effect.sync(() => [...faults.requests]),
      openWebSockets: Effect.sync(() => [...server.pipes].filter((pipe) => !pipe.client.isClosed()).length),
      instanceNames: (project = "default") =>
        Effect.sync(() => [...(server.projects.get(project)?.instances.keys() ?? [])]),
      operationCount: Effect.sync(() => server.operations.size),
      setTrusted: (trusted) =>
        Effect.sync(() => {
          server.trusted = trusted
        })
    })
  })

/**
 * The fake and its transport, for building your own `LxdHttp` on it.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerTransport = (options: Options = {}): Layer.Layer<FakeLxd | LxdTransport.LxdTransport> =>
  Layer.scopedContext(
    Effect.map(
      make(options),
      (fake) => Context.make(FakeLxd, fake).pipe(Context.add(LxdTransport.LxdTransport, fake.transport))
    )
  )

/**
 * `LxdHttp` over a new fake, with the fake itself.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConnection = (options: Options = {}): Layer.Layer<FakeLxd | LxdHttp.LxdHttp, Lxd.ConnectError> =>
  LxdHttp.layer(options.protocol).pipe(Layer.provideMerge(layerTransport(options)))

/**
 * Every effect-lxd service over a new fake, plus `FakeLxd` to control it: swap
 * `Lxd.layerUnix()` for `Testing.layer()` and the program runs against the fake.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<FakeLxd | Lxd.Services, Lxd.ConnectError> =>
  Lxd.layerServices.pipe(Layer.provideMerge(layerConnection(options)))

/**
 * A fake served on a unix socket (see `serveUnix`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Served {
  /** The fake's control surface (`stop` also closes the socket's connections). */
  readonly fake: Service
  /** Where it listens. */
  readonly path: string
}

/**
 * The socket a served fake listens on (see `layerServeUnix`).
 *
 * @since 0.1.0
 * @category tags
 */
export class FakeSocket extends Context.Tag("effect-lxd/testing/FakeSocket")<FakeSocket, { readonly path: string }>() {}

/**
 * A new fake served on a unix socket at `path`, so that other clients (the `lxc` CLI,
 * `Lxd.layerUnix({ socketPath })`) can use it. Requests go through the same faults and
 * the same request log as in process; exec's and the events' websockets work over the
 * socket. The socket file is created with mode 0600 (it fails when `path` exists); when
 * the scope closes every connection is closed and the file removed. `stop` closes every
 * websocket and connection and refuses new ones until `start`.
 *
 * Point `lxc` at it with `LXD_DIR=<dir>` when `path` is `<dir>/unix.socket`, and a
 * throwaway `LXD_CONF` directory.
 *
 * @since 0.1.0
 * @category constructors
 */
export const serveUnix = (
  path: string,
  options: Options = {}
): Effect.Effect<Served, TransportError, Scope.Scope> =>
  Effect.gen(function*() {
    const fake = yield* make(options)
    let running = true
    const unix = yield* UnixServer.serve({ path, transport: fake.transport, isRunning: () => running })
    return {
      path: unix.path,
      fake: FakeLxd.of({
        ...fake,
        stop: Effect.zipRight(
          Effect.zipRight(
            Effect.sync(() => {
              running = false
            }),
            fake.stop
          ),
          unix.dropConnections
        ),
        start: Effect.zipRight(
          fake.start,
          Effect.sync(() => {
            running = true
          })
        ),
        isRunning: Effect.sync(() => running)
      })
    }
  })

/**
 * `FakeLxd` and `FakeSocket` for a fake served on a unix socket at `path` (see
 * `serveUnix`): provide it, then connect with `Lxd.layerUnix({ socketPath: path })`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerServeUnix = (
  path: string,
  options: Options = {}
): Layer.Layer<FakeLxd | FakeSocket, TransportError> =>
  Layer.scopedContext(
    Effect.map(
      serveUnix(path, options),
      (served) => Context.make(FakeLxd, served.fake).pipe(Context.add(FakeSocket, { path: served.path }))
    )
  )
