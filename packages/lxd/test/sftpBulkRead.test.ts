/**
 * `readLocal`, the SFTP read behind `Files.pull` of a large file, against a scripted SFTP
 * server on an in-memory upgraded socket: the pieces it asks for, answers out of order and
 * short, the end of the file, and its failures (a refused READ, a file that changes while
 * it is read, a local file that cannot be written).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as NodePath from "node:path"
import { makeWriter, openWriter } from "../src/internal/localWrites.js"
import { connect, session } from "../src/internal/sftp.js"
import { FX, FXP } from "../src/internal/sftpCodec.js"
import { InvalidArgument } from "../src/LxdError.js"
import type { UpgradedSocket } from "../src/LxdTransport.js"

const where = { address: "memory", instance: "c1", apiPath: "/1.0/instances/c1/sftp" }

interface Script {
  /** The remote file. */
  readonly content: Buffer
  /** The most bytes one DATA carries (a short read below what was asked). */
  readonly maxData?: number
  /** Hold READ answers and send them together, last asked first, every millisecond. */
  readonly reorder?: boolean
  /** Refuse the READ at this offset. */
  readonly refuseReadAt?: number
  /** Answer EOF at this offset, though data follows (the file shrank, then grew, while read). */
  readonly eofAt?: number
  /** Answer every READ with more bytes than asked. */
  readonly overlong?: boolean
  /**
   * Offer `readWith` as the unix transport does: every answer handed over in one buffer,
   * read into again (here: overwritten) as soon as the callback returns.
   */
  readonly reusedBuffer?: boolean
}

/** A scripted SFTP server with one file to read. */
const scriptedServer = (script: Script) =>
  Effect.gen(function*() {
    const queue = yield* Queue.unbounded<Uint8Array>()
    const reads: Array<{ readonly offset: number; readonly length: number }> = []
    let closes = 0
    const closedHandles: Array<string> = []
    let held: Array<Uint8Array> = []
    let mostHeld = 0
    const packet = (type: number, parts: ReadonlyArray<Buffer>) => {
      const body = Buffer.concat(parts)
      const head = Buffer.alloc(5)
      head.writeUInt32BE(body.length + 1)
      head[4] = type
      return new Uint8Array(Buffer.concat([head, body]))
    }
    const u32 = (n: number) => {
      const b = Buffer.alloc(4)
      b.writeUInt32BE(n)
      return b
    }
    const str = (s: string | Buffer) => {
      const b = typeof s === "string" ? Buffer.from(s) : s
      return Buffer.concat([u32(b.length), b])
    }
    const status = (id: number, code: number) => packet(FXP.STATUS, [u32(id), u32(code), str(""), str("")])
    const timer = script.reorder === true
      ? setInterval(() => {
        const out = held.reverse()
        held = []
        for (const p of out) queue.unsafeOffer(p)
      }, 1)
      : undefined
    yield* Effect.addFinalizer(() => Effect.sync(() => clearInterval(timer)))
    let pending = Buffer.alloc(0)
    const socket: UpgradedSocket = {
      bytes: Stream.fromQueue(queue),
      write: (data) =>
        Effect.sync(() => {
          pending = Buffer.concat([pending, Buffer.from(data)])
          while (pending.length >= 4 && pending.length >= 4 + pending.readUInt32BE(0)) {
            const length = pending.readUInt32BE(0)
            const type = pending[4]!
            const p = pending.subarray(5, 4 + length)
            pending = pending.subarray(4 + length)
            if (type === FXP.INIT) {
              queue.unsafeOffer(packet(FXP.VERSION, [u32(3)]))
              continue
            }
            const id = p.readUInt32BE(0)
            switch (type) {
              case FXP.OPEN:
                queue.unsafeOffer(packet(FXP.HANDLE, [u32(id), str("h1")]))
                break
              case FXP.READ: {
                const handleLength = p.readUInt32BE(4)
                assert.strictEqual(p.subarray(8, 8 + handleLength).toString(), "h1")
                const offset = Number(p.readBigUInt64BE(8 + handleLength))
                const asked = p.readUInt32BE(16 + handleLength)
                reads.push({ offset, length: asked })
                const give = Math.min(asked, script.maxData ?? asked)
                const answer = offset === script.refuseReadAt
                  ? status(id, FX.PERMISSION_DENIED)
                  : offset === script.eofAt || offset >= script.content.length
                  ? status(id, FX.EOF)
                  : script.overlong === true
                  ? packet(FXP.DATA, [u32(id), str(Buffer.alloc(asked + 1))])
                  : packet(FXP.DATA, [u32(id), str(script.content.subarray(offset, offset + give))])
                if (script.reorder === true) {
                  held.push(answer)
                  mostHeld = Math.max(mostHeld, held.length)
                } else {
                  queue.unsafeOffer(answer)
                }
                break
              }
              case FXP.CLOSE:
                closes++
                closedHandles.push(p.subarray(8, 8 + p.readUInt32BE(4)).toString())
                queue.unsafeOffer(status(id, FX.OK))
                break
              default:
                queue.unsafeOffer(status(id, FX.OP_UNSUPPORTED))
            }
          }
        }),
      close: Effect.void,
      closed: Effect.never
    }
    if (script.reusedBuffer === true) {
      const buffer = Buffer.alloc(256 * 1024)
      const scope = yield* Effect.scope
      const readWith: NonNullable<UpgradedSocket["readWith"]> = (reader) =>
        Effect.forkIn(
          Effect.forever(Effect.flatMap(Queue.take(queue), (bytes) =>
            Effect.sync(() => {
              buffer.set(bytes)
              reader.onData(buffer.subarray(0, bytes.length))
              buffer.fill(0xee, 0, bytes.length)
            }))),
          scope
        ).pipe(Effect.asVoid)
      return {
        socket: { ...socket, readWith },
        reads,
        closes: () => closes,
        closedHandles,
        mostHeld: () => mostHeld
      }
    }
    return { socket, reads, closes: () => closes, closedHandles, mostHeld: () => mostHeld }
  })

