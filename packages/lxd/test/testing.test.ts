/**
 * The test kit (`effect-lxd/testing`): the real services against the fake server.
 * State, background operations, ETags, projects, and the errors a real server gives.
 */
import { assert, describe, it, layer } from "@effect/vitest"
import {
  Files,
  Images,
  Instances,
  Lxd,
  LxdHttp,
  Networks,
  Operations,
  Profiles,
  Projects,
  Server,
  Snapshots,
  StorageVolumes
} from "effect-lxd"
import * as Testing from "effect-lxd/testing"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"

const image = { type: "image", alias: "busybox" } as const

const readText = (files: Files.Service, instance: string, path: string) =>
  files.read(instance, path).pipe(Stream.decodeText(), Stream.mkString)

const failureOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  const failure = exit.cause._tag === "Fail" ? exit.cause.error : undefined
  if (failure === undefined) throw new Error(`expected a typed failure, got ${String(exit.cause)}`)
  return failure
}

describe("testing: server info and dialects", () => {
  for (const dialect of ["lxd-5.0", "lxd-6", "incus-6.0"] as const) {
    it.scoped(`${dialect}: GET /1.0 names the server and its extensions`, () =>
      Effect.gen(function*() {
        const server = yield* Server.Server
        const http = yield* LxdHttp.LxdHttp
        const info = yield* server.info
        assert.strictEqual(info.api_status, "stable")
        assert.strictEqual(info.environment?.server, dialect === "incus-6.0" ? "incus" : "lxd")
        assert.strictEqual(http.dialect, dialect === "incus-6.0" ? "incus" : "lxd")
        assert.strictEqual(http.headerPrefix, dialect === "incus-6.0" ? "X-Incus" : "X-LXD")
        assert.isTrue(info.api_extensions.includes("instances"))
        assert.strictEqual(
          info.api_extensions.includes("explicit_trust_token"),
          dialect === "lxd-6"
        )
      }).pipe(Effect.provide(Testing.layer({ dialect }))))
  }
})

