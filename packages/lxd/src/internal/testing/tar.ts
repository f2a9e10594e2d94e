/**
 * A minimal ustar writer and reader for the fake's backup tarballs: regular files,
 * directories and symlinks, with mode, owner and modification time. Names longer than
 * ustar's 100 + 155 bytes are refused by the writer (the fake's trees never have them).
 */

/** One entry of a tarball. */
export interface TarEntry {
  readonly name: string
  readonly type: "file" | "directory" | "symlink"
  readonly mode: number
  readonly uid: number
  readonly gid: number
  readonly modified: Date
  readonly data: Uint8Array
  /** A symlink's target. */
  readonly target: string
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()
const BLOCK = 512

const putString = (header: Uint8Array, at: number, length: number, value: string): void => {
  const bytes = encoder.encode(value)
  if (bytes.length > length) throw new Error(`tar: "${value}" is too long for its field`)
  header.set(bytes, at)
}

const putOctal = (header: Uint8Array, at: number, length: number, value: number): void =>
  putString(header, at, length, value.toString(8).padStart(length - 1, "0") + "\0")

const splitName = (name: string): { prefix: string; name: string } => {
  if (encoder.encode(name).length <= 100) return { prefix: "", name }
  const cut = name.lastIndexOf("/", 155)
  if (cut <= 0 || encoder.encode(name.slice(cut + 1)).length > 100) throw new Error(`tar: name too long: ${name}`)
  return { prefix: name.slice(0, cut), name: name.slice(cut + 1) }
}

const header = (entry: TarEntry): Uint8Array => {
  const h = new Uint8Array(BLOCK)
  const { name, prefix } = splitName(
    entry.type === "directory" && !entry.name.endsWith("/") ? entry.name + "/" : entry.name
  )
  putString(h, 0, 100, name)
  putOctal(h, 100, 8, entry.mode & 0o7777)
  putOctal(h, 108, 8, entry.uid)
  putOctal(h, 116, 8, entry.gid)
  putOctal(h, 124, 12, entry.type === "file" ? entry.data.length : 0)
  putOctal(h, 136, 12, Math.floor(entry.modified.getTime() / 1000))
  h.fill(0x20, 148, 156) // the checksum counts itself as spaces
  h[156] = entry.type === "file" ? 0x30 : entry.type === "directory" ? 0x35 : 0x32
  if (entry.type === "symlink") putString(h, 157, 100, entry.target)
  putString(h, 257, 6, "ustar\0")
  putString(h, 263, 2, "00")
  putString(h, 345, 155, prefix)
  const sum = h.reduce((n, b) => n + b, 0)
  putString(h, 148, 8, sum.toString(8).padStart(6, "0") + "\0 ")
  return h
}

/** The bytes of a tarball holding `entries`, in order. */
export const write = (entries: ReadonlyArray<TarEntry>): Uint8Array => {
  const parts: Array<Uint8Array> = []
  let size = 2 * BLOCK
  for (const e of entries) {
    const h = header(e)
    parts.push(h)
    size += BLOCK
    if (e.type === "file") {
      parts.push(e.data)
      const padded = Math.ceil(e.data.length / BLOCK) * BLOCK
      if (padded > e.data.length) parts.push(new Uint8Array(padded - e.data.length))
      size += padded
    }
  }
  const out = new Uint8Array(size)
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

const field = (block: Uint8Array, at: number, length: number): string => {
  const bytes = block.subarray(at, at + length)
  const end = bytes.indexOf(0)
  return decoder.decode(end < 0 ? bytes : bytes.subarray(0, end))
}

const octal = (block: Uint8Array, at: number, length: number): number =>
  parseInt(field(block, at, length).trim() || "0", 8)

/** The entries of a tarball; a malformed one is an `Error` naming what is wrong. */
export const read = (bytes: Uint8Array): Array<TarEntry> => {
  const out: Array<TarEntry> = []
  let at = 0
  while (at + BLOCK <= bytes.length) {
    const block = bytes.subarray(at, at + BLOCK)
    if (block.every((b) => b === 0)) break
    const stored = octal(block, 148, 8)
    let sum = 0
    for (let k = 0; k < BLOCK; k++) sum += k >= 148 && k < 156 ? 0x20 : block[k]!
    if (sum !== stored) throw new Error(`tar: bad header checksum at byte ${at}`)
    const prefix = field(block, 345, 155)
    const name = (prefix === "" ? "" : prefix + "/") + field(block, 0, 100)
    const size = octal(block, 124, 12)
    const flag = block[156]
    const type = flag === 0x35 ? "directory" : flag === 0x32 ? "symlink" : "file"
    at += BLOCK
    if (at + size > bytes.length) throw new Error(`tar: "${name}" is cut short`)
    out.push({
      name: type === "directory" ? name.replace(/\/$/, "") : name,
      type,
      mode: octal(block, 100, 8),
      uid: octal(block, 108, 8),
      gid: octal(block, 116, 8),
      modified: new Date(octal(block, 136, 12) * 1000),
      data: type === "file" ? bytes.slice(at, at + size) : new Uint8Array(0),
      target: type === "symlink" ? field(block, 157, 100) : ""
    })
    at += Math.ceil(size / BLOCK) * BLOCK
  }
  return out
}
