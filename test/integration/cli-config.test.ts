import { assert } from "@effect/vitest"
import { CliConfig, Lxd, LxdHttp, Profiles, Projects, Server } from "effect-lxd"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import type { DaemonEnv } from "../support/env.js"
import { forEachServer, quietly, uniqueName } from "../support/servers.js"

interface RemoteSpec {
  readonly addr: string
  readonly project?: string
  /** Write servercerts/<name>.crt (default true for https). */
  readonly pin?: boolean
}

/**
 * A client configuration directory in a temp dir, as `lxc remote add` leaves it: config.yml,
 * client.crt/client.key, servercerts/<remote>.crt. Removed when the scope closes.
 */
const configDirectory = (env: DaemonEnv, defaultRemote: string, remotes: Record<string, RemoteSpec>) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-lxd-cli-"))
      const protocol = env.kind
      const lines = [`default-remote: ${defaultRemote}`, "remotes:"]
      for (const [name, spec] of Object.entries(remotes)) {
        lines.push(`  ${name}:`, `    addr: ${spec.addr}`, `    protocol: ${protocol}`, "    public: false")
        if (spec.project !== undefined) lines.push(`    project: ${spec.project}`)
      }
      lines.push("aliases: {}", "")
      Fs.writeFileSync(Path.join(dir, "config.yml"), lines.join("\n"))
      Fs.copyFileSync(env.clientCert, Path.join(dir, "client.crt"))
      Fs.copyFileSync(env.clientKey, Path.join(dir, "client.key"))
      Fs.mkdirSync(Path.join(dir, "servercerts"))
      for (const [name, spec] of Object.entries(remotes)) {
        if (spec.addr.startsWith("https://") && spec.pin !== false) {
          Fs.copyFileSync(env.serverCert, Path.join(dir, "servercerts", `${name}.crt`))
        }
      }
      return dir
    }),
    (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
  )

const serverName = Effect.flatMap(Server.Server, (s) => s.info).pipe(Effect.map((i) => i.environment?.server))

forEachServer("lxc client configuration", (it, server) => {
  const env = server.env
  const dialect = env.kind
  const addr = server.transport === "unix" ? `unix://${env.socket}` : env.httpsUrl

  it.scoped("connects to the default remote with nothing but the configuration directory", () =>
    Effect.gen(function*() {
      const dir = yield* configDirectory(env, "here", { here: { addr } })
      const name = yield* serverName.pipe(Effect.provide(Lxd.layerFromCli({ directory: dir, dialect })))
      assert.strictEqual(name, env.kind)
      const resolved = yield* CliConfig.resolve({ directory: dir, dialect })
      assert.strictEqual(resolved.remote, "here")
      assert.strictEqual(resolved.connection._tag, server.transport === "unix" ? "Unix" : "Https")
    }))

  it.scoped("finds the directory through LXD_CONF / INCUS_CONF", () =>
    Effect.gen(function*() {
      const dir = yield* configDirectory(env, "here", { here: { addr } })
      const variable = dialect === "incus" ? "INCUS_CONF" : "LXD_CONF"
      const name = yield* serverName.pipe(
        Effect.provide(Lxd.layerFromCli({ dialect })),
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map([[variable, dir], ["HOME", "/nonexistent"]])))
      )
      assert.strictEqual(name, env.kind)
    }))

  it.scoped("a named remote instead of the default one", () =>
    Effect.gen(function*() {
      const dir = yield* configDirectory(env, "broken", {
        broken: { addr: "unix:///nonexistent/effect-lxd-test.socket" },
        good: { addr }
      })
      const failure = yield* Effect.flip(
        serverName.pipe(Effect.provide(Lxd.layerFromCli({ directory: dir, dialect })))
      )
      assert.strictEqual(failure._tag, "TransportError")
      const name = yield* serverName.pipe(
        Effect.provide(Lxd.layerFromCli({ directory: dir, dialect, remote: "good" }))
      )
      assert.strictEqual(name, env.kind)
      const missing = yield* Effect.flip(CliConfig.resolve({ directory: dir, dialect, remote: "absent" }))
      assert.match(String(missing), /no remote "absent".*known: broken, good, local/)
    }))

  it.scoped("unix:// is the dialect's default socket", () =>
    Effect.gen(function*() {
      const dir = yield* configDirectory(env, "local", { local: { addr: "unix://" } })
      const name = yield* serverName.pipe(Effect.provide(Lxd.layerFromCli({ directory: dir, dialect })))
      assert.strictEqual(name, env.kind)
    }))

  if (server.transport === "https") {
    it.scoped("without servercerts/<remote>.crt the self-signed server is not trusted", () =>
      Effect.gen(function*() {
        const dir = yield* configDirectory(env, "here", { here: { addr, pin: false } })
        const failure = yield* Effect.flip(
          serverName.pipe(Effect.provide(Lxd.layerFromCli({ directory: dir, dialect })))
        )
        assert.strictEqual(failure._tag, "TransportError")
      }))
  }

  it.scoped("the remote's project applies to calls that name none; withProject still wins", () =>
    Effect.gen(function*() {
      const projects = yield* Projects.Projects
      const project = uniqueName("cliproj")
      const profile = uniqueName("cliprof")
      const other = uniqueName("cliprof")
      yield* Effect.acquireRelease(
        projects.create({ name: project, features: { profiles: true } }),
        () => quietly(projects.delete(project, { force: true }))
      )
      const mine = yield* Profiles.Profiles
      yield* Effect.addFinalizer(() =>
        Effect.all([
          quietly(Lxd.withProject(mine.delete(profile), project)),
          quietly(Lxd.withProject(mine.delete(other), project)),
          quietly(mine.delete(profile)),
          quietly(mine.delete(other))
        ])
      )
      const dir = yield* configDirectory(env, "here", { here: { addr, project } })
      yield* Effect.gen(function*() {
        const profiles = yield* Profiles.Profiles
        yield* profiles.create({ name: profile, description: "made through the CLI remote" })
        // an explicit project elsewhere wins over the remote's
        yield* Lxd.withProject(profiles.create({ name: other }), "default")
        const http = yield* LxdHttp.LxdHttp
        assert.strictEqual(http.dialect, env.kind)
      }).pipe(Effect.provide(Lxd.layerFromCli({ directory: dir, dialect })))
      // seen from the test's own connection
      assert.include(yield* Lxd.withProject(mine.listNames(), project), profile)
      assert.notInclude(yield* mine.listNames(), profile)
      assert.include(yield* mine.listNames(), other)
      assert.notInclude(yield* Lxd.withProject(mine.listNames(), project), other)
    }))
})
