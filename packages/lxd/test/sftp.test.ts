import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Files, LxdHttp, LxdTransport } from "../src/index.js"
import { attributesOf, openFlags, statusError } from "../src/internal/sftp.js"
import {
  CodecError,
  decodeResponse,
  encodePacket,
  Framer,
  FX,
  FXF,
  FXP,
  init,
  request
} from "../src/internal/sftpCodec.js"
import { parseHead, upgradeRequest } from "../src/internal/upgrade.js"
import { serverInfo } from "./fakeServer.js"
import { memoryTransport } from "./memoryTransport.js"

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex")

/** A server answer: length, type, payload. */
const answer = (type: number, payload: Array<number | string | Uint8Array>): Uint8Array => {
  const parts = payload.map((p) => {
    if (typeof p === "number") {
      const b = Buffer.alloc(4)
      b.writeUInt32BE(p)
      return b
    }
    const bytes = typeof p === "string" ? Buffer.from(p, "utf8") : Buffer.from(p)
    const len = Buffer.alloc(4)
    len.writeUInt32BE(bytes.length)
    return Buffer.concat([len, bytes])
  })
  const body = Buffer.concat(parts)
  const head = Buffer.alloc(5)
  head.writeUInt32BE(body.length + 1)
  head[4] = type
  return new Uint8Array(Buffer.concat([head, body]))
}

const decodeOne = (bytes: Uint8Array) => {
  const packets = new Framer().push(bytes)
  assert.strictEqual(packets.length, 1)
  return decodeResponse(packets[0]!.type, packets[0]!.payload)
}

