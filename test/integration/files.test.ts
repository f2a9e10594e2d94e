import { assert } from "@effect/vitest"
import { Exec, Files, LxdHttp } from "effect-lxd"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as NodePath from "node:path"
import { container } from "../support/fixtures.js"
import { forEachServer } from "../support/servers.js"

class Box extends Context.Tag("test/files/Box")<Box, string>() {}

const readAll = (stream: Stream.Stream<Uint8Array, unknown>) =>
  Stream.runCollect(stream).pipe(Effect.map((chunks) => Buffer.concat(Chunk.toArray(chunks))))

/** A fresh local temporary directory, removed when the scope closes. */
const tempDir = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(NodePath.join(Os.tmpdir(), "effect-lxd-files-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

let counter = 0
const remoteDir = () => `/tmp/t-files-${process.pid}-${Date.now()}-${counter++}`

forEachServer("files", (it, server) => {
  it.layer(Layer.scoped(Box, container(server.env.imageAlias, { prefix: "files" })), { timeout: "2 minutes" })(
    (it) => {
      it.effect("put and get of binary data round-trip (pylxd test_put_get_file)", () =>
        Effect.gen(function*() {
          const files = yield* Files.Files
          const box = yield* Box
          const data = Buffer.concat([
            Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
            Crypto.randomBytes(3 << 20)
          ])
          const p = remoteDir() + ".bin"
          yield* files.write(box, p, new Uint8Array(data))
          const back = yield* readAll(files.read(box, p))
          assert.strictEqual(back.length, data.length)
          assert.isTrue(back.equals(data))
        }))

      it.effect("write from a string and from a stream", () =>
        Effect.gen(function*() {
          const files = yield* Files.Files
          const box = yield* Box
          const p = remoteDir()
          yield* files.write(box, p, "héllo\n")
          assert.strictEqual((yield* readAll(files.read(box, p))).toString("utf8"), "héllo\n")
          const parts = Array.from({ length: 50 }, (_, i) => new TextEncoder().encode(`line ${i}\n`))
          yield* files.write(box, p, Stream.fromIterable(parts))
          const expected = parts.map((b) => Buffer.from(b).toString()).join("")
          assert.strictEqual((yield* readAll(files.read(box, p))).toString("utf8"), expected)
        }))

      it.effect("append mode", () =>
        Effect.gen(function*() {
          const files = yield* Files.Files
          const box = yield* Box
          const p = remoteDir()
          yield* files.write(box, p, "one\n")
          yield* files.write(box, p, "two\n", { write: "append" })
          yield* files.write(box, p, Stream.make(new TextEncoder().encode("three\n")), { write: "append" })
          assert.strictEqual((yield* readAll(files.read(box, p))).toString(), "one\ntwo\nthree\n")
          yield* files.write(box, p, "over\n", { write: "overwrite" })
          assert.strictEqual((yield* readAll(files.read(box, p))).toString(), "over\n")
        }))

      it.effect("mode, uid and gid are honoured", () =>
        Effect.gen(function*() {
          const files = yield* Files.Files
          const exec = yield* Exec.Exec
          const box = yield* Box
          const p = remoteDir()
          yield* files.write(box, p, "secret\n", { mode: 0o640, uid: 1234, gid: 4321 })
          const info = yield* files.stat(box, p)
          assert.deepStrictEqual(
            { type: info.type, mode: info.mode, uid: info.uid, gid: info.gid },
            { type: "file", mode: 0o640, uid: 1234, gid: 4321 }
          )
          // as the instance itself sees it
          const inside = yield* exec.run(box, ["stat", "-c", "%a %u %g", p])
          assert.strictEqual(inside.stdout.trim(), "640 1234 4321")
          assert.strictEqual(Files.formatMode(0o755), "0755")
        }))

      it.effect("mkdir with parents, list, stat of a directory", () =>
        Effect.gen(function*() {
          const files = yield* Files.Files
          const box = yield* Box
          const base = remoteDir()
          const deep = `${base}/a/b/c`
          // without parents, a missing parent is an error
          const orphan = yield* Effect.flip(files.mkdir(box, deep))
          assert.oneOf(orphan._tag, ["NotFound", "LXDAPIException"])
          yield* files.mkdir(box, deep, { parents: true, mode: 0o750 })
          const info = yield* files.stat(box, deep)
          assert.strictEqual(info.type, "directory")
          assert.strictEqual(info.mode, 0o750)
          // existing directories are left alone
          yield* files.mkdir(box, deep, { parents: true })
          yield* files.write(box, `${base}/a/file.txt`, "x")
          const names = yield* files.list(box, `${base}/a`)
          assert.deepStrictEqual([...names].sort(), ["b", "file.txt"])
          const notDir = yield* Effect.flip(files.list(box, `${base}/a/file.txt`))
          assert.strictEqual(notDir._tag, "InvalidArgument")
          const readDir = yield* Effect.flip(readAll(files.read(box, `${base}/a`)))
          assert.strictEqual((readDir as { _tag: string })._tag, "InvalidArgument")
        }))

      it.effect("symlinks: create, stat gives the target, read follows it", () =>
        Effect.gen(function*() {
          const files = yield* Files.Files
          const box = yield* Box
          const base = remoteDir()
          yield* files.mkdir(box, base, { parents: true })
          yield* files.write(box, `${base}/real.txt`, "real contents\n")
          yield* files.symlink(box, `${base}/link.txt`, `${base}/real.txt`)
          const info = yield* files.stat(box, `${base}/link.txt`)
          assert.strictEqual(info.type, "symlink")
          assert.strictEqual(info.target, `${base}/real.txt`)
          assert.strictEqual((yield* readAll(files.read(box, `${base}/link.txt`))).toString(), "real contents\n")
        }))

      it.effect("delete; a missing file gives NotFound", () =>
        Effect.gen(function*() {
          const files = yield* Files.Files
          const box = yield* Box
          const p = remoteDir()
          yield* files.write(box, p, "bye")
          yield* files.delete(box, p)
          const gone = yield* Effect.flip(files.stat(box, p))
          assert.strictEqual(gone._tag, "NotFound")
          const read = yield* Effect.flip(readAll(files.read(box, p)))
          assert.strictEqual((read as { _tag: string })._tag, "NotFound")
          const again = yield* Effect.flip(files.delete(box, p))
          assert.strictEqual(again._tag, "NotFound")
        }))

      it.effect("relative paths are refused before any request", () =>
        Effect.gen(function*() {
          const files = yield* Files.Files
          const box = yield* Box
          for (
            const attempt of [
              files.write(box, "etc/passwd", "x"),
              files.stat(box, "etc"),
              files.mkdir(box, "a/b", { parents: true }),
              files.delete(box, "x"),
              Stream.runDrain(files.read(box, "../etc/passwd"))
            ]
          ) {
            const error = yield* Effect.flip(attempt)
            assert.strictEqual((error as { _tag: string })._tag, "InvalidArgument")
          }
        }))

      it.scoped("recursive push and pull of a tree keep contents, modes and symlinks", () =>
        Effect.gen(function*() {
          const files = yield* Files.Files
          const exec = yield* Exec.Exec
          const box = yield* Box
          const src = yield* tempDir
          const dst = yield* tempDir
          // a small tree: nested directories, modes, an empty directory, a symlink, a big file
          Fs.mkdirSync(NodePath.join(src, "bin"))
          Fs.mkdirSync(NodePath.join(src, "etc/conf.d"), { recursive: true })
          Fs.mkdirSync(NodePath.join(src, "empty"))
          Fs.writeFileSync(NodePath.join(src, "bin/run.sh"), "#!/bin/sh\necho ran\n")
          Fs.chmodSync(NodePath.join(src, "bin/run.sh"), 0o755)
          Fs.writeFileSync(NodePath.join(src, "etc/conf.d/app.conf"), "key=value\n")
          Fs.chmodSync(NodePath.join(src, "etc/conf.d/app.conf"), 0o600)
          Fs.chmodSync(NodePath.join(src, "etc/conf.d"), 0o750)
          const big = Crypto.randomBytes(2 << 20)
          Fs.writeFileSync(NodePath.join(src, "data.bin"), big)
          Fs.chmodSync(NodePath.join(src, "data.bin"), 0o644)
          for (let i = 0; i < 20; i++) Fs.writeFileSync(NodePath.join(src, "etc", `f${i}.txt`), `file ${i}\n`)
          Fs.symlinkSync("bin/run.sh", NodePath.join(src, "run"))

          const remote = `${remoteDir()}/tree`
          yield* files.push(box, src, remote, { concurrency: 4 })

          const ran = yield* exec.run(box, [`${remote}/bin/run.sh`])
          assert.strictEqual(ran.stdout, "ran\n")
          const modes = yield* exec.run(box, [
            "stat",
            "-c",
            "%n %a",
            `${remote}/etc/conf.d`,
            `${remote}/etc/conf.d/app.conf`,
            `${remote}/data.bin`
          ])
          assert.strictEqual(
            modes.stdout,
            `${remote}/etc/conf.d 750\n${remote}/etc/conf.d/app.conf 600\n${remote}/data.bin 644\n`
          )
          const sum = yield* exec.run(box, ["sha256sum", `${remote}/data.bin`])
          assert.strictEqual(sum.stdout.split(" ")[0], Crypto.createHash("sha256").update(big).digest("hex"))
          assert.strictEqual((yield* files.stat(box, `${remote}/run`)).type, "symlink")
          assert.strictEqual((yield* files.stat(box, `${remote}/empty`)).type, "directory")

          const back = NodePath.join(dst, "copy")
          yield* files.pull(box, remote, back, { concurrency: 4 })
          assert.isTrue(Fs.readFileSync(NodePath.join(back, "data.bin")).equals(big))
          assert.strictEqual(Fs.readFileSync(NodePath.join(back, "etc/conf.d/app.conf"), "utf8"), "key=value\n")
          assert.strictEqual(Fs.statSync(NodePath.join(back, "bin/run.sh")).mode & 0o777, 0o755)
          assert.strictEqual(Fs.statSync(NodePath.join(back, "etc/conf.d/app.conf")).mode & 0o777, 0o600)
          assert.strictEqual(Fs.statSync(NodePath.join(back, "etc/conf.d")).mode & 0o777, 0o750)
          assert.isTrue(Fs.statSync(NodePath.join(back, "empty")).isDirectory())
          assert.isTrue(Fs.lstatSync(NodePath.join(back, "run")).isSymbolicLink())
          for (let i = 0; i < 20; i++) {
            assert.strictEqual(Fs.readFileSync(NodePath.join(back, "etc", `f${i}.txt`), "utf8"), `file ${i}\n`)
          }
          const count = (dir: string): number =>
            Fs.readdirSync(dir, { withFileTypes: true }).reduce(
              (n, e) => n + 1 + (e.isDirectory() ? count(NodePath.join(dir, e.name)) : 0),
              0
            )
          assert.strictEqual(count(back), count(src))
        }), { timeout: 120_000 })

      it.scoped(
        "one large file pushed and pulled (the bulk path) is byte-identical and leaves no connection",
        () =>
          Effect.gen(function*() {
            const files = yield* Files.Files
            const exec = yield* Exec.Exec
            const box = yield* Box
            const dir = yield* tempDir
            const data = Crypto.randomBytes((24 << 20) + 4321)
            Fs.writeFileSync(NodePath.join(dir, "big.bin"), data, { mode: 0o604 })
            const remote = `${remoteDir()}.big`
            yield* files.push(box, NodePath.join(dir, "big.bin"), remote)
            const sum = yield* exec.run(box, ["sha256sum", remote])
            assert.strictEqual(sum.stdout.split(" ")[0], Crypto.createHash("sha256").update(data).digest("hex"))
            yield* files.pull(box, remote, NodePath.join(dir, "back.bin"))
            assert.isTrue(Fs.readFileSync(NodePath.join(dir, "back.bin")).equals(data))
            assert.strictEqual(Fs.statSync(NodePath.join(dir, "back.bin")).mode & 0o777, 0o604)
            assert.strictEqual(LxdHttp.openBulkConnectionCount(), 0)
          }),
        { timeout: 120_000 }
      )

      it.scoped("a file pushed to a missing instance or pulled from a missing path fails with NotFound", () =>
        Effect.gen(function*() {
          const files = yield* Files.Files
          const box = yield* Box
          const dir = yield* tempDir
          // larger than the socket buffers: the daemon refuses before reading the body
          Fs.writeFileSync(NodePath.join(dir, "f.bin"), Crypto.randomBytes(8 << 20))
          const pushed = yield* Effect.flip(files.push("no-such-instance-bulk", NodePath.join(dir, "f.bin"), "/tmp/f"))
          assert.strictEqual(pushed._tag, "NotFound")
          const pulled = yield* Effect.flip(files.pull(box, `${remoteDir()}.missing`, NodePath.join(dir, "x")))
          assert.strictEqual(pulled._tag, "NotFound")
          assert.strictEqual(LxdHttp.openBulkConnectionCount(), 0)
        }))

      it.scoped.skipIf(server.lacks("bulk-path"))(
        "interrupting a large pull closes its SFTP session, and the files API's answer was dropped before it (needs bulk-path)",
        () =>
          Effect.gen(function*() {
            const files = yield* Files.Files
            const exec = yield* Exec.Exec
            const box = yield* Box
            const dir = yield* tempDir
            const remote = `${remoteDir()}.zero`
            yield* exec.run(box, ["sh", "-c", `head -c 268435456 /dev/zero > ${remote}`])
            const fiber = yield* Effect.fork(files.pull(box, remote, NodePath.join(dir, "z.bin")))
            // some of it has arrived: the transfer is under way
            for (let i = 0; i < 500; i++) {
              const size = Fs.existsSync(NodePath.join(dir, "z.bin"))
                ? Fs.statSync(NodePath.join(dir, "z.bin")).size
                : 0
              if (size > 0) break
              yield* Effect.sleep("10 millis")
            }
            // the GET that told the size is gone; the SFTP session carries the transfer
            assert.strictEqual(LxdHttp.openBulkConnectionCount(), 0)
            assert.strictEqual(LxdHttp.openUpgradedSocketCount(), 1)
            const exit = yield* Fiber.interrupt(fiber)
            assert.isTrue(
              Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause),
              Exit.isFailure(exit) ? Cause.pretty(exit.cause) : "succeeded"
            )
            assert.strictEqual(LxdHttp.openUpgradedSocketCount(), 0)
            assert.strictEqual(LxdHttp.openBulkConnectionCount(), 0)
            // the part that had arrived is removed, not left as if it were the file
            assert.isFalse(Fs.existsSync(NodePath.join(dir, "z.bin")))
            yield* exec.run(box, ["rm", "-f", remote])
          }),
        { timeout: 120_000 }
      )

      /** The most upgraded (SFTP) connections open at once while `effect` runs. */
      const peakUpgraded = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
        Effect.gen(function*() {
          let peak = 0
          const watch = yield* Effect.fork(Effect.forever(Effect.zipRight(
            Effect.sync(() => {
              peak = Math.max(peak, LxdHttp.openUpgradedSocketCount())
            }),
            Effect.sleep("1 millis")
          )))
          yield* effect
          yield* Fiber.interrupt(watch)
          return peak
        })

      it.scoped.skipIf(server.lacks("bulk-path"))(
        "a large file is pushed over SFTP, a small one with one POST, and neither leaves a connection (needs bulk-path)",
        () =>
          Effect.gen(function*() {
            const files = yield* Files.Files
            const exec = yield* Exec.Exec
            const box = yield* Box
            const dir = yield* tempDir
            const big = Crypto.randomBytes((16 << 20) + 77)
            const small = Crypto.randomBytes(1 << 20)
            Fs.writeFileSync(NodePath.join(dir, "big.bin"), big)
            Fs.writeFileSync(NodePath.join(dir, "small.bin"), small)
            const remote = remoteDir()
            const bigPeak = yield* peakUpgraded(files.push(box, NodePath.join(dir, "big.bin"), `${remote}.big`))
            const smallPeak = yield* peakUpgraded(files.push(box, NodePath.join(dir, "small.bin"), `${remote}.small`))
            assert.strictEqual(bigPeak, 1)
            assert.strictEqual(smallPeak, 0)
            const sums = (yield* exec.run(box, ["sha256sum", `${remote}.big`, `${remote}.small`])).stdout
            assert.include(sums, Crypto.createHash("sha256").update(big).digest("hex"))
            assert.include(sums, Crypto.createHash("sha256").update(small).digest("hex"))
            assert.strictEqual(LxdHttp.openUpgradedSocketCount(), 0)
            assert.strictEqual(LxdHttp.openBulkConnectionCount(), 0)
          }),
        { timeout: 120_000 }
      )

      it.scoped.skipIf(server.lacks("bulk-path"))(
        "a large file is pulled over SFTP (alone or in a tree), a small one with one GET, and neither leaves a connection (needs bulk-path)",
        () =>
          Effect.gen(function*() {
            const files = yield* Files.Files
            const box = yield* Box
            const dir = yield* tempDir
            const big = Crypto.randomBytes((16 << 20) + 77)
            const small = Crypto.randomBytes(1 << 20)
            const remote = remoteDir()
            yield* files.write(box, `${remote}.big`, big, { mode: 0o640 })
            yield* files.write(box, `${remote}.small`, small)
            const bigPeak = yield* peakUpgraded(files.pull(box, `${remote}.big`, NodePath.join(dir, "big.bin")))
            const smallPeak = yield* peakUpgraded(files.pull(box, `${remote}.small`, NodePath.join(dir, "small.bin")))
            assert.strictEqual(bigPeak, 1)
            assert.strictEqual(smallPeak, 0)
            assert.isTrue(Fs.readFileSync(NodePath.join(dir, "big.bin")).equals(big))
            assert.isTrue(Fs.readFileSync(NodePath.join(dir, "small.bin")).equals(small))
            // the remote mode, on either path
            assert.strictEqual(Fs.statSync(NodePath.join(dir, "big.bin")).mode & 0o7777, 0o640)
            // in a tree: the large file over SFTP, a link beside it stays a link
            yield* files.mkdir(box, `${remote}.tree`)
            yield* files.write(box, `${remote}.tree/plain`, big)
            yield* files.symlink(box, `${remote}.tree/link`, `${remote}.big`)
            const tree = NodePath.join(dir, "tree")
            const treePeak = yield* peakUpgraded(files.pull(box, `${remote}.tree`, tree))
            assert.strictEqual(treePeak, 1)
            assert.isTrue(Fs.readFileSync(NodePath.join(tree, "plain")).equals(big))
            assert.strictEqual(Fs.readlinkSync(NodePath.join(tree, "link")), `${remote}.big`)
            assert.strictEqual(LxdHttp.openUpgradedSocketCount(), 0)
            assert.strictEqual(LxdHttp.openBulkConnectionCount(), 0)
          }),
        { timeout: 120_000 }
      )

      // the same rules on both paths: below the SFTP threshold (one POST) and above it
      for (const [path, size] of [["POST", 1 << 20], ["SFTP", 6 << 20]] as const) {
        it.scoped(
          `push (${path} size): a new file gets the local mode and the uid/gid given; over an existing file, the contents are replaced and its mode and owner stay`,
          () =>
            Effect.gen(function*() {
              const files = yield* Files.Files
              const box = yield* Box
              const dir = yield* tempDir
              const local = NodePath.join(dir, "f.bin")
              const first = Crypto.randomBytes(size + 1000)
              Fs.writeFileSync(local, first)
              Fs.chmodSync(local, 0o640)
              const remote = `${remoteDir()}.own`
              yield* files.push(box, local, remote, { uid: 1234, gid: 2345 })
              const created = yield* files.stat(box, remote)
              assert.deepStrictEqual(
                { mode: created.mode, uid: created.uid, gid: created.gid },
                { mode: 0o640, uid: 1234, gid: 2345 }
              )
              // shorter, another mode, no owner: the old file's rest must not survive
              const second = Crypto.randomBytes(size)
              Fs.writeFileSync(local, second)
              Fs.chmodSync(local, 0o755)
              yield* files.push(box, local, remote)
              const replaced = yield* files.stat(box, remote)
              assert.deepStrictEqual(
                { mode: replaced.mode, uid: replaced.uid, gid: replaced.gid },
                { mode: 0o640, uid: 1234, gid: 2345 }
              )
              const back = yield* readAll(files.read(box, remote))
              assert.strictEqual(back.length, size)
              assert.isTrue(back.equals(second))
            }),
          { timeout: 120_000 }
        )
      }

      it.scoped.skipIf(server.lacks("bulk-path"))(
        "interrupting a large push closes its SFTP session (needs bulk-path)",
        () =>
          Effect.gen(function*() {
            const files = yield* Files.Files
            const exec = yield* Exec.Exec
            const box = yield* Box
            const dir = yield* tempDir
            const local = NodePath.join(dir, "huge.bin")
            // sparse: 1 GiB to read, none of it on the disk
            Fs.closeSync(Fs.openSync(local, "w"))
            Fs.truncateSync(local, 1 << 30)
            const remote = `${remoteDir()}.huge`
            const fiber = yield* Effect.fork(files.push(box, local, remote))
            for (let i = 0; i < 500 && LxdHttp.openUpgradedSocketCount() === 0; i++) yield* Effect.sleep("10 millis")
            assert.strictEqual(LxdHttp.openUpgradedSocketCount(), 1)
            yield* Effect.sleep("100 millis")
            const exit = yield* Fiber.interrupt(fiber)
            assert.isTrue(
              Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause),
              Exit.isFailure(exit) ? Cause.pretty(exit.cause) : "succeeded"
            )
            assert.strictEqual(LxdHttp.openUpgradedSocketCount(), 0)
            const size = Number((yield* exec.run(box, ["sh", "-c", `wc -c < ${remote}`])).stdout.trim())
            assert.isBelow(size, 1 << 30)
            yield* exec.run(box, ["rm", "-f", remote])
          }),
        { timeout: 120_000 }
      )

      it.effect("push of a missing local path fails with InvalidArgument", () =>
        Effect.gen(function*() {
          const files = yield* Files.Files
          const error = yield* Effect.flip(files.push(yield* Box, "/no/such/local/dir", "/tmp/x"))
          assert.strictEqual(error._tag, "InvalidArgument")
        }))
    }
  )
})
