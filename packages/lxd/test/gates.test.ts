import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { Lxd, LxdHttp, Operations, Profiles } from "../src/index.js"
import { requiredExtensions } from "../src/internal/gates.js"
import { json, serverInfo, sync } from "./fakeServer.js"
import { memoryConnection } from "./memoryTransport.js"

describe("extension gates on query parameters", () => {
  it("each all-projects listing names its own extension; target needs clustering", () => {
    assert.deepStrictEqual(requiredExtensions("/1.0/instances", { "all-projects": true }), ["instance_all_projects"])
    assert.deepStrictEqual(requiredExtensions("/1.0/images", { "all-projects": true, recursion: 1 }), [
      "images_all_projects"
    ])
    assert.deepStrictEqual(requiredExtensions("/1.0/storage-pools/p/volumes/custom", { "all-projects": true }), [
      "storage_volumes_all_projects"
    ])
    assert.deepStrictEqual(requiredExtensions("/1.0/operations", { "all-projects": false }), [])
    assert.deepStrictEqual(requiredExtensions("/1.0/instances/web1", { "all-projects": true }), [])
    assert.deepStrictEqual(requiredExtensions("/1.0/events", { "all-projects": true }), [])
    assert.deepStrictEqual(requiredExtensions("/1.0/instances", { target: "node2" }), ["clustering"])
  })

  it.scoped("a server without the extension: refused with ExtensionNotAvailable, nothing sent", () =>
    Effect.gen(function*() {
      const { http, requests } = yield* memoryConnection(
        (_req, res) => json(res, 200, sync([])),
        {},
        serverInfo(["instances", "projects"])
      )
      const sent = requests.length
      const ops = yield* Operations.make.pipe(Effect.provideService(LxdHttp.LxdHttp, http))
      const profiles = yield* Profiles.make.pipe(
        Effect.provideService(LxdHttp.LxdHttp, http),
        Effect.provideService(Operations.Operations, ops)
      )
      const refused = yield* Effect.flip(profiles.list({ allProjects: true }))
      assert.strictEqual(refused._tag, "ExtensionNotAvailable")
      if (refused._tag === "ExtensionNotAvailable") assert.strictEqual(refused.extension, "profiles_all_projects")
      const opsRefused = yield* Effect.flip(ops.list({ allProjects: true }))
      assert.strictEqual(opsRefused._tag, "ExtensionNotAvailable")
      // withTarget reaches the gate too
      const targeted = yield* Effect.flip(Lxd.withTarget("node2")(profiles.list()))
      assert.strictEqual(targeted._tag, "ExtensionNotAvailable")
      assert.strictEqual(requests.length, sent)
      // without the flag the same calls go out
      assert.deepStrictEqual(yield* profiles.list(), [])
      assert.strictEqual(requests.length, sent + 1)
    }))

  it.scoped("a server with the extension gets the flag", () =>
    Effect.gen(function*() {
      const { http, requests } = yield* memoryConnection(
        (_req, res) => json(res, 200, sync([])),
        {},
        serverInfo(["profiles_all_projects"])
      )
      const ops = yield* Operations.make.pipe(Effect.provideService(LxdHttp.LxdHttp, http))
      const profiles = yield* Profiles.make.pipe(
        Effect.provideService(LxdHttp.LxdHttp, http),
        Effect.provideService(Operations.Operations, ops)
      )
      yield* profiles.list({ allProjects: true })
      assert.match(requests[requests.length - 1]!.url, /all-projects=true/)
    }))
})
