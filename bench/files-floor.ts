/**
 * The floor of a file transfer, endpoint against endpoint: a minimal client written on
 * bare sockets (no library, no Effect), moving one local file into an instance and back,
 * through the files API (`POST`/`GET /1.0/instances/<name>/files`) and through the SFTP
 * endpoint (`GET /1.0/instances/<name>/sftp`, upgraded), over the unix socket and over
 * HTTPS. What each endpoint costs the daemon, apart from any client's own cost. Not run by
 * run.sh; for *Where the time goes* in bench/README.md.
 *
 *   node bench/.work/dist/files-floor.js --name <running container> --file F --reps 3
 *
 * Prints, per endpoint, transport and direction, the seconds of each repetition and this
 * process's CPU seconds, and checks the size of what arrived (the pushed file with
 * `stat` over SFTP, the pulled one on disk).
 *
 * The SFTP client keeps 64 requests of 32 KiB in flight (the servers answer reads in
 * 32 KiB pieces), reads the local file into reused buffers and writes what it pulls at
 * each answer's offset.
 */
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Tls from "node:tls"
import { cpuNow, flag, intFlag, now, parseArgs, readEnvFile } from "./common.js"

const { flags } = parseArgs(["run", ...process.argv.slice(2)])
const env = readEnvFile()
const name = flag(flags, "name")
const file = flag(flags, "file")
const reps = intFlag(flags, "reps", 3)
const remote = flag(flags, "dest", "/root/bench-files-floor.bin")
const pulled = flag(flags, "out", `${file}.floor-pulled`)
const size = Fs.statSync(file).size

const PIECE = 32 * 1024
const WINDOW = 64

const dial = (transport: string): Promise<Net.Socket> =>
  new Promise((resolve, reject) => {
    if (transport === "unix") {
      const s = Net.connect({ path: env.LXD_SOCKET ?? "/var/lib/lxd/unix.socket" }, () => resolve(s))
      s.once("error", reject)
      return
    }
    const url = new URL(env.LXD_HTTPS_URL!)
    const s = Tls.connect({
      host: url.hostname,
      port: Number(url.port),
      cert: Fs.readFileSync(env.LXD_CLIENT_CERT!),
      key: Fs.readFileSync(env.LXD_CLIENT_KEY!),
      ca: Fs.readFileSync(env.LXD_SERVER_CERT!),
      checkServerIdentity: () => undefined
    }, () => resolve(s))
    s.once("error", reject)
  })

const filesPath = `/1.0/instances/${encodeURIComponent(name)}/files?path=${encodeURIComponent(remote)}`

/** Bytes until the end of the head; the rest of what arrived after it. */
const readHead = (s: Net.Socket): Promise<{ readonly head: string; readonly rest: Buffer }> =>
  new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0)
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d])
      const end = buf.indexOf("\r\n\r\n")
      if (end < 0) return
      s.off("data", onData)
      s.pause()
      resolve({ head: buf.subarray(0, end).toString("latin1"), rest: buf.subarray(end + 4) })
    }
    s.on("data", onData)
    s.once("error", reject)
  })

const statusOf = (head: string) => Number(head.split(" ")[1])

/** Files API push: one POST with the file as its body. */
const apiPush = async (transport: string) => {
  const s = await dial(transport)
  s.write(
    `POST ${filesPath} HTTP/1.1\r\nHost: lxd\r\nContent-Length: ${size}\r\nX-LXD-type: file\r\n` +
      "X-LXD-write: overwrite\r\nConnection: close\r\n\r\n"
  )
  const answer = readHead(s)
  await new Promise<void>((resolve, reject) => {
    const input = Fs.createReadStream(file, { highWaterMark: 1024 * 1024 })
    input.on("error", reject)
    input.on("end", resolve)
    input.pipe(s, { end: false })
  })
  const { head } = await answer
  s.destroy()
  if (statusOf(head) !== 200) throw new Error(`files API push: ${head.split("\r\n")[0]}`)
}

/** Files API pull: one GET, its body (framed by content-length, or by the end) to the local file. */
const apiPull = async (transport: string) => {
  const s = await dial(transport)
  s.write(`GET ${filesPath} HTTP/1.1\r\nHost: lxd\r\nConnection: close\r\n\r\n`)
  const { head, rest } = await readHead(s)
  if (statusOf(head) !== 200) throw new Error(`files API pull: ${head.split("\r\n")[0]}`)
  if (/transfer-encoding:\s*chunked/i.test(head)) throw new Error("files API pull: a chunked answer (not handled)")
  const out = Fs.createWriteStream(pulled)
  out.write(rest)
  await new Promise<void>((resolve, reject) => {
    s.on("error", reject)
    out.on("error", reject)
    out.on("finish", resolve)
    s.pipe(out)
    s.resume()
  })
}