describe("SFTP packet codec", () => {
  it("INIT carries version 3 and no request id", () => {
    assert.strictEqual(hex(init()), "000000050100000003")
  })

  it("requests: length, type, id, then the fields", () => {
    // STAT id 7 "/a"
    assert.strictEqual(hex(request.stat(7, "/a")), "0000000b" + "11" + "00000007" + "00000002" + "2f61")
    // READ id 1, handle "h", offset 2^32 + 5, length 32768
    assert.strictEqual(
      hex(request.read(1, new Uint8Array([0x68]), 2 ** 32 + 5, 32768)),
      "00000016" + "05" + "00000001" + "00000001" + "68" + "0000000100000005" + "00008000"
    )
    // SETSTAT id 2 "/f" with permissions only: flags 0x4, then the mode
    assert.strictEqual(
      hex(request.setstat(2, "/f", { permissions: 0o751 })),
      "00000013" + "09" + "00000002" + "00000002" + "2f66" + "00000004" + "000001e9"
    )
    // uid and gid travel together under flag 0x2
    assert.strictEqual(
      hex(request.setstat(3, "/f", { uid: 1000, gid: 1001 })),
      "00000017" + "09" + "00000003" + "00000002" + "2f66" + "00000002" + "000003e8" + "000003e9"
    )
    // SYMLINK: target first, then the link (OpenSSH's and pkg/sftp's order)
    assert.strictEqual(
      hex(request.symlink(4, "t", "/l")),
      "00000010" + "14" + "00000004" + "00000001" + "74" + "00000002" + "2f6c"
    )
    // OPEN with flags and empty attrs
    assert.strictEqual(
      hex(request.open(5, "/x", FXF.WRITE | FXF.CREAT | FXF.TRUNC, {})),
      "00000013" + "03" + "00000005" + "00000002" + "2f78" + "0000001a" + "00000000"
    )
  })

  it("refuses fields that do not fit the protocol", () => {
    assert.throws(() => request.setstat(1, "/f", { uid: 1 }), CodecError)
    assert.throws(() => request.read(1, new Uint8Array(), -1, 10), CodecError)
    assert.throws(() => request.setstat(1, "/f", { permissions: 2 ** 32 }), CodecError)
    assert.throws(() => encodePacket(FXP.READ, [{ u32: 1.5 }]), CodecError)
  })

  it("decodes VERSION with its extensions", () => {
    const r = decodeOne(answer(FXP.VERSION, [3, "posix-rename@openssh.com", "1", "statvfs@openssh.com", "2"]))
    assert.deepStrictEqual(r, {
      _tag: "Version",
      version: 3,
      extensions: [["posix-rename@openssh.com", "1"], ["statvfs@openssh.com", "2"]]
    })
  })

  it("decodes STATUS, HANDLE, DATA, ATTRS and NAME", () => {
    assert.deepStrictEqual(decodeOne(answer(FXP.STATUS, [9, FX.NO_SUCH_FILE, "no such file", ""])), {
      _tag: "Status",
      id: 9,
      code: 2,
      message: "no such file"
    })
    // a status without message (lenient)
    assert.deepStrictEqual(decodeOne(answer(FXP.STATUS, [9, FX.OK])), { _tag: "Status", id: 9, code: 0, message: "" })
    const handle = decodeOne(answer(FXP.HANDLE, [1, new Uint8Array([1, 2, 3])]))
    assert.deepStrictEqual(handle._tag === "Handle" && [...handle.handle], [1, 2, 3])
    const data = decodeOne(answer(FXP.DATA, [2, "hello"]))
    assert.strictEqual(data._tag === "Data" && Buffer.from(data.data).toString(), "hello")
    // ATTRS: size (u64 = 0, 300), uid/gid, permissions (regular file 0644), times, one extended pair
    const attrs = answer(FXP.ATTRS, [3, 0x8000000f, 0, 300, 1000, 1001, 0o100644, 10, 20, 1, "k", "v"])
    const a = decodeOne(attrs)
    assert.deepStrictEqual(a, {
      _tag: "Attrs",
      id: 3,
      attrs: { size: 300, uid: 1000, gid: 1001, permissions: 0o100644, atime: 10, mtime: 20 }
    })
    const shown = attributesOf(a._tag === "Attrs" ? a.attrs : {})
    assert.strictEqual(shown.type, "file")
    assert.strictEqual(shown.mode, 0o644)
    assert.strictEqual(shown.mtime?.getTime(), 20_000)
    const name = decodeOne(answer(FXP.NAME, [4, 2, "a", "-rw a", 0x4, 0o120777, "b", "drwx b", 0]))
    assert.deepStrictEqual(name, {
      _tag: "Name",
      id: 4,
      entries: [
        { filename: "a", longname: "-rw a", attrs: { permissions: 0o120777 } },
        { filename: "b", longname: "drwx b", attrs: {} }
      ].map((e) => ({
        ...e,
        attrs: {
          size: undefined,
          uid: undefined,
          gid: undefined,
          atime: undefined,
          mtime: undefined,
          permissions: undefined,
          ...e.attrs
        }
      }))
    })
    assert.strictEqual(attributesOf({ permissions: 0o120777 }).type, "symlink")
    assert.strictEqual(attributesOf({ permissions: 0o040755 }).type, "directory")
  })

  it("the framer joins split packets and splits joined ones", () => {
    const a = answer(FXP.STATUS, [1, 0, "", ""])
    const b = answer(FXP.DATA, [2, "xyz"])
    const all = Buffer.concat([a, b])
    const framer = new Framer()
    const seen: Array<number> = []
    for (let i = 0; i < all.length; i += 3) {
      for (const p of framer.push(new Uint8Array(all.subarray(i, i + 3)))) seen.push(p.type)
    }
    assert.deepStrictEqual(seen, [FXP.STATUS, FXP.DATA])
    assert.strictEqual(framer.pending, 0)
    const both = new Framer().push(new Uint8Array(all))
    assert.deepStrictEqual(both.map((p) => p.type), [FXP.STATUS, FXP.DATA])
  })

  it("the framer keeps every byte whatever the cuts, and a packet inside one chunk is a view of it", () => {
    const datas = Array.from({ length: 40 }, (_, i) => Buffer.alloc(1000 + i * 37, i + 1))
    const all = Buffer.concat(datas.map((d, i) => answer(FXP.DATA, [i + 1, d])))
    // cuts of every size from 1 byte (the length split across chunks) to several packets
    let seed = 7
    const framer = new Framer()
    const got: Array<Uint8Array> = []
    for (let at = 0; at < all.length;) {
      seed = (seed * 1103515245 + 12345) % 2147483648
      const n = 1 + (seed % 5000)
      for (const p of framer.push(new Uint8Array(all.subarray(at, at + n)))) {
        const decoded = decodeResponse(p.type, p.payload)
        assert.strictEqual(decoded._tag, "Data")
        // a packet is valid until the next push: kept as a copy
        if (decoded._tag === "Data") got.push(decoded.data.slice())
      }
      at += n
    }
    assert.strictEqual(framer.pending, 0)
    assert.strictEqual(got.length, datas.length)
    got.forEach((g, i) => assert.isTrue(Buffer.from(g).equals(datas[i]!)))
    // whole in one chunk: the payload shares the chunk's memory; a split one is gathered
    // in the framer's buffers, so the chunks may be read into again (nothing kept)
    const chunk = new Uint8Array(answer(FXP.DATA, [9, "abc"]))
    const [only] = new Framer().push(chunk)
    assert.strictEqual(only!.payload.buffer, chunk.buffer)
    const reused = new Uint8Array(7)
    const split = new Framer()
    const bytes = answer(FXP.DATA, [10, "hello world"])
    const seen: Array<string> = []
    for (let at = 0; at < bytes.length; at += 7) {
      const piece = bytes.subarray(at, at + 7)
      reused.fill(0).set(piece)
      for (const p of split.push(reused.subarray(0, piece.length))) {
        const d = decodeResponse(p.type, p.payload)
        if (d._tag === "Data") seen.push(Buffer.from(d.data).toString())
      }
    }
    assert.deepStrictEqual(seen, ["hello world"])
  })

  it("refuses malformed packets", () => {
    assert.throws(() => new Framer().push(new Uint8Array([0xff, 0xff, 0xff, 0xff, 1])), CodecError)
    assert.throws(() => new Framer().push(new Uint8Array([0, 0, 0, 0])), CodecError)
    // a DATA whose string runs past the packet
    assert.throws(() => decodeResponse(FXP.DATA, new Uint8Array([0, 0, 0, 1, 0, 0, 0, 9, 1])), CodecError)
    assert.throws(() => decodeResponse(42, new Uint8Array([0, 0, 0, 1])), CodecError)
  })

  it("open flags and status errors", () => {
    assert.strictEqual(openFlags("r"), FXF.READ)
    assert.strictEqual(openFlags("wx"), FXF.WRITE | FXF.CREAT | FXF.EXCL)
    const where = { address: "memory", instance: "c1", apiPath: "/1.0/instances/c1/sftp" }
    const missing = statusError(where, "STAT", "/nope", { code: FX.NO_SUCH_FILE, message: "no such file" })
    assert.strictEqual(missing._tag, "NotFound")
    assert.include(missing.message, "/nope")
    const denied = statusError(where, "SETSTAT", "/etc", { code: FX.PERMISSION_DENIED, message: "denied" })
    assert.strictEqual(denied._tag === "LXDAPIException" && denied.status, 403)
  })
})

