/**
 * An SFTP version 3 client over an upgraded connection (LXD's
 * `/1.0/instances/<name>/sftp`): requests carry ids, a reader fiber hands each answer to
 * the request waiting for it, and the session calls of `Files.sftp` are built on top.
 * Bulk reads and writes keep many requests in flight (the server answers data in 32 KiB
 * pieces). When the connection ends, every waiting request fails with a transport error.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as FiberId from "effect/FiberId"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Fs from "node:fs"
import type { FilesError, Owner, SftpAttributes, SftpEntry, SftpFile, SftpOpenFlags, SftpSession } from "../Files.js"
import { DecodeError, InvalidArgument, LXDAPIException, NotFound, TransportError } from "../LxdError.js"
import type { UpgradedSocket } from "../LxdTransport.js"
import type { LocalWriter } from "./localWrites.js"
import {
  type Attrs,
  CodecError,
  decodeResponse,
  Framer,
  FX,
  FXF,
  FXP,
  init,
  request,
  type Response,
  statusName
} from "./sftpCodec.js"
import { checkAbsolutePath, checkId, checkMode } from "./validation.js"

/** Bytes asked for (or sent) per READ and WRITE. */
export const CHUNK = 32 * 1024
/**
 * Bytes sent per WRITE. Larger pieces (up to the servers' 256 KiB packets) measured no
 * faster here.
 */
export const WRITE_CHUNK = 32 * 1024
/** Requests in flight during a bulk read or write. */
export const WINDOW = 64

/** Where the session goes, for errors. */
export interface Where {
  readonly address: string
  readonly instance: string
  /** `/1.0/instances/<name>/sftp` (encoded). */
  readonly apiPath: string
}

/** The low-level client: send a request, wait for its answer. */
export interface Client {
  readonly version: number
  readonly extensions: ReadonlyArray<string>
  /** Send the request built for a fresh id; the effect ends once it is written. */
  readonly start: (
    build: (id: number) => Uint8Array
  ) => Effect.Effect<Effect.Effect<Response, TransportError>, TransportError>
  /** Send and wait for the answer. */
  readonly call: (build: (id: number) => Uint8Array) => Effect.Effect<Response, TransportError>
  /**
   * Send `count` requests in one write (their packets side by side, built for the ids
   * given, in order); the effect ends once it is written. Each answer goes to `listener`
   * as it is read (no fiber waits for it), or `onEnd` for each one still unanswered when
   * the session ends.
   */
  readonly sendMany: (
    count: number,
    build: (ids: ReadonlyArray<number>) => Uint8Array,
    listener: Listener
  ) => Effect.Effect<void, TransportError>
}

/** Whoever takes the answers of `sendMany`. */
export interface Listener {
  /** An answer; a DATA's bytes are valid only until this returns (copy what you keep). */
  readonly onAnswer: (response: Response) => void
  readonly onEnd: (error: TransportError) => void
}

const isListener = (waiting: Deferred.Deferred<Response, TransportError> | Listener): waiting is Listener =>
  "onAnswer" in waiting

const typeOf = (permissions: number | undefined): SftpAttributes["type"] => {
  if (permissions === undefined) return undefined
  switch (permissions & 0o170000) {
    case 0o100000:
      return "file"
    case 0o040000:
      return "directory"
    case 0o120000:
      return "symlink"
    default:
      return "other"
  }
}

/** The attributes of the protocol, as `Files` shows them. */
export const attributesOf = (a: Attrs): SftpAttributes => ({
  type: typeOf(a.permissions),
  mode: a.permissions === undefined ? undefined : a.permissions & 0o7777,
  permissions: a.permissions,
  size: a.size,
  uid: a.uid,
  gid: a.gid,
  atime: a.atime === undefined ? undefined : new Date(a.atime * 1000),
  mtime: a.mtime === undefined ? undefined : new Date(a.mtime * 1000)
})

/** `SSH_FXF_*` flags of an `fs`-style open mode. */
export const openFlags = (flags: SftpOpenFlags): number => {
  switch (flags) {
    case "r":
      return FXF.READ
    case "r+":
      return FXF.READ | FXF.WRITE
    case "w":
      return FXF.WRITE | FXF.CREAT | FXF.TRUNC
    case "wx":
      return FXF.WRITE | FXF.CREAT | FXF.EXCL
    case "a":
      return FXF.WRITE | FXF.CREAT
  }
}

const HTTP_STATUS: Record<number, number> = {
  [FX.NO_SUCH_FILE]: 404,
  [FX.PERMISSION_DENIED]: 403,
  [FX.BAD_MESSAGE]: 400,
  [FX.OP_UNSUPPORTED]: 501
}