/** A local file to pull into, open for writing (or, with `readOnly`, open so that writes fail). */
const target = (options?: { readonly readOnly?: boolean }) =>
  Effect.gen(function*() {
    const dir = yield* Effect.acquireRelease(
      Effect.sync(() => Fs.mkdtempSync(NodePath.join(Os.tmpdir(), "effect-lxd-sftp-read-"))),
      (d) => Effect.sync(() => Fs.rmSync(d, { recursive: true, force: true }))
    )
    const path = NodePath.join(dir, "out.bin")
    Fs.writeFileSync(path, "")
    const handle = yield* Effect.acquireRelease(
      Effect.promise(() => Fs.promises.open(path, options?.readOnly === true ? "r" : "w")),
      (h) => Effect.promise(() => h.close())
    )
    return { path, handle }
  })

const writeFailed = (cause: unknown) => new InvalidArgument({ argument: "localPath", reason: String(cause) })

const pullWith = (script: Script, options?: { readonly readOnly?: boolean }) =>
  Effect.gen(function*() {
    const server = yield* scriptedServer(script)
    const local = yield* target(options)
    const s = session(yield* connect(server.socket, where), where)
    const writer = yield* Effect.promise(() => openWriter(local.handle, local.path))
    const exit = yield* Effect.exit(s.readLocal("/root/f.bin", { writer, writeFailed }))
    return { server, exit, local: () => Fs.readFileSync(local.path) }
  })