// the live clock: update's retry after a 412 sleeps before reading again
layer(Testing.layer(), { excludeTestServices: true })("testing: instances", (it) => {
  it.effect("create from an alias, start, state, stop, delete", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      const created = yield* instances.create({ name: "c1", source: image })
      assert.strictEqual(created.status, "Stopped")
      assert.deepStrictEqual(created.expanded_devices.root, { type: "disk", path: "/", pool: "default" })
      yield* instances.start("c1")
      const state = yield* instances.state("c1")
      assert.strictEqual(state.status, "Running")
      assert.isAbove(state.pid, 0)
      assert.isAtLeast(state.processes, 1)
      yield* instances.freeze("c1")
      assert.strictEqual((yield* instances.get("c1")).status, "Frozen")
      yield* instances.unfreeze("c1")
      yield* instances.restart("c1")
      assert.strictEqual((yield* instances.get("c1")).status, "Running")
      yield* instances.stop("c1")
      const stopped = yield* instances.state("c1")
      assert.strictEqual(stopped.status, "Stopped")
      assert.strictEqual(stopped.pid, 0)
      yield* instances.delete("c1")
      assert.isFalse(yield* instances.exists("c1"))
    }))

  it.effect("create from a fingerprint and empty; list, names, rename", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      const images = yield* Images.Images
      const [first] = yield* images.list()
      yield* instances.create({ name: "from-fp", source: { type: "image", fingerprint: first!.fingerprint } })
      yield* instances.create({ name: "empty1", source: { type: "none" } })
      const names = yield* instances.listNames()
      assert.includeMembers([...names], ["from-fp", "empty1"])
      yield* instances.rename("empty1", "empty2")
      assert.isFalse(yield* instances.exists("empty1"))
      assert.isTrue(yield* instances.exists("empty2"))
      yield* instances.delete("empty2")
      yield* instances.delete("from-fp")
    }))

  it.effect("a missing instance is NotFound; deleting a running one is refused with LXD's error", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      const missing = failureOf(yield* Effect.exit(instances.get("nope")))
      assert.strictEqual(missing._tag, "NotFound")
      yield* instances.create({ name: "busy", source: image, start: true })
      const refused = failureOf(yield* Effect.exit(instances.delete("busy")))
      assert.strictEqual(refused._tag, "LXDAPIException")
      assert.match(refused.message, /running/i)
      yield* instances.delete("busy", { force: true })
      assert.isFalse(yield* instances.exists("busy"))
    }))

  it.effect("starting a running instance fails as a failed operation", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      yield* instances.create({ name: "twice", source: image, start: true })
      const again = failureOf(yield* Effect.exit(instances.start("twice")))
      assert.strictEqual(again._tag, "LXDAPIException")
      if (again._tag === "LXDAPIException") {
        assert.include(again.serverMessage, "already running")
        assert.isDefined(again.operationId)
      }
      yield* instances.delete("twice", { force: true })
    }))

  it.effect("a stale ETag is refused with 412; update reads again and retries", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      const http = yield* LxdHttp.LxdHttp
      yield* instances.create({ name: "etag1", source: image })
      const { etag } = yield* http.syncWithEtag({ method: "GET", path: "/1.0/instances/etag1" }, Instances.Instance)
      assert.isString(etag)
      yield* instances.patch("etag1", { config: { "user.a": "1" } })
      const stale = failureOf(
        yield* Effect.exit(
          instances.put("etag1", {
            architecture: "x86_64",
            config: {},
            devices: {},
            profiles: ["default"],
            ephemeral: false,
            description: ""
          }, { etag: etag! })
        )
      )
      assert.strictEqual(stale._tag, "PreconditionFailed")
      if (stale._tag === "PreconditionFailed") assert.strictEqual(stale.status, 412)
      // a writer that sneaks in between update's read and write: the first write is refused
      let calls = 0
      yield* instances.update("etag1", (current) => {
        calls++
        if (calls === 1) {
          Effect.runFork(instances.patch("etag1", { config: { "user.b": "2" } }))
        }
        return { ...current, config: { ...current.config, "user.c": "3" } }
      })
      const after = yield* instances.get("etag1")
      assert.strictEqual(after.config["user.a"], "1")
      assert.strictEqual(after.config["user.c"], "3")
      yield* instances.delete("etag1")
    }))

  it.effect("a disk device whose source does not exist fails the operation with the path", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      const failure = failureOf(
        yield* Effect.exit(
          instances.create({
            name: "broken",
            source: image,
            devices: { broken: { type: "disk", source: "/nonexistent/x", path: "/mnt/x" } }
          })
        )
      )
      assert.strictEqual(failure._tag, "LXDAPIException")
      assert.include(failure.message, "/nonexistent/x")
      assert.isFalse(yield* instances.exists("broken"))
    }))
})

layer(Testing.layer())("testing: snapshots", (it) => {
  it.effect("create, list, rename, restore, delete; the file tree rolls back", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      const snapshots = yield* Snapshots.Snapshots
      const files = yield* Files.Files
      yield* instances.create({ name: "s1", source: image, config: { "user.v": "1" } })
      yield* files.write("s1", "/root/note", "first")
      const snap = yield* snapshots.create("s1", { name: "before" })
      assert.strictEqual(snap.name, "before")
      yield* instances.patch("s1", { config: { "user.v": "2" } })
      yield* files.write("s1", "/root/note", "second")
      assert.deepStrictEqual(yield* snapshots.listNames("s1"), ["before"])
      yield* snapshots.rename("s1", "before", "base")
      yield* instances.restoreSnapshot("s1", "base")
      assert.strictEqual((yield* instances.get("s1")).config["user.v"], "1")
      assert.strictEqual(yield* readText(files, "s1", "/root/note"), "first")
      const missing = failureOf(yield* Effect.exit(snapshots.get("s1", "before")))
      assert.strictEqual(missing._tag, "NotFound")
      yield* snapshots.delete("s1", "base")
      assert.deepStrictEqual(yield* snapshots.listNames("s1"), [])
      yield* instances.delete("s1")
    }))
})

