import { assert } from "@effect/vitest"
import { Lxd, LxdHttp, Server } from "effect-lxd"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as ChildProcess from "node:child_process"
import { path } from "../../packages/lxd/src/internal/path.js"
import { forEachServer, uniqueName } from "../support/servers.js"

const KEY = "images.remote_cache_expiry"

forEachServer("server", (it, server) => {
  it.effect("reports version, dialect, API and trust", () =>
    Effect.gen(function*() {
      const http = yield* LxdHttp.LxdHttp
      const info = yield* http.serverInfo
      assert.strictEqual(http.dialect, server.env.kind)
      assert.strictEqual(http.headerPrefix, server.env.kind === "incus" ? "X-Incus" : "X-LXD")
      assert.strictEqual(info.api_version, "1.0")
      assert.isTrue(info.trusted)
      assert.strictEqual(info.environment?.server, server.env.kind)
      assert.strictEqual(info.environment?.server_version, server.env.serverVersion)
      assert.isAbove(info.api_extensions.length, 300)
      assert.strictEqual(http.address, server.transport === "unix" ? `unix:${server.env.socket}` : server.env.httpsUrl)
    }))

  it.effect("knows its extensions", () =>
    Effect.gen(function*() {
      const http = yield* LxdHttp.LxdHttp
      assert.isTrue(yield* http.hasExtension("instances"))
      assert.isFalse(yield* http.hasExtension("no_such_extension_anywhere"))
      yield* http.requireExtension("instances")
    }))

  it.effect("requireExtension for a missing extension fails with ExtensionNotAvailable", () =>
    Effect.gen(function*() {
      const http = yield* LxdHttp.LxdHttp
      const failure = yield* Effect.flip(http.requireExtension("no_such_extension_anywhere"))
      assert.strictEqual(failure._tag, "ExtensionNotAvailable")
      assert.strictEqual(failure.extension, "no_such_extension_anywhere")
      assert.include(failure.message, server.env.kind)
      assert.include(failure.message, server.env.serverVersion)
    }))

  it.effect("Server.info refreshes the cached view", () =>
    Effect.gen(function*() {
      const s = yield* Server.Server
      const info = yield* s.info
      assert.strictEqual(info.environment?.server_version, server.env.serverVersion)
      assert.deepStrictEqual(info.api_extensions, (yield* (yield* LxdHttp.LxdHttp).serverInfo).api_extensions)
    }))

  it.effect("resources describe the host", () =>
    Effect.gen(function*() {
      const resources = yield* (yield* Server.Server).resources
      assert.isAbove(resources.cpu.total ?? 0, 0)
      assert.isAbove(resources.memory.total ?? 0, 0)
    }))

  it.scoped("patch and put change the configuration; a stale ETag is refused with 412", () =>
    Effect.gen(function*() {
      const s = yield* Server.Server
      const http = yield* LxdHttp.LxdHttp
      const before = (yield* s.info).config[KEY]
      yield* Effect.addFinalizer(() => Effect.ignore(s.patch({ [KEY]: before ?? "" })))
      yield* s.patch({ [KEY]: "11" })
      assert.strictEqual((yield* s.info).config[KEY], "11")
      const { etag, value } = yield* http.syncWithEtag(
        { method: "GET", path: "/1.0", project: null },
        Schema.Struct({ config: Schema.Record({ key: Schema.String, value: Schema.Unknown }) })
      )
      assert.isString(etag)
      yield* s.patch({ [KEY]: "12" })
      const stale = yield* Effect.flip(s.put({ config: { ...value.config, [KEY]: "13" } }, { etag }))
      assert.strictEqual(stale._tag, "PreconditionFailed")
      if (stale._tag === "PreconditionFailed") assert.strictEqual(stale.status, 412)
      assert.strictEqual((yield* s.info).config[KEY], "12")
    }))

  it.scoped("update retries when the configuration changed under it", () =>
    Effect.gen(function*() {
      const s = yield* Server.Server
      const before = (yield* s.info).config[KEY]
      yield* Effect.addFinalizer(() => Effect.ignore(s.patch({ [KEY]: before ?? "" })))
      let calls = 0
      yield* s.update((current) => {
        calls++
        if (calls === 1) {
          // another client writes between our read and our write: our ETag goes stale
          ChildProcess.execFileSync("curl", [
            "-sf",
            "--unix-socket",
            server.env.socket,
            "-X",
            "PATCH",
            "-H",
            "content-type: application/json",
            "-d",
            JSON.stringify({ config: { [KEY]: "20" } }),
            "http://x/1.0"
          ])
        }
        return { config: { ...current.config, [KEY]: String(30 + calls) } }
      })
      assert.strictEqual(calls, 2)
      assert.strictEqual((yield* s.info).config[KEY], "32")
    }))

  it.effect("a missing instance is NotFound with a readable message", () =>
    Effect.gen(function*() {
      const http = yield* LxdHttp.LxdHttp
      const failure = yield* Effect.flip(
        http.sync({ method: "GET", path: "/1.0/instances/no-such-instance-x" }, Schema.Unknown)
      )
      assert.strictEqual(failure._tag, "NotFound")
      assert.include(failure.message, `Instance "no-such-instance-x" not found (GET /1.0/instances/no-such-instance-x)`)
    }))

  it.effect("names with /, .. and ? are encoded and never reach another endpoint", () =>
    Effect.gen(function*() {
      const http = yield* LxdHttp.LxdHttp
      for (const name of ["a/../../1.0/certificates", "x?recursion=1", "../certificates", "./x"]) {
        const failure = yield* Effect.flip(
          http.sync({ method: "GET", path: path`/1.0/instances/${name}` }, Schema.Unknown)
        )
        // had the name escaped its segment, GET /1.0/certificates (or a list) would have succeeded
        assert.oneOf(failure._tag, ["NotFound", "LXDAPIException"])
        assert.notInclude(failure.message.toLowerCase(), "certificate\"")
      }
      // whole dot segments cannot be encoded at all (URL parsers remove them): refused unsent
      for (const name of ["..", ".", ""]) {
        const failure = yield* Effect.flip(
          http.sync({ method: "GET", path: path`/1.0/instances/${name}` }, Schema.Unknown)
        )
        assert.strictEqual(failure._tag, "InvalidArgument")
      }
    }))

  it.effect("the raw escape hatch reaches any endpoint", () =>
    Effect.gen(function*() {
      const http = yield* LxdHttp.LxdHttp
      const urls = yield* http.sync({ method: "GET", path: "/1.0/instances" }, Schema.Array(Schema.String))
      assert.isArray(urls)
      const root = yield* http.sync({ method: "GET", path: "/", project: null }, Schema.Array(Schema.String))
      assert.deepStrictEqual(root, ["/1.0"])
    }))

  it.scoped("withProject scopes every call in a region to that project", () =>
    Effect.gen(function*() {
      const http = yield* LxdHttp.LxdHttp
      const project = uniqueName("prj")
      const profile = uniqueName("pf")
      yield* Effect.acquireRelease(
        http.send({
          method: "POST",
          path: "/1.0/projects",
          body: { name: project, config: { "features.profiles": "true" } }
        }),
        () => Effect.ignore(http.send({ method: "DELETE", path: `/1.0/projects/${project}` }))
      )
      const names = Schema.Array(Schema.String)
      yield* Lxd.withProject(project)(
        Effect.acquireRelease(
          http.send({ method: "POST", path: "/1.0/profiles", body: { name: profile } }),
          () =>
            Lxd.withProject(project)(Effect.ignore(http.send({ method: "DELETE", path: `/1.0/profiles/${profile}` })))
        )
      )
      const inProject = yield* Lxd.withProject(project)(http.sync({ method: "GET", path: "/1.0/profiles" }, names))
      const inDefault = yield* http.sync({ method: "GET", path: "/1.0/profiles" }, names)
      assert.isTrue(inProject.some((u) => u.startsWith(`/1.0/profiles/${profile}`)))
      assert.isFalse(inDefault.some((u) => u.startsWith(`/1.0/profiles/${profile}`)))
      // an explicit project on the request wins over the region's
      const explicit = yield* Lxd.withProject(project)(
        http.sync({ method: "GET", path: "/1.0/profiles", query: { project: "default" } }, names)
      )
      assert.isFalse(explicit.some((u) => u.startsWith(`/1.0/profiles/${profile}`)))
    }))
})
