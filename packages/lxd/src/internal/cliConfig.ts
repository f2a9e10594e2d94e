/**
 * The `lxc` (and `incus`) client's configuration: its directory, `config.yml`, and how a
 * remote in it becomes connection settings. Everything here but `readDirectory` is pure.
 */
import * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Fs from "node:fs"
import * as Path from "node:path"
import type { Service as LxdHttpService } from "../LxdHttp.js"
import type { Dialect } from "../LxdTransport.js"
import type { ConnectionConfig } from "./connectionConfig.js"
import { currentProject } from "./scoping.js"
import { parse as parseYaml } from "./yamlSubset.js"

/** One remote of `config.yml`. */
export const Remote = Schema.Struct({
  addr: Schema.String,
  protocol: Schema.optional(Schema.String),
  public: Schema.optional(Schema.Boolean),
  project: Schema.optional(Schema.String),
  auth_type: Schema.optional(Schema.String)
})

/** `config.yml`, as far as connecting goes (aliases and other keys are ignored). */
export const ConfigFile = Schema.Struct({
  "default-remote": Schema.optional(Schema.NullOr(Schema.String)),
  remotes: Schema.optional(Schema.NullOr(Schema.Record({ key: Schema.String, value: Remote })))
})

/** The client's configuration: the remotes (the built-in `local` among them) and the default. */
export interface CliConfiguration {
  /** The directory it was read from (certificates are found there). */
  readonly directory: string
  readonly defaultRemote: string
  readonly remotes: Readonly<Record<string, typeof Remote.Type>>
}

/** What the client knows without a `config.yml`: `local`, the unix socket. */
const builtIn = (dialect: Dialect): Record<string, typeof Remote.Type> => ({
  local: { addr: "unix://", protocol: dialect, public: false }
})

/** Read `config.yml` text; the built-in `local` remote stays unless the file redefines it. */
export const parseConfig = (
  text: string,
  directory: string,
  dialect: Dialect
): Either.Either<CliConfiguration, ConfigError.ConfigError> => {
  const file = Path.join(directory, "config.yml")
  return parseYaml(text).pipe(
    Either.mapLeft((e) => ConfigError.InvalidData([file], `line ${e.line}: ${e.reason}`)),
    Either.flatMap((value) =>
      Schema.decodeUnknownEither(ConfigFile, { onExcessProperty: "ignore" })(value ?? {}).pipe(
        Either.mapLeft((e) => ConfigError.InvalidData([file], `not an ${dialect} client configuration: ${e.message}`))
      )
    ),
    Either.map((decoded) => ({
      directory,
      defaultRemote: decoded["default-remote"] ?? "local",
      remotes: { ...builtIn(dialect), ...decoded.remotes }
    }))
  )
}

/**
 * Where the client keeps its configuration, in the order it looks: for `lxc`,
 * `$LXD_CONF`, `~/.config/lxc`, then the snap's `~/snap/lxd/common/config`; for `incus`,
 * `$INCUS_CONF`, `$XDG_CONFIG_HOME/incus`, `~/.config/incus`.
 */
export const directoryCandidates = (
  dialect: Dialect,
  env: Readonly<Record<string, string | undefined>>,
  home: string
): ReadonlyArray<string> => {
  const nonEmpty = (s: string | undefined) => (s !== undefined && s.length > 0 ? [s] : [])
  return dialect === "incus"
    ? [
      ...nonEmpty(env.INCUS_CONF),
      ...nonEmpty(env.XDG_CONFIG_HOME).map((d) => Path.join(d, "incus")),
      Path.join(home, ".config", "incus")
    ]
    : [
      ...nonEmpty(env.LXD_CONF),
      Path.join(home, ".config", "lxc"),
      Path.join(home, "snap", "lxd", "common", "config")
    ]
}

/** What connecting to one remote needs: the settings and the remote's project. */
export interface RemoteConnection {
  readonly remote: string
  readonly connection: ConnectionConfig
  readonly project: string | undefined
}

/** The files a remote's HTTPS connection reads, relative to the directory. */
export const certificateFiles = (directory: string, remote: string) => ({
  cert: Path.join(directory, "client.crt"),
  key: Path.join(directory, "client.key"),
  serverCert: Path.join(directory, "servercerts", `${remote}.crt`)
})

type ReadFile = (file: string) => Option.Option<string>

/**
 * The connection settings of `remote` (the default remote when not given). `unix://` is
 * the default socket of the dialect (discovery), `unix:///path` that socket; `https://`
 * uses `client.crt`/`client.key` of the directory and pins `servercerts/<remote>.crt`
 * when there is one (otherwise the system's CAs verify the server, as `lxc` does).
 */
