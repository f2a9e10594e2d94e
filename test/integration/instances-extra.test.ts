/**
 * The instance calls behind newer extensions, on every server: rebuild (Incus has
 * `instances_rebuild`, LXD 5.0 does not), the state change of every instance of a project
 * at once (in a project made for the test, never the shared default project), and the copy
 * options `refresh`, `instanceOnly` and `allowInconsistent`.
 */
import { assert } from "@effect/vitest"
import { Files, Instances, Lxd, LxdHttp, Projects, Snapshots } from "effect-lxd"
import * as Effect from "effect/Effect"
import { container, deleteInstance } from "../support/fixtures.js"
import { forEachServer, quietly, uniqueName } from "../support/servers.js"

/** A project that shares the default project's images and profiles, deleted when the scope closes. */
const scopedProject = Effect.flatMap(Projects.Projects, (projects) => {
  const name = uniqueName("bulk")
  return Effect.acquireRelease(
    projects.create({ name, config: { "features.images": "false", "features.profiles": "false" } }),
    () => quietly(projects.delete(name))
  )
})

forEachServer("instances (newer extensions)", (it, server) => {
  const alias = server.env.imageAlias
  const pool = server.env.storagePool
  const rootOnly = { root: { type: "disk", path: "/", pool } }

  it.scoped("rebuild from the image gives a fresh root file system (instances_rebuild)", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      const files = yield* Files.Files
      const http = yield* LxdHttp.LxdHttp
      const name = yield* container(alias, { start: false, profiles: [], devices: rootOnly, prefix: "rb" })
      yield* files.write(name, "/root/marker", "before")
      if (yield* http.hasExtension("instances_rebuild")) {
        yield* instances.rebuild(name, { type: "image", alias })
        // Incus 6.0 answers 404 on the file API of a stopped container just rebuilt: look while it runs
        yield* instances.start(name)
        const stat = yield* Effect.flip(files.stat(name, "/root/marker"))
        assert.strictEqual(stat._tag, "NotFound")
        // the image's files are back
        assert.strictEqual((yield* files.stat(name, "/etc")).type, "directory")
        yield* instances.stop(name, { force: true })
        // an empty root file system has no init to start
        yield* instances.rebuild(name, { type: "none" })
        assert.isTrue(yield* instances.exists(name))
        assert.strictEqual((yield* Effect.flip(instances.start(name)))._tag, "LXDAPIException")
      } else {
        yield* Effect.log(`no instances_rebuild on ${server.name}`)
        const error = yield* Effect.flip(instances.rebuild(name, { type: "image", alias }))
        assert.strictEqual(error._tag, "ExtensionNotAvailable")
        // nothing was sent: the file is still there
        assert.strictEqual((yield* files.stat(name, "/root/marker")).type, "file")
      }
    }))

  it.effect("rebuild of a missing instance is NotFound (or ExtensionNotAvailable without the extension)", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      const http = yield* LxdHttp.LxdHttp
      const error = yield* Effect.flip(instances.rebuild(uniqueName("nope"), { type: "none" }))
      assert.strictEqual(
        error._tag,
        (yield* http.hasExtension("instances_rebuild")) ? "NotFound" : "ExtensionNotAvailable"
      )
      const invalid = yield* Effect.flip(instances.rebuild("x", { type: "image" }))
      assert.strictEqual(invalid._tag, "InvalidArgument")
    }))

  it.scoped("changeStateAll starts and stops every instance of a project", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      const project = yield* scopedProject
      const inProject = <A, E, R>(effect: Effect.Effect<A, E, R>) => Lxd.withProject(effect, project.name)
      const names = [uniqueName("bulk"), uniqueName("bulk")]
      for (const name of names) {
        yield* Effect.acquireRelease(
          inProject(instances.create({ name, source: { type: "image", alias }, profiles: [], devices: rootOnly })),
          () => inProject(deleteInstance(name))
        )
      }
      yield* inProject(instances.changeStateAll("start"))
      for (const name of names) assert.strictEqual((yield* inProject(instances.get(name))).status, "Running")
      yield* inProject(instances.changeStateAll("stop", { force: true }))
      for (const name of names) assert.strictEqual((yield* inProject(instances.get(name))).status, "Stopped")
    }))

  it.scoped("copy with refresh updates an existing copy; instanceOnly leaves snapshots; allowInconsistent copies", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      const snapshots = yield* Snapshots.Snapshots
      const files = yield* Files.Files
      const source = yield* container(alias, { start: false, profiles: [], devices: rootOnly, prefix: "src" })
      yield* snapshots.create(source, { name: "s0" })
      const copyName = uniqueName("cp")
      yield* Effect.addFinalizer(() => deleteInstance(copyName))
      yield* instances.copy(source, copyName, { instanceOnly: true })
      assert.deepStrictEqual(yield* snapshots.listNames(copyName), [])
      // a plain copy onto an existing name fails, a refresh brings the change over
      yield* files.write(source, "/root/changed", "after")
      const again = yield* Effect.flip(instances.copy(source, copyName))
      assert.strictEqual(again._tag, "LXDAPIException")
      yield* instances.copy(source, copyName, { refresh: true, instanceOnly: true })
      assert.strictEqual((yield* files.stat(copyName, "/root/changed")).type, "file")

      const inconsistent = uniqueName("cp")
      yield* Effect.addFinalizer(() => deleteInstance(inconsistent))
      const copied = yield* instances.copy(source, inconsistent, { allowInconsistent: true })
      assert.strictEqual(copied.name, inconsistent)
      assert.deepStrictEqual(yield* snapshots.listNames(inconsistent), ["s0"])
    }))
}, { timeout: "3 minutes" })
