/**
 * A websocket peer written by hand on the raw upgraded socket, for tests of misbehaving
 * servers: it answers the handshake (or not), reads the client's frames, and never answers
 * a close frame unless told to. `ws`'s own server always answers close frames, which is
 * exactly what these tests must not have.
 */
import * as Crypto from "node:crypto"
import type * as Http from "node:http"
import type * as Stream from "node:stream"

/** One frame the client sent (client frames are always masked; payload unmasked here). */
export interface ClientFrame {
  readonly opcode: number
  readonly payload: Buffer
}

export const OPCODE_TEXT = 0x1
export const OPCODE_BINARY = 0x2
export const OPCODE_CLOSE = 0x8

/** What the scripted peer saw on one connection. */
export interface RawConnection {
  readonly url: string
  readonly frames: Array<ClientFrame>
  /** Set when the client's TCP connection ended (FIN or reset). */
  ended: boolean
  /** Whether the client sent a close frame before its connection ended. */
  readonly sawCloseFrame: () => boolean
  /** The text frames, decoded. */
  readonly texts: () => Array<string>
  /** Send a binary frame (unmasked: server to client). */
  readonly sendBinary: (data: Buffer) => void
  /** Cut the connection from the server side. */
  readonly destroy: () => void
  /** Called whenever a frame arrives or the connection ends. */
  onChange: () => void
}

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

const acceptKey = (key: string) => Crypto.createHash("sha1").update(key + GUID).digest("base64")

/** Parse as many complete client frames as `buffer` holds; returns them and the rest. */
const parseFrames = (buffer: Buffer): { frames: Array<ClientFrame>; rest: Buffer } => {
  const frames: Array<ClientFrame> = []
  let at = 0
  for (;;) {
    if (buffer.length - at < 2) break
    const b0 = buffer[at]!
    const b1 = buffer[at + 1]!
    let length = b1 & 0x7f
    let header = 2
    if (length === 126) {
      if (buffer.length - at < 4) break
      length = buffer.readUInt16BE(at + 2)
      header = 4
    } else if (length === 127) {
      if (buffer.length - at < 10) break
      length = Number(buffer.readBigUInt64BE(at + 2))
      header = 10
    }
    const masked = (b1 & 0x80) !== 0
    const maskBytes = masked ? 4 : 0
    if (buffer.length - at < header + maskBytes + length) break
    const mask = buffer.subarray(at + header, at + header + maskBytes)
    const payload = Buffer.from(buffer.subarray(at + header + maskBytes, at + header + maskBytes + length))
    if (masked) { for (let i = 0; i < payload.length; i++) payload[i] = payload[i]! ^ mask[i % 4]! }
    frames.push({ opcode: b0 & 0x0f, payload })
    at += header + maskBytes + length
  }
  return { frames, rest: buffer.subarray(at) }
}

const serverFrame = (opcode: number, data: Buffer): Buffer => {
  const head = data.length < 126
    ? Buffer.from([0x80 | opcode, data.length])
    : data.length < 65536
    ? Buffer.from([0x80 | opcode, 126, data.length >> 8, data.length & 0xff])
    : (() => {
      const b = Buffer.alloc(10)
      b[0] = 0x80 | opcode
      b[1] = 127
      b.writeBigUInt64BE(BigInt(data.length), 2)
      return b
    })()
  return Buffer.concat([head, data])
}

/**
 * Complete the websocket handshake on an upgrade request and watch the connection. The
 * peer reads every frame and answers none of them: a close frame is recorded, not echoed.
 */
export const acceptRaw = (req: Http.IncomingMessage, socket: Stream.Duplex, head: Buffer): RawConnection => {
  const key = String(req.headers["sec-websocket-key"] ?? "")
  socket.write(
    "HTTP/1.1 101 Switching Protocols\r\n" +
      "Upgrade: websocket\r\n" +
      "Connection: Upgrade\r\n" +
      `Sec-WebSocket-Accept: ${acceptKey(key)}\r\n\r\n`
  )
  return watchRaw(req.url ?? "", socket, head)
}

/** Watch an upgraded (or never answered) connection's frames without answering any. */
export const watchRaw = (url: string, socket: Stream.Duplex, head: Buffer): RawConnection => {
  let pending = Buffer.from(head)
  const connection: RawConnection = {
    url,
    frames: [],
    ended: false,
    sawCloseFrame: () => connection.frames.some((f) => f.opcode === OPCODE_CLOSE),
    texts: () => connection.frames.filter((f) => f.opcode === OPCODE_TEXT).map((f) => f.payload.toString("utf8")),
    sendBinary: (data) => {
      socket.write(serverFrame(OPCODE_BINARY, data))
    },
    destroy: () => socket.destroy(),
    onChange: () => {}
  }
  const take = () => {
    const { frames, rest } = parseFrames(pending)
    pending = Buffer.from(rest)
    if (frames.length > 0) {
      connection.frames.push(...frames)
      connection.onChange()
    }
  }
  socket.on("data", (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk])
    take()
  })
  const end = () => {
    if (!connection.ended) {
      connection.ended = true
      connection.onChange()
    }
  }
  socket.on("end", end)
  socket.on("close", end)
  socket.on("error", end)
  take()
  return connection
}