/** An SFTP session on an upgraded connection: send packets, and the answers by request id. */
const sftpSession = async (transport: string) => {
  const s = await dial(transport)
  s.setNoDelay(true)
  s.write(
    `GET /1.0/instances/${encodeURIComponent(name)}/sftp HTTP/1.1\r\nHost: lxd\r\n` +
      "Connection: Upgrade\r\nUpgrade: sftp\r\n\r\n"
  )
  const { head, rest } = await readHead(s)
  if (statusOf(head) !== 101) throw new Error(`sftp upgrade: ${head.split("\r\n")[0]}`)
  const waiting = new Map<number, (type: number, payload: Buffer) => void>()
  let pending: Buffer = rest
  let failure: Error | undefined
  const feed = (d: Buffer) => {
    pending = pending.length === 0 ? d : Buffer.concat([pending, d])
    while (pending.length >= 4) {
      const length = pending.readUInt32BE(0)
      if (pending.length < 4 + length) break
      const type = pending[4]!
      const payload = pending.subarray(5, 4 + length)
      pending = pending.subarray(4 + length)
      // VERSION carries no id: it answers request 0
      const id = type === 2 ? 0 : payload.readUInt32BE(0)
      const answer = waiting.get(id)
      waiting.delete(id)
      answer?.(type, payload)
    }
  }
  s.on("data", feed)
  s.on("error", (e) => (failure = e))
  s.resume()
  let nextId = 1
  const packet = (type: number, parts: ReadonlyArray<Buffer>) => {
    const length = 1 + parts.reduce((n, p) => n + p.length, 0)
    const head = Buffer.allocUnsafe(5)
    head.writeUInt32BE(length, 0)
    head[4] = type
    return [head, ...parts]
  }
  const u32 = (n: number) => {
    const b = Buffer.allocUnsafe(4)
    b.writeUInt32BE(n, 0)
    return b
  }
  const u64 = (n: number) => {
    const b = Buffer.allocUnsafe(8)
    b.writeBigUInt64BE(BigInt(n), 0)
    return b
  }
  const str = (b: Buffer) => [u32(b.length), b]
  /** Send a request (its id first); `onAnswer` gets the answer's type and payload. */
  const send = (type: number, parts: ReadonlyArray<Buffer>, onAnswer: (type: number, payload: Buffer) => void) => {
    if (failure !== undefined) throw failure
    const id = nextId++
    waiting.set(id, onAnswer)
    for (const p of packet(type, [u32(id), ...parts])) s.write(p)
  }
  const call = (type: number, parts: ReadonlyArray<Buffer>) =>
    new Promise<{ readonly type: number; readonly payload: Buffer }>((resolve) =>
      send(type, parts, (t, payload) => resolve({ type: t, payload }))
    )
  const status = (type: number, payload: Buffer, op: string) => {
    if (type !== 101) throw new Error(`${op}: answer of type ${type}`)
    const code = payload.readUInt32BE(4)
    if (code !== 0) throw new Error(`${op}: status ${code}`)
  }
  // INIT, version 3
  await new Promise<void>((resolve) => {
    waiting.set(0, () => resolve())
    for (const p of packet(1, [u32(3)])) s.write(p)
  })
  const open = async (path: string, pflags: number) => {
    const { payload, type } = await call(3, [...str(Buffer.from(path)), u32(pflags), u32(0)])
    if (type !== 102) throw new Error(`OPEN ${path}: answer of type ${type}`)
    return Buffer.from(payload.subarray(8, 8 + payload.readUInt32BE(4)))
  }
  const close = async (handle: Buffer) => {
    const { payload, type } = await call(4, str(handle))
    status(type, payload, "CLOSE")
  }
  const sizeOf = async (path: string) => {
    const { payload, type } = await call(17, str(Buffer.from(path)))
    if (type !== 105) throw new Error(`STAT ${path}: answer of type ${type}`)
    // ATTRS: flags, then the size (flag 0x1) first
    if ((payload.readUInt32BE(4) & 1) === 0) throw new Error(`STAT ${path}: no size`)
    return Number(payload.readBigUInt64BE(8))
  }
  return { socket: s, send, open, close, sizeOf, str, u32, u64, status }
}