/** A failure status as the library's errors: no such file is `NotFound`, the rest `LXDAPIException`. */
export const statusError = (
  where: Where,
  op: string,
  path: string,
  status: { readonly code: number; readonly message: string }
): NotFound | LXDAPIException => {
  const resource = `File "${path}" of instance "${where.instance}"`
  const words = statusName(status.code)
  const serverMessage = status.message.length > 0 && status.message !== words ? `${words}: ${status.message}` : words
  const base = { method: `SFTP ${op}`, path: where.apiPath, resource, serverMessage }
  if (status.code === FX.NO_SUCH_FILE) return new NotFound(base)
  const http = HTTP_STATUS[status.code] ?? 500
  return new LXDAPIException({ ...base, status: http, errorCode: http })
}

const sessionError = (where: Where, reason: string, cause?: unknown) =>
  new TransportError({
    address: where.address,
    method: "SFTP",
    path: where.apiPath,
    reason,
    ...(cause === undefined ? {} : { cause })
  })

/**
 * Speak SFTP over the socket: INIT, wait for VERSION, then serve requests. The reader
 * runs until the scope closes or the connection ends.
 */
export const connect = (
  socket: UpgradedSocket,
  where: Where
): Effect.Effect<Client, TransportError | DecodeError, Scope.Scope> =>
  Effect.gen(function*() {
    const pending = new Map<number, Deferred.Deferred<Response, TransportError> | Listener>()
    const version = yield* Deferred.make<Response & { readonly _tag: "Version" }, TransportError>()
    let ended: TransportError | undefined
    let nextId = 1
    const framer = new Framer()

    const end = (error: TransportError) => {
      if (ended !== undefined) return
      ended = error
      Deferred.unsafeDone(version, Effect.fail(error))
      for (const d of pending.values()) {
        if (isListener(d)) d.onEnd(error)
        else Deferred.unsafeDone(d, Effect.fail(error))
      }
      pending.clear()
    }

    /** Hand each complete answer to its asker; a malformed packet is returned as the error. */
    const answer = (chunk: Uint8Array): TransportError | undefined => {
      try {
        for (const packet of framer.push(chunk)) {
          const response = decodeResponse(packet.type, packet.payload)
          if (response._tag === "Version") {
            Deferred.unsafeDone(version, Effect.succeed(response))
            continue
          }
          const waiting = pending.get(response.id)
          if (waiting !== undefined) {
            pending.delete(response.id)
            // a listener reads the answer at once; a waiter gets its own copy of the data
            // (the packet is a view valid only until the next read, see Framer)
            if (isListener(waiting)) waiting.onAnswer(response)
            else {
              Deferred.unsafeDone(
                waiting,
                Effect.succeed(
                  response._tag === "Data" ? { ...response, data: new Uint8Array(response.data) } : response
                )
              )
            }
          }
          // an answer nobody waits for (its asker was interrupted) is dropped
        }
        return undefined
      } catch (cause) {
        return sessionError(
          where,
          `the server sent a bad SFTP packet: ${cause instanceof CodecError ? cause.message : String(cause)}`
        )
      }
    }
    const closedError = () => sessionError(where, "the SFTP session was closed")

    if (socket.readWith !== undefined) {
      // the transport's callbacks: each read goes to the framer and the askers at once
      yield* Effect.addFinalizer(() => Effect.sync(() => end(closedError())))
      yield* socket.readWith({
        onData: (chunk) => {
          if (ended !== undefined) return
          const error = answer(chunk)
          if (error === undefined) return
          end(error)
          Effect.runFork(socket.close)
        },
        onEnd: (error) => end(error ?? closedError())
      })
    } else {
      yield* socket.bytes.pipe(
        Stream.runForEach((chunk) =>
          Effect.suspend(() => {
            const error = answer(chunk)
            return error === undefined ? Effect.void : Effect.fail(error)
          })
        ),
        Effect.matchEffect({
          onFailure: (error) => Effect.zipRight(Effect.sync(() => end(error)), socket.close),
          onSuccess: () => Effect.sync(() => end(closedError()))
        }),
        Effect.onInterrupt(() => Effect.sync(() => end(closedError()))),
        Effect.forkScoped
      )
    }

    const write = (bytes: Uint8Array) => ended !== undefined ? Effect.fail(ended) : socket.write(bytes)

    yield* write(init())
    const hello = yield* Deferred.await(version).pipe(
      Effect.timeoutFail({
        duration: "10 seconds",
        onTimeout: () => sessionError(where, "no SFTP version answer within 10 seconds")
      })
    )
    if (hello.version !== 3) {
      return yield* Effect.fail(
        new DecodeError({ method: "SFTP", path: where.apiPath, reason: `unsupported SFTP version ${hello.version}` })
      )
    }

    const start = (build: (id: number) => Uint8Array) =>
      Effect.suspend(() => {
        if (ended !== undefined) return Effect.fail(ended)
        const id = nextId
        nextId = nextId >= 0xffffffff ? 1 : nextId + 1
        const answer = Deferred.unsafeMake<Response, TransportError>(FiberId.none)
        pending.set(id, answer)
        let bytes: Uint8Array
        try {
          bytes = build(id)
        } catch (cause) {
          pending.delete(id)
          return Effect.die(cause)
        }
        return write(bytes).pipe(
          Effect.tapError(() => Effect.sync(() => pending.delete(id))),
          Effect.as(Deferred.await(answer).pipe(Effect.onInterrupt(() => Effect.sync(() => pending.delete(id)))))
        )
      })

    const sendMany = (count: number, build: (ids: ReadonlyArray<number>) => Uint8Array, listener: Listener) =>
      Effect.suspend(() => {
        if (ended !== undefined) return Effect.fail(ended)
        const ids: Array<number> = []
        for (let i = 0; i < count; i++) {
          ids.push(nextId)
          pending.set(nextId, listener)
          nextId = nextId >= 0xffffffff ? 1 : nextId + 1
        }
        const forget = () => ids.forEach((id) => pending.delete(id))
        let bytes: Uint8Array
        try {
          bytes = build(ids)
        } catch (cause) {
          forget()
          return Effect.die(cause)
        }
        return Effect.tapError(write(bytes), () => Effect.sync(forget))
      })

    return {
      version: hello.version,
      extensions: hello.extensions.map(([name]) => name),
      start,
      sendMany,
      call: (build) => Effect.flatten(start(build))
    }
  })