describe("SFTP bulk read (Files.pull of a large file)", () => {
  it.scoped("reads the file whole in 32 KiB pieces, each asked for once, and closes the handle", () =>
    Effect.gen(function*() {
      // not a multiple of the piece size
      const content = Crypto.randomBytes(5 * 1024 * 1024 + 777)
      const { exit, local, server } = yield* pullWith({ content })
      assert.deepStrictEqual(exit._tag, "Success")
      assert.strictEqual(exit._tag === "Success" && exit.value, content.length)
      assert.isTrue(local().equals(content))
      const pieces = server.reads.filter((r) => r.offset < content.length)
      assert.strictEqual(pieces.length, Math.ceil(content.length / (32 * 1024)))
      assert.strictEqual(new Set(pieces.map((r) => r.offset)).size, pieces.length)
      assert.isTrue(pieces.every((r) => r.length === 32 * 1024))
      // past the end: new pieces answered EOF, and the rest of the short last piece
      const past = server.reads.filter((r) => r.offset >= content.length)
      assert.isTrue(past.every((r) => r.offset % (32 * 1024) === 0 || r.offset === content.length))
      assert.strictEqual(server.closes(), 1)
    }))

  it.scoped("answers out of order land at their place; never more than 64 READs are in flight", () =>
    Effect.gen(function*() {
      const content = Crypto.randomBytes(6 * 1024 * 1024 + 5)
      const { exit, local, server } = yield* pullWith({ content, reorder: true })
      assert.strictEqual(exit._tag, "Success")
      assert.isTrue(local().equals(content))
      assert.isAtMost(server.mostHeld(), 64)
      // pipelined, not one at a time
      assert.isAbove(server.mostHeld(), 8)
    }))

  it.scoped("a short answer is followed by a READ of the rest of its piece", () =>
    Effect.gen(function*() {
      const content = Crypto.randomBytes(300 * 1024 + 3)
      const { exit, local, server } = yield* pullWith({ content, maxData: 10_000 })
      assert.strictEqual(exit._tag, "Success")
      assert.isTrue(local().equals(content))
      // the rest of the first piece is asked for at the end of what came
      assert.isTrue(server.reads.some((r) => r.offset === 10_000 && r.length === 32 * 1024 - 10_000))
    }))

  it.scoped("an empty file is an empty local file", () =>
    Effect.gen(function*() {
      const { exit, local } = yield* pullWith({ content: Buffer.alloc(0) })
      assert.strictEqual(exit._tag === "Success" && exit.value, 0)
      assert.strictEqual(local().length, 0)
    }))

  it.scoped("a READ the server refuses fails the pull with that status, and the handle is closed", () =>
    Effect.gen(function*() {
      const content = Crypto.randomBytes(4 * 1024 * 1024)
      const { exit, server } = yield* pullWith({ content, refuseReadAt: 1024 * 1024 })
      assert.strictEqual(exit._tag, "Failure")
      const error = yield* Effect.flip(exit)
      assert.strictEqual(error._tag, "LXDAPIException")
      assert.include(error.message, "READ")
      assert.strictEqual(server.closes(), 1)
    }))

  it.scoped("a file that changes while it is read (an end before data) fails; no shorter copy passes as whole", () =>
    Effect.gen(function*() {
      const content = Crypto.randomBytes(3 * 1024 * 1024)
      const { exit } = yield* pullWith({ content, eofAt: 1024 * 1024 })
      const error = yield* Effect.flip(exit)
      assert.strictEqual(error._tag, "TransportError")
      assert.include(error.message, "changed while it was read")
    }))

  it.scoped("a DATA longer than asked for fails the pull", () =>
    Effect.gen(function*() {
      const { exit } = yield* pullWith({ content: Crypto.randomBytes(100_000), overlong: true })
      const error = yield* Effect.flip(exit)
      assert.strictEqual(error._tag, "TransportError")
      assert.include(error.message, "longer than")
    }))

  it.scoped("a local file that cannot be written fails with the write error", () =>
    Effect.gen(function*() {
      const { exit, server } = yield* pullWith({ content: Crypto.randomBytes(1024 * 1024) }, { readOnly: true })
      const error = yield* Effect.flip(exit)
      assert.strictEqual(error._tag, "InvalidArgument")
      assert.strictEqual(server.closes(), 1)
    }))

  it.scoped("a file of whole 1 MiB buffers, and one a byte past them, arrive whole", () =>
    Effect.gen(function*() {
      for (const size of [3 * 1024 * 1024, 3 * 1024 * 1024 + 1]) {
        const content = Crypto.randomBytes(size)
        const { exit, local } = yield* pullWith({ content, reorder: true })
        assert.strictEqual(exit._tag === "Success" && exit.value, size)
        assert.isTrue(local().equals(content))
      }
    }))

  it.scoped("a slow disk holds the reads back: at most 8 MiB is asked for ahead of what is written", () =>
    Effect.gen(function*() {
      const MiB = 1024 * 1024
      const content = Crypto.randomBytes(24 * MiB + 100)
      const server = yield* scriptedServer({ content })
      const copy = Buffer.alloc(content.length)
      const written = new Set<number>()
      let mostAhead = 0
      // a local file that takes 5 ms a write; at each write, the 1 MiB ranges asked for
      // and not yet written are counted
      const handle = {
        write: (bytes: Buffer, offset: number, length: number, position: number) => {
          const asked = new Set(
            server.reads.filter((r) => r.offset < content.length).map((r) => Math.floor(r.offset / MiB))
          )
          mostAhead = Math.max(mostAhead, [...asked].filter((n) => !written.has(n)).length)
          bytes.copy(copy, position, offset, offset + length)
          written.add(Math.floor(position / MiB))
          return new Promise((resolve) => setTimeout(() => resolve({ bytesWritten: length, buffer: bytes }), 5))
        }
      } as unknown as Fs.promises.FileHandle
      const s = session(yield* connect(server.socket, where), where)
      // the thread pool's path (a slow disk): each write resolves 5 ms after it was made
      const n = yield* s.readLocal("/root/f.bin", { writer: makeWriter(handle, false), writeFailed })
      assert.strictEqual(n, content.length)
      assert.isTrue(copy.equals(content))
      assert.strictEqual(written.size, 25)
      assert.isAtMost(mostAhead, 8)
      // and it did read ahead while the disk was busy
      assert.isAbove(mostAhead, 1)
    }))

  it.scoped("over a transport that reads into one reused buffer, handles and data are copies of their own", () =>
    Effect.gen(function*() {
      const content = Crypto.randomBytes(3 * 1024 * 1024 + 11)
      const { exit, local, server } = yield* pullWith({ content, reusedBuffer: true })
      assert.strictEqual(exit._tag === "Success" && exit.value, content.length)
      assert.isTrue(local().equals(content))
      // the handle kept from OPEN is still "h1" when it is closed
      assert.deepStrictEqual(server.closedHandles, ["h1"])
      // a session's readFile (answers kept by waiters, not a listener) reads the same bytes
      const other = yield* scriptedServer({ content, reusedBuffer: true })
      const s = session(yield* connect(other.socket, where), where)
      const chunks = yield* Stream.runCollect(s.readFile("/root/f.bin"))
      assert.isTrue(Buffer.concat([...chunks]).equals(content))
      assert.deepStrictEqual(other.closedHandles, ["h1"])
    }))
})
