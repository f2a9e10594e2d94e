/**
 * `writeLocal`, the SFTP write behind `Files.push` of a large file, against a scripted
 * SFTP server on an in-memory upgraded socket: what it sends (groups of WRITE packets,
 * offsets, sizes), the files API's rules for a new and an existing file, and its failures.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as NodePath from "node:path"
import { connect, session } from "../src/internal/sftp.js"
import { FX, FXF, FXP } from "../src/internal/sftpCodec.js"
import { InvalidArgument } from "../src/LxdError.js"
import type { UpgradedSocket } from "../src/LxdTransport.js"

const where = { address: "memory", instance: "c1", apiPath: "/1.0/instances/c1/sftp" }

interface Written {
  readonly id: number
  readonly offset: number
  readonly data: Buffer
}

/** A scripted SFTP server: every request is recorded and answered at once. */
const scriptedServer = (options: { readonly exists: boolean; readonly refuseWriteAt?: number }) =>
  Effect.gen(function*() {
    const queue = yield* Queue.unbounded<Uint8Array>()
    const writes: Array<Written> = []
    const opens: Array<{ readonly path: string; readonly flags: number; readonly permissions: number | undefined }> = []
    const setstats: Array<{ readonly path: string; readonly flags: number; readonly values: ReadonlyArray<number> }> =
      []
    /** How many packets each socket write carried (one for each request but the groups of WRITEs). */
    const packetsPerWrite: Array<number> = []
    let closes = 0
    const reply = (type: number, parts: ReadonlyArray<Buffer>) => {
      const body = Buffer.concat(parts)
      const head = Buffer.alloc(5)
      head.writeUInt32BE(body.length + 1)
      head[4] = type
      queue.unsafeOffer(new Uint8Array(Buffer.concat([head, body])))
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
    const status = (id: number, code: number) => reply(FXP.STATUS, [u32(id), u32(code), str(""), str("")])
    let pending = Buffer.alloc(0)
    const socket: UpgradedSocket = {
      bytes: Stream.fromQueue(queue),
      write: (data) =>
        Effect.sync(() => {
          pending = Buffer.concat([pending, Buffer.from(data)])
          let packets = 0
          while (pending.length >= 4 && pending.length >= 4 + pending.readUInt32BE(0)) {
            const length = pending.readUInt32BE(0)
            const type = pending[4]!
            const p = pending.subarray(5, 4 + length)
            pending = pending.subarray(4 + length)
            packets++
            if (type === FXP.INIT) {
              reply(FXP.VERSION, [u32(3)])
              continue
            }
            const id = p.readUInt32BE(0)
            const stringAt = (at: number) => {
              const n = p.readUInt32BE(at)
              return { value: p.subarray(at + 4, at + 4 + n), end: at + 4 + n }
            }
            switch (type) {
              case FXP.OPEN: {
                const path = stringAt(4)
                const flags = p.readUInt32BE(path.end)
                const attrFlags = p.readUInt32BE(path.end + 4)
                const permissions = attrFlags & 0x4 ? p.readUInt32BE(path.end + 8) : undefined
                opens.push({ path: path.value.toString(), flags, permissions })
                if ((flags & FXF.EXCL) !== 0 && options.exists) status(id, FX.FAILURE)
                else reply(FXP.HANDLE, [u32(id), str("h1")])
                break
              }
              case FXP.WRITE: {
                const handle = stringAt(4)
                assert.strictEqual(handle.value.toString(), "h1")
                const offset = Number(p.readBigUInt64BE(handle.end))
                const data = stringAt(handle.end + 8)
                assert.strictEqual(data.end, p.length)
                writes.push({ id, offset, data: Buffer.from(data.value) })
                status(id, offset === options.refuseWriteAt ? FX.PERMISSION_DENIED : FX.OK)
                break
              }
              case FXP.CLOSE:
                closes++
                status(id, FX.OK)
                break
              case FXP.SETSTAT: {
                const path = stringAt(4)
                const flags = p.readUInt32BE(path.end)
                const values: Array<number> = []
                for (let at = path.end + 4; at < p.length; at += 4) values.push(p.readUInt32BE(at))
                setstats.push({ path: path.value.toString(), flags, values })
                status(id, FX.OK)
                break
              }
              case FXP.STAT:
                // the attributes chown reads for the id it was not given: uid 7, gid 8
                reply(FXP.ATTRS, [u32(id), u32(0x2), u32(7), u32(8)])
                break
              default:
                status(id, FX.OP_UNSUPPORTED)
            }
          }
          packetsPerWrite.push(packets)
        }),
      close: Effect.void,
      closed: Effect.never
    }
    return {
      socket,
      writes,
      opens,
      setstats,
      packetsPerWrite,
      closes: () => closes
    }
  })

const tempFile = (bytes: Buffer) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const dir = Fs.mkdtempSync(NodePath.join(Os.tmpdir(), "effect-lxd-sftp-bulk-"))
      const file = NodePath.join(dir, "f.bin")
      Fs.writeFileSync(file, bytes)
      return file
    }),
    (file) => Effect.sync(() => Fs.rmSync(NodePath.dirname(file), { recursive: true, force: true }))
  )

const readFailed = (cause: unknown) => new InvalidArgument({ argument: "localPath", reason: String(cause) })

