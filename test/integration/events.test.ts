import { assert } from "@effect/vitest"
import { Events, Instances, Lxd, LxdHttp, Operations, Snapshots } from "effect-lxd"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { container, deleteInstance } from "../support/fixtures.js"
import { forEachServer, uniqueName } from "../support/servers.js"

/** Lifecycle events about one resource name, until `done` says so (or a timeout). */
const lifecycleOf = (
  events: Stream.Stream<Events.Event, unknown>,
  name: string,
  done: (actions: ReadonlyArray<string>) => boolean
) =>
  events.pipe(
    Stream.filter((e): e is Events.LifecycleEvent =>
      e._tag === "LifecycleEvent" && decodeURIComponent(e.metadata.source.split("?")[0]!).endsWith(`/${name}`)
    ),
    Stream.map((e) => e.metadata.action),
    Stream.scan([] as Array<string>, (acc, a) => [...acc, a]),
    Stream.takeUntil(done),
    Stream.runLast,
    Effect.map((last) => (last._tag === "Some" ? last.value : [])),
    Effect.timeoutFail({ duration: "60 seconds", onTimeout: () => new Error(`no lifecycle events for ${name}`) })
  )

/** A throwaway project made with raw calls; deleted when the scope closes. */
const throwawayProject = Effect.gen(function*() {
  const http = yield* LxdHttp.LxdHttp
  const name = uniqueName("evp")
  yield* Effect.acquireRelease(
    http.send({
      method: "POST",
      path: "/1.0/projects",
      body: { name, config: { "features.profiles": "true" } },
      project: null
    }),
    () => Effect.ignore(http.send({ method: "DELETE", path: `/1.0/projects/${name}`, project: null }))
  )
  return name
})

/** A profile made and deleted with raw calls (quick lifecycle events). */
const profileInAndOut = (name: string, project: string | undefined) =>
  Effect.gen(function*() {
    const http = yield* LxdHttp.LxdHttp
    const where = project === undefined ? {} : { project }
    yield* http.send({ method: "POST", path: "/1.0/profiles", body: { name, config: {}, devices: {} }, ...where })
    yield* http.send({ method: "DELETE", path: `/1.0/profiles/${name}`, ...where })
  })

