import { assert } from "@effect/vitest"
import { Events, Exec, Instances, Launch, Readiness } from "effect-lxd"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { deleteInstance } from "../support/fixtures.js"
import { forEachServer, type TestServer, uniqueName } from "../support/servers.js"

/** The instances on the server whose names start with `prefix`. */
const leftovers = (prefix: string) =>
  Effect.map(
    Effect.flatMap(Instances.Instances, (instances) => instances.listNames()),
    (names) => names.filter((n) => n.startsWith(prefix))
  )

const image = (server: TestServer) => ({ type: "image" as const, alias: server.env.imageAlias })

/** The failure of an exit, or a test failure when it succeeded. */
const failureOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) throw new Error("expected a failure, got a success")
  const failure = Cause.failureOption(exit.cause)
  if (Option.isNone(failure)) throw new Error(`expected a typed failure, got ${Cause.pretty(exit.cause)}`)
  return failure.value
}

forEachServer("launch", (it, server) => {
  it.effect("scoped: the instance runs inside the scope and is gone after it", () =>
    Effect.gen(function*() {
      const launch = yield* Launch.Launch
      const instances = yield* Instances.Instances
      const name = uniqueName("ls")
      const inside = yield* Effect.scoped(Effect.gen(function*() {
        const instance = yield* launch.scoped({ name, source: image(server) })
        assert.strictEqual(instance.name, name)
        return (yield* instances.state(name)).status
      }))
      assert.strictEqual(inside, "Running")
      assert.isFalse(yield* instances.exists(name))
    }))

  it.effect("scoped: a failure inside the scope deletes the instance too; start: false leaves it stopped", () =>
    Effect.gen(function*() {
      const launch = yield* Launch.Launch
      const instances = yield* Instances.Instances
      const name = uniqueName("lf")
      const exit = yield* Effect.exit(Effect.scoped(Effect.gen(function*() {
        const instance = yield* launch.scoped({ name, source: image(server), start: false })
        assert.strictEqual(instance.status, "Stopped")
        return yield* Effect.fail("boom" as const)
      })))
      assert.strictEqual(failureOf(exit), "boom")
      assert.isFalse(yield* instances.exists(name))
    }))

  it.effect("scoped: interrupted at random points (also mid-create), nothing is left behind", () =>
    Effect.gen(function*() {
      const launch = yield* Launch.Launch
      const events = yield* Events.Events
      const prefix = uniqueName("lr")
      // 15-50 ms lands while the creation request is in flight on these servers
      const delays = [0, 10, 20, 25, 30, 35, 40, 50, 75, 100, 150, 250, 400, 600]
      const feed = yield* events.subscribe({ types: ["lifecycle"] })
      const seen = yield* Ref.make<ReadonlyArray<string>>([])
      yield* feed.pipe(
        Stream.filter((e): e is Events.LifecycleEvent => e._tag === "LifecycleEvent"),
        Stream.runForEach((e) =>
          Option.match(Events.instanceOf(e), {
            onNone: () => Effect.void,
            onSome: (ref) =>
              ref.instance.startsWith(prefix)
                ? Ref.update(seen, (all) => [...all, `${ref.instance} ${e.metadata.action}`])
                : Effect.void
          })
        ),
        Effect.forkScoped
      )
      for (const [i, delay] of delays.entries()) {
        const fiber = yield* Effect.fork(
          Effect.scoped(Effect.zipRight(launch.scoped({ name: `${prefix}-${i}`, source: image(server) }), Effect.never))
        )
        yield* Effect.sleep(delay)
        yield* Fiber.interrupt(fiber)
        // the interruption returns only after the clean-up: nothing may be there now
        assert.deepStrictEqual(yield* leftovers(prefix), [], `after an interruption at ${delay} ms`)
      }
      // one more, interrupted as soon as the server reports the creation running
      const midCreate = `${prefix}-mid`
      const creating = yield* events.subscribe({ types: ["operation"], instance: midCreate })
      const fiber = yield* Effect.fork(
        Effect.scoped(Effect.zipRight(launch.scoped({ name: midCreate, source: image(server) }), Effect.never))
      )
      const running = yield* creating.pipe(
        Stream.filter((e) => e._tag === "OperationEvent" && e.metadata.status === "Running"),
        Stream.runHead,
        Effect.timeout("30 seconds")
      )
      yield* Fiber.interrupt(fiber)
      assert.isTrue(Option.isSome(running))
      assert.deepStrictEqual(yield* leftovers(prefix), [])

      // every instance that came to exist was deleted, the one interrupted mid-create too
      yield* Effect.sleep("1 second") // the last events
      const actions = yield* Ref.get(seen)
      const created = actions.filter((a) => a.endsWith(" instance-created")).map((a) => a.split(" ")[0]!)
      const deleted = actions.filter((a) => a.endsWith(" instance-deleted")).map((a) => a.split(" ")[0]!)
      assert.include(created, midCreate)
      assert.sameMembers(deleted, created)
    }).pipe(Effect.scoped))

  it.effect("untilReady: running (the default condition), and the instance stays", () =>
    Effect.gen(function*() {
      const launch = yield* Launch.Launch
      const instances = yield* Instances.Instances
      const name = uniqueName("lu")
      yield* Effect.addFinalizer(() => deleteInstance(name))
      const instance = yield* launch.untilReady({ name, source: image(server) })
      assert.strictEqual(instance.status, "Running")
      assert.isTrue(yield* instances.exists(name))
    }).pipe(Effect.scoped))

  it.effect("untilReady: an IPv4 address on eth0 (configured inside the container while we wait)", () =>
    Effect.gen(function*() {
      const launch = yield* Launch.Launch
      const instances = yield* Instances.Instances
      const exec = yield* Exec.Exec
      const name = uniqueName("la")
      yield* Effect.addFinalizer(() => deleteInstance(name))
      // documentation addresses on a bridge without any address or uplink: nothing leaves
      const configure = Effect.gen(function*() {
        yield* launch.waitReady(name, Readiness.running, { timeout: "60 seconds" }).pipe(
          Effect.retry({ schedule: Schedule.spaced("100 millis"), times: 100, while: (e) => e._tag === "NotFound" })
        )
        yield* Effect.sleep("500 millis")
        const r = yield* exec.run(name, ["ip", "addr", "add", "198.51.100.77/24", "dev", "eth0"])
        assert.strictEqual(r.exitCode, 0, r.stderr)
      })
      const [instance] = yield* Effect.all([
        launch.untilReady(
          { name, source: image(server), timeout: "60 seconds" },
          Readiness.all(Readiness.running, Readiness.address({ interface: "eth0", family: "inet" }))
        ),
        configure
      ], { concurrency: 2 })
      assert.strictEqual(instance.name, name)
      const state = yield* instances.state(name)
      assert.include(state.network["eth0"]?.addresses.map((a) => a.address) ?? [], "198.51.100.77")
    }).pipe(Effect.scoped))

  it.effect("untilReady: NotReady names the condition and what was seen; the instance is deleted", () =>
    Effect.gen(function*() {
      const launch = yield* Launch.Launch
      const instances = yield* Instances.Instances
      const name = uniqueName("ln")
      const exit = yield* Effect.exit(
        launch.untilReady(
          { name, source: image(server), timeout: "3 seconds" },
          Readiness.address({ interface: "eth0", family: "inet" })
        )
      )
      const error = failureOf(exit)
      assert.strictEqual(error._tag, "NotReady")
      if (error._tag !== "NotReady") return
      assert.strictEqual(error.instance, name)
      assert.strictEqual(error.condition, "inet address (global) on eth0")
      assert.match(error.reason, /^timeout after 3s/)
      // the bridge gives no address: eth0 is up with its link-local IPv6 address only
      assert.match(error.observed, /^eth0 \(up\): fe80:[^ ]+ \(link\)$/)
      assert.isFalse(yield* instances.exists(name))
    }))

  it.effect("untilReady: a command that succeeds; one that keeps failing ends when the schedule does", () =>
    Effect.gen(function*() {
      const launch = yield* Launch.Launch
      const instances = yield* Instances.Instances
      const ok = uniqueName("lc")
      yield* Effect.addFinalizer(() => deleteInstance(ok))
      const instance = yield* launch.untilReady(
        { name: ok, source: image(server) },
        Readiness.command(["sh", "-c", "test \"$GREETING\" = hello"], { environment: { GREETING: "hello" } })
      )
      assert.strictEqual(instance.status, "Running")

      const bad = uniqueName("lc")
      const error = failureOf(
        yield* Effect.exit(launch.untilReady(
          { name: bad, source: image(server), schedule: Schedule.recurs(2) },
          Readiness.command(["sh", "-c", "exit 4"])
        ))
      )
      assert.strictEqual(error._tag, "NotReady")
      if (error._tag !== "NotReady") return
      assert.strictEqual(error.condition, `command ["sh","-c","exit 4"] succeeds`)
      assert.strictEqual(error.observed, "exit 4")
      assert.strictEqual(error.reason, "the schedule gave up")
      assert.isFalse(yield* instances.exists(bad))
    }).pipe(Effect.scoped))

  it.effect("scoped with a check of one's own: retried until it succeeds", () =>
    Effect.gen(function*() {
      const launch = yield* Launch.Launch
      const exec = yield* Exec.Exec
      const name = uniqueName("lk")
      let calls = 0
      const result = yield* Effect.scoped(Effect.gen(function*() {
        yield* launch.scoped({
          name,
          source: image(server),
          readiness: Readiness.check("a marker file exists", ({ instance }) =>
            Effect.gen(function*() {
              calls++
              // the check itself makes the marker on its second call
              if (calls === 2) yield* exec.run(instance, ["touch", "/tmp/ready"])
              const r = yield* exec.run(instance, ["test", "-e", "/tmp/ready"])
              if (r.exitCode !== 0) return yield* Effect.fail(`no marker yet (call ${calls})`)
            }))
        })
        return calls
      }))
      assert.strictEqual(result, 2)
      assert.deepStrictEqual(yield* leftovers(name), [])
    }))

  it.effect("a name that is taken fails with InvalidArgument and the existing instance is untouched", () =>
    Effect.gen(function*() {
      const launch = yield* Launch.Launch
      const instances = yield* Instances.Instances
      const name = uniqueName("lt")
      yield* Effect.addFinalizer(() => deleteInstance(name))
      yield* instances.create({ name, source: image(server), config: { "user.owner": "someone else" } })
      const error = failureOf(yield* Effect.exit(Effect.scoped(launch.scoped({ name, source: image(server) }))))
      assert.strictEqual(error._tag, "InvalidArgument")
      const still = yield* instances.get(name)
      assert.strictEqual(still.config["user.owner"], "someone else")
    }).pipe(Effect.scoped))
}, { timeout: "5 minutes" })