describe("SFTP bulk write (Files.push of a large file)", () => {
  it.scoped("sends the file whole in groups of WRITEs of at most 128 KiB, at the right offsets", () =>
    Effect.gen(function*() {
      // not a multiple of the packet size nor of the group's
      const bytes = Crypto.randomBytes(3 * 1024 * 1024 + 128 * 1024 * 2 + 12345)
      const file = yield* tempFile(bytes)
      const server = yield* scriptedServer({ exists: false })
      const s = session(yield* connect(server.socket, where), where)
      yield* s.writeLocal("/root/f.bin", { path: file, size: bytes.length, readFailed }, { mode: 0o640 })
      const sorted = [...server.writes].sort((a, b) => a.offset - b.offset)
      let at = 0
      for (const w of sorted) {
        assert.strictEqual(w.offset, at)
        assert.isAtMost(w.data.length, 128 * 1024)
        at += w.data.length
      }
      assert.strictEqual(at, bytes.length)
      assert.isTrue(Buffer.concat(sorted.map((w) => w.data)).equals(bytes))
      // 1 MiB groups: eight packets to a socket write, the rest in the last one
      const groups = server.packetsPerWrite.filter((n) => n > 1)
      assert.deepStrictEqual(groups, [8, 8, 8, 3])
      // a new file (CREAT|EXCL), closed, then its mode set exactly
      assert.deepStrictEqual(server.opens, [{
        path: "/root/f.bin",
        flags: FXF.WRITE | FXF.CREAT | FXF.EXCL,
        permissions: 0o640
      }])
      assert.strictEqual(server.closes(), 1)
      assert.deepStrictEqual(server.setstats, [{ path: "/root/f.bin", flags: 0x4, values: [0o640] }])
    }))

  it.scoped("a new file gets the uid and gid given (the one not given is kept)", () =>
    Effect.gen(function*() {
      const bytes = Crypto.randomBytes(5000)
      const file = yield* tempFile(bytes)
      const server = yield* scriptedServer({ exists: false })
      const s = session(yield* connect(server.socket, where), where)
      yield* s.writeLocal("/root/f.bin", { path: file, size: bytes.length, readFailed }, { mode: 0o600, uid: 1000 })
      assert.deepStrictEqual(server.setstats, [
        { path: "/root/f.bin", flags: 0x4, values: [0o600] },
        { path: "/root/f.bin", flags: 0x2, values: [1000, 8] }
      ])
    }))

  it.scoped("an existing file is truncated and rewritten, and keeps its mode and owner", () =>
    Effect.gen(function*() {
      const bytes = Crypto.randomBytes(300 * 1024)
      const file = yield* tempFile(bytes)
      const server = yield* scriptedServer({ exists: true })
      const s = session(yield* connect(server.socket, where), where)
      yield* s.writeLocal(
        "/root/f.bin",
        { path: file, size: bytes.length, readFailed },
        { mode: 0o600, uid: 1000, gid: 1000 }
      )
      assert.deepStrictEqual(server.opens.map((o) => o.flags), [
        FXF.WRITE | FXF.CREAT | FXF.EXCL,
        FXF.WRITE | FXF.TRUNC
      ])
      assert.deepStrictEqual(server.setstats, [])
      const sorted = [...server.writes].sort((a, b) => a.offset - b.offset)
      assert.isTrue(Buffer.concat(sorted.map((w) => w.data)).equals(bytes))
    }))

  it.scoped("a local file shorter than its size fails with the read error, and nothing past its end is sent", () =>
    Effect.gen(function*() {
      const bytes = Crypto.randomBytes(200 * 1024)
      const file = yield* tempFile(bytes)
      const server = yield* scriptedServer({ exists: false })
      const s = session(yield* connect(server.socket, where), where)
      const error = yield* Effect.flip(
        s.writeLocal("/root/f.bin", { path: file, size: bytes.length + 4096, readFailed }, { mode: 0o644 })
      )
      assert.strictEqual(error._tag, "InvalidArgument")
      assert.include(error.message, `ended after ${bytes.length} of its ${bytes.length + 4096} bytes`)
      const sent = server.writes.reduce((n, w) => n + w.data.length, 0)
      assert.strictEqual(sent, bytes.length)
      // the mode of a file not fully written is not set
      assert.deepStrictEqual(server.setstats, [])
    }))

  it.scoped("a WRITE the server refuses fails the push with that status, and the handle is closed", () =>
    Effect.gen(function*() {
      const bytes = Crypto.randomBytes(4 * 1024 * 1024)
      const file = yield* tempFile(bytes)
      const server = yield* scriptedServer({ exists: false, refuseWriteAt: 1024 * 1024 + 128 * 1024 })
      const s = session(yield* connect(server.socket, where), where)
      const error = yield* Effect.flip(
        s.writeLocal("/root/f.bin", { path: file, size: bytes.length, readFailed }, { mode: 0o644 })
      )
      assert.strictEqual(error._tag, "LXDAPIException")
      assert.include(error.message, "WRITE")
      // stopped within a window of the refusal; no mode set on a file not fully written
      assert.isBelow(server.writes.length, 32)
      assert.deepStrictEqual(server.setstats, [])
      assert.strictEqual(server.closes(), 1)
    }))

  it.scoped("a local file that cannot be read fails with the read error, and the remote path is not touched", () =>
    Effect.gen(function*() {
      const server = yield* scriptedServer({ exists: false })
      const s = session(yield* connect(server.socket, where), where)
      const error = yield* Effect.flip(
        s.writeLocal("/root/f.bin", { path: "/no/such/file", size: 10, readFailed }, { mode: 0o644 })
      )
      assert.strictEqual(error._tag, "InvalidArgument")
      assert.deepStrictEqual(server.opens, [])
      assert.deepStrictEqual(server.writes, [])
    }))
})
