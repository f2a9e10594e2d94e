/**
 * The integration matrix: every suite runs once per (daemon × transport), with the
 * server named in each test's title, e.g. `[lxd 5.0.2 https] instances › create`.
 */
import { describe, layer, type Vitest } from "@effect/vitest"
import { Lxd, LxdHttp } from "effect-lxd"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { type DaemonEnv, daemons, readText } from "./env.js"
import { fakeServers } from "./fakeServers.js"

/**
 * What a test may need that the in-process fakes cannot offer: a real HTTPS listener
 * (TLS, pinning, a second client with its own certificate), a real unix socket path, and
 * the Node transports' bulk path for local files (the fakes move files through streams).
 * A test that needs one is registered with `it.*.skipIf(server.lacks("https"))` and says
 * `(needs https)` in its title; the README lists every such gate.
 */
export type Capability = "https" | "unix-socket" | "bulk-path"

export interface TestServer {
  /** e.g. `lxd 5.0.2 unix` */
  readonly name: string
  readonly env: DaemonEnv
  readonly transport: "unix" | "https"
  /** The connection alone. */
  readonly connection: Layer.Layer<LxdHttp.LxdHttp, Lxd.ConnectError>
  /** Every service over that connection. */
  readonly layer: Layer.Layer<Lxd.Services, Lxd.ConnectError>
  /** HTTPS options of this daemon with certificate and key files (for trust tests). */
  readonly httpsWith: (certFile: string, keyFile: string) => LxdHttp.HttpsOptions
  /** HTTPS options of this daemon with another client certificate and key, as PEM text. */
  readonly httpsAs: (cert: string, key: string) => LxdHttp.HttpsOptions
  /** Whether this server lacks `capability` (only the fakes lack any; a real daemon has them all). */
  readonly lacks: (capability: Capability) => boolean
}

export const unixOptions = (env: DaemonEnv): LxdHttp.UnixOptions => ({ socketPath: env.socket })

export const httpsOptions = (env: DaemonEnv, cert = env.clientCert, key = env.clientKey): LxdHttp.HttpsOptions => ({
  url: env.httpsUrl,
  cert: readText(cert),
  key: Redacted.make(readText(key)),
  serverCert: readText(env.serverCert)
})

/** The real daemons' servers (unix and HTTPS each). */
const daemonServers = (): ReadonlyArray<TestServer> =>
  daemons().flatMap((env) => {
    const make = (transport: "unix" | "https"): TestServer => {
      const connection = transport === "unix"
        ? LxdHttp.layerUnix(unixOptions(env))
        : LxdHttp.layerHttps(httpsOptions(env))
      return {
        name: `${env.kind} ${env.serverVersion} ${transport}`,
        env,
        transport,
        connection,
        layer: Lxd.layer(connection),
        httpsWith: (cert, key) => httpsOptions(env, cert, key),
        httpsAs: (cert, key) => ({
          url: env.httpsUrl,
          cert,
          key: Redacted.make(key),
          serverCert: readText(env.serverCert)
        }),
        lacks: () => false
      }
    }
    return [make("unix"), make("https")]
  })

/**
 * Which servers the matrix holds, from `EFFECT_LXD_SERVERS`: `daemons` (the default: the
 * real test daemons), `fake` (only the in-process fakes of `effect-lxd/testing`, one per
 * dialect, no daemon needed), or `all` (both).
 */
export const serverSelection = (): "daemons" | "fake" | "all" => {
  const v = process.env.EFFECT_LXD_SERVERS ?? "daemons"
  if (v !== "daemons" && v !== "fake" && v !== "all") {
    throw new Error(`EFFECT_LXD_SERVERS must be daemons, fake or all (got "${v}")`)
  }
  return v
}

export const servers = (): ReadonlyArray<TestServer> => {
  const selection = serverSelection()
  return [
    ...(selection === "fake" ? [] : daemonServers()),
    ...(selection === "daemons" ? [] : fakeServers())
  ]
}

/** The test methods inside a server suite: live clock, every service of the connection. */
export type It = Vitest.MethodsNonLive<Lxd.Services, true>

/**
 * Run `body` once per server, inside `layer(server.layer)`, with the server in the title.
 */
export const forEachServer = (
  suite: string,
  body: (it: It, server: TestServer) => void,
  options?: { readonly timeout?: Duration.DurationInput }
): void => {
  for (const server of servers()) {
    describe(`[${server.name}] ${suite}`, () => {
      layer(server.layer, { timeout: options?.timeout ?? Duration.minutes(2), excludeTestServices: true })((it) =>
        body(it, server)
      )
    })
  }
}

/** A unique, valid LXD name for this run: `t-<prefix>-<random>`. */
export const uniqueName = (prefix: string): string =>
  `t-${prefix}-${Math.random().toString(36).slice(2, 8)}`.toLowerCase()

/** Run `effect` and swallow any failure (for clean-up in finalizers). */
export const quietly = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<void, never, R> => Effect.ignore(effect)
