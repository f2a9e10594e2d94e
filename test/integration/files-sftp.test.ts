import { assert } from "@effect/vitest"
import { Exec, Files, LxdHttp } from "effect-lxd"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as Crypto from "node:crypto"
import { container } from "../support/fixtures.js"
import { forEachServer } from "../support/servers.js"

class Box extends Context.Tag("test/files-sftp/Box")<Box, string>() {}

const readAll = <E>(stream: Stream.Stream<Uint8Array, E>) =>
  Stream.runCollect(stream).pipe(Effect.map((chunks) => Buffer.concat(Chunk.toArray(chunks))))

let counter = 0
const remoteDir = () => `/tmp/t-sftp-${process.pid}-${Date.now()}-${counter++}`

/** `stat -c <format>` inside the instance (the truth, independent of the code under test). */
const statInside = (box: string, format: string, p: string) =>
  Effect.flatMap(Exec.Exec, (exec) => exec.run(box, ["stat", "-c", format, p])).pipe(
    Effect.map((r) => ({ exitCode: r.exitCode, out: r.stdout.trim() }))
  )

const sh = (box: string, script: string) =>
  Effect.flatMap(Exec.Exec, (exec) => exec.run(box, ["sh", "-c", script])).pipe(
    Effect.tap((r) => Effect.sync(() => assert.strictEqual(r.exitCode, 0, r.stderr)))
  )

