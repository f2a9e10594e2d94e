/**
 * SFTP version 3 packets (draft-ietf-secsh-filexfer-02), as LXD's and Incus's servers
 * speak them: every packet is `uint32 length`, `byte type`, then (except INIT and
 * VERSION) `uint32 request id` and the fields. Strings are `uint32 length` + bytes.
 * Pure functions: encoding requests, cutting a byte stream into packets, decoding answers.
 */

/** Packet types. */
export const FXP = {
  INIT: 1,
  VERSION: 2,
  OPEN: 3,
  CLOSE: 4,
  READ: 5,
  WRITE: 6,
  LSTAT: 7,
  FSTAT: 8,
  SETSTAT: 9,
  FSETSTAT: 10,
  OPENDIR: 11,
  READDIR: 12,
  REMOVE: 13,
  MKDIR: 14,
  RMDIR: 15,
  REALPATH: 16,
  STAT: 17,
  RENAME: 18,
  READLINK: 19,
  SYMLINK: 20,
  STATUS: 101,
  HANDLE: 102,
  DATA: 103,
  NAME: 104,
  ATTRS: 105
} as const

/** Status codes. */
export const FX = {
  OK: 0,
  EOF: 1,
  NO_SUCH_FILE: 2,
  PERMISSION_DENIED: 3,
  FAILURE: 4,
  BAD_MESSAGE: 5,
  NO_CONNECTION: 6,
  CONNECTION_LOST: 7,
  OP_UNSUPPORTED: 8
} as const

/** `SSH_FXF_*` open flags. */
export const FXF = { READ: 0x1, WRITE: 0x2, APPEND: 0x4, CREAT: 0x8, TRUNC: 0x10, EXCL: 0x20 } as const

const ATTR_SIZE = 0x1
const ATTR_UIDGID = 0x2
const ATTR_PERMISSIONS = 0x4
const ATTR_ACMODTIME = 0x8
const ATTR_EXTENDED = 0x80000000

/** The largest packet accepted from the server (its data answers are 32 KiB). */
export const MAX_PACKET = 1024 * 1024

/** File attributes: every field is optional, as the protocol has it. */
export interface Attrs {
  readonly size?: number | undefined
  readonly uid?: number | undefined
  readonly gid?: number | undefined
  /** The whole `st_mode`: file type bits and permission bits. */
  readonly permissions?: number | undefined
  /** Seconds since the epoch. */
  readonly atime?: number | undefined
  readonly mtime?: number | undefined
}

/** One entry of a NAME answer. */
export interface NameEntry {
  readonly filename: string
  readonly longname: string
  readonly attrs: Attrs
}

/** An answer from the server. */
export type Response =
  | {
    readonly _tag: "Version"
    readonly version: number
    readonly extensions: ReadonlyArray<readonly [string, string]>
  }
  | { readonly _tag: "Status"; readonly id: number; readonly code: number; readonly message: string }
  | { readonly _tag: "Handle"; readonly id: number; readonly handle: Uint8Array }
  | { readonly _tag: "Data"; readonly id: number; readonly data: Uint8Array }
  | { readonly _tag: "Name"; readonly id: number; readonly entries: ReadonlyArray<NameEntry> }
  | { readonly _tag: "Attrs"; readonly id: number; readonly attrs: Attrs }

/** A packet the codec could not make sense of. */
export class CodecError extends Error {}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** Fields of a packet body, in order. */
export type Field =
  | { readonly u32: number }
  | { readonly u64: number }
  | { readonly bytes: Uint8Array }
  | { readonly string: string }
  | { readonly attrs: Attrs }

const u32 = (n: number): Field => ({ u32: n })
const u64 = (n: number): Field => ({ u64: n })
const str = (s: string): Field => ({ string: s })
const bytes = (b: Uint8Array): Field => ({ bytes: b })
const attrs = (a: Attrs): Field => ({ attrs: a })

const attrsSize = (a: Attrs): number =>
  4 + (a.size === undefined ? 0 : 8) + (a.uid === undefined ? 0 : 8) + (a.permissions === undefined ? 0 : 4) +
  (a.mtime === undefined ? 0 : 8)

