import * as Command from "@effect/platform/Command"
import * as CommandExecutor from "@effect/platform/CommandExecutor"
import { assert } from "@effect/vitest"
import { Exec } from "effect-lxd"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import { container } from "../support/fixtures.js"
import { forEachServer } from "../support/servers.js"

/** One running container per server suite. */
class Box extends Context.Tag("test/instance-command/Box")<Box, string>() {}

const encode = (s: string) => new TextEncoder().encode(s)

/** Run `effect` with a CommandExecutor for the suite's container. */
const inBox = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(Box, (box) => Effect.provide(effect, Exec.commandExecutor(box)))

/** How many processes in the container run `sleep <marker>` (the bracket keeps grep from matching itself). */
const sleepers = (marker: string) =>
  Command.make("sh", "-c", `ps | grep -c '[s]leep ${marker}' || true`).pipe(
    Command.string,
    Effect.map((s) => Number(s.trim()))
  )

forEachServer("instance command (platform CommandExecutor)", (it, server) => {
  it.layer(Layer.scoped(Box, container(server.env.imageAlias, { prefix: "cmd" })), { timeout: "2 minutes" })(
    (it) => {
      it.effect("Command.string collects stdout", () =>
        inBox(Effect.gen(function*() {
          const out = yield* Command.make("sh", "-c", "echo hello; echo oops >&2; uname -s").pipe(Command.string)
          assert.strictEqual(out, "hello\nLinux\n")
        })))

      it.effect("Command.exitCode gives the status, 127 for a missing program, 128+N after a signal", () =>
        inBox(Effect.gen(function*() {
          assert.strictEqual(yield* Command.make("sh", "-c", "exit 3").pipe(Command.exitCode), 3)
          assert.strictEqual(yield* Command.make("true").pipe(Command.exitCode), 0)
          assert.strictEqual(yield* Command.make("no-such-program-here").pipe(Command.exitCode), 127)
          assert.strictEqual(yield* Command.make("sh", "-c", "kill -9 $$").pipe(Command.exitCode), 137)
        })))

      it.effect("Command.lines with stdin from a Stream", () =>
        inBox(Effect.gen(function*() {
          const lines = yield* Command.make("tr", "a-z", "A-Z").pipe(
            Command.stdin(Stream.make(encode("one\n"), encode("two\nthr"), encode("ee\n"))),
            Command.lines
          )
          assert.deepStrictEqual(lines, ["ONE", "TWO", "THREE"])
          const fed = yield* Command.make("wc", "-c").pipe(Command.feed("12345"), Command.string)
          assert.strictEqual(fed.trim(), "5")
        })))

      it.effect("Command.streamLines streams the output", () =>
        inBox(Effect.gen(function*() {
          const lines = yield* Command.make("seq", "1", "5").pipe(Command.streamLines, Stream.runCollect)
          assert.deepStrictEqual(Chunk.toArray(lines), ["1", "2", "3", "4", "5"])
        })))

      it.effect("Command.env sets variables; extendEnv: false leaves only those", () =>
        inBox(Effect.gen(function*() {
          const withDefaults = yield* Command.make("sh", "-c", "echo \"$GREETING|$HOME\"").pipe(
            Command.env({ GREETING: "hi there" }),
            Command.string
          )
          assert.strictEqual(withDefaults, "hi there|/root\n")
          const clean = yield* Command.make("env").pipe(
            Command.env({ ONLY: "this" }, { extendEnv: false }),
            Command.lines
          )
          assert.deepStrictEqual(clean.filter((l) => l.length > 0), ["ONLY=this"])
        })))

      it.effect("Command.workingDirectory is the command's cwd; a relative one is a BadArgument", () =>
        inBox(Effect.gen(function*() {
          const pwd = yield* Command.make("pwd").pipe(Command.workingDirectory("/tmp"), Command.string)
          assert.strictEqual(pwd, "/tmp\n")
          const error = yield* Command.make("pwd").pipe(Command.workingDirectory("tmp"), Command.string, Effect.flip)
          assert.strictEqual(error._tag, "BadArgument")
          assert.match(error.message, /"pwd" in instance "t-cmd-[a-z0-9]+": .*cwd/)
        })))

      it.effect("Command.runInShell runs /bin/sh -c in the instance", () =>
        inBox(Effect.gen(function*() {
          const out = yield* Command.make("echo", "$((6 * 7))").pipe(Command.runInShell(true), Command.string)
          assert.strictEqual(out, "42\n")
        })))

      it.effect("Command.pipeTo runs a pipeline inside the instance", () =>
        inBox(Effect.gen(function*() {
          const out = yield* Command.make("printf", "pear\\napple\\nfig\\n").pipe(
            Command.pipeTo(Command.make("sort")),
            Command.pipeTo(Command.make("head", "-n", "2")),
            Command.string
          )
          assert.strictEqual(out, "apple\nfig\n")
        })))

      it.effect("Command.stdout with a Sink transduces the output", () =>
        inBox(Effect.gen(function*() {
          const sizes = Sink.map(Sink.collectAll<Uint8Array>(), (chunks) => {
            const total = Chunk.reduce(chunks, 0, (n, c) => n + c.length)
            return encode(`${total}`)
          })
          const out = yield* Command.make("printf", "abcdef").pipe(Command.stdout(sizes), Command.string)
          assert.strictEqual(out, "6")
        })))

      it.scoped("a started Process: stdin, stdout, isRunning, kill with a signal", () =>
        inBox(Effect.gen(function*() {
          const proc = yield* Command.make("sh", "-c", "read line; echo got:$line; sleep 60").pipe(Command.start)
          assert.strictEqual(proc.pid, Exec.unknownPid)
          assert.isTrue(CommandExecutor.ProcessTypeId in proc)
          yield* Stream.run(Stream.make(encode("ping\n")), proc.stdin)
          const first = yield* proc.stdout.pipe(
            Stream.decodeText(),
            Stream.splitLines,
            Stream.take(1),
            Stream.runCollect
          )
          assert.deepStrictEqual(Chunk.toArray(first), ["got:ping"])
          assert.isTrue(yield* proc.isRunning)
          yield* proc.kill("SIGTERM")
          assert.strictEqual(yield* proc.exitCode, 143)
          assert.isFalse(yield* proc.isRunning)
          const bad = yield* Effect.flip(proc.kill("SIGBREAK"))
          assert.strictEqual(bad._tag, "BadArgument")
        })))

      it.effect("interrupting a running command kills it in the instance", () =>
        inBox(Effect.gen(function*() {
          const marker = `${300 + Math.floor(Math.random() * 600)}`
          const fiber = yield* Command.make("sleep", marker).pipe(Command.exitCode, Effect.fork)
          // wait until it runs
          for (let i = 0; i < 100 && (yield* sleepers(marker)) === 0; i++) yield* Effect.sleep("50 millis")
          assert.strictEqual(yield* sleepers(marker), 1)
          const exit = yield* Fiber.interrupt(fiber)
          assert.isTrue(Exit.isInterrupted(exit))
          let left = yield* sleepers(marker)
          for (let i = 0; i < 40 && left > 0; i++) {
            yield* Effect.sleep("50 millis")
            left = yield* sleepers(marker)
          }
          assert.strictEqual(left, 0)
        })))

      it.effect("an instance that does not exist is a SystemError NotFound naming it", () =>
        Effect.gen(function*() {
          const error = yield* Command.make("true").pipe(
            Command.exitCode,
            Effect.provide(Exec.commandExecutor("t-no-such-instance")),
            Effect.flip
          )
          assert.strictEqual(error._tag, "SystemError")
          if (error._tag === "SystemError") assert.strictEqual(error.reason, "NotFound")
          assert.match(error.message, /"true" in instance "t-no-such-instance"/)
        }))
    }
  )
})