const SSH_FXF_READ = 0x01
const SSH_FXF_WRITE = 0x02
const SSH_FXF_CREAT = 0x08
const SSH_FXF_TRUNC = 0x10

/** SFTP push: OPEN, WRITEs of 32 KiB with 64 in flight from reused buffers, CLOSE. */
const sftpPush = async (transport: string) => {
  const sftp = await sftpSession(transport)
  const handle = await sftp.open(remote, SSH_FXF_WRITE | SSH_FXF_CREAT | SSH_FXF_TRUNC)
  const fd = Fs.openSync(file, "r")
  const free: Array<Buffer> = Array.from({ length: WINDOW }, () => Buffer.allocUnsafe(PIECE))
  await new Promise<void>((resolve, reject) => {
    let offset = 0
    let inFlight = 0
    let ended = false
    const pump = () => {
      try {
        while (!ended && free.length > 0) {
          const buffer = free.pop()!
          const n = Fs.readSync(fd, buffer, 0, PIECE, offset)
          if (n === 0) {
            free.push(buffer)
            ended = true
            break
          }
          const at = offset
          offset += n
          inFlight++
          sftp.send(6, [...sftp.str(handle), sftp.u64(at), ...sftp.str(buffer.subarray(0, n))], (type, payload) => {
            try {
              sftp.status(type, payload, "WRITE")
            } catch (e) {
              return reject(e)
            }
            inFlight--
            free.push(buffer)
            pump()
          })
        }
        if (ended && inFlight === 0) resolve()
      } catch (e) {
        reject(e)
      }
    }
    pump()
  })
  Fs.closeSync(fd)
  await sftp.close(handle)
  const got = await sftp.sizeOf(remote)
  sftp.socket.destroy()
  if (got !== size) throw new Error(`SFTP push: ${got} bytes arrived, expected ${size}`)
}

/** SFTP pull: OPEN, READs of 32 KiB with 64 in flight, each answer written at its offset. */
const sftpPull = async (transport: string) => {
  const sftp = await sftpSession(transport)
  const handle = await sftp.open(remote, SSH_FXF_READ)
  const fd = Fs.openSync(pulled, "w")
  await new Promise<void>((resolve, reject) => {
    let offset = 0
    let inFlight = 0
    let eof = false
    const pump = () => {
      while (!eof && inFlight < WINDOW) {
        const at = offset
        offset += PIECE
        inFlight++
        sftp.send(5, [...sftp.str(handle), sftp.u64(at), sftp.u32(PIECE)], (type, payload) => {
          inFlight--
          if (type === 103) {
            const n = payload.readUInt32BE(4)
            Fs.writeSync(fd, payload, 8, n, at)
            // a short read: the end is near (later reads answer EOF)
          } else if (type === 101 && payload.readUInt32BE(4) === 1) {
            eof = true
          } else {
            return reject(new Error(`READ: answer of type ${type}`))
          }
          pump()
          if (eof && inFlight === 0) resolve()
        })
      }
    }
    pump()
  })
  Fs.closeSync(fd)
  await sftp.close(handle)
  sftp.socket.destroy()
}

const runs: ReadonlyArray<readonly [string, string, (transport: string) => Promise<void>]> = [
  ["files API", "push", apiPush],
  ["files API", "pull", apiPull],
  ["SFTP", "push", sftpPush],
  ["SFTP", "pull", sftpPull]
]

const main = async () => {
  for (const transport of ["unix", "https"]) {
    for (const [endpoint, direction, once] of runs) {
      const seconds: Array<number> = []
      const cpu: Array<number> = []
      for (let r = 0; r < reps; r++) {
        Fs.rmSync(pulled, { force: true })
        const c0 = cpuNow()
        const t0 = now()
        await once(transport)
        seconds.push(now() - t0)
        cpu.push(cpuNow() - c0)
        if (direction === "pull") {
          const got = Fs.statSync(pulled).size
          if (got !== size) throw new Error(`${endpoint} pull: ${got} bytes, expected ${size}`)
        }
      }
      const show = (xs: ReadonlyArray<number>) => xs.map((x) => x.toFixed(2)).join(" ")
      process.stdout.write(
        `${endpoint.padEnd(9)} ${direction} ${transport.padEnd(5)} s: ${show(seconds)}  CPU s: ${show(cpu)}\n`
      )
    }
  }
  Fs.rmSync(pulled, { force: true })
}

main().catch((error: unknown) => {
  process.stderr.write(`files-floor failed: ${String(error)}\n`)
  process.exit(1)
})