const checkPath = (path: string, argument = "path") => checkAbsolutePath(path, argument)

/** A local file to send, its size known, and how a failure to read it is reported. */
export interface LocalFile<E> {
  readonly path: string
  readonly size: number
  readonly readFailed: (cause: unknown) => E
}

/**
 * Bytes per WRITE of `writeLocal`, and its writes in flight (4 MiB). Larger pieces than
 * `writeFile`'s: the cost of a file transfer here is per packet, and the servers (Go's
 * pkg/sftp, in LXD and Incus) take packets of up to 256 KiB.
 */
const BULK_WRITE = 128 * 1024
const BULK_WINDOW = 32
/** WRITEs sent together (one file read, one socket write): 1 MiB. */
const BULK_GROUP = 8

/** A local file (open for writing) that a pull fills, and how a failure to write it is reported. */
export interface LocalTarget<W> {
  readonly writer: LocalWriter
  readonly writeFailed: (cause: unknown) => W
}

/** READs of `readLocal` in flight (2 MiB of 32 KiB answers: the servers cap a DATA at 32 KiB). */
const PULL_WINDOW = 64
/** The file range one buffer of `readLocal` gathers (a whole number of READs), written in one go. */
const PULL_SLAB = 32 * CHUNK
/** Buffers of `readLocal` at most (8 MiB): with all of them waiting for the disk, nothing new is asked for. */
const PULL_SLABS = 8

/** A session of `Files.sftp`, and the bulk transfers `Files.push` and `Files.pull` use. */
export interface Session extends SftpSession {
  readonly writeLocal: <E>(
    path: string,
    local: LocalFile<E>,
    ownership: { readonly mode: number; readonly uid?: number | undefined; readonly gid?: number | undefined }
  ) => Effect.Effect<void, FilesError | E>
  readonly readLocal: <W>(path: string, local: LocalTarget<W>) => Effect.Effect<number, FilesError | W>
}