const fieldSize = (f: Field): number =>
  "u32" in f
    ? 4
    : "u64" in f
    ? 8
    : "bytes" in f
    ? 4 + f.bytes.length
    : "string" in f
    ? 4 + Buffer.byteLength(f.string, "utf8")
    : attrsSize(f.attrs)

const checkU32 = (n: number, what: string) => {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new CodecError(`${what} is not a uint32: ${n}`)
}

/**
 * One packet: length, type, then the fields. `uid` and `gid` travel together (the
 * protocol has one flag for both); set both or neither. Times likewise.
 */
export const encodePacket = (type: number, fields: ReadonlyArray<Field>): Uint8Array => {
  const length = 1 + fields.reduce((sum, f) => sum + fieldSize(f), 0)
  const out = new Uint8Array(4 + length)
  const view = new DataView(out.buffer)
  view.setUint32(0, length)
  out[4] = type
  let at = 5
  const putU32 = (n: number, what: string) => {
    checkU32(n, what)
    view.setUint32(at, n)
    at += 4
  }
  for (const f of fields) {
    if ("u32" in f) putU32(f.u32, "a field")
    else if ("u64" in f) {
      if (!Number.isSafeInteger(f.u64) || f.u64 < 0) throw new CodecError(`not a uint64: ${f.u64}`)
      view.setBigUint64(at, BigInt(f.u64))
      at += 8
    } else if ("bytes" in f || "string" in f) {
      const b = "bytes" in f ? f.bytes : encoder.encode(f.string)
      putU32(b.length, "a string length")
      out.set(b, at)
      at += b.length
    } else {
      const a = f.attrs
      if ((a.uid === undefined) !== (a.gid === undefined)) throw new CodecError("uid and gid are set together")
      if ((a.atime === undefined) !== (a.mtime === undefined)) throw new CodecError("atime and mtime are set together")
      const flags = (a.size === undefined ? 0 : ATTR_SIZE) | (a.uid === undefined ? 0 : ATTR_UIDGID) |
        (a.permissions === undefined ? 0 : ATTR_PERMISSIONS) | (a.mtime === undefined ? 0 : ATTR_ACMODTIME)
      putU32(flags, "attribute flags")
      if (a.size !== undefined) {
        if (!Number.isSafeInteger(a.size) || a.size < 0) throw new CodecError(`not a size: ${a.size}`)
        view.setBigUint64(at, BigInt(a.size))
        at += 8
      }
      if (a.uid !== undefined) {
        putU32(a.uid, "uid")
        putU32(a.gid!, "gid")
      }
      if (a.permissions !== undefined) putU32(a.permissions, "permissions")
      if (a.mtime !== undefined) {
        putU32(a.atime!, "atime")
        putU32(a.mtime, "mtime")
      }
    }
  }
  return out
}

/** `SSH_FXP_INIT` with our version (3). */
export const init = (): Uint8Array => encodePacket(FXP.INIT, [u32(3)])

