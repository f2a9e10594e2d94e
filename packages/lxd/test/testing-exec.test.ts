/**
 * The test kit's websocket side through the real services: exec over the protocol
 * (stdin, stdout, stderr, control, signals, exit codes), a user's command handler, the
 * file tree, and the events websocket per project.
 */
import { assert, layer } from "@effect/vitest"
import { Events, Exec, Files, Instances, Lxd, Projects } from "effect-lxd"
import * as Testing from "effect-lxd/testing"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"

const image = { type: "image", alias: "busybox" } as const

const failureOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  const failure = exit.cause._tag === "Fail" ? exit.cause.error : undefined
  if (failure === undefined) throw new Error(`expected a typed failure, got ${String(exit.cause)}`)
  return failure
}

// a handler of the test's own: `greet NAME` and `count` (stdin bytes), everything else built in
const commands: Testing.CommandHandler = (ctx) => {
  switch (ctx.command[0]) {
    case "greet":
      return Effect.as(ctx.stdout(`hello ${ctx.command[1] ?? "world"} from ${ctx.instance}\n`), 0)
    case "count":
      return Effect.gen(function*() {
        const chunks = yield* Stream.runCollect(ctx.stdin)
        const n = Chunk.reduce(chunks, 0, (total, c) => total + c.length)
        yield* ctx.stdout(`${n}\n`)
        return 0
      })
    default:
      return undefined
  }
}

layer(Testing.layer({ commands }), { excludeTestServices: true })("testing: exec", (it) => {
  const running = Effect.gen(function*() {
    const instances = yield* Instances.Instances
    if (!(yield* instances.exists("x1"))) yield* instances.create({ name: "x1", source: image, start: true })
    return "x1"
  })

  it.effect("echo, printf and stderr apart from stdout", () =>
    Effect.gen(function*() {
      const exec = yield* Exec.Exec
      const name = yield* running
      const echo = yield* exec.run(name, ["echo", "hi", "there"])
      assert.deepStrictEqual([echo.exitCode, echo.stdout, echo.stderr], [0, "hi there\n", ""])
      const printf = yield* exec.run(name, ["printf", "%s=%d\\n", "n", "42"])
      assert.strictEqual(printf.stdout, "n=42\n")
      const split = yield* exec.run(name, ["sh", "-c", "echo out; echo err >&2; exit 3"])
      assert.deepStrictEqual([split.exitCode, split.stdout, split.stderr], [3, "out\n", "err\n"])
    }))

  it.effect("stdin through cat; exit codes 0, 1, 126, 127", () =>
    Effect.gen(function*() {
      const exec = yield* Exec.Exec
      const files = yield* Files.Files
      const name = yield* running
      const cat = yield* exec.run(name, ["cat"], { stdin: "piped through\n" })
      assert.strictEqual(cat.stdout, "piped through\n")
      assert.strictEqual((yield* exec.run(name, ["true"])).exitCode, 0)
      assert.strictEqual((yield* exec.run(name, ["false"])).exitCode, 1)
      yield* files.write(name, "/root/script.sh", "echo hi", { mode: 0o644 })
      assert.strictEqual((yield* exec.run(name, ["/root/script.sh"])).exitCode, 126)
      const missing = yield* exec.run(name, ["no-such-command"])
      assert.strictEqual(missing.exitCode, 127)
      assert.include(missing.stderr, "no-such-command")
    }))

  it.effect("the user's handler runs with the instance and stdin", () =>
    Effect.gen(function*() {
      const exec = yield* Exec.Exec
      const name = yield* running
      assert.strictEqual((yield* exec.run(name, ["greet", "tests"])).stdout, "hello tests from x1\n")
      const counted = yield* exec.run(name, ["count"], { stdin: new Uint8Array(100_000) })
      assert.strictEqual(counted.stdout, "100000\n")
    }))

  it.effect("a signal ends the command with 128+n; interrupting run kills it", () =>
    Effect.gen(function*() {
      const exec = yield* Exec.Exec
      const instances = yield* Instances.Instances
      const name = yield* running
      const code = yield* Effect.scoped(Effect.gen(function*() {
        const process = yield* exec.start(name, ["sleep", "60"])
        yield* Effect.sleep("100 millis")
        yield* process.kill()
        return yield* process.exitCode
      }))
      assert.strictEqual(code, 143)
      const fiber = yield* Effect.fork(exec.run(name, ["sleep", "60"]))
      yield* Effect.sleep("100 millis")
      assert.strictEqual((yield* instances.state(name)).processes, 2)
      yield* Fiber.interrupt(fiber)
      yield* Effect.sleep("50 millis")
      assert.strictEqual((yield* instances.state(name)).processes, 1)
    }))

  it.effect("exec in a stopped instance is refused; record-output keeps the logs", () =>
    Effect.gen(function*() {
      const exec = yield* Exec.Exec
      const instances = yield* Instances.Instances
      const name = yield* running
      yield* instances.create({ name: "stopped1", source: image })
      const refused = failureOf(yield* Effect.exit(exec.run("stopped1", ["true"])))
      assert.strictEqual(refused._tag, "LXDAPIException")
      yield* instances.delete("stopped1")
      const recorded = yield* exec.run(name, ["sh", "-c", "echo logged; echo oops >&2; exit 2"], {
        recordOutput: true
      })
      assert.deepStrictEqual([recorded.exitCode, recorded.stdout, recorded.stderr], [2, "logged\n", "oops\n"])
    }))
})