// the live clock: a long poll that times out is followed by the client's spacing sleep
layer(Testing.layer(), { excludeTestServices: true })("testing: operations", (it) => {
  it.effect("a held operation is Running; wait with a short chunk still ends with Success", () =>
    Effect.gen(function*() {
      const fake = yield* Testing.FakeLxd
      const ops = yield* Operations.Operations
      yield* fake.holdOperations
      const op = yield* ops.startOperation({
        method: "POST",
        path: "/1.0/instances",
        body: { name: "held", source: image }
      })
      assert.strictEqual((yield* ops.get(op.id)).status, "Running")
      const listed = yield* ops.list()
      assert.isTrue(listed.some((o) => o.id === op.id && o.status === "Running"))
      const waiter = yield* Effect.fork(ops.wait(op, { pollChunk: "1 second" }))
      yield* Effect.sleep("1200 millis")
      assert.isTrue((yield* Fiber.poll(waiter))._tag === "None")
      yield* fake.releaseOperations
      const done = yield* Fiber.join(waiter)
      assert.strictEqual(done.status, "Success")
      assert.deepInclude(done.resources?.instances ?? [], "/1.0/instances/held")
      yield* (yield* Instances.Instances).delete("held")
    }))

  it.effect("an injected operation failure surfaces as LXDAPIException with its message", () =>
    Effect.gen(function*() {
      const fake = yield* Testing.FakeLxd
      const instances = yield* Instances.Instances
      yield* instances.create({ name: "opfail", source: image })
      yield* fake.failNextOperation({ description: "Starting instance", message: "no more cgroups" })
      const failure = failureOf(yield* Effect.exit(instances.start("opfail")))
      assert.strictEqual(failure._tag, "LXDAPIException")
      if (failure._tag === "LXDAPIException") {
        assert.strictEqual(failure.serverMessage, "no more cgroups")
        assert.strictEqual(failure.path, "/1.0/instances/opfail/state")
      }
      assert.strictEqual((yield* instances.get("opfail")).status, "Stopped")
      yield* instances.delete("opfail")
    }))

  it.effect("a missing operation is NotFound; a non-cancellable one refuses DELETE", () =>
    Effect.gen(function*() {
      const fake = yield* Testing.FakeLxd
      const ops = yield* Operations.Operations
      const missing = failureOf(yield* Effect.exit(ops.get("00000000-0000-0000-0000-000000000000")))
      assert.strictEqual(missing._tag, "NotFound")
      yield* fake.holdOperations
      const op = yield* ops.startOperation({
        method: "POST",
        path: "/1.0/instances",
        body: { name: "nocancel", source: image }
      })
      const refused = failureOf(yield* Effect.exit(ops.cancel(op.id)))
      assert.strictEqual(refused._tag, "Forbidden")
      yield* fake.releaseOperations
      yield* ops.wait(op)
      yield* (yield* Instances.Instances).delete("nocancel")
    }))
})

describe("testing: operations are reaped", () => {
  it.live("a finished operation is forgotten after the retention; waiting on it then cannot know the outcome", () =>
    Effect.gen(function*() {
      const ops = yield* Operations.Operations
      const op = yield* ops.startOperation({
        method: "POST",
        path: "/1.0/instances",
        body: { name: "r1", source: image }
      })
      yield* Effect.sleep("400 millis")
      const failure = failureOf(yield* Effect.exit(ops.get(op.id)))
      assert.strictEqual(failure._tag, "NotFound")
      // never seen final: the honest answer is "unknown", not a success
      const unknown = failureOf(yield* Effect.exit(ops.wait(op)))
      assert.strictEqual(unknown._tag, "OperationOutcomeUnknown")
      assert.isTrue(yield* (yield* Instances.Instances).exists("r1"))
    }).pipe(Effect.provide(Testing.layer({ operationRetention: "100 millis" }))))

  it.live("on LXD 6.x operations are cancellable: interrupting a wait cancels it", () =>
    Effect.gen(function*() {
      const fake = yield* Testing.FakeLxd
      const ops = yield* Operations.Operations
      yield* fake.holdOperations
      const op = yield* ops.startOperation({
        method: "POST",
        path: "/1.0/instances",
        body: { name: "x1", source: image }
      })
      assert.isTrue(op.may_cancel)
      const waiter = yield* Effect.fork(ops.wait(op))
      yield* Effect.sleep("100 millis")
      yield* Fiber.interrupt(waiter)
      const after = yield* ops.get(op.id)
      assert.strictEqual(after.status, "Cancelled")
      yield* fake.releaseOperations
      assert.isFalse(yield* (yield* Instances.Instances).exists("x1"))
    }).pipe(Effect.provide(Testing.layer({ dialect: "lxd-6" }))))
})

