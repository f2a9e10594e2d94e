import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as ChildProcess from "node:child_process"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as NodePath from "node:path"
import { makeWriter, openWriter, SLOW_WRITE_MS, writesInline } from "../src/internal/localWrites.js"

// A download's writes are made on the calling thread when the file is a regular file on
// a local filesystem, and through the thread pool otherwise (a FIFO, a device), or once a
// write on the calling thread has been slow. The downloads themselves, through this path,
// are in bulk.test.ts, sftpBulkRead.test.ts and the integration suites.

const scratch = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(NodePath.join(Os.tmpdir(), "effect-lxd-writes-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

const opened = (path: string, flags: string) =>
  Effect.acquireRelease(Effect.promise(() => Fs.promises.open(path, flags)), (h) => Effect.promise(() => h.close()))

const pieces = (count: number) =>
  Array.from({ length: count }, (_, i) => Crypto.randomBytes(i % 7 === 0 ? 0 : 1 + (i * 37) % 5000))

describe("local writes of a download", () => {
  it.scoped("a regular file on tmpfs is written on the calling thread: the bytes are in the file before the promise settles", () =>
    Effect.gen(function*() {
      // /dev/shm is tmpfs on Linux
      const dir = yield* Effect.acquireRelease(
        Effect.sync(() => Fs.mkdtempSync("/dev/shm/effect-lxd-writes-")),
        (d) => Effect.sync(() => Fs.rmSync(d, { recursive: true, force: true }))
      )
      const path = NodePath.join(dir, "out.bin")
      const handle = yield* opened(path, "w")
      const writer = yield* Effect.promise(() => openWriter(handle, path))
      assert.isTrue(writer.inline())
      const data = pieces(40)
      const pending = writer.append(data)
      // nothing awaited yet: a thread-pool write could not have happened
      assert.isTrue(Fs.readFileSync(path).equals(Buffer.concat(data)))
      yield* Effect.promise(() => pending)
    }))

  it.scoped("so is one in the system's temporary directory, when that is a local filesystem", () =>
    Effect.gen(function*() {
      const dir = yield* scratch
      const path = NodePath.join(dir, "out.bin")
      const handle = yield* opened(path, "w")
      const type = Fs.statfsSync(path).type
      // ext4 or tmpfs on the machines the suite runs on
      assert.include([0xEF53, 0x01021994], type)
      assert.isTrue(yield* Effect.promise(() => writesInline(handle, path)))
    }))

  it.scoped("every piece is written, in order, however many there are (3,000: more than IOV_MAX)", () =>
    Effect.gen(function*() {
      const dir = yield* scratch
      for (const inline of [true, false]) {
        const path = NodePath.join(dir, `out-${inline}.bin`)
        const handle = yield* opened(path, "w")
        const writer = makeWriter(handle, inline)
        const first = pieces(3000)
        const second = pieces(5)
        yield* Effect.promise(() => writer.append(first))
        yield* Effect.promise(() => writer.append(second))
        yield* Effect.promise(() => writer.writeAt(Buffer.from("HEAD"), 4, 0))
        const expected = Buffer.concat([...first, ...second])
        Buffer.from("HEAD").copy(expected, 0)
        assert.isTrue(Fs.readFileSync(path).equals(expected), `inline: ${inline}`)
      }
    }))

  it.scoped("writeAt writes a part of the buffer at the position, on either path", () =>
    Effect.gen(function*() {
      const dir = yield* scratch
      for (const inline of [true, false]) {
        const path = NodePath.join(dir, `at-${inline}.bin`)
        Fs.writeFileSync(path, Buffer.alloc(16, 0x2e))
        const handle = yield* opened(path, "r+")
        const writer = makeWriter(handle, inline)
        yield* Effect.promise(() => writer.writeAt(Buffer.from("abcdefgh"), 3, 10))
        assert.strictEqual(Fs.readFileSync(path, "latin1"), "..........abc...")
      }
    }))

  it.scoped("a FIFO is written through the thread pool (a write could wait for its reader)", () =>
    Effect.gen(function*() {
      const dir = yield* scratch
      const path = NodePath.join(dir, "fifo")
      ChildProcess.execFileSync("mkfifo", [path])
      const received: Array<Buffer> = []
      const reader = Fs.createReadStream(path)
      reader.on("data", (d) => received.push(d as Buffer))
      const ended = new Promise<void>((resolve) => reader.on("end", () => resolve()))
      const handle = yield* Effect.promise(() => Fs.promises.open(path, "w"))
      const writer = yield* Effect.promise(() => openWriter(handle, path))
      assert.isFalse(writer.inline())
      const data = pieces(50)
      yield* Effect.promise(() => writer.append(data))
      yield* Effect.promise(() => handle.close())
      yield* Effect.promise(() => ended)
      assert.isTrue(Buffer.concat(received).equals(Buffer.concat(data)))
    }))

  it.scoped("a device is written through the thread pool", () =>
    Effect.gen(function*() {
      const handle = yield* opened("/dev/null", "w")
      assert.isFalse(yield* Effect.promise(() => writesInline(handle, "/dev/null")))
    }))

  it.scoped("a write on the calling thread that was slow sends the rest through the thread pool; fast ones do not", () =>
    Effect.gen(function*() {
      const dir = yield* scratch
      const path = NodePath.join(dir, "slow.bin")
      const handle = yield* opened(path, "w")
      // the clock: each write reads it twice; the third write is the slow one
      const readings = [0, 1, 10, 12, 20, 20 + SLOW_WRITE_MS + 1]
      let reads = 0
      const writer = makeWriter(handle, true, { now: () => readings[Math.min(reads++, readings.length - 1)]! })
      const data = pieces(4)
      yield* Effect.promise(() => writer.append([data[0]!]))
      yield* Effect.promise(() => writer.append([data[1]!]))
      assert.isTrue(writer.inline())
      yield* Effect.promise(() => writer.append([data[2]!]))
      assert.isFalse(writer.inline())
      // the fourth goes through the thread pool: the clock is not read again
      yield* Effect.promise(() => writer.append([data[3]!]))
      assert.strictEqual(reads, 6)
      assert.isTrue(Fs.readFileSync(path).equals(Buffer.concat(data)))
    }))

  it.scoped("a failed write on the calling thread rejects its promise (it does not throw)", () =>
    Effect.gen(function*() {
      const dir = yield* scratch
      const path = NodePath.join(dir, "ro.bin")
      Fs.writeFileSync(path, "")
      const handle = yield* opened(path, "r")
      const writer = makeWriter(handle, true)
      let pending: Promise<void> | undefined
      assert.doesNotThrow(() => {
        pending = writer.append([Buffer.from("x")])
      })
      const error = yield* Effect.flip(Effect.tryPromise(() => pending!))
      assert.match(String(error.cause), /EBADF/)
    }))
})