layer(Testing.layer({ dialect: "incus-6.0" }), { excludeTestServices: true })("testing: files", (it) => {
  it.effect("write, append, read, stat with mode and owner, list, mkdir, symlink, delete", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      const files = yield* Files.Files
      yield* instances.create({ name: "f1", source: image })
      const read = (p: string) => files.read("f1", p).pipe(Stream.decodeText(), Stream.mkString)
      assert.strictEqual(yield* read("/etc/hostname"), "f1\n")
      yield* files.write("f1", "/root/a.txt", "one\n", { mode: 0o600, uid: 1000, gid: 1001 })
      yield* files.write("f1", "/root/a.txt", "two\n", { write: "append" })
      assert.strictEqual(yield* read("/root/a.txt"), "one\ntwo\n")
      const info = yield* files.stat("f1", "/root/a.txt")
      assert.deepInclude(info, { type: "file", mode: 0o600, uid: 1000, gid: 1001 })
      yield* files.mkdir("f1", "/srv/deep/er", { parents: true })
      assert.deepStrictEqual(yield* files.list("f1", "/srv/deep"), ["er"])
      assert.strictEqual((yield* files.stat("f1", "/srv/deep/er")).type, "directory")
      yield* files.symlink("f1", "/root/link", "/root/a.txt")
      const link = yield* files.stat("f1", "/root/link")
      assert.deepInclude(link, { type: "symlink", target: "/root/a.txt" })
      yield* files.delete("f1", "/root/a.txt")
      assert.strictEqual(failureOf(yield* Effect.exit(files.stat("f1", "/root/a.txt")))._tag, "NotFound")
      const noParent = failureOf(yield* Effect.exit(files.write("f1", "/nope/x", "x")))
      assert.strictEqual(noParent._tag, "NotFound")
      // cat sees the same tree
      yield* files.write("f1", "/tmp/cat-me", "from the tree")
      yield* instances.start("f1")
      assert.strictEqual((yield* (yield* Exec.Exec).run("f1", ["cat", "/tmp/cat-me"])).stdout, "from the tree")
      yield* instances.delete("f1", { force: true })
    }))
})

layer(Testing.layer(), { excludeTestServices: true })("testing: events", (it) => {
  it.effect("lifecycle and operation events of an instance, per project", () =>
    Effect.gen(function*() {
      const events = yield* Events.Events
      const instances = yield* Instances.Instances
      const projects = yield* Projects.Projects
      yield* projects.create({ name: "other" })
      const defaultProject = yield* events.stream({ types: ["lifecycle"] }).pipe(
        Stream.filter((e) => e._tag === "LifecycleEvent"),
        Stream.map((e) => (e._tag === "LifecycleEvent" ? e.metadata.action : "")),
        Stream.take(3),
        Stream.runCollect,
        Effect.fork
      )
      const otherProject = yield* events.stream({ types: ["lifecycle"], project: "other" }).pipe(
        Stream.take(1),
        Stream.runCollect,
        Effect.fork
      )
      const operations = yield* events.stream({ types: ["operation"] }).pipe(
        Stream.filter((e) => e._tag === "OperationEvent" && e.metadata.status === "Success"),
        Stream.take(1),
        Stream.runCollect,
        Effect.fork
      )
      yield* Effect.sleep("100 millis")
      yield* instances.create({ name: "e1", source: image, start: true })
      yield* instances.delete("e1", { force: true })
      const actions = Chunk.toReadonlyArray(yield* Fiber.join(defaultProject))
      assert.deepStrictEqual(actions, ["instance-created", "instance-started", "instance-stopped"])
      const done = Chunk.toReadonlyArray(yield* Fiber.join(operations))
      assert.strictEqual(done.length, 1)
      // nothing from the default project reached the other one's stream
      assert.isTrue((yield* Fiber.poll(otherProject))._tag === "None")
      yield* Lxd.withProject(instances.create({ name: "e2", source: image }), "other")
      const other = Chunk.toReadonlyArray(yield* Fiber.join(otherProject))
      assert.strictEqual(other[0]?._tag, "LifecycleEvent")
      if (other[0]?._tag === "LifecycleEvent") assert.strictEqual(other[0].metadata.source, "/1.0/instances/e2")
      yield* Lxd.withProject(instances.delete("e2"), "other")
      yield* projects.delete("other")
    }))

  it.effect("an unknown event type is refused with TransportError", () =>
    Effect.gen(function*() {
      const events = yield* Events.Events
      const failure = failureOf(yield* Effect.exit(Stream.runDrain(events.stream({ types: ["no-such-type"] }))))
      assert.strictEqual(failure._tag, "TransportError")
    }))
})
