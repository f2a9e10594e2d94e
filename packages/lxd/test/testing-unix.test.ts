/**
 * The fake served on a unix socket (`Testing.serveUnix`), with the library itself as the
 * client (`Lxd.layerUnix` pointed at the socket): instances, exec, files and events over a
 * real socket and real websockets; faults; the scope closing; the daemon stopping.
 */
import { assert, describe, it } from "@effect/vitest"
import { Events, Exec, Files, Instances, Lxd } from "effect-lxd"
import * as Testing from "effect-lxd/testing"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"

const image = { type: "image", alias: "busybox" } as const
// real sockets and websockets, on a machine that may be busy
const TIMEOUT = 60_000

const tempSocket = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-lxd-unix-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
).pipe(Effect.map((dir) => Path.join(dir, "unix.socket")))

const failureOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  const failure = exit.cause._tag === "Fail" ? exit.cause.error : undefined
  if (failure === undefined) throw new Error(`expected a typed failure, got ${String(exit.cause)}`)
  return failure
}

/** Whether a raw connection to the socket is accepted and stays open for a moment. */
const connectionSurvives = (path: string): Effect.Effect<boolean> =>
  Effect.async<boolean>((resume) => {
    const socket = Net.connect(path)
    let settled = false
    const done = (alive: boolean) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      resume(Effect.succeed(alive))
    }
    const timer = setTimeout(() => done(true), 300)
    socket.on("close", () => done(false))
    socket.on("error", () => done(false))
  })