layer(Testing.layer())("testing: profiles, projects, storage, networks, images", (it) => {
  it.effect("profiles: create, 412 on a stale ETag, used_by blocks delete", () =>
    Effect.gen(function*() {
      const profiles = yield* Profiles.Profiles
      const instances = yield* Instances.Instances
      yield* profiles.create({ name: "p1", config: { "limits.cpu": "1" } })
      const http = yield* LxdHttp.LxdHttp
      const { etag } = yield* http.syncWithEtag({ method: "GET", path: "/1.0/profiles/p1" }, Profiles.Profile)
      yield* profiles.patch("p1", { description: "changed" })
      const stale = failureOf(
        yield* Effect.exit(profiles.put("p1", { config: {}, description: "", devices: {} }, { etag: etag! }))
      )
      assert.strictEqual(stale._tag, "PreconditionFailed")
      yield* instances.create({ name: "uses-p1", source: image, profiles: ["default", "p1"] })
      const p = yield* profiles.get("p1")
      assert.deepStrictEqual(p.used_by, ["/1.0/instances/uses-p1"])
      assert.strictEqual((yield* instances.get("uses-p1")).expanded_config["limits.cpu"], "1")
      const inUse = failureOf(yield* Effect.exit(profiles.delete("p1")))
      assert.strictEqual(inUse._tag, "LXDAPIException")
      yield* instances.delete("uses-p1")
      yield* profiles.delete("p1")
      const gone = failureOf(yield* Effect.exit(profiles.get("p1")))
      assert.strictEqual(gone._tag, "NotFound")
    }))

  it.effect("projects: every call honours withProject", () =>
    Effect.gen(function*() {
      const projects = yield* Projects.Projects
      const instances = yield* Instances.Instances
      yield* projects.create({ name: "proj1" })
      yield* Lxd.withProject(instances.create({ name: "inproj", source: image }), "proj1")
      assert.isFalse(yield* instances.exists("inproj"))
      assert.isTrue(yield* Lxd.withProject(instances.exists("inproj"), "proj1"))
      const refused = failureOf(yield* Effect.exit(projects.delete("proj1")))
      assert.strictEqual(refused._tag, "LXDAPIException")
      yield* Lxd.withProject(instances.delete("inproj"), "proj1")
      yield* projects.delete("proj1")
      const missing = failureOf(yield* Effect.exit(Lxd.withProject(instances.listNames(), "proj1")))
      assert.strictEqual(missing._tag, "NotFound")
    }))

  it.effect("a custom volume in the pool; the bridge network", () =>
    Effect.gen(function*() {
      const volumes = yield* StorageVolumes.StorageVolumes
      const networks = yield* Networks.Networks
      yield* volumes.create("default", { name: "vol1", config: { size: "1GiB" } })
      const v = yield* volumes.get({ pool: "default", name: "vol1" })
      assert.strictEqual(v.config.size, "1GiB")
      yield* volumes.delete({ pool: "default", name: "vol1" })
      const net = yield* networks.get("lxdbr0")
      assert.strictEqual(net.type, "bridge")
      assert.strictEqual(net.config["ipv4.nat"], "false")
    }))

  it.effect("the seeded image and its alias", () =>
    Effect.gen(function*() {
      const images = yield* Images.Images
      const aliases = yield* images.aliases
      assert.deepStrictEqual(aliases.map((a) => a.name), ["busybox"])
      const img = yield* images.getByAlias("busybox")
      assert.strictEqual(img.fingerprint, aliases[0]!.target)
      assert.deepStrictEqual(img.aliases.map((a) => a.name), ["busybox"])
    }))
})