export const remoteConnection = (
  config: CliConfiguration,
  dialect: Dialect,
  remoteName: string | undefined,
  readFile: ReadFile
): Either.Either<RemoteConnection, ConfigError.ConfigError> => {
  const name = remoteName ?? config.defaultRemote
  const remote = config.remotes[name]
  const where = Path.join(config.directory, "config.yml")
  if (remote === undefined) {
    const known = Object.keys(config.remotes).sort().join(", ")
    return Either.left(ConfigError.MissingData(["remotes", name], `no remote "${name}" in ${where} (known: ${known})`))
  }
  const invalid = (reason: string) => Either.left(ConfigError.InvalidData(["remotes", name], reason))
  const protocol = remote.protocol ?? "lxd"
  if (protocol !== "lxd" && protocol !== "incus") {
    return invalid(`remote "${name}" speaks ${protocol} (an image server), not the ${dialect} API`)
  }
  if (remote.auth_type !== undefined && remote.auth_type !== "tls") {
    return invalid(
      `remote "${name}" uses ${remote.auth_type} authentication; only tls (client certificates) is supported`
    )
  }
  const project = remote.project !== undefined && remote.project.length > 0 ? remote.project : undefined
  const serverDialect: Dialect = protocol
  if (remote.addr.startsWith("unix:")) {
    const socketPath = remote.addr.replace(/^unix:(\/\/)?/, "")
    return Either.right({
      remote: name,
      project,
      connection: socketPath.length === 0
        ? { _tag: "Unix", dialect: serverDialect }
        : { _tag: "Unix", dialect: serverDialect, socketPath }
    })
  }
  if (!remote.addr.startsWith("https://")) {
    return invalid(`remote "${name}" has address "${remote.addr}": only unix:// and https:// are supported`)
  }
  const files = certificateFiles(config.directory, name)
  const cert = readFile(files.cert)
  const key = readFile(files.key)
  if (Option.isNone(cert) || Option.isNone(key)) {
    return invalid(`remote "${name}" needs a client certificate: ${files.cert} and ${files.key} (run the client once)`)
  }
  const serverCert = readFile(files.serverCert)
  return Either.right({
    remote: name,
    project,
    connection: {
      _tag: "Https",
      url: remote.addr,
      cert: cert.value,
      key: Redacted.make(key.value),
      ...(Option.isSome(serverCert) ? { serverCert: serverCert.value } : {})
    }
  })
}

/** A file's text, or none when it does not exist; other failures name the file. */
export const readOptionalFile = (file: string): Either.Either<Option.Option<string>, ConfigError.ConfigError> => {
  try {
    return Either.right(Option.some(Fs.readFileSync(file, "utf8")))
  } catch (cause) {
    if (typeof cause === "object" && cause !== null && "code" in cause && cause.code === "ENOENT") {
      return Either.right(Option.none())
    }
    // the error names the file; its contents never appear
    return Either.left(ConfigError.InvalidData([file], `cannot read ${file}: ${String(cause)}`))
  }
}

/** The configuration of the first candidate directory that has a `config.yml`, else the built-in one. */
export const readDirectory = (
  candidates: ReadonlyArray<string>,
  dialect: Dialect
): Effect.Effect<CliConfiguration, ConfigError.ConfigError> =>
  Effect.gen(function*() {
    for (const directory of candidates) {
      const text = yield* readOptionalFile(Path.join(directory, "config.yml"))
      if (Option.isSome(text)) return yield* parseConfig(text.value, directory, dialect)
    }
    const directory = candidates[0] ?? "."
    return { directory, defaultRemote: "local", remotes: builtIn(dialect) }
  })

/**
 * The connection with a default project: every call that names no project (and runs
 * outside `withProject`) goes to `project`.
 */
export const withDefaultProject = (service: LxdHttpService, project: string): LxdHttpService => {
  const scoped = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.flatMap(
      FiberRef.get(currentProject),
      (current) => Option.isSome(current) ? effect : Effect.locally(effect, currentProject, Option.some(project))
    )
  return {
    ...service,
    send: (request) => scoped(service.send(request)),
    sync: (request, schema) => scoped(service.sync(request, schema)),
    syncWithEtag: (request, schema) => scoped(service.syncWithEtag(request, schema)),
    raw: (request) => scoped(service.raw(request)),
    websocket: (path, query) => scoped(service.websocket(path, query)),
    preconnectWebsockets: (count) =>
      Effect.map(service.preconnectWebsockets(count), (open) => (path, query) => scoped(open(path, query)))
  }
}