describe("testing: the fake on a unix socket, with Lxd.layerUnix as the client", () => {
  it.live("instances, exec, files and events over the socket", () =>
    Effect.gen(function*() {
      const path = yield* tempSocket
      const served = yield* Testing.serveUnix(path)
      assert.strictEqual(served.path, path)
      // the socket file is for its owner only
      assert.strictEqual(Fs.statSync(path).mode & 0o777, 0o600)
      yield* Effect.gen(function*() {
        const instances = yield* Instances.Instances
        const exec = yield* Exec.Exec
        const files = yield* Files.Files
        const events = yield* Events.Events
        const lifecycle = yield* events.subscribe({ types: ["lifecycle"] })
        const actions = yield* lifecycle.pipe(
          Stream.filter((e) => e._tag === "LifecycleEvent"),
          Stream.map((e) => (e._tag === "LifecycleEvent" ? e.metadata.action : "")),
          Stream.take(2),
          Stream.runCollect,
          Effect.fork
        )
        yield* instances.create({ name: "u1", source: image, start: true })
        assert.deepStrictEqual(Chunk.toReadonlyArray(yield* Fiber.join(actions)), [
          "instance-created",
          "instance-started"
        ])
        assert.strictEqual((yield* instances.get("u1")).status, "Running")
        const echo = yield* exec.run("u1", ["echo", "over", "the", "socket"])
        assert.strictEqual(echo.stdout, "over the socket\n")
        assert.strictEqual(echo.exitCode, 0)
        const split = yield* exec.run("u1", ["sh", "-c", "echo out; echo err >&2; exit 4"])
        assert.deepStrictEqual([split.stdout, split.stderr, split.exitCode], ["out\n", "err\n", 4])
        const cat = yield* exec.run("u1", ["cat"], { stdin: "through stdin\n" })
        assert.strictEqual(cat.stdout, "through stdin\n")
        const bytes = new Uint8Array(150_000).map((_, i) => (i * 7) % 256)
        yield* files.write("u1", "/root/data.bin", bytes)
        const back = yield* files.read("u1", "/root/data.bin").pipe(Stream.runCollect)
        const joined = new Uint8Array(Chunk.reduce(back, 0, (n, c) => n + c.length))
        let at = 0
        for (const c of back) {
          joined.set(c, at)
          at += c.length
        }
        assert.deepStrictEqual(joined, bytes)
        yield* instances.delete("u1", { force: true })
        assert.deepStrictEqual(yield* served.fake.instanceNames(), [])
        // the requests came over the socket and were recorded as in process
        const recorded = yield* served.fake.requests
        assert.isTrue(recorded.some((r) => r.method === "POST" && r.path === "/1.0/instances/u1/exec"))
        assert.isTrue(recorded.some((r) => r.method === "POST" && r.path === "/1.0/instances/u1/files"))
      }).pipe(Effect.provide(Lxd.layerUnix({ socketPath: path })))
    }).pipe(Effect.scoped), TIMEOUT)

  it.live("faults apply over the socket: failNext, a connection dropped mid-body", () =>
    Effect.gen(function*() {
      const path = yield* tempSocket
      const served = yield* Testing.serveUnix(path)
      yield* Effect.gen(function*() {
        const instances = yield* Instances.Instances
        yield* instances.create({ name: "f1", source: image })
        yield* served.fake.failNext({ method: "GET", path: "/1.0/instances/f1", status: 500, message: "from the test" })
        const failed = failureOf(yield* Effect.exit(instances.get("f1")))
        assert.strictEqual(failed._tag, "LXDAPIException")
        assert.include(failed.message, "from the test")
        yield* served.fake.dropConnection({ method: "GET", path: "/1.0/instances/f1" })
        const dropped = failureOf(yield* Effect.exit(instances.get("f1")))
        assert.strictEqual(dropped._tag, "TransportError")
        // and the next one is answered
        assert.strictEqual((yield* instances.get("f1")).name, "f1")
      }).pipe(Effect.provide(Lxd.layerUnix({ socketPath: path })))
    }).pipe(Effect.scoped), TIMEOUT)

  it.live("closing the scope closes open websockets and removes the socket", () =>
    Effect.gen(function*() {
      const path = yield* tempSocket
      const scope = yield* Scope.make()
      const served = yield* Testing.serveUnix(path).pipe(Scope.extend(scope))
      assert.isTrue(Fs.existsSync(path))
      yield* Effect.gen(function*() {
        const instances = yield* Instances.Instances
        const events = yield* Events.Events
        const exec = yield* Exec.Exec
        yield* instances.create({ name: "s1", source: image, start: true })
        const stream = yield* events.subscribe({ types: ["lifecycle"] })
        const watching = yield* Effect.fork(Stream.runDrain(stream))
        const sleeping = yield* Effect.fork(exec.run("s1", ["sleep", "60"]))
        // the event socket and the command's sockets are open on the fake
        yield* served.fake.openWebSockets.pipe(
          Effect.repeat({ until: (n) => n >= 4, schedule: Schedule.spaced("20 millis") }),
          Effect.timeoutFail({ duration: "20 seconds", onTimeout: () => new Error("the websockets never opened") })
        )
        yield* Scope.close(scope, Exit.void)
        assert.isFalse(Fs.existsSync(path), "the socket file outlived the scope")
        assert.strictEqual(yield* served.fake.openWebSockets, 0)
        const ended = yield* Fiber.join(watching).pipe(Effect.timeout("5 seconds"), Effect.exit)
        assert.strictEqual(failureOf(ended)._tag, "TransportError")
        const lost = yield* Fiber.join(sleeping).pipe(Effect.timeout("5 seconds"), Effect.exit)
        assert.isTrue(Exit.isFailure(lost))
        // nobody listens any more
        assert.isFalse(yield* connectionSurvives(path))
      }).pipe(Effect.provide(Lxd.layerUnix({ socketPath: path })))
    }).pipe(Effect.scoped), TIMEOUT)

  it.live(
    "stop closes websockets and refuses connections; start serves the same state again",
    () =>
      Effect.gen(function*() {
        const path = yield* tempSocket
        const served = yield* Testing.serveUnix(path)
        yield* Effect.gen(function*() {
          const instances = yield* Instances.Instances
          const events = yield* Events.Events
          yield* instances.create({ name: "d1", source: image, start: true })
          const stream = yield* events.subscribe({ types: ["lifecycle"] })
          const watching = yield* Effect.fork(Stream.runDrain(stream))
          assert.isTrue(yield* connectionSurvives(path))
          yield* served.fake.stop
          assert.isFalse(yield* served.fake.isRunning)
          const ended = yield* Fiber.join(watching).pipe(Effect.timeout("5 seconds"), Effect.exit)
          assert.strictEqual(failureOf(ended)._tag, "TransportError")
          assert.strictEqual(yield* served.fake.openWebSockets, 0)
          assert.strictEqual(failureOf(yield* Effect.exit(instances.get("d1")))._tag, "TransportError")
          assert.isFalse(yield* connectionSurvives(path))
          // the socket stays while stopped (a stopped daemon's socket refuses)
          assert.isTrue(Fs.existsSync(path))
          yield* served.fake.start
          assert.isTrue(yield* served.fake.isRunning)
          assert.isTrue(yield* connectionSurvives(path))
          assert.strictEqual((yield* instances.get("d1")).status, "Running")
          yield* instances.delete("d1", { force: true })
        }).pipe(Effect.provide(Lxd.layerUnix({ socketPath: path })))
      }).pipe(Effect.scoped),
    TIMEOUT
  )

  it.live("a path that exists is refused and left alone", () =>
    Effect.gen(function*() {
      const path = yield* tempSocket
      Fs.writeFileSync(path, "not a socket")
      const refused = failureOf(yield* Effect.exit(Effect.scoped(Testing.serveUnix(path))))
      assert.strictEqual(refused._tag, "TransportError")
      assert.strictEqual(Fs.readFileSync(path, "utf8"), "not a socket")
    }).pipe(Effect.scoped), TIMEOUT)

  it.live("layerServeUnix provides the fake and its socket path", () =>
    Effect.gen(function*() {
      const path = yield* tempSocket
      yield* Effect.gen(function*() {
        const socket = yield* Testing.FakeSocket
        const fake = yield* Testing.FakeLxd
        assert.strictEqual(socket.path, path)
        const names = yield* Effect.gen(function*() {
          yield* (yield* Instances.Instances).create({ name: "l1", source: image })
          return yield* fake.instanceNames()
        }).pipe(Effect.provide(Lxd.layerUnix({ socketPath: socket.path })))
        assert.deepStrictEqual(names, ["l1"])
      }).pipe(Effect.provide(Testing.layerServeUnix(path)))
      assert.isFalse(Fs.existsSync(path))
    }).pipe(Effect.scoped), TIMEOUT)
})
