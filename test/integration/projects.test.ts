import { assert } from "@effect/vitest"
import { Lxd, LxdHttp, Profiles, Projects, StorageVolumes } from "effect-lxd"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { container } from "../support/fixtures.js"
import { forEachServer, quietly, uniqueName } from "../support/servers.js"

/** A project deleted when the test's scope closes (under whatever name it has then). */
const scopedProject = (options: Omit<Projects.CreateOptions, "name"> = {}) =>
  Effect.gen(function*() {
    const projects = yield* Projects.Projects
    const current = { name: uniqueName("proj") }
    const project = yield* Effect.acquireRelease(
      projects.create({ name: current.name, ...options }),
      () => quietly(projects.delete(current.name))
    )
    return { current, project }
  })

const names = (http: LxdHttp.Service, path: string, project: string) =>
  Effect.map(
    http.sync({ method: "GET", path, project }, Schema.Array(Schema.String)),
    (urls) => urls.map((u) => decodeURIComponent(u.split("?")[0]!.split("/").pop()!))
  )

forEachServer("projects", (it, server) => {
  it.effect("get: the default project", () =>
    Effect.gen(function*() {
      const projects = yield* Projects.Projects
      const p = yield* projects.get("default")
      assert.strictEqual(p.name, "default")
      assert.strictEqual(p.config["features.images"], "true")
      assert.isTrue(yield* projects.exists("default"))
    }))

  it.scoped("all: list and listNames include a new project", () =>
    Effect.gen(function*() {
      const projects = yield* Projects.Projects
      const { current } = yield* scopedProject({ description: "listed" })
      assert.include(yield* projects.listNames(), current.name)
      assert.include(yield* projects.listNames(), "default")
      assert.strictEqual((yield* projects.list()).find((p) => p.name === current.name)?.description, "listed")
    }))

  it.scoped("create: name, description and features config round-trip", () =>
    Effect.gen(function*() {
      const projects = yield* Projects.Projects
      const { current, project } = yield* scopedProject({
        description: "features",
        config: { "limits.instances": "4" },
        features: { images: false, profiles: true, storageVolumes: true, networks: false }
      })
      assert.strictEqual(project.name, current.name)
      const p = yield* projects.get(current.name)
      assert.strictEqual(p.description, "features")
      assert.strictEqual(p.config["features.images"], "false")
      assert.strictEqual(p.config["features.profiles"], "true")
      assert.strictEqual(p.config["features.storage.volumes"], "true")
      assert.strictEqual(p.config["features.networks"], "false")
      assert.strictEqual(p.config["limits.instances"], "4")
      // the project's own default profile exists
      assert.isTrue(p.used_by.some((u) => u.startsWith("/1.0/profiles/default")))
    }))

  it.scoped("save: update the description, patch merges config", () =>
    Effect.gen(function*() {
      const projects = yield* Projects.Projects
      const { current } = yield* scopedProject({ description: "before" })
      yield* projects.update(current.name, (p) => ({ ...p, description: "after" }))
      assert.strictEqual((yield* projects.get(current.name)).description, "after")
      yield* projects.patch(current.name, { config: { "user.team": "qa" } })
      const p = yield* projects.get(current.name)
      assert.strictEqual(p.config["user.team"], "qa")
      assert.strictEqual(p.description, "after")
    }))

  it.scoped("rename", () =>
    Effect.gen(function*() {
      const projects = yield* Projects.Projects
      const { current } = yield* scopedProject({ description: "rename me" })
      const old = current.name
      const newName = uniqueName("proj-new")
      yield* projects.rename(old, newName)
      current.name = newName
      assert.strictEqual((yield* projects.get(newName)).description, "rename me")
      assert.isFalse(yield* projects.exists(old))
    }))

  it.effect("delete: then get fails with NotFound", () =>
    Effect.gen(function*() {
      const projects = yield* Projects.Projects
      const name = uniqueName("proj")
      yield* projects.create({ name })
      yield* projects.delete(name)
      const failure = yield* Effect.flip(projects.get(name))
      assert.strictEqual(failure._tag, "NotFound")
      assert.include(failure.message, `Project "${name}"`)
      assert.isFalse(yield* projects.exists(name))
    }))

  it.scoped("state: usage and limits", () =>
    Effect.gen(function*() {
      const projects = yield* Projects.Projects
      const { current } = yield* scopedProject({
        config: { "limits.instances": "3" },
        features: { images: false, profiles: false }
      })
      const before = yield* projects.state(current.name)
      assert.deepStrictEqual(before.resources["instances"], { Limit: 3, Usage: 0 })
      assert.strictEqual(before.resources["memory"]?.Limit, -1)
      yield* container(server.env.imageAlias, { start: false }).pipe(Lxd.withProject(current.name))
      const after = yield* projects.state(current.name)
      assert.deepStrictEqual(after.resources["instances"], { Limit: 3, Usage: 1 })
      assert.strictEqual((yield* Effect.flip(projects.state(uniqueName("nope"))))._tag, "NotFound")
    }))

  it.scoped("withProject: instances, profiles and volumes land in the project, not in default", () =>
    Effect.gen(function*() {
      const http = yield* LxdHttp.LxdHttp
      const profiles = yield* Profiles.Profiles
      const volumes = yield* StorageVolumes.StorageVolumes
      const pool = server.env.storagePool
      const { current } = yield* scopedProject({
        features: { images: false, profiles: true, storageVolumes: true }
      })
      const project = current.name
      const profileName = uniqueName("pp")
      const volumeName = uniqueName("pv")
      // the same code as anywhere else, scoped to the project
      const work = Effect.gen(function*() {
        yield* profiles.patch("default", {
          devices: { root: { type: "disk", path: "/", pool } }
        })
        yield* Effect.acquireRelease(
          profiles.create({ name: profileName, config: { "user.where": "project" } }),
          () => quietly(profiles.delete(profileName))
        )
        yield* Effect.acquireRelease(
          volumes.create(pool, { name: volumeName }),
          () => quietly(volumes.delete({ pool, name: volumeName }))
        )
        const instance = yield* container(server.env.imageAlias, { start: false, profiles: ["default", profileName] })
        return {
          instance,
          profile: yield* profiles.get(profileName),
          volume: yield* volumes.get({ pool, name: volumeName })
        }
      })
      const made = yield* Lxd.withProject(work, project)
      assert.strictEqual(made.profile.config["user.where"], "project")
      assert.strictEqual(made.volume.project ?? project, project)

      assert.include(yield* names(http, "/1.0/instances", project), made.instance)
      assert.notInclude(yield* names(http, "/1.0/instances", "default"), made.instance)
      assert.include(yield* names(http, "/1.0/profiles", project), profileName)
      assert.notInclude(yield* names(http, "/1.0/profiles", "default"), profileName)
      assert.isTrue(yield* Lxd.withProject(profiles.exists(profileName), project))
      assert.isFalse(yield* profiles.exists(profileName))
      assert.isTrue(yield* Lxd.withProject(volumes.exists({ pool, name: volumeName }), project))
      assert.isFalse(yield* volumes.exists({ pool, name: volumeName }))
      // the project's default profile got the root disk; the default project's did not change
      const own = yield* Lxd.withProject(profiles.get("default"), project)
      assert.deepStrictEqual(own.devices["root"], { type: "disk", path: "/", pool })
    }))

  it.scoped("delete: a project in use is refused; force deletes it where the server can", () =>
    Effect.gen(function*() {
      const projects = yield* Projects.Projects
      const profiles = yield* Profiles.Profiles
      const http = yield* LxdHttp.LxdHttp
      const { current } = yield* scopedProject({ features: { profiles: true } })
      yield* Lxd.withProject(profiles.create({ name: uniqueName("pp") }), current.name)
      const refused = yield* Effect.flip(projects.delete(current.name))
      assert.strictEqual(refused._tag, "LXDAPIException")
      assert.isTrue(yield* projects.exists(current.name))
      if (yield* http.hasExtension("projects_force_delete")) {
        yield* projects.delete(current.name, { force: true })
        assert.isFalse(yield* projects.exists(current.name))
      } else {
        yield* Effect.log(`force delete skipped on ${server.name}: no extension projects_force_delete`)
        const failure = yield* Effect.flip(projects.delete(current.name, { force: true }))
        assert.strictEqual(failure._tag, "ExtensionNotAvailable")
        if (failure._tag === "ExtensionNotAvailable") assert.strictEqual(failure.extension, "projects_force_delete")
        assert.isTrue(yield* projects.exists(current.name))
        // clean the project so the finalizer can delete it
        for (const p of yield* Lxd.withProject(profiles.listNames(), current.name)) {
          if (p !== "default") yield* Lxd.withProject(profiles.delete(p), current.name)
        }
      }
    }))
})