/** The requests, each with its id first. */
export const request = {
  open: (id: number, path: string, pflags: number, a: Attrs) =>
    encodePacket(FXP.OPEN, [u32(id), str(path), u32(pflags), attrs(a)]),
  close: (id: number, handle: Uint8Array) => encodePacket(FXP.CLOSE, [u32(id), bytes(handle)]),
  read: (id: number, handle: Uint8Array, offset: number, length: number) =>
    encodePacket(FXP.READ, [u32(id), bytes(handle), u64(offset), u32(length)]),
  write: (id: number, handle: Uint8Array, offset: number, data: Uint8Array) =>
    encodePacket(FXP.WRITE, [u32(id), bytes(handle), u64(offset), bytes(data)]),
  lstat: (id: number, path: string) => encodePacket(FXP.LSTAT, [u32(id), str(path)]),
  stat: (id: number, path: string) => encodePacket(FXP.STAT, [u32(id), str(path)]),
  fstat: (id: number, handle: Uint8Array) => encodePacket(FXP.FSTAT, [u32(id), bytes(handle)]),
  setstat: (id: number, path: string, a: Attrs) => encodePacket(FXP.SETSTAT, [u32(id), str(path), attrs(a)]),
  fsetstat: (id: number, handle: Uint8Array, a: Attrs) =>
    encodePacket(FXP.FSETSTAT, [u32(id), bytes(handle), attrs(a)]),
  opendir: (id: number, path: string) => encodePacket(FXP.OPENDIR, [u32(id), str(path)]),
  readdir: (id: number, handle: Uint8Array) => encodePacket(FXP.READDIR, [u32(id), bytes(handle)]),
  remove: (id: number, path: string) => encodePacket(FXP.REMOVE, [u32(id), str(path)]),
  mkdir: (id: number, path: string, a: Attrs) => encodePacket(FXP.MKDIR, [u32(id), str(path), attrs(a)]),
  rmdir: (id: number, path: string) => encodePacket(FXP.RMDIR, [u32(id), str(path)]),
  realpath: (id: number, path: string) => encodePacket(FXP.REALPATH, [u32(id), str(path)]),
  rename: (id: number, from: string, to: string) => encodePacket(FXP.RENAME, [u32(id), str(from), str(to)]),
  readlink: (id: number, path: string) => encodePacket(FXP.READLINK, [u32(id), str(path)]),
  /**
   * Target first, then the link: the order OpenSSH's server (and Go's pkg/sftp, which
   * LXD and Incus run) reads, the reverse of the draft's text.
   */
  symlink: (id: number, target: string, link: string) => encodePacket(FXP.SYMLINK, [u32(id), str(target), str(link)])
}

/**
 * Cuts a byte stream into packets: feed it chunks as they arrive, get back every
 * complete packet (type and payload after the type byte). The chunk may be a buffer that
 * is read into again once `push` returns, and nothing is allocated per packet: a packet
 * inside the chunk is a view of it, and the bytes of a packet split across chunks are
 * gathered in one of the framer's two buffers (used in turn). So a packet is valid until
 * the next `push`: copy what you keep.
 */
export class Framer {
  /** The partial packet's bytes so far, and the packet gathered at the last push. */
  private carry: Uint8Array = new Uint8Array(64 * 1024)
  private spare: Uint8Array = new Uint8Array(64 * 1024)
  private carried = 0

  push(chunk: Uint8Array): Array<{ readonly type: number; readonly payload: Uint8Array }> {
    const out: Array<{ readonly type: number; readonly payload: Uint8Array }> = []
    let at = 0
    if (this.carried > 0) {
      // the length first (it may itself be split), then the rest of the packet
      if (this.carried < 4) at = this.gather(chunk, at, 4 - this.carried)
      if (this.carried < 4) return out
      const total = 4 + lengthAt(this.carry, 0)
      at = this.gather(chunk, at, total - this.carried)
      if (this.carried < total) return out
      const packet = this.carry.subarray(0, total)
      out.push({ type: packet[4]!, payload: packet.subarray(5) })
      // the gathered packet stays valid until the next push; the next partial goes to the other buffer
      const used = this.carry
      this.carry = this.spare
      this.spare = used
      this.carried = 0
    }
    while (chunk.length - at >= 4) {
      const length = lengthAt(chunk, at)
      if (chunk.length - at - 4 < length) break
      out.push({ type: chunk[at + 4]!, payload: chunk.subarray(at + 5, at + 4 + length) })
      at += 4 + length
    }
    if (at < chunk.length) {
      if (chunk.length - at >= 4) lengthAt(chunk, at)
      this.gather(chunk, at, chunk.length - at)
    }
    return out
  }

  /** Bytes of an incomplete packet still waiting. */
  get pending(): number {
    return this.carried
  }

  /** Copy up to `want` bytes of `chunk` from `at` into the partial packet; the new position in `chunk`. */
  private gather(chunk: Uint8Array, at: number, want: number): number {
    const n = Math.min(want, chunk.length - at)
    if (this.carried + n > this.carry.length) {
      const bigger = new Uint8Array(Math.max(this.carried + n, this.carry.length * 2))
      bigger.set(this.carry.subarray(0, this.carried))
      this.carry = bigger
    }
    this.carry.set(chunk.subarray(at, at + n), this.carried)
    this.carried += n
    if (this.carried >= 4 && this.carried - n < 4) lengthAt(this.carry, 0)
    return at + n
  }
}