describe("HTTP upgrade framing", () => {
  it("writes the upgrade request and parses the answer's head", () => {
    const req = upgradeRequest({ path: "/1.0/instances/c1/sftp?project=p", host: "lxd", protocol: "sftp", headers: {} })
    assert.strictEqual(
      req,
      "GET /1.0/instances/c1/sftp?project=p HTTP/1.1\r\nHost: lxd\r\nUpgrade: sftp\r\nConnection: Upgrade\r\n\r\n"
    )
    const head = parseHead(Buffer.from("HTTP/1.1 101 Switching Protocols\r\nUpgrade: sftp\r\n\r\n\x00\x00"))
    assert.isTrue(typeof head === "object" && head.status === 101 && head.headers["upgrade"] === "sftp")
    assert.strictEqual(typeof head === "object" && head.rest.length, 2)
    assert.strictEqual(parseHead(Buffer.from("HTTP/1.1 101 Swi")), "incomplete")
    assert.strictEqual(parseHead(Buffer.from("SSH-2.0\r\n\r\n")), "invalid")
  })
})

describe("Files over SFTP: extension checks (memory transport)", () => {
  const connect = (extensions: ReadonlyArray<string>) =>
    Effect.gen(function*() {
      const { requests, transport } = memoryTransport((_r, res) => {
        res.writeHead(500)
        res.end()
      }, serverInfo(extensions))
      const context = yield* Layer.build(
        Files.layer.pipe(
          Layer.provideMerge(LxdHttp.layer()),
          Layer.provide(Layer.succeed(LxdTransport.LxdTransport, transport))
        )
      )
      return { files: Context.get(context, Files.Files), requests }
    })

  it.scoped("without the extension, sftp, chmod and chown fail with ExtensionNotAvailable and send nothing", () =>
    Effect.gen(function*() {
      const { files, requests } = yield* connect(["instances", "file_delete"])
      const before = requests.length
      const errors = [
        yield* Effect.flip(files.sftp("c1")),
        yield* Effect.flip(files.chmod("c1", "/f", 0o644)),
        yield* Effect.flip(files.chown("c1", "/f", { uid: 1 }))
      ]
      for (const e of errors) {
        assert.strictEqual(e._tag, "ExtensionNotAvailable")
        assert.strictEqual(e._tag === "ExtensionNotAvailable" && e.extension, Files.sftpExtension)
      }
      assert.strictEqual(requests.length, before)
    }))

  it.scoped("recursive delete without SFTP walks the files API, children first, links not followed", () =>
    Effect.gen(function*() {
      const tree: Record<string, { type: string; children?: Array<string> }> = {
        "/d": { type: "directory", children: ["f", "sub", "link"] },
        "/d/f": { type: "file" },
        "/d/sub": { type: "directory", children: ["g"] },
        "/d/sub/g": { type: "file" },
        "/d/link": { type: "symlink" }
      }
      const deleted: Array<string> = []
      const { requests, transport } = memoryTransport((r, res) => {
        const url = new URL(r.url, "http://x")
        const p = url.searchParams.get("path")!
        if (r.method === "DELETE") {
          deleted.push(p)
          res.writeHead(200, { "content-type": "application/json" })
          res.end(JSON.stringify({ type: "sync", status: "Success", status_code: 200, metadata: {} }))
          return
        }
        const node = tree[p]!
        res.writeHead(200, { "x-lxd-type": node.type, "x-lxd-mode": "0755", "x-lxd-uid": "0", "x-lxd-gid": "0" })
        if (node.type === "directory") {
          res.end(JSON.stringify({ type: "sync", status: "Success", status_code: 200, metadata: node.children }))
        } else res.end(node.type === "symlink" ? "/etc" : "data")
      }, serverInfo(["instances", "file_delete"]))
      const context = yield* Layer.build(
        Files.layer.pipe(
          Layer.provideMerge(LxdHttp.layer()),
          Layer.provide(Layer.succeed(LxdTransport.LxdTransport, transport))
        )
      )
      yield* Context.get(context, Files.Files).delete("c1", "/d", { recursive: true })
      assert.deepStrictEqual(deleted, ["/d/f", "/d/sub/g", "/d/sub", "/d/link", "/d"])
      // nothing was asked about /etc, where the link points
      assert.isFalse(requests.some((r) => r.url.includes("etc")))
    }))
})
