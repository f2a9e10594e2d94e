/**
 * Connect the way the `lxc` (or `incus`) command-line client does, from its own
 * configuration: a user who can run `lxc list` connects with no settings at all.
 *
 * The directory is `$LXD_CONF`, else `~/.config/lxc` (or the snap's
 * `~/snap/lxd/common/config`); for Incus `$INCUS_CONF`, else `$XDG_CONFIG_HOME/incus` or
 * `~/.config/incus`. From it:
 *
 * - `config.yml`: the remotes (`addr`, `protocol`, `project`, `public`) and
 *   `default-remote`. Without the file there is the client's built-in `local` remote.
 * - A unix remote: `addr: unix://` is the default socket (discovered as
 *   `LxdHttp.layerUnix` does), `unix:///path` that socket.
 * - An HTTPS remote: `client.crt` and `client.key` of the directory, and the server's
 *   certificate `servercerts/<remote>.crt` pinned when it is there (otherwise the
 *   system's CAs verify the server). Verification is never turned off.
 * - The remote's `project` applies to every call that names no other (`Lxd.withProject`
 *   still wins), events and websockets included.
 *
 * Image servers (`protocol: simplestreams`) and OIDC remotes are refused with a
 * `ConfigError` that says so, as are a missing remote, an unreadable file or a
 * `config.yml` this parser does not understand (with its line).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { CliConfig, Lxd, Server } from "effect-lxd"
 *
 * const program = Effect.flatMap(Server.Server, (server) => server.info)
 *
 * // the default remote of ~/.config/lxc/config.yml
 * export const main = () => Effect.runPromise(program.pipe(Effect.provide(Lxd.layerFromCli())))
 * // another remote, of the incus client
 * export const other = Lxd.layerFromCli({ remote: "prod", dialect: "incus" })
 * // just the connection, to build your own layers on
 * export const connection = CliConfig.layer({ remote: "local" })
 * ```
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Os from "node:os"
import * as Internal from "./internal/cliConfig.js"
import * as LxdHttp from "./LxdHttp.js"
import type { Dialect } from "./LxdTransport.js"

/**
 * A remote of `config.yml`.
 *
 * @since 0.1.0
 * @category models
 */
export type Remote = typeof Internal.Remote.Type

/**
 * The client's configuration: where it was read, its remotes (the built-in `local`
 * among them) and the default remote.
 *
 * @since 0.1.0
 * @category models
 */
export type CliConfiguration = Internal.CliConfiguration

/**
 * How a remote is reached: the connection settings, and the remote's project.
 *
 * @since 0.1.0
 * @category models
 */
export type RemoteConnection = Internal.RemoteConnection

/**
 * Which client's configuration, which remote.
 *
 * @since 0.1.0
 * @category options
 */
export interface Options extends LxdHttp.ProtocolOptions {
  /** The remote to connect to; default: the configuration's `default-remote`. */
  readonly remote?: string | undefined
  /** Whose configuration: `lxd` (the `lxc` client, default) or `incus`. */
  readonly dialect?: Dialect | undefined
  /** Read this directory instead of looking for the client's. */
  readonly directory?: string | undefined
}

/**
 * The directories the client's configuration is looked for in, in order (the first
 * with a `config.yml` wins).
 *
 * @since 0.1.0
 * @category utils
 */
export const directoryCandidates = (
  dialect: Dialect = "lxd",
  env: Readonly<Record<string, string | undefined>> = process.env,
  home: string = Os.homedir()
): ReadonlyArray<string> => Internal.directoryCandidates(dialect, env, home)

const envVar = (name: string) => Config.option(Config.string(name)).pipe(Effect.map(Option.getOrUndefined))

/**
 * Read the client's configuration (the variables `LXD_CONF`, `INCUS_CONF`,
 * `XDG_CONFIG_HOME` and `HOME` come from Effect's `Config`, the environment by default).
 *
 * @since 0.1.0
 * @category constructors
 */
export const read = (options?: Pick<Options, "dialect" | "directory">): Effect.Effect<
  CliConfiguration,
  ConfigError.ConfigError
> =>
  Effect.gen(function*() {
    const dialect = options?.dialect ?? "lxd"
    if (options?.directory !== undefined) return yield* Internal.readDirectory([options.directory], dialect)
    const env = {
      LXD_CONF: yield* envVar("LXD_CONF"),
      INCUS_CONF: yield* envVar("INCUS_CONF"),
      XDG_CONFIG_HOME: yield* envVar("XDG_CONFIG_HOME")
    }
    const home = (yield* envVar("HOME")) ?? Os.homedir()
    return yield* Internal.readDirectory(Internal.directoryCandidates(dialect, env, home), dialect)
  }).pipe(Effect.withSpan("CliConfig.read", { attributes: { "lxd.dialect": options?.dialect ?? "lxd" } }))

/**
 * The connection settings of a remote (the default one unless `remote` is given).
 *
 * @since 0.1.0
 * @category constructors
 */
export const resolve = (options?: Options): Effect.Effect<RemoteConnection, ConfigError.ConfigError> =>
  Effect.gen(function*() {
    const dialect = options?.dialect ?? "lxd"
    const config = yield* read(options)
    const files: Record<string, ReturnType<typeof Internal.readOptionalFile>> = {}
    let unreadable: ConfigError.ConfigError | undefined
    const readFile = (file: string) => {
      const result = files[file] ??= Internal.readOptionalFile(file)
      if (result._tag === "Left") {
        unreadable = result.left
        return Option.none()
      }
      return result.right
    }
    const resolved = Internal.remoteConnection(config, dialect, options?.remote, readFile)
    if (unreadable !== undefined) return yield* Effect.fail(unreadable)
    const remote = yield* resolved
    yield* Effect.annotateCurrentSpan({ "lxd.remote": remote.remote, "lxd.transport": remote.connection._tag })
    return remote
  }).pipe(Effect.withSpan("CliConfig.resolve"))

/**
 * The connection (`LxdHttp`) to a remote of the client's configuration, with the
 * remote's project as the default project.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options?: Options
): Layer.Layer<LxdHttp.LxdHttp, LxdHttp.ConnectError | ConfigError.ConfigError> =>
  Layer.unwrapEffect(
    Effect.map(resolve(options), ({ connection, project }) => {
      const bounds: LxdHttp.ProtocolOptions = {
        connectTimeout: options?.connectTimeout,
        requestTimeout: options?.requestTimeout,
        idleTimeout: options?.idleTimeout,
        maxResponseBytes: options?.maxResponseBytes
      }
      const base = connection._tag === "Unix"
        ? LxdHttp.layerUnix({ ...bounds, ...connection })
        : LxdHttp.layerHttps({ ...bounds, ...connection })
      return project === undefined
        ? base
        : Layer.map(base, (context) =>
          Context.add(
            context,
            LxdHttp.LxdHttp,
            Internal.withDefaultProject(Context.get(context, LxdHttp.LxdHttp), project)
          ))
    })
  )
