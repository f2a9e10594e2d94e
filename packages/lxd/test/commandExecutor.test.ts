import * as Command from "@effect/platform/Command"
import { assert, describe, it } from "@effect/vitest"
import * as Option from "effect/Option"
import { execRequest, signalNumber, toPlatformError } from "../src/internal/instanceCommand.js"
import { Forbidden, InvalidArgument, NotFound, TransportError } from "../src/LxdError.js"

const standard = (command: Command.Command): Command.StandardCommand => {
  if (command._tag !== "StandardCommand") throw new Error("expected a standard command")
  return command
}

describe("Exec.commandExecutor: a platform Command as an exec request", () => {
  it("passes the program and arguments as they are", () => {
    const r = execRequest(standard(Command.make("ls", "-l", "a b")))
    assert.deepStrictEqual(r.argv, ["ls", "-l", "a b"])
    assert.deepStrictEqual(r.environment, {})
    assert.isUndefined(r.cwd)
  })

  it("runs in a shell when asked, joined like Node's spawn", () => {
    assert.deepStrictEqual(
      execRequest(standard(Command.make("echo", "$HOME").pipe(Command.runInShell(true)))).argv,
      ["/bin/sh", "-c", "echo $HOME"]
    )
    assert.deepStrictEqual(
      execRequest(standard(Command.make("echo", "x").pipe(Command.runInShell("/bin/bash")))).argv,
      ["/bin/bash", "-c", "echo x"]
    )
  })

  it("merges the executor's defaults with the command's env, cwd winning from the command", () => {
    const cmd = standard(
      Command.make("pwd").pipe(Command.env({ A: "1", B: undefined }), Command.workingDirectory("/srv"))
    )
    const r = execRequest(cmd, { environment: { A: "0", C: "3" }, cwd: "/tmp", user: 1000 })
    assert.deepStrictEqual(r.environment, { A: "1", C: "3" })
    assert.strictEqual(r.cwd, "/srv")
    assert.strictEqual(r.user, 1000)
    assert.isUndefined(r.group)
    assert.strictEqual(execRequest(standard(Command.make("pwd")), { cwd: "/tmp" }).cwd, "/tmp")
  })

  it("a clean environment runs under env -i and sends no environment", () => {
    const cmd = standard(Command.make("printenv").pipe(Command.env({ K: "v w" }, { extendEnv: false })))
    const r = execRequest(cmd)
    assert.deepStrictEqual(r.argv, ["env", "-i", "K=v w", "printenv"])
    assert.deepStrictEqual(r.environment, {})
  })

  it("maps signal names to Linux numbers, none for names Linux lacks", () => {
    assert.deepStrictEqual(signalNumber("SIGTERM"), Option.some(15))
    assert.deepStrictEqual(signalNumber("SIGKILL"), Option.some(9))
    assert.deepStrictEqual(signalNumber("SIGUSR1"), Option.some(10))
    assert.deepStrictEqual(signalNumber("SIGWINCH"), Option.some(28))
    assert.isTrue(Option.isNone(signalNumber("SIGBREAK")))
    assert.isTrue(Option.isNone(signalNumber("SIGINFO")))
  })
})

describe("Exec.commandExecutor: errors as PlatformError", () => {
  const where = { instance: "web1", program: "ls" }

  it("a refused argument is a BadArgument of module Command", () => {
    const e = toPlatformError("start", where, new InvalidArgument({ argument: "cwd", reason: "not absolute" }))
    assert.strictEqual(e._tag, "BadArgument")
    assert.strictEqual(e.module, "Command")
    assert.strictEqual(e.method, "start")
    assert.match(e.message, /^Command\.start: "ls" in instance "web1": .*cwd/)
  })

  it("a missing instance is a SystemError NotFound with the original cause", () => {
    const cause = new NotFound({
      method: "POST",
      path: "/1.0/instances/web1/exec",
      serverMessage: "Instance not found"
    })
    const e = toPlatformError("start", where, cause)
    assert.strictEqual(e._tag, "SystemError")
    if (e._tag === "SystemError") assert.strictEqual(e.reason, "NotFound")
    assert.strictEqual(e.cause, cause)
    assert.match(e.message, /Instance not found/)
  })

  it("other server answers and transport failures keep their meaning", () => {
    const forbidden = new Forbidden({
      method: "POST",
      path: "/1.0/instances/web1/exec",
      status: 403,
      errorCode: 403,
      serverMessage: "not authorized"
    })
    const e1 = toPlatformError("start", where, forbidden)
    assert.isTrue(e1._tag === "SystemError" && e1.reason === "PermissionDenied")
    const timeout = new TransportError({ address: "unix", method: "GET", path: "/1.0", reason: "no answer within 2m" })
    const e2 = toPlatformError("exitCode", where, timeout)
    assert.isTrue(e2._tag === "SystemError" && e2.reason === "TimedOut")
  })
})