/** The big-endian packet length at `at`, checked. */
const lengthAt = (bytes: Uint8Array, at: number): number => {
  const length = ((bytes[at]! << 24) >>> 0) + (bytes[at + 1]! << 16) + (bytes[at + 2]! << 8) + bytes[at + 3]!
  if (length < 1 || length > MAX_PACKET) throw new CodecError(`bad packet length ${length}`)
  return length
}

/** Reads fields off a payload, failing with `CodecError` past its end. */
class Reader {
  private at = 0
  private readonly view: DataView
  constructor(private readonly payload: Uint8Array) {
    this.view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength)
  }
  private need(n: number) {
    if (this.at + n > this.payload.length) throw new CodecError("the packet ends early")
  }
  get done(): boolean {
    return this.at >= this.payload.length
  }
  u32(): number {
    this.need(4)
    const n = this.view.getUint32(this.at)
    this.at += 4
    return n
  }
  u64(): number {
    this.need(8)
    const n = this.view.getBigUint64(this.at)
    this.at += 8
    if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw new CodecError("a 64-bit value is too large")
    return Number(n)
  }
  bytes(): Uint8Array {
    const n = this.u32()
    this.need(n)
    const b = this.payload.subarray(this.at, this.at + n)
    this.at += n
    return b
  }
  string(): string {
    return decoder.decode(this.bytes())
  }
  attrs(): Attrs {
    const flags = this.u32()
    const size = flags & ATTR_SIZE ? this.u64() : undefined
    const uid = flags & ATTR_UIDGID ? this.u32() : undefined
    const gid = flags & ATTR_UIDGID ? this.u32() : undefined
    const permissions = flags & ATTR_PERMISSIONS ? this.u32() : undefined
    const atime = flags & ATTR_ACMODTIME ? this.u32() : undefined
    const mtime = flags & ATTR_ACMODTIME ? this.u32() : undefined
    if (flags & ATTR_EXTENDED) {
      const count = this.u32()
      for (let i = 0; i < count; i++) {
        this.bytes()
        this.bytes()
      }
    }
    return { size, uid, gid, permissions, atime, mtime }
  }
}

/** One answer, from its type and payload. */
export const decodeResponse = (type: number, payload: Uint8Array): Response => {
  const r = new Reader(payload)
  switch (type) {
    case FXP.VERSION: {
      const version = r.u32()
      const extensions: Array<readonly [string, string]> = []
      while (!r.done) extensions.push([r.string(), r.string()])
      return { _tag: "Version", version, extensions }
    }
    case FXP.STATUS: {
      const id = r.u32()
      const code = r.u32()
      // version 3 servers add a message and a language tag; be lenient if they do not
      const message = r.done ? "" : r.string()
      return { _tag: "Status", id, code, message }
    }
    case FXP.HANDLE: {
      const id = r.u32()
      return { _tag: "Handle", id, handle: new Uint8Array(r.bytes()) }
    }
    case FXP.DATA: {
      const id = r.u32()
      // a view of the packet (valid as long as the packet is; see Framer)
      return { _tag: "Data", id, data: r.bytes() }
    }
    case FXP.NAME: {
      const id = r.u32()
      const count = r.u32()
      const entries: Array<NameEntry> = []
      for (let i = 0; i < count; i++) entries.push({ filename: r.string(), longname: r.string(), attrs: r.attrs() })
      return { _tag: "Name", id, entries }
    }
    case FXP.ATTRS: {
      const id = r.u32()
      return { _tag: "Attrs", id, attrs: r.attrs() }
    }
    default:
      throw new CodecError(`unexpected packet type ${type}`)
  }
}

/** The words of a status code, for messages. */
export const statusName = (code: number): string =>
  (Object.entries(FX).find(([, v]) => v === code)?.[0] ?? `code ${code}`).toLowerCase().replace(/_/g, " ")
