/**
 * The real `lxc` CLI (LXD 5.0.2's, /usr/bin/lxc) against the fake served on a unix socket:
 * `LXD_DIR` points at the fake's directory, `LXD_CONF` and `HOME` at a throwaway one, so the
 * machine's own configuration is never read or written. No daemon is needed; `lxc` is.
 */
import * as Testing from "effect-lxd/testing"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { execFile } from "node:child_process"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "vitest"

const LXC = "/usr/bin/lxc"
const LXC_TIMEOUT = 30_000
const TEST_TIMEOUT = 120_000

interface Run {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

let root: string
let scope: Scope.CloseableScope
let served: Testing.Served

/** Run `lxc` with the throwaway environment; only this child is killed on a timeout. */
const lxc = (args: ReadonlyArray<string>, stdin?: string): Promise<Run> =>
  new Promise((resolve, reject) => {
    const child = execFile(
      LXC,
      [...args],
      {
        env: {
          PATH: process.env.PATH ?? "/usr/bin:/bin",
          HOME: root,
          LXD_DIR: Path.join(root, "lxd"),
          LXD_CONF: Path.join(root, "conf")
        },
        timeout: LXC_TIMEOUT,
        killSignal: "SIGKILL",
        encoding: "utf8",
        maxBuffer: 16 * 1024 * 1024
      },
      (error, stdout, stderr) => {
        if (error === null) return resolve({ code: 0, stdout, stderr })
        if (typeof error.code === "number") return resolve({ code: error.code, stdout, stderr })
        reject(new Error(`lxc ${args.join(" ")} did not finish (${error.message}); stderr: ${stderr}`))
      }
    )
    child.stdin?.end(stdin ?? "")
  })

/** `lxc` that must succeed. */
const ok = async (args: ReadonlyArray<string>, stdin?: string): Promise<string> => {
  const run = await lxc(args, stdin)
  assert.strictEqual(run.code, 0, `lxc ${args.join(" ")} exited with ${run.code}: ${run.stderr}`)
  return run.stdout
}

const names = async (): Promise<Array<string>> =>
  (await ok(["list", "--format", "csv", "-c", "ns"])).split("\n").filter((l) => l.length > 0)

beforeAll(async () => {
  if (!Fs.existsSync(LXC)) {
    throw new Error(`${LXC} is missing: this test runs the real lxc CLI (install the lxd-client package)`)
  }
  root = Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-lxd-lxc-"))
  Fs.mkdirSync(Path.join(root, "lxd"))
  Fs.mkdirSync(Path.join(root, "conf"))
  scope = Effect.runSync(Scope.make())
  served = await Effect.runPromise(
    Testing.serveUnix(Path.join(root, "lxd", "unix.socket")).pipe(Scope.extend(scope))
  )
}, TEST_TIMEOUT)

afterAll(async () => {
  if (scope !== undefined) await Effect.runPromise(Scope.close(scope, Exit.void))
  if (root !== undefined) {
    // closing the scope removed the socket
    const left = Fs.existsSync(Path.join(root, "lxd", "unix.socket"))
    Fs.rmSync(root, { recursive: true, force: true })
    assert.isFalse(left, "the socket file outlived the scope")
  }
})

describe("the real lxc CLI against the fake on a unix socket", () => {
  it("lxc list on an empty server", async () => {
    const table = await ok(["list"])
    assert.match(table, /\|\s*NAME\s*\|\s*STATE\s*\|\s*IPV4\s*\|\s*IPV6\s*\|\s*TYPE\s*\|\s*SNAPSHOTS\s*\|/)
    assert.deepStrictEqual(await names(), [])
    // the fake recorded lxc's own requests, with its user agent
    const requests = await Effect.runPromise(served.fake.requests)
    const listing = requests.find((r) => r.method === "GET" && r.path === "/1.0/instances")
    assert.isDefined(listing)
    assert.match(listing!.headers["user-agent"] ?? "", /^LXD 5\.0\.2/)
    // the throwaway configuration was used, not the machine's
    assert.isTrue(Fs.existsSync(Path.join(root, "conf")))
  }, TEST_TIMEOUT)

  it("lxc launch busybox c1 creates and starts it", async () => {
    const out = await ok(["launch", "busybox", "c1"])
    assert.match(out, /Creating c1/)
    assert.match(out, /Starting c1/)
    assert.deepStrictEqual(await names(), ["c1,RUNNING"])
    assert.deepStrictEqual(await Effect.runPromise(served.fake.instanceNames()), ["c1"])
    const table = await ok(["list"])
    assert.match(table, /\|\s*c1\s*\|\s*RUNNING\s*\|/)
    assert.match(table, /CONTAINER/)
  }, TEST_TIMEOUT)

  it("lxc exec: output and exit codes", async () => {
    const hi = await lxc(["exec", "c1", "--", "echo", "hi"])
    assert.deepStrictEqual(hi, { code: 0, stdout: "hi\n", stderr: "" })
    const three = await lxc(["exec", "c1", "--", "sh", "-c", "exit 3"])
    assert.strictEqual(three.code, 3)
    const err = await lxc(["exec", "c1", "--", "sh", "-c", "echo to-err >&2; exit 5"])
    assert.deepStrictEqual(err, { code: 5, stdout: "", stderr: "to-err\n" })
    const missing = await lxc(["exec", "c1", "--", "no-such-command"])
    assert.strictEqual(missing.code, 127)
    // stdin from a pipe reaches the command
    assert.strictEqual(await ok(["exec", "c1", "--", "cat"], "piped in\n"), "piped in\n")
    // forced interactive mode: one websocket for the terminal, and the control one
    const interactive = await lxc(["exec", "-t", "c1", "--", "sh", "-c", "echo tty; exit 2"])
    assert.strictEqual(interactive.code, 2)
    assert.strictEqual(interactive.stdout.trim(), "tty")
  }, TEST_TIMEOUT)

  it("lxc file push and pull keep the bytes", async () => {
    const local = Path.join(root, "local.bin")
    const back = Path.join(root, "back.bin")
    const bytes = Crypto.randomBytes(200_000)
    Fs.writeFileSync(local, bytes)
    await ok(["file", "push", local, "c1/root/x"])
    await ok(["file", "pull", "c1/root/x", back])
    assert.isTrue(Buffer.compare(Fs.readFileSync(back), bytes) === 0, "pulled bytes differ from pushed ones")
    // the file is in the instance's tree: the fake's cat reads it
    Fs.writeFileSync(local, "text in the tree\n")
    await ok(["file", "push", local, "c1/root/t.txt"])
    assert.strictEqual(await ok(["exec", "c1", "--", "cat", "/root/t.txt"]), "text in the tree\n")
    // a path that does not exist: lxc fails and says why
    const missing = await lxc(["file", "pull", "c1/root/nope", back])
    assert.notStrictEqual(missing.code, 0)
    assert.match(missing.stderr, /not found/i)
  }, TEST_TIMEOUT)

  it("lxc snapshot c1 s1, then lxc info and lxc list show it", async () => {
    await ok(["snapshot", "c1", "s1"])
    const info = await ok(["info", "c1"])
    assert.match(info, /Name: c1/)
    assert.match(info, /Status: RUNNING/)
    // the nic of the default profile, as LXD reports it (a veth with a link-local address)
    assert.match(info, /eth0:\s+Type: broadcast\s+State: UP\s+Host interface: veth[0-9a-f]+/)
    assert.match(info, /inet6:\s+fe80::[0-9a-f:]+\/64 \(link\)/)
    assert.match(info, /Snapshots:[\s\S]*\|\s*s1\s*\|/)
    assert.strictEqual((await ok(["list", "--format", "csv", "-c", "nS"])).trim(), "c1,1")
  }, TEST_TIMEOUT)

  it("lxc waits for an operation that is still running", async () => {
    await Effect.runPromise(served.fake.holdOperations)
    let finished = false
    const launching = lxc(["launch", "busybox", "w1"]).finally(() => {
      finished = true
    })
    try {
      // the create request arrives and its operation is held
      for (let i = 0; i < 200; i++) {
        const requests = await Effect.runPromise(served.fake.requests)
        if (requests.some((r) => r.method === "POST" && r.path === "/1.0/instances")) break
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
      await new Promise((resolve) => setTimeout(resolve, 500))
      assert.isFalse(finished, "lxc launch returned while its operation was still running")
    } finally {
      await Effect.runPromise(served.fake.releaseOperations)
    }
    const run = await launching
    assert.strictEqual(run.code, 0, run.stderr)
    assert.include(await names(), "w1,RUNNING")
    await ok(["delete", "--force", "w1"])
  }, TEST_TIMEOUT)

  it("a fault injected in the fake reaches lxc", async () => {
    await Effect.runPromise(
      served.fake.failNext({
        method: "DELETE",
        path: "/1.0/instances/c1",
        status: 500,
        message: "injected by the test"
      })
    )
    const refused = await lxc(["delete", "--force", "c1"])
    assert.strictEqual(refused.code, 1)
    assert.match(refused.stderr, /injected by the test/)
    assert.deepStrictEqual(await Effect.runPromise(served.fake.instanceNames()), ["c1"])
  }, TEST_TIMEOUT)

  it("lxc delete --force c1 removes it", async () => {
    await ok(["delete", "--force", "c1"])
    assert.deepStrictEqual(await names(), [])
    assert.deepStrictEqual(await Effect.runPromise(served.fake.instanceNames()), [])
  }, TEST_TIMEOUT)

  it("a stopped fake refuses lxc, a started one serves it again", async () => {
    await Effect.runPromise(served.fake.stop)
    const down = await lxc(["list"])
    assert.notStrictEqual(down.code, 0)
    await Effect.runPromise(served.fake.start)
    assert.deepStrictEqual(await names(), [])
  }, TEST_TIMEOUT)
})