forEachServer("files over sftp", (it, server) => {
  it.layer(Layer.scoped(Box, container(server.env.imageAlias, { prefix: "sftp" })), { timeout: "2 minutes" })(
    (it) => {
      it.effect("chmod and chown change an existing file without rewriting it", () =>
        Effect.gen(function*() {
          const files = yield* Files.Files
          const box = yield* Box
          const p = remoteDir()
          yield* files.write(box, p, "keep me\n", { mode: 0o600 })
          const before = yield* statInside(box, "%i %s %Y", p)
          yield* files.chmod(box, p, 0o751)
          yield* files.chown(box, p, { uid: 1234, gid: 4321 })
          assert.strictEqual((yield* statInside(box, "%a %u %g", p)).out, "751 1234 4321")
          // only the group: the owner stays
          yield* files.chown(box, p, { gid: 99 })
          assert.strictEqual((yield* statInside(box, "%a %u %g", p)).out, "751 1234 99")
          // same inode, size and mtime: not rewritten
          assert.strictEqual((yield* statInside(box, "%i %s %Y", p)).out, before.out)
          const info = yield* files.stat(box, p)
          assert.strictEqual(info.mode, 0o751)
          assert.strictEqual(info.uid, 1234)
        }))

      it.effect("chmod of a directory", () =>
        Effect.gen(function*() {
          const files = yield* Files.Files
          const box = yield* Box
          const d = remoteDir()
          yield* files.mkdir(box, d, { mode: 0o755 })
          yield* files.chmod(box, d, 0o700)
          assert.strictEqual((yield* statInside(box, "%a %F", d)).out, "700 directory")
        }))

      it.effect("chmod, chown and the session on a missing path fail with NotFound", () =>
        Effect.gen(function*() {
          const files = yield* Files.Files
          const box = yield* Box
          const missing = remoteDir() + "/nope"
          const chmod = yield* Effect.flip(files.chmod(box, missing, 0o644))
          assert.strictEqual(chmod._tag, "NotFound")
          assert.include(chmod.message, missing)
          const chown = yield* Effect.flip(files.chown(box, missing, { uid: 1 }))
          assert.strictEqual(chown._tag, "NotFound")
          const stat = yield* Effect.flip(Effect.scoped(Effect.flatMap(files.sftp(box), (s) => s.stat(missing))))
          assert.strictEqual(stat._tag, "NotFound")
          const read = yield* Effect.flip(
            Effect.scoped(Effect.flatMap(files.sftp(box), (s) => readAll(s.readFile(missing))))
          )
          assert.strictEqual(read._tag, "NotFound")
        }))

      it.effect("a missing instance fails with NotFound before any SFTP", () =>
        Effect.gen(function*() {
          const files = yield* Files.Files
          const error = yield* Effect.flip(Effect.scoped(files.sftp("t-sftp-no-such-instance")))
          assert.strictEqual(error._tag, "NotFound")
          assert.strictEqual(LxdHttp.openUpgradedSocketCount(), 0)
        }))

      it.effect("a relative path is refused before anything is sent", () =>
        Effect.gen(function*() {
          const files = yield* Files.Files
          const box = yield* Box
          const error = yield* Effect.flip(files.chmod(box, "etc/passwd", 0o644))
          assert.strictEqual(error._tag, "InvalidArgument")
        }))

      it.effect("session: write, read back, stat, readdir, rename, symlink, readlink, unlink, rmdir", () =>
        Effect.scoped(Effect.gen(function*() {
          const files = yield* Files.Files
          const box = yield* Box
          const sftp = yield* files.sftp(box)
          const d = remoteDir()
          yield* sftp.mkdir(d, { mode: 0o750 })
          assert.strictEqual((yield* sftp.stat(d)).type, "directory")
          assert.strictEqual((yield* sftp.stat(d)).mode, 0o750)
          const data = Crypto.randomBytes(300_000 + 17)
          yield* sftp.writeFile(`${d}/a.bin`, new Uint8Array(data), { mode: 0o640 })
          const back = yield* readAll(sftp.readFile(`${d}/a.bin`))
          assert.isTrue(back.equals(data))
          const st = yield* sftp.stat(`${d}/a.bin`)
          assert.strictEqual(st.size, data.length)
          assert.strictEqual(st.mode, 0o640)
          assert.strictEqual(st.type, "file")
          // the files API sees the same bytes
          assert.isTrue((yield* readAll(files.read(box, `${d}/a.bin`))).equals(data))

          yield* sftp.writeFile(`${d}/t.txt`, "one\n")
          yield* sftp.writeFile(`${d}/t.txt`, Stream.make(new TextEncoder().encode("two\n")), { write: "append" })
          assert.strictEqual((yield* readAll(sftp.readFile(`${d}/t.txt`))).toString(), "one\ntwo\n")

          yield* sftp.rename(`${d}/t.txt`, `${d}/u.txt`)
          yield* sftp.symlink(`${d}/link`, "u.txt")
          assert.strictEqual(yield* sftp.readlink(`${d}/link`), "u.txt")
          assert.strictEqual((yield* sftp.lstat(`${d}/link`)).type, "symlink")
          assert.strictEqual((yield* sftp.stat(`${d}/link`)).type, "file")
          assert.strictEqual(yield* sftp.realpath(`${d}/./link/..`), d)
          const names = (yield* sftp.readdir(d)).map((e) => e.name).sort()
          assert.deepStrictEqual(names, ["a.bin", "link", "u.txt"])
          // the same as the files API lists
          assert.deepStrictEqual([...(yield* files.list(box, d))].sort(), names)

          const rmdirFull = yield* Effect.flip(sftp.rmdir(d))
          assert.strictEqual(rmdirFull._tag, "LXDAPIException")
          for (const n of names) yield* sftp.unlink(`${d}/${n}`)
          yield* sftp.rmdir(d)
          assert.strictEqual((yield* Effect.flip(sftp.lstat(d)))._tag, "NotFound")
        })))

      it.effect("open: random access reads and writes on a handle", () =>
        Effect.scoped(Effect.gen(function*() {
          const files = yield* Files.Files
          const box = yield* Box
          const sftp = yield* files.sftp(box)
          const p = remoteDir()
          const handle = yield* sftp.open(p, "w", { mode: 0o600 })
          yield* handle.write(0, new TextEncoder().encode("hello world"))
          yield* handle.write(6, new TextEncoder().encode("WORLD"))
          yield* handle.close
          const r = yield* sftp.open(p, "r")
          assert.strictEqual(Buffer.from((yield* r.read(6, 100))!).toString(), "WORLD")
          assert.strictEqual(yield* r.read(11, 10), undefined)
          assert.strictEqual((yield* r.stat).size, 11)
          const exclusive = yield* Effect.flip(sftp.open(p, "wx"))
          assert.strictEqual(exclusive._tag, "LXDAPIException")
        })))

      it.effect("recursive delete removes a tree and deletes symlinks without following them", () =>
        Effect.gen(function*() {
          const files = yield* Files.Files
          const box = yield* Box
          const root = remoteDir()
          const outside = remoteDir()
          yield* sh(
            box,
            [
              `mkdir -p ${outside}/keep ${root}/a/b/c ${root}/empty`,
              `echo precious > ${outside}/keep/file`,
              `echo x > ${root}/a/b/c/f1`,
              `echo y > ${root}/a/f2`,
              `ln -s ${outside} ${root}/a/b/dirlink`,
              `ln -s ${outside}/keep/file ${root}/filelink`,
              `ln -s /nonexistent ${root}/dangling`
            ].join(" && ")
          )
          yield* files.delete(box, root, { recursive: true })
          assert.strictEqual((yield* statInside(box, "%n", root)).exitCode, 1)
          // nothing behind the links was touched
          assert.strictEqual((yield* sh(box, `cat ${outside}/keep/file`)).stdout, "precious\n")
          // a symlink named as the root is deleted itself, not its target
          yield* sh(box, `ln -s ${outside} ${root}`)
          yield* files.delete(box, root, { recursive: true })
          assert.strictEqual((yield* statInside(box, "%n", root)).exitCode, 1)
          assert.strictEqual((yield* sh(box, `cat ${outside}/keep/file`)).stdout, "precious\n")
          // a single file works too; a missing path is NotFound
          yield* files.delete(box, `${outside}/keep/file`, { recursive: true })
          assert.strictEqual((yield* statInside(box, "%n", `${outside}/keep/file`)).exitCode, 1)
          assert.strictEqual((yield* Effect.flip(files.delete(box, root, { recursive: true })))._tag, "NotFound")
          assert.strictEqual(
            (yield* Effect.flip(files.delete(box, "/", { recursive: true })))._tag,
            "InvalidArgument"
          )
          yield* files.delete(box, outside, { recursive: true })
        }))

      it.effect("interrupting an SFTP transfer closes the session and leaks no socket", () =>
        Effect.gen(function*() {
          const files = yield* Files.Files
          const box = yield* Box
          const p = remoteDir()
          yield* sh(box, `dd if=/dev/zero of=${p} bs=1M count=32 2>/dev/null`)
          const baseline = LxdHttp.openUpgradedSocketCount()
          let received = 0
          const fiber = yield* Effect.scoped(
            Effect.flatMap(files.sftp(box), (s) =>
              Stream.runForEach(s.readFile(p), (chunk) =>
                Effect.sync(() => {
                  received += chunk.length
                }).pipe(Effect.zipRight(Effect.sleep("2 millis")))))
          ).pipe(Effect.fork)
          while (received < 1 << 20) yield* Effect.sleep("10 millis")
          assert.strictEqual(LxdHttp.openUpgradedSocketCount(), baseline + 1)
          const exit = yield* Fiber.interrupt(fiber)
          assert.isTrue(Exit.isInterrupted(exit))
          assert.isBelow(received, 32 << 20)
          // the socket is gone once the scope has closed
          for (let i = 0; i < 100 && LxdHttp.openUpgradedSocketCount() > baseline; i++) yield* Effect.sleep("10 millis")
          assert.strictEqual(LxdHttp.openUpgradedSocketCount(), baseline)
          // and the server is fine: a new session works
          const size = yield* Effect.scoped(Effect.flatMap(files.sftp(box), (s) => s.stat(p)))
          assert.strictEqual(size.size, 32 << 20)
        }))

      it.effect("calls after the session's scope closed fail with a transport error", () =>
        Effect.gen(function*() {
          const files = yield* Files.Files
          const box = yield* Box
          const session = yield* Effect.scoped(files.sftp(box))
          const error = yield* Effect.flip(session.stat("/"))
          assert.strictEqual(error._tag, "TransportError")
        }))
    }
  )
})