forEachServer("events", (it, server) => {
  it.scoped("see the lifecycle of an instance created in the test", () =>
    Effect.gen(function*() {
      const events = yield* Events.Events
      const stream = yield* events.subscribe({ types: ["lifecycle"] })
      const name = yield* container(server.env.imageAlias, { prefix: "ev" })
      const actions = yield* lifecycleOf(stream, name, (a) => a.includes("instance-started"))
      assert.includeMembers(actions, ["instance-created", "instance-started"])
      assert.isBelow(actions.indexOf("instance-created"), actions.indexOf("instance-started"))
    }))

  it.scoped("events of one instance: its lifecycle, its snapshot, its rename, its operations; typed actions", () =>
    Effect.gen(function*() {
      const events = yield* Events.Events
      const instances = yield* Instances.Instances
      const snapshots = yield* Snapshots.Snapshots
      const name = uniqueName("evi")
      const other = uniqueName("evo")
      const renamedTo = `${name}-r`
      for (const n of [name, other, renamedTo]) yield* Effect.addFinalizer(() => deleteInstance(n))
      const source = { type: "image" as const, alias: server.env.imageAlias }
      const feed = yield* events.subscribe({ types: ["lifecycle", "operation"], instance: name })
      yield* instances.create({ name: other, source })
      yield* instances.create({ name, source })
      yield* snapshots.create(name, { name: "s0" })
      yield* instances.rename(name, renamedTo)
      const seen = Chunk.toArray(
        yield* feed.pipe(
          Stream.takeUntil((e) => e._tag === "LifecycleEvent" && e.metadata.action === "instance-renamed"),
          Stream.runCollect,
          Effect.timeout("60 seconds")
        )
      )
      const lifecycle = seen.filter((e): e is Events.LifecycleEvent => e._tag === "LifecycleEvent")
      assert.includeMembers(lifecycle.map((e) => e.metadata.action), [
        "instance-created",
        "instance-snapshot-created",
        "instance-renamed"
      ])
      assert.isTrue(seen.some((e) => e._tag === "OperationEvent" && e.metadata.description === "Creating instance"))
      // nothing about the other instance got through
      assert.isFalse(seen.some(Events.isForInstance(other)))
      const snapshot = lifecycle.find((e) => e.metadata.action === "instance-snapshot-created")!
      assert.deepStrictEqual(
        Events.instanceOf(snapshot),
        Option.some({ instance: name, snapshot: "s0", project: "default" })
      )
      const typed = Events.lifecycle(lifecycle.find((e) => e.metadata.action === "instance-renamed")!)
      assert.isTrue(Option.isSome(typed))
      if (Option.isSome(typed) && typed.value.action === "instance-renamed") {
        assert.strictEqual(typed.value.context.old_name, name)
        assert.strictEqual(typed.value.source, `/1.0/instances/${renamedTo}`)
      }
    }))

  it.scoped("events of one instance in a project: the same name in the default project does not match", () =>
    Effect.gen(function*() {
      const events = yield* Events.Events
      const http = yield* LxdHttp.LxdHttp
      const ops = yield* Operations.Operations
      const project = yield* throwawayProject
      const name = uniqueName("evq")
      const everywhere = yield* events.subscribe({ types: ["lifecycle"], allProjects: true })
      // a profile is enough for lifecycle events; none is an instance: nothing must match
      yield* profileInAndOut(name, project)
      // empty instances of the same name in both projects, the default project's first
      const root = { root: { type: "disk", path: "/", pool: server.env.storagePool } }
      for (const where of [{}, { project }]) {
        yield* http.send({
          method: "POST",
          path: "/1.0/instances",
          body: { name, type: "container", source: { type: "none" }, profiles: [], devices: root },
          ...where
        }).pipe(Effect.flatMap((r) => r._tag === "Async" ? ops.wait(r.operation) : Effect.void))
        yield* Effect.addFinalizer(() =>
          Effect.ignore(ops.run({ method: "DELETE", path: `/1.0/instances/${name}`, ...where }))
        )
      }
      const matched = Chunk.toArray(
        yield* everywhere.pipe(
          Events.forInstance(name, { project }),
          Stream.take(1),
          Stream.runCollect,
          Effect.timeout("30 seconds")
        )
      )
      assert.strictEqual(matched.length, 1)
      const ref = Events.instanceOf(matched[0] as Events.LifecycleEvent)
      assert.deepStrictEqual(Option.map(ref, (r) => [r.instance, r.project]), Option.some([name, project]))
    }))

  it.scoped("operation events and watchOperation follow an operation to its end", () =>
    Effect.gen(function*() {
      const events = yield* Events.Events
      const ops = yield* Operations.Operations
      const name = uniqueName("evop")
      yield* Effect.addFinalizer(() => deleteInstance(name))
      const seen = yield* events.subscribe({ types: ["operation"] })
      const started = yield* ops.start({
        method: "POST",
        path: "/1.0/instances",
        body: {
          name,
          type: "container",
          source: { type: "image", alias: server.env.imageAlias },
          profiles: ["default"]
        }
      })
      assert.strictEqual(started._tag, "Async")
      if (started._tag !== "Async") return
      const states = yield* events.watchOperation(started.operation.id).pipe(
        Stream.runCollect,
        Effect.map(Chunk.toArray),
        Effect.timeout("60 seconds")
      )
      assert.isAtLeast(states.length, 1)
      const last = states[states.length - 1]!
      assert.strictEqual(last.id, started.operation.id)
      assert.strictEqual(last.status, "Success")
      // the raw feed saw the same operation as operation events
      const fromFeed = yield* seen.pipe(
        Stream.filter((e) => e._tag === "OperationEvent" && e.metadata.id === started.operation.id),
        Stream.take(1),
        Stream.runCollect,
        Effect.timeout("10 seconds")
      )
      assert.strictEqual(Chunk.size(fromFeed), 1)
    }))

  it.scoped("project-scoped events see only their project (options and Lxd.withProject)", () =>
    Effect.gen(function*() {
      const events = yield* Events.Events
      const project = yield* throwawayProject
      const inProject = yield* events.subscribe({ types: ["lifecycle"], project })
      const viaWithProject = yield* Lxd.withProject(project)(events.subscribe({ types: ["lifecycle"] }))
      const inDefault = yield* events.subscribe({ types: ["lifecycle"] })
      const mine = uniqueName("evpa")
      const theirs = uniqueName("evpb")
      yield* profileInAndOut(theirs, undefined)
      yield* profileInAndOut(mine, project)

      const names = (stream: Stream.Stream<Events.Event, unknown>, until: string) =>
        stream.pipe(
          Stream.filter((e): e is Events.LifecycleEvent => e._tag === "LifecycleEvent"),
          Stream.map((e) =>
            decodeURIComponent(e.metadata.source.split("?")[0]!.split("/").pop()!) + ":" + e.metadata.action
          ),
          Stream.takeUntil((s) => s === `${until}:profile-deleted`),
          Stream.runCollect,
          Effect.map(Chunk.toArray),
          Effect.timeout("30 seconds")
        )
      const p = yield* names(inProject, mine)
      assert.includeMembers(p, [`${mine}:profile-created`, `${mine}:profile-deleted`])
      assert.isFalse(p.some((s) => s.startsWith(theirs)))
      const w = yield* names(viaWithProject, mine)
      assert.includeMembers(w, [`${mine}:profile-created`, `${mine}:profile-deleted`])
      assert.isFalse(w.some((s) => s.startsWith(theirs)))
      const d = yield* names(inDefault, theirs)
      assert.includeMembers(d, [`${theirs}:profile-created`, `${theirs}:profile-deleted`])
      assert.isFalse(d.some((s) => s.startsWith(mine)))
    }))

  it.scoped("two subscribers share one socket and get the same events", () =>
    Effect.gen(function*() {
      const events = yield* Events.Events
      const before = LxdHttp.openWebSocketCount()
      const a = yield* events.subscribe({ types: ["lifecycle"] })
      const afterFirst = LxdHttp.openWebSocketCount()
      const b = yield* events.subscribe({ types: ["lifecycle"] })
      assert.strictEqual(afterFirst, before + 1)
      assert.strictEqual(LxdHttp.openWebSocketCount(), afterFirst)
      const name = uniqueName("evs")
      yield* profileInAndOut(name, undefined)
      const collect = (s: Stream.Stream<Events.Event, unknown>) =>
        lifecycleOf(s, name, (actions) => actions.includes("profile-deleted"))
      const [fromA, fromB] = yield* Effect.all([collect(a), collect(b)], { concurrency: 2 })
      assert.deepStrictEqual(fromA, ["profile-created", "profile-deleted"])
      assert.deepStrictEqual(fromB, fromA)
    }))

  it.effect("the shared socket closes after the last subscriber leaves", () =>
    Effect.gen(function*() {
      const events = yield* Events.Events
      const before = LxdHttp.openWebSocketCount()
      yield* Effect.scoped(Effect.gen(function*() {
        yield* events.subscribe({ types: ["operation"] })
        yield* events.subscribe({ types: ["operation"] })
        assert.strictEqual(LxdHttp.openWebSocketCount(), before + 1)
      }))
      // the close handshake completes asynchronously
      for (let i = 0; i < 40 && LxdHttp.openWebSocketCount() !== before; i++) yield* Effect.sleep("50 millis")
      assert.strictEqual(LxdHttp.openWebSocketCount(), before)
    }))

  it.effect("an unknown event type is refused by the server with TransportError (also with reconnect)", () =>
    Effect.gen(function*() {
      const events = yield* Events.Events
      const error = yield* Effect.flip(Stream.runDrain(events.stream({ types: ["no-such-type"] })))
      assert.strictEqual(error._tag, "TransportError")
      const retried = yield* Effect.flip(
        Stream.runDrain(events.stream({ types: ["no-such-type"], reconnect: Schedule.recurs(2) }))
      )
      assert.strictEqual(retried._tag, "TransportError")
    }))
})
