import { assert } from "@effect/vitest"
import { Exec, LxdHttp, Operations } from "effect-lxd"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import * as Crypto from "node:crypto"
import { container } from "../support/fixtures.js"
import { forEachServer } from "../support/servers.js"

/** One running container per server suite (exec needs a running instance, not a fresh one). */
class Box extends Context.Tag("test/exec/Box")<Box, string>() {}

const sha256 = (data: Uint8Array | string) => Crypto.createHash("sha256").update(data).digest("hex")

/** What `seq 1 n` prints. */
const seqOutput = (n: number): Array<Buffer> => {
  const parts: Array<Buffer> = []
  let batch: Array<string> = []
  for (let i = 1; i <= n; i++) {
    batch.push(String(i))
    if (batch.length === 100_000) {
      parts.push(Buffer.from(batch.join("\n") + "\n"))
      batch = []
    }
  }
  if (batch.length > 0) parts.push(Buffer.from(batch.join("\n") + "\n"))
  return parts
}

/** Poll `ref` until its text matches `re` (interactive sessions answer asynchronously). */
const waitForText = (ref: Ref.Ref<string>, re: RegExp) =>
  Effect.gen(function*() {
    for (;;) {
      const text = yield* Ref.get(ref)
      if (re.test(text)) return text
      yield* Effect.sleep("50 millis")
    }
  }).pipe(
    Effect.timeoutFail({ duration: "15 seconds", onTimeout: () => new Error(`no ${re} in the terminal output`) })
  )

/** Wait until the exec operation reports the process as running (signals reach it from then on). */
const untilRunning = (id: string) =>
  Effect.gen(function*() {
    const ops = yield* Operations.Operations
    for (let i = 0; i < 100; i++) {
      if ((yield* ops.get(id)).status === "Running") return
      yield* Effect.sleep("50 millis")
    }
  })