/** The SFTP session of `Files.sftp` over a connected client. */
export const session = (client: Client, where: Where): Session => {
  const unexpected = (op: string, response: Response) =>
    new DecodeError({ method: `SFTP ${op}`, path: where.apiPath, reason: `unexpected ${response._tag} answer` })

  const failed = (op: string, path: string, response: Response) =>
    response._tag === "Status" ? statusError(where, op, path, response) : unexpected(op, response)

  /** An answer that must be an OK status. */
  const ok = (op: string, path: string) => (response: Response) =>
    response._tag === "Status" && response.code === FX.OK ? Effect.void : Effect.fail(failed(op, path, response))

  const expectHandle = (op: string, path: string) => (response: Response) =>
    response._tag === "Handle" ? Effect.succeed(response.handle) : Effect.fail(failed(op, path, response))

  const expectAttrs = (op: string, path: string) => (response: Response) =>
    response._tag === "Attrs" ? Effect.succeed(attributesOf(response.attrs)) : Effect.fail(failed(op, path, response))

  const expectName = (op: string, path: string) => (response: Response) =>
    response._tag === "Name" && response.entries.length > 0
      ? Effect.succeed(response.entries[0]!.filename)
      : Effect.fail(failed(op, path, response))

  /** DATA, or `undefined` at the end of the file. */
  const expectData = (path: string) => (response: Response) =>
    response._tag === "Data"
      ? Effect.succeed(response.data)
      : response._tag === "Status" && response.code === FX.EOF
      ? Effect.succeed(undefined)
      : Effect.fail(failed("READ", path, response))

  const stat = (path: string) =>
    Effect.flatMap(
      checkPath(path),
      () => Effect.flatMap(client.call((id) => request.stat(id, path)), expectAttrs("STAT", path))
    )

  const lstat = (path: string) =>
    Effect.flatMap(
      checkPath(path),
      () => Effect.flatMap(client.call((id) => request.lstat(id, path)), expectAttrs("LSTAT", path))
    )

  const closeHandle = (path: string, handle: Uint8Array) =>
    Effect.flatMap(client.call((id) => request.close(id, handle)), ok("CLOSE", path))

  /** A handle closed with the scope (bounded: a silent server cannot hold the scope open). */
  const scopedHandle = (op: string, path: string, build: (id: number) => Uint8Array) =>
    Effect.acquireRelease(
      Effect.flatMap(client.call(build), expectHandle(op, path)),
      (handle) => closeHandle(path, handle).pipe(Effect.timeout("5 seconds"), Effect.ignore)
    )

  const readdir = (path: string): Effect.Effect<ReadonlyArray<SftpEntry>, FilesError> =>
    Effect.scoped(Effect.gen(function*() {
      yield* checkPath(path)
      const handle = yield* scopedHandle("OPENDIR", path, (id) => request.opendir(id, path))
      const out: Array<SftpEntry> = []
      while (true) {
        const response = yield* client.call((id) => request.readdir(id, handle))
        if (response._tag === "Status" && response.code === FX.EOF) break
        if (response._tag !== "Name") return yield* Effect.fail(failed("READDIR", path, response))
        for (const e of response.entries) {
          if (e.filename === "." || e.filename === "..") continue
          out.push({ name: e.filename, longname: e.longname, attributes: attributesOf(e.attrs) })
        }
      }
      return out
    }))

  const readAt = (path: string, handle: Uint8Array, offset: number, length: number) =>
    Effect.flatMap(client.call((id) => request.read(id, handle, offset, length)), expectData(path))

  const writeAt = (path: string, handle: Uint8Array, offset: number, data: Uint8Array) =>
    Effect.flatMap(client.call((id) => request.write(id, handle, offset, data)), ok("WRITE", path))

  const open = (path: string, flags: SftpOpenFlags, options?: { readonly mode?: number | undefined }) =>
    Effect.gen(function*() {
      yield* checkPath(path)
      yield* checkMode(options?.mode)
      const handle = yield* scopedHandle(
        "OPEN",
        path,
        (id) => request.open(id, path, openFlags(flags), { permissions: options?.mode })
      )
      let closed = false
      const file: SftpFile = {
        path,
        read: (offset, length) => readAt(path, handle, offset, Math.min(length, CHUNK)),
        write: (offset, data) => writeAt(path, handle, offset, data),
        stat: Effect.flatMap(client.call((id) => request.fstat(id, handle)), expectAttrs("FSTAT", path)),
        close: Effect.suspend(() => {
          if (closed) return Effect.void
          closed = true
          return closeHandle(path, handle)
        })
      }
      return file
    })

  const readFile = (path: string): Stream.Stream<Uint8Array, FilesError> =>
    Stream.unwrapScoped(Effect.gen(function*() {
      yield* checkPath(path)
      const handle = yield* scopedHandle("OPEN", path, (id) => request.open(id, path, FXF.READ, {}))
      // reads in flight, in file order
      const inflight: Array<
        { readonly offset: number; readonly length: number; readonly answer: Effect.Effect<Response, TransportError> }
      > = []
      let nextOffset = 0
      let eof = false
      const fill = Effect.gen(function*() {
        while (!eof && inflight.length < WINDOW) {
          const offset = nextOffset
          const answer = yield* client.start((id) => request.read(id, handle, offset, CHUNK))
          inflight.push({ offset, length: CHUNK, answer })
          nextOffset += CHUNK
        }
      })
      const next: Effect.Effect<Uint8Array, Option.Option<FilesError>> = Effect.gen(function*() {
        yield* fill
        const head = inflight.shift()
        if (head === undefined) return yield* Effect.fail(Option.none())
        const data = yield* Effect.flatMap(head.answer, expectData(path))
        if (data === undefined || data.length === 0) {
          eof = true
          inflight.length = 0
          return yield* Effect.fail(Option.none())
        }
        if (data.length === head.length) return data
        // a short read that is not the end: fetch the rest of this piece before moving on
        const parts = [data]
        let at = head.offset + data.length
        while (at < head.offset + head.length) {
          const more = yield* readAt(path, handle, at, head.offset + head.length - at)
          if (more === undefined || more.length === 0) {
            eof = true
            inflight.length = 0
            break
          }
          parts.push(more)
          at += more.length
        }
        return Buffer.concat(parts)
      }).pipe(Effect.mapError((e) => (Option.isOption(e) ? e : Option.some(e))))
      return Stream.repeatEffectOption(next)
    }))

  const setstat = (op: string, path: string, attrs: Attrs) =>
    Effect.flatMap(client.call((id) => request.setstat(id, path, attrs)), ok(op, path))

  const chmod = (path: string, mode: number) =>
    Effect.gen(function*() {
      yield* checkPath(path)
      if (mode === undefined || (yield* checkMode(mode)) === undefined) {
        return yield* Effect.fail(new InvalidArgument({ argument: "mode", reason: "a mode is required" }))
      }
      yield* setstat("SETSTAT", path, { permissions: mode })
    })

  const chown = (path: string, owner: Owner) =>
    Effect.gen(function*() {
      yield* checkPath(path)
      yield* checkId(owner.uid, "uid")
      yield* checkId(owner.gid, "gid")
      if (owner.uid === undefined && owner.gid === undefined) {
        return yield* Effect.fail(new InvalidArgument({ argument: "owner", reason: "give a uid, a gid or both" }))
      }
      // the protocol sets both together: keep the current value of the one not given
      let uid = owner.uid
      let gid = owner.gid
      if (uid === undefined || gid === undefined) {
        const current = yield* stat(path)
        uid ??= current.uid
        gid ??= current.gid
      }
      if (uid === undefined || gid === undefined) {
        return yield* Effect.fail(
          new DecodeError({ method: "SFTP STAT", path: where.apiPath, reason: "the server did not report the owner" })
        )
      }
      yield* setstat("SETSTAT", path, { uid, gid })
    })

  const writeFile = <E = never>(
    path: string,
    data: Uint8Array | string | Stream.Stream<Uint8Array, E>,
    options?: { readonly mode?: number | undefined; readonly write?: "overwrite" | "append" | undefined }
  ): Effect.Effect<void, FilesError | E> =>
    Effect.scoped(Effect.gen(function*() {
      yield* checkPath(path)
      yield* checkMode(options?.mode)
      const append = options?.write === "append"
      const flags = append ? FXF.WRITE | FXF.CREAT : FXF.WRITE | FXF.CREAT | FXF.TRUNC
      const handle = yield* scopedHandle(
        "OPEN",
        path,
        (id) => request.open(id, path, flags, { permissions: options?.mode })
      )
      let offset = 0
      if (append) {
        const current = yield* Effect.flatMap(
          client.call((id) => request.fstat(id, handle)),
          expectAttrs("FSTAT", path)
        )
        offset = current.size ?? 0
      }
      const inflight: Array<Effect.Effect<Response, TransportError>> = []
      const settle = (answer: Effect.Effect<Response, TransportError>) => Effect.flatMap(answer, ok("WRITE", path))
      const send = (piece: Uint8Array) =>
        Effect.gen(function*() {
          const at = offset
          offset += piece.length
          inflight.push(yield* client.start((id) => request.write(id, handle, at, piece)))
          if (inflight.length >= WINDOW) yield* settle(inflight.shift()!)
        })
      // gather small chunks into WRITE_CHUNK-sized writes; cut large ones
      let buffer = new Uint8Array(WRITE_CHUNK)
      let filled = 0
      const flush = Effect.suspend(() => {
        if (filled === 0) return Effect.void
        const piece = buffer.subarray(0, filled)
        buffer = new Uint8Array(WRITE_CHUNK)
        filled = 0
        return send(piece)
      })
      const take = (chunk: Uint8Array): Effect.Effect<void, FilesError> =>
        Effect.gen(function*() {
          let at = 0
          while (at < chunk.length) {
            const n = Math.min(WRITE_CHUNK - filled, chunk.length - at)
            buffer.set(chunk.subarray(at, at + n), filled)
            filled += n
            at += n
            if (filled === WRITE_CHUNK) yield* flush
          }
        })
      const source = typeof data === "string"
        ? Stream.make(new TextEncoder().encode(data))
        : data instanceof Uint8Array
        ? Stream.make(data)
        : data
      yield* Stream.runForEach(source, take)
      yield* flush
      while (inflight.length > 0) yield* settle(inflight.shift()!)
      yield* closeHandle(path, handle)
      // a created file's mode went through the server's umask: set it exactly
      if (options?.mode !== undefined) yield* setstat("SETSTAT", path, { permissions: options.mode })
    }))

  /**
   * A local file written whole to `path` (the bulk path of `Files.push`): groups of
   * BULK_GROUP WRITE packets in one reused buffer, the file read straight into their data
   * fields, up to BULK_WINDOW writes in flight (no copy, no allocation per packet). As
   * with the files API, `mode`, `uid` and `gid` apply to a file this creates (exactly:
   * the server's umask is undone); an existing file is truncated and keeps its own. Fails with `readFailed` if the local file cannot be read
   * or holds fewer than `size` bytes.
   */
  const writeLocal = <E>(
    path: string,
    local: LocalFile<E>,
    ownership: { readonly mode: number; readonly uid?: number | undefined; readonly gid?: number | undefined }
  ): Effect.Effect<void, FilesError | E> =>
    Effect.scoped(Effect.gen(function*() {
      yield* checkPath(path)
      // the local file first: one that cannot be read must not cost the remote one
      const file = yield* Effect.acquireRelease(
        Effect.tryPromise({ try: () => Fs.promises.open(local.path, "r"), catch: local.readFailed }),
        (h) => Effect.promise(() => h.close().catch(() => undefined))
      )
      // a new file first: its answer says whether the path existed
      const created = yield* client.call((id) =>
        request.open(id, path, FXF.WRITE | FXF.CREAT | FXF.EXCL, { permissions: ownership.mode })
      )
      const isNew = created._tag === "Handle"
      const handle = isNew
        ? created.handle
        : yield* Effect.flatMap(
          client.call((id) => request.open(id, path, FXF.WRITE | FXF.TRUNC, {})),
          expectHandle("OPEN", path)
        )
      let closed = false
      yield* Effect.addFinalizer(() =>
        closed ? Effect.void : closeHandle(path, handle).pipe(Effect.timeout("5 seconds"), Effect.ignore)
      )
      // BULK_GROUP WRITE packets side by side in one reused buffer: the file is read
      // straight into their data fields (one readv), the group goes out in one write, and
      // the socket has taken it by the time `sendMany` returns
      const head = 4 + 1 + 4 + 4 + handle.length + 8 + 4
      const slot = head + BULK_WRITE
      const group = Buffer.allocUnsafe(slot * BULK_GROUP)
      for (let i = 0; i < BULK_GROUP; i++) {
        group[i * slot + 4] = FXP.WRITE
        group.writeUInt32BE(handle.length, i * slot + 9)
        group.set(handle, i * slot + 13)
      }
      // the answers: counted as they are read, the first failure kept
      let unanswered = 0
      let failure: FilesError | undefined
      let wake: (() => void) | undefined
      const answered = () => {
        unanswered--
        const w = wake
        wake = undefined
        w?.()
      }
      const listener: Listener = {
        onAnswer: (response) => {
          if (response._tag !== "Status" || response.code !== FX.OK) failure ??= failed("WRITE", path, response)
          answered()
        },
        onEnd: (error) => {
          failure ??= error
          answered()
        }
      }
      /** Until at most `limit` writes are unanswered (or one has failed). */
      const drainTo = (limit: number): Effect.Effect<void, FilesError> =>
        Effect.suspend(() => {
          if (failure !== undefined) return Effect.fail(failure)
          if (unanswered <= limit) return Effect.void
          return Effect.zipRight(
            Effect.async<void>((resume) => {
              // looked at again here: an answer may have come while the fiber yielded
              if (failure !== undefined || unanswered <= limit) return resume(Effect.void)
              wake = () => resume(Effect.void)
              return Effect.sync(() => {
                wake = undefined
              })
            }),
            drainTo(limit)
          )
        })
      let offset = 0
      while (offset < local.size) {
        const at = offset
        const want = Math.min(BULK_WRITE * BULK_GROUP, local.size - at)
        const pieces = Math.ceil(want / BULK_WRITE)
        const areas = Array.from(
          { length: pieces },
          (_, i) => group.subarray(i * slot + head, i * slot + head + Math.min(BULK_WRITE, want - i * BULK_WRITE))
        )
        const { bytesRead } = yield* Effect.tryPromise({ try: () => file.readv(areas, at), catch: local.readFailed })
        if (bytesRead === 0) {
          return yield* Effect.fail(
            local.readFailed(new Error(`the file ended after ${at} of its ${local.size} bytes`))
          )
        }
        // a short read fills the first areas only: send those
        const sent = Math.ceil(bytesRead / BULK_WRITE)
        let end = 0
        for (let i = 0; i < sent; i++) {
          const n = Math.min(BULK_WRITE, bytesRead - i * BULK_WRITE)
          const base = i * slot
          group.writeUInt32BE(head - 4 + n, base)
          group.writeBigUInt64BE(BigInt(at + i * BULK_WRITE), base + 13 + handle.length)
          group.writeUInt32BE(n, base + 21 + handle.length)
          end = base + head + n
        }
        unanswered += sent
        yield* client.sendMany(sent, (ids) => {
          ids.forEach((id, i) => group.writeUInt32BE(id, i * slot + 5))
          // a last short packet ends the group: nothing after it is sent
          return group.subarray(0, end)
        }, listener).pipe(Effect.tapError(() => Effect.sync(() => (unanswered -= sent))))
        yield* drainTo(BULK_WINDOW - BULK_GROUP)
        offset += bytesRead
      }
      yield* drainTo(0)
      closed = true
      yield* closeHandle(path, handle)
      if (!isNew) return
      // a created file's mode went through the server's umask: set it exactly
      yield* setstat("SETSTAT", path, { permissions: ownership.mode })
      if (ownership.uid !== undefined || ownership.gid !== undefined) {
        yield* chown(path, { uid: ownership.uid, gid: ownership.gid })
      }
    }))

  /**
   * The file at `path` written whole into a local file (the bulk path of `Files.pull`):
   * READs of CHUNK bytes, PULL_WINDOW in flight, sent together in one socket write per
   * batch. Each answer is copied at once into the buffer that gathers its 1 MiB of the
   * file (PULL_SLAB; buffers are reused, so nothing is allocated per answer), and a full
   * buffer goes to its place in the local file in one write. A short DATA is followed by a
   * READ of the rest of its piece; the first end-of-file answer marks where the file ends.
   * Nothing new is asked for while every buffer waits for the disk (PULL_SLABS), so a slow
   * disk slows the transfer instead of filling memory. Succeeds with the bytes written;
   * data past the end (the file changed while it was read) is an error, not a silently
   * shorter copy.
   */
  const readLocal = <W>(path: string, local: LocalTarget<W>): Effect.Effect<number, FilesError | W> =>
    Effect.scoped(Effect.gen(function*() {
      yield* checkPath(path)
      const handle = yield* scopedHandle("OPEN", path, (id) => request.open(id, path, FXF.READ, {}))
      const asked = new Map<number, { readonly offset: number; readonly length: number }>()
      /** The rests of short reads, asked for before new pieces. */
      const rests: Array<{ readonly offset: number; readonly length: number }> = []
      /** The buffers gathering the file, by slab number (offset / PULL_SLAB). */
      const slabs = new Map<number, { readonly bytes: Buffer; filled: number }>()
      const free: Array<Buffer> = []
      let made = 0
      let next = 0
      let end = Number.POSITIVE_INFINITY
      let written = 0
      let failure: FilesError | undefined
      // an answer sets `signalled`: a wait that starts after it returns at once (the fiber
      // may yield between looking at the state and starting to wait)
      let signalled = false
      let wake: (() => void) | undefined
      const woken = () => {
        signalled = true
        const w = wake
        wake = undefined
        w?.()
      }
      /** The bytes a slab holds when complete: PULL_SLAB, or up to the end. */
      const slabSize = (n: number) => Math.max(0, Math.min(PULL_SLAB, end - n * PULL_SLAB))
      const complete = (n: number, slab: { readonly filled: number }) =>
        end !== Number.POSITIVE_INFINITY || slab.filled === PULL_SLAB ? slab.filled === slabSize(n) : false
      const listener: Listener = {
        onAnswer: (response) => {
          if (response._tag === "Version") return
          const ask = asked.get(response.id)
          asked.delete(response.id)
          if (ask === undefined) return
          const n = Math.floor(ask.offset / PULL_SLAB)
          const slab = slabs.get(n)
          let filledOne = false
          if (response._tag === "Data" && response.data.length > 0 && response.data.length <= ask.length) {
            if (slab !== undefined) {
              slab.bytes.set(response.data, ask.offset - n * PULL_SLAB)
              slab.filled += response.data.length
              filledOne = complete(n, slab)
            }
            if (response.data.length < ask.length) {
              rests.push({ offset: ask.offset + response.data.length, length: ask.length - response.data.length })
            }
          } else if (
            (response._tag === "Data" && response.data.length === 0) ||
            (response._tag === "Status" && response.code === FX.EOF)
          ) {
            end = Math.min(end, ask.offset)
          } else {
            failure ??= response._tag === "Data"
              ? sessionError(where, `a DATA answer longer than the ${ask.length} bytes asked for`)
              : failed("READ", path, response)
          }
          // woken when a buffer is full, once half the window has answered (to refill it),
          // or at once for a rest to ask for, the end or a failure
          if (
            filledOne || asked.size <= PULL_WINDOW / 2 || rests.length > 0 ||
            end !== Number.POSITIVE_INFINITY || failure !== undefined
          ) woken()
        },
        onEnd: (error) => {
          failure ??= error
          woken()
        }
      }
      const readPacket = 4 + 1 + 4 + 4 + handle.length + 8 + 4
      /** The READs there is room for: rests first (always), then new pieces up to the end. */
      const ask = Effect.suspend(() => {
        const batch = rests.splice(0)
        while (asked.size + batch.length < PULL_WINDOW && next < end) {
          const n = Math.floor(next / PULL_SLAB)
          if (!slabs.has(n)) {
            const bytes = free.pop() ?? (made < PULL_SLABS ? (made++, Buffer.allocUnsafe(PULL_SLAB)) : undefined)
            if (bytes === undefined) break
            slabs.set(n, { bytes, filled: 0 })
          }
          batch.push({ offset: next, length: CHUNK })
          next += CHUNK
        }
        if (batch.length === 0) return Effect.void
        return client.sendMany(batch.length, (ids) => {
          const out = Buffer.allocUnsafe(readPacket * batch.length)
          ids.forEach((id, i) => {
            const at = i * readPacket
            out.writeUInt32BE(readPacket - 4, at)
            out[at + 4] = FXP.READ
            out.writeUInt32BE(id, at + 5)
            out.writeUInt32BE(handle.length, at + 9)
            out.set(handle, at + 13)
            out.writeBigUInt64BE(BigInt(batch[i]!.offset), at + 13 + handle.length)
            out.writeUInt32BE(batch[i]!.length, at + 21 + handle.length)
            asked.set(id, batch[i]!)
          })
          return out
        }, listener)
      })
      const sleep = Effect.async<void>((resume) => {
        if (signalled) return resume(Effect.void)
        wake = () => resume(Effect.void)
        return Effect.sync(() => {
          wake = undefined
        })
      })
      /** A complete slab, lowest first. */
      const ready = () => {
        let found: number | undefined
        for (const [n, slab] of slabs) if ((found === undefined || n < found) && complete(n, slab)) found = n
        return found
      }
      while (true) {
        signalled = false
        if (failure !== undefined) return yield* Effect.fail(failure)
        yield* ask
        const n = ready()
        if (n !== undefined) {
          const slab = slabs.get(n)!
          slabs.delete(n)
          if (slab.filled > 0) {
            yield* Effect.tryPromise({
              try: () => local.writer.writeAt(slab.bytes, slab.filled, n * PULL_SLAB),
              catch: local.writeFailed
            })
            written += slab.filled
          }
          free.push(slab.bytes)
          continue
        }
        // nothing to write: wait for an answer, unless none is due (then all has arrived)
        if (asked.size === 0 && rests.length === 0) break
        yield* sleep
      }
      // what is left: buffers past the end, which must be empty
      if ([...slabs.values()].some((slab) => slab.filled > 0) || written !== Math.min(end, next)) {
        return yield* Effect.fail(
          sessionError(where, `"${path}" changed while it was read (data past its end at ${written} bytes)`)
        )
      }
      return written
    }))

  const simple = (op: string, build: (id: number, path: string) => Uint8Array) => (path: string) =>
    Effect.flatMap(checkPath(path), () => Effect.flatMap(client.call((id) => build(id, path)), ok(op, path)))

  const mkdir = (path: string, options?: { readonly mode?: number | undefined }) =>
    Effect.gen(function*() {
      yield* checkPath(path)
      yield* checkMode(options?.mode)
      yield* Effect.flatMap(
        client.call((id) => request.mkdir(id, path, { permissions: options?.mode })),
        ok("MKDIR", path)
      )
      if (options?.mode !== undefined) yield* setstat("SETSTAT", path, { permissions: options.mode })
    })

  const rename = (from: string, to: string) =>
    Effect.gen(function*() {
      yield* checkPath(from, "from")
      yield* checkPath(to, "to")
      yield* Effect.flatMap(client.call((id) => request.rename(id, from, to)), ok("RENAME", from))
    })

  const symlink = (path: string, target: string) =>
    Effect.gen(function*() {
      yield* checkPath(path)
      if (target.length === 0) {
        return yield* Effect.fail(new InvalidArgument({ argument: "target", reason: "the symlink target is empty" }))
      }
      yield* Effect.flatMap(client.call((id) => request.symlink(id, target, path)), ok("SYMLINK", path))
    })

  return {
    writeLocal,
    readLocal,
    extensions: client.extensions,
    stat,
    lstat,
    readdir,
    realpath: (path) =>
      Effect.flatMap(
        checkPath(path),
        () => Effect.flatMap(client.call((id) => request.realpath(id, path)), expectName("REALPATH", path))
      ),
    readlink: (path) =>
      Effect.flatMap(
        checkPath(path),
        () => Effect.flatMap(client.call((id) => request.readlink(id, path)), expectName("READLINK", path))
      ),
    open,
    readFile,
    writeFile,
    chmod,
    chown,
    rename,
    unlink: simple("REMOVE", request.remove),
    mkdir,
    rmdir: simple("RMDIR", request.rmdir),
    symlink
  }
}