forEachServer("exec", (it, server) => {
  it.layer(Layer.scoped(Box, container(server.env.imageAlias, { prefix: "exec" })), { timeout: "2 minutes" })(
    (it) => {
      it.effect("echo (pylxd test_execute)", () =>
        Effect.gen(function*() {
          const exec = yield* Exec.Exec
          const result = yield* exec.run(yield* Box, ["echo", "test"])
          assert.deepStrictEqual(result, { exitCode: 0, stdout: "test\n", stderr: "" })
        }))

      it.effect("a handler instead of buffering (pylxd test_execute_no_buffer)", () =>
        Effect.gen(function*() {
          const exec = yield* Exec.Exec
          const seen: Array<string> = []
          const result = yield* exec.run(yield* Box, ["echo", "test"], {
            onStdout: (chunk) => Effect.sync(() => seen.push(chunk))
          })
          assert.strictEqual(result.exitCode, 0)
          assert.strictEqual(result.stdout, "")
          assert.strictEqual(seen.join(""), "test\n")
        }))

      it.effect("no decode of \\xff (pylxd test_execute_no_decode)", () =>
        Effect.gen(function*() {
          const exec = yield* Exec.Exec
          const result = yield* exec.run(yield* Box, ["printf", "\\377"], { decode: false })
          assert.instanceOf(result.stdout, Uint8Array)
          assert.deepStrictEqual(Array.from(result.stdout), [0xff])
          assert.strictEqual(result.stderr.length, 0)
        }))

      it.effect("latin-1 decoding (pylxd test_execute_force_decode)", () =>
        Effect.gen(function*() {
          const exec = yield* Exec.Exec
          const result = yield* exec.run(yield* Box, ["printf", "qu\\351"], { encoding: "latin1" })
          assert.strictEqual(result.stdout, "qué")
          // the same bytes as UTF-8 are not "qué"
          const utf8 = yield* exec.run(yield* Box, ["printf", "qu\\351"])
          assert.notStrictEqual(utf8.stdout, "qué")
        }))

      it.effect("an unknown encoding is refused before anything runs", () =>
        Effect.gen(function*() {
          const exec = yield* Exec.Exec
          const error = yield* Effect.flip(exec.run(yield* Box, ["true"], { encoding: "no-such-encoding" }))
          assert.strictEqual(error._tag, "InvalidArgument")
        }))

      it.effect("stdin piped through cat (pylxd test_execute_pipes)", () =>
        Effect.gen(function*() {
          const exec = yield* Exec.Exec
          const seen: Array<string> = []
          const result = yield* exec.run(yield* Box, ["cat", "-"], {
            stdin: "hello\nworld\n",
            onStdout: (chunk) => Effect.sync(() => seen.push(chunk))
          })
          assert.strictEqual(result.exitCode, 0)
          assert.strictEqual(seen.join(""), "hello\nworld\n")
        }))

      it.effect("exit codes 0, 3, 126 and 127", () =>
        Effect.gen(function*() {
          const exec = yield* Exec.Exec
          const box = yield* Box
          assert.strictEqual((yield* exec.run(box, ["true"])).exitCode, 0)
          assert.strictEqual((yield* exec.run(box, ["sh", "-c", "exit 3"])).exitCode, 3)
          assert.strictEqual((yield* exec.run(box, ["/no/such/command"])).exitCode, 127)
          assert.strictEqual((yield* exec.run(box, ["/etc/passwd"])).exitCode, 126)
          assert.strictEqual((yield* exec.run(box, ["/no/such/command"], { recordOutput: true })).exitCode, 127)
        }))

      it.effect("stderr is kept apart from stdout", () =>
        Effect.gen(function*() {
          const exec = yield* Exec.Exec
          const result = yield* exec.run(yield* Box, ["sh", "-c", "echo out; echo err >&2; echo out2; exit 1"])
          assert.deepStrictEqual(result, { exitCode: 1, stdout: "out\nout2\n", stderr: "err\n" })
        }))

      it.effect("environment, cwd and user", () =>
        Effect.gen(function*() {
          const exec = yield* Exec.Exec
          const result = yield* exec.run(yield* Box, ["sh", "-c", "echo $GREETING; pwd; id -u; id -g"], {
            environment: { GREETING: "hi there" },
            cwd: "/etc",
            user: 1234,
            group: 4321
          })
          assert.deepStrictEqual(result, { exitCode: 0, stdout: "hi there\n/etc\n1234\n4321\n", stderr: "" })
          const relative = yield* Effect.flip(exec.run(yield* Box, ["true"], { cwd: "etc" }))
          assert.strictEqual(relative._tag, "InvalidArgument")
        }))

      it.effect("50 MB of output arrives complete and in order", () =>
        Effect.gen(function*() {
          const exec = yield* Exec.Exec
          const box = yield* Box
          const n = 6_500_000
          const expected = Crypto.createHash("sha256")
          let expectedSize = 0
          for (const part of seqOutput(n)) {
            expected.update(part)
            expectedSize += part.length
          }
          const expectedHex = expected.digest("hex")
          const inside = yield* exec.run(box, ["sh", "-c", `seq 1 ${n} | sha256sum`])
          assert.strictEqual(inside.stdout.split(" ")[0], expectedHex)

          const hash = Crypto.createHash("sha256")
          let size = 0
          const code = yield* Effect.scoped(Effect.gen(function*() {
            const proc = yield* exec.start(box, ["seq", "1", String(n)])
            yield* Stream.run(Stream.empty, proc.stdin)
            yield* Stream.runForEach(proc.stdout, (chunk) =>
              Effect.sync(() => {
                hash.update(chunk)
                size += chunk.length
              }))
            return yield* proc.exitCode
          }))
          assert.strictEqual(code, 0)
          assert.isAbove(size, 50_000_000)
          assert.strictEqual(size, expectedSize)
          assert.strictEqual(hash.digest("hex"), expectedHex)
        }), { timeout: 120_000 })

      it.effect("10 MB of stdin come back through cat unchanged", () =>
        Effect.gen(function*() {
          const exec = yield* Exec.Exec
          const input = Crypto.randomBytes(10 * 1024 * 1024)
          const chunks = Stream.range(0, 159).pipe(
            Stream.map((i) => new Uint8Array(input.subarray(i * 65536, (i + 1) * 65536)))
          )
          const result = yield* exec.run(yield* Box, ["cat"], { stdin: chunks, decode: false })
          assert.strictEqual(result.exitCode, 0)
          assert.strictEqual(result.stdout.length, input.length)
          assert.strictEqual(sha256(result.stdout), sha256(input))
        }), { timeout: 120_000 })

      it.effect("SIGTERM to sleep gives exit code 143", () =>
        Effect.gen(function*() {
          const exec = yield* Exec.Exec
          const code = yield* Effect.scoped(Effect.gen(function*() {
            const proc = yield* exec.start(yield* Box, ["sleep", "60"])
            assert.isTrue(yield* proc.isRunning)
            yield* untilRunning(proc.operationId)
            yield* Effect.sleep("300 millis")
            yield* proc.kill()
            return yield* proc.exitCode.pipe(Effect.timeout("20 seconds"))
          }))
          assert.strictEqual(code, 143)
        }))

      it.effect("interactive: stty size follows a resize", () =>
        Effect.gen(function*() {
          const exec = yield* Exec.Exec
          const code = yield* Effect.scoped(Effect.gen(function*() {
            const proc = yield* exec.start(yield* Box, ["sh"], { interactive: true, width: 80, height: 24 })
            const screen = yield* Ref.make("")
            yield* proc.stdout.pipe(
              Stream.decodeText(),
              Stream.runForEach((text) => Ref.update(screen, (s) => s + text)),
              Effect.forkScoped
            )
            const keys = yield* Queue.unbounded<Uint8Array>()
            yield* Stream.fromQueue(keys).pipe(Stream.run(proc.stdin), Effect.forkScoped)
            const type = (line: string) => Queue.offer(keys, new TextEncoder().encode(line + "\n"))
            assert.deepStrictEqual(yield* proc.stderr.pipe(Stream.runCollect, Effect.map(Chunk.toArray)), [])

            yield* type("stty size; echo MARK1")
            yield* waitForText(screen, /24 80\s+MARK1/)
            yield* proc.resize(100, 50)
            yield* type("stty size; echo MARK2")
            yield* waitForText(screen, /50 100\s+MARK2/)
            yield* type("exit 7")
            return yield* proc.exitCode.pipe(Effect.timeout("20 seconds"))
          }))
          assert.strictEqual(code, 7)
        }))

      it.effect("record-output returns the logs", () =>
        Effect.gen(function*() {
          const exec = yield* Exec.Exec
          const result = yield* exec.run(yield* Box, ["sh", "-c", "echo out; echo err >&2; exit 2"], {
            recordOutput: true
          })
          assert.deepStrictEqual(result, { exitCode: 2, stdout: "out\n", stderr: "err\n" })
          const bytes = yield* exec.run(yield* Box, ["printf", "\\377"], { recordOutput: true, decode: false })
          assert.deepStrictEqual(Array.from(bytes.stdout), [0xff])
        }))

      it.effect("record-output refuses stdin and interactive mode", () =>
        Effect.gen(function*() {
          const exec = yield* Exec.Exec
          const a = yield* Effect.flip(exec.run(yield* Box, ["cat"], { recordOutput: true, stdin: "x" }))
          assert.strictEqual(a._tag, "InvalidArgument")
          const b = yield* Effect.flip(exec.run(yield* Box, ["sh"], { recordOutput: true, interactive: true }))
          assert.strictEqual(b._tag, "InvalidArgument")
        }))

      it.effect("a missing instance gives NotFound, a stopped one LXDAPIException, an empty command InvalidArgument", () =>
        Effect.gen(function*() {
          const exec = yield* Exec.Exec
          const missing = yield* Effect.flip(exec.run("t-no-such-instance-here", ["true"]))
          assert.strictEqual(missing._tag, "NotFound")
          const empty = yield* Effect.flip(exec.run(yield* Box, []))
          assert.strictEqual(empty._tag, "InvalidArgument")
          const stopped = yield* Effect.scoped(
            Effect.flatMap(
              container(server.env.imageAlias, { start: false, prefix: "exec-stopped" }),
              (name) => Effect.flip(exec.run(name, ["true"]))
            )
          )
          assert.strictEqual(stopped._tag, "LXDAPIException")
        }))

      it.effect("no secret appears in an operation's error", () =>
        Effect.gen(function*() {
          const http = yield* LxdHttp.LxdHttp
          const failure = yield* Effect.flip(
            Effect.scoped(http.websocket("/1.0/operations/00000000-0000-0000-0000-000000000000/websocket", {
              secret: "s3cr3t-value"
            }))
          )
          assert.notInclude(failure.message, "s3cr3t-value")
          assert.notInclude(JSON.stringify(failure), "s3cr3t-value")
        }))

      it.effect("output can be streamed while the command runs", () =>
        Effect.gen(function*() {
          const exec = yield* Exec.Exec
          const firstLine = yield* Effect.scoped(Effect.gen(function*() {
            const proc = yield* exec.start(yield* Box, ["sh", "-c", "echo first; sleep 30; echo never"])
            // the first line arrives long before the command ends
            const first = yield* proc.stdout.pipe(Stream.decodeText(), Stream.runHead, Effect.timeout("10 seconds"))
            assert.isTrue(yield* proc.isRunning)
            return first
          }))
          assert.deepStrictEqual(firstLine, Option.some("first\n"))
        }))

      it.effect("interrupting run kills the command", () =>
        Effect.gen(function*() {
          const exec = yield* Exec.Exec
          const fiber = yield* Effect.fork(exec.run(yield* Box, ["sleep", "60"]))
          yield* Effect.sleep("1 second")
          yield* Fiber.interrupt(fiber)
          const check = yield* exec.run(yield* Box, ["sh", "-c", "ps | grep -c '[s]leep 60' || true"])
          assert.strictEqual(check.stdout.trim(), "0")
        }))
    }
  )
})
