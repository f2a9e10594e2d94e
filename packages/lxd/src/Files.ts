/**
 * Files inside instances (`/1.0/instances/<name>/files?path=<absolute path>`): read as a
 * Stream, write from bytes, a string or a Stream (never buffered whole), stat, list,
 * mkdir, delete, symlinks, and recursive push and pull of directory trees with bounded
 * concurrency, keeping modes.
 *
 * Header names follow the server (`X-LXD-*` or `X-Incus-*`). Paths inside the instance
 * must be absolute: a relative one is refused before any request.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { Files } from "effect-lxd"
 *
 * const program = Effect.gen(function* () {
 *   const files = yield* Files.Files
 *   yield* files.write("web1", "/etc/motd", "hello\n", { mode: 0o644 })
 *   const text = yield* files.read("web1", "/etc/motd").pipe(Stream.decodeText(), Stream.mkString)
 *   yield* files.push("web1", "./site", "/srv/www", { concurrency: 8 })
 * })
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { decodeListing, directoriesTo, resolveLink } from "./internal/filePaths.js"
import { joinRemote, pullTree, pushTree, safeName } from "./internal/fileTrees.js"
import { path as apiPath } from "./internal/path.js"
import { removeTree, type TreeOps } from "./internal/removeTree.js"
import * as Sftp from "./internal/sftp.js"
import type { LocalTarget } from "./internal/sftp.js"
import { traced } from "./internal/tracing.js"
import { checkAbsolutePath, checkId, checkMode, checkName } from "./internal/validation.js"
import { DecodeError, type ExtensionNotAvailable, InvalidArgument, type RequestError } from "./LxdError.js"
import { LxdHttp, type RawResponse, type Service as LxdHttpService } from "./LxdHttp.js"

/**
 * What a path inside the instance is. `target` is set for symlinks (LXD resolves it to
 * an absolute path).
 *
 * @since 0.1.0
 * @category models
 */
export interface FileInfo {
  readonly path: string
  readonly type: "file" | "directory" | "symlink"
  /** Permission bits, e.g. `0o644`. */
  readonly mode: number
  readonly uid: number
  readonly gid: number
  /** Last modification, as the server reports it (when it does). */
  readonly modified: string | undefined
  /** Where a symlink points (absolute, inside the instance). */
  readonly target: string | undefined
}

/**
 * Ownership and permissions of something created.
 *
 * @since 0.1.0
 * @category options
 */
export interface Ownership {
  /** Permission bits, e.g. `0o640`. Applied to new files and directories only. */
  readonly mode?: number | undefined
  /** Owner uid (inside the instance). Applied to new files only. */
  readonly uid?: number | undefined
  /** Owner gid (inside the instance). Applied to new files only. */
  readonly gid?: number | undefined
}

/**
 * @since 0.1.0
 * @category options
 */
export interface WriteOptions extends Ownership {
  /** `overwrite` (default: truncate or create) or `append` (extension `file_append`). */
  readonly write?: "overwrite" | "append" | undefined
}

/**
 * @since 0.1.0
 * @category options
 */
export interface MkdirOptions extends Ownership {
  /** Create missing parent directories too (each with the same ownership and mode). */
  readonly parents?: boolean | undefined
}

/**
 * @since 0.1.0
 * @category options
 */
export interface TransferOptions {
  /** How many files move at once (default 4). */
  readonly concurrency?: number | undefined
}

/**
 * Errors of file calls: the request errors, a refused argument (relative path, a
 * directory where a file was expected, a local file that cannot be read or written),
 * a missing extension.
 *
 * @since 0.1.0
 * @category models
 */
export type FilesError = RequestError | InvalidArgument | ExtensionNotAvailable

/**
 * @since 0.1.0
 * @category options
 */
export interface DeleteOptions {
  /**
   * Delete a directory with everything in it, children first. Symlinks inside are
   * deleted as links, never followed (nothing outside the tree is touched); a symlink
   * named as `path` is deleted itself. Over SFTP where the server has it (one
   * connection for the whole walk), over the files API otherwise.
   */
  readonly recursive?: boolean | undefined
}

/**
 * A new owner: a uid, a gid, or both (what is left out stays as it is).
 *
 * @since 0.1.0
 * @category options
 */
export interface Owner {
  readonly uid?: number | undefined
  readonly gid?: number | undefined
}

/**
 * Attributes of a path as SFTP reports them (each field only if the server sent it).
 *
 * @since 0.1.0
 * @category models
 */
export interface SftpAttributes {
  readonly type: "file" | "directory" | "symlink" | "other" | undefined
  /** Permission bits, e.g. `0o644`. */
  readonly mode: number | undefined
  /** The whole `st_mode` (type and permission bits). */
  readonly permissions: number | undefined
  readonly size: number | undefined
  readonly uid: number | undefined
  readonly gid: number | undefined
  readonly atime: Date | undefined
  readonly mtime: Date | undefined
}

/**
 * One entry of an SFTP directory listing (`.` and `..` left out).
 *
 * @since 0.1.0
 * @category models
 */
export interface SftpEntry {
  readonly name: string
  /** The server's `ls -l` style line. */
  readonly longname: string
  /** Attributes of the entry itself (a symlink is not followed). */
  readonly attributes: SftpAttributes
}

/**
 * How a file is opened, as in `node:fs`: `r` read, `r+` read and write, `w` write
 * (create or truncate), `wx` write a new file (fails if it exists), `a` write, creating
 * it if missing (offsets are the caller's: SFTP servers ignore append mode).
 *
 * @since 0.1.0
 * @category options
 */
export type SftpOpenFlags = "r" | "r+" | "w" | "wx" | "a"

/**
 * An open file of an SFTP session, closed with its scope.
 *
 * @since 0.1.0
 * @category models
 */
export interface SftpFile {
  readonly path: string
  /** Up to `length` bytes at `offset`; `undefined` at the end of the file. */
  readonly read: (offset: number, length: number) => Effect.Effect<Uint8Array | undefined, FilesError>
  /** Write `data` at `offset`. */
  readonly write: (offset: number, data: Uint8Array) => Effect.Effect<void, FilesError>
  readonly stat: Effect.Effect<SftpAttributes, FilesError>
  /** Close now (the scope closes it otherwise). */
  readonly close: Effect.Effect<void, FilesError>
}

/**
 * A scoped SFTP session on an instance's file system (`GET /1.0/instances/<name>/sftp`
 * switched to SFTP): one connection for many calls. Paths are absolute. Closing the
 * scope, or interrupting a call, closes the connection.
 *
 * @since 0.1.0
 * @category models
 */
export interface SftpSession {
  /** The SFTP extensions the server announced (e.g. `posix-rename@openssh.com`). */
  readonly extensions: ReadonlyArray<string>
  /** Attributes, following symlinks. */
  readonly stat: (path: string) => Effect.Effect<SftpAttributes, FilesError>
  /** Attributes of the path itself (a symlink is not followed). */
  readonly lstat: (path: string) => Effect.Effect<SftpAttributes, FilesError>
  /** The entries of a directory. */
  readonly readdir: (path: string) => Effect.Effect<ReadonlyArray<SftpEntry>, FilesError>
  /** The canonical absolute path. */
  readonly realpath: (path: string) => Effect.Effect<string, FilesError>
  /** Where a symlink points. */
  readonly readlink: (path: string) => Effect.Effect<string, FilesError>
  /** Open a file; it is closed with the scope. `mode` applies to a file it creates. */
  readonly open: (
    path: string,
    flags: SftpOpenFlags,
    options?: { readonly mode?: number | undefined }
  ) => Effect.Effect<SftpFile, FilesError, Scope.Scope>
  /** A whole file as a stream, with many reads in flight. */
  readonly readFile: (path: string) => Stream.Stream<Uint8Array, FilesError>
  /** Write a whole file, with many writes in flight; `mode` is set afterwards when given. */
  readonly writeFile: <E = never>(
    path: string,
    data: Uint8Array | string | Stream.Stream<Uint8Array, E>,
    options?: { readonly mode?: number | undefined; readonly write?: "overwrite" | "append" | undefined }
  ) => Effect.Effect<void, FilesError | E>
  /** Set permission bits (follows symlinks, as chmod does). */
  readonly chmod: (path: string, mode: number) => Effect.Effect<void, FilesError>
  /** Set the owner, the group, or both (follows symlinks). */
  readonly chown: (path: string, owner: Owner) => Effect.Effect<void, FilesError>
  /** Rename (fails if `to` exists). */
  readonly rename: (from: string, to: string) => Effect.Effect<void, FilesError>
  /** Delete a file or a symlink. */
  readonly unlink: (path: string) => Effect.Effect<void, FilesError>
  readonly mkdir: (path: string, options?: { readonly mode?: number | undefined }) => Effect.Effect<void, FilesError>
  /** Delete an empty directory. */
  readonly rmdir: (path: string) => Effect.Effect<void, FilesError>
  /** Create a symlink at `path` pointing to `target` (the argument order of `Files.symlink`). */
  readonly symlink: (path: string, target: string) => Effect.Effect<void, FilesError>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** The contents of a file, as they arrive. Symlinks are followed; a directory is refused. */
  readonly read: (instance: string, path: string) => Stream.Stream<Uint8Array, FilesError>
  /** Write a file from bytes, a string (UTF-8) or a stream, streamed to the server. */
  readonly write: <E = never>(
    instance: string,
    path: string,
    data: Uint8Array | string | Stream.Stream<Uint8Array, E>,
    options?: WriteOptions
  ) => Effect.Effect<void, FilesError | E>
  /** Type, mode, owner and (for symlinks) target of a path. */
  readonly stat: (instance: string, path: string) => Effect.Effect<FileInfo, FilesError>
  /** The names in a directory (not recursive). */
  readonly list: (instance: string, path: string) => Effect.Effect<ReadonlyArray<string>, FilesError>
  /** Create a directory (an existing one is left alone). */
  readonly mkdir: (instance: string, path: string, options?: MkdirOptions) => Effect.Effect<void, FilesError>
  /**
   * Delete a file, a symlink or an empty directory (extension `file_delete`); with
   * `recursive`, a directory tree (symlinks in it are deleted, never followed).
   */
  readonly delete: (instance: string, path: string, options?: DeleteOptions) => Effect.Effect<void, FilesError>
  /** Create a symlink at `path` pointing to `target` (extension `file_symlinks`). */
  readonly symlink: (
    instance: string,
    path: string,
    target: string,
    options?: Omit<Ownership, "mode">
  ) => Effect.Effect<void, FilesError>
  /**
   * Copy a local file or directory tree into the instance at `remotePath`, keeping modes
   * and symlinks. Parents of `remotePath` are created. A file of 2 MiB or more goes over
   * SFTP where the server and the transport have it (twice the files API's speed on the
   * daemon, three times over HTTPS); `mode`, `uid` and `gid` apply to new files only,
   * either way.
   */
  readonly push: (
    instance: string,
    localPath: string,
    remotePath: string,
    options?: TransferOptions & { readonly uid?: number | undefined; readonly gid?: number | undefined }
  ) => Effect.Effect<void, FilesError>
  /**
   * Copy a file or directory tree from the instance to `localPath`, keeping modes and
   * symlinks. A file of 2 MiB or more is read over SFTP where the server and the
   * transport have it (its size from the files API's `GET`, dropped unread); smaller ones
   * arrive in that `GET`'s answer. A file whose transfer fails or is interrupted is
   * removed, not left partial (files already pulled stay).
   */
  readonly pull: (
    instance: string,
    remotePath: string,
    localPath: string,
    options?: TransferOptions
  ) => Effect.Effect<void, FilesError>
  /**
   * Change the permission bits of an existing file or directory without rewriting it
   * (over SFTP; follows symlinks, as chmod does).
   */
  readonly chmod: (instance: string, path: string, mode: number) => Effect.Effect<void, FilesError>
  /** Change the owner and/or group of an existing path without rewriting it (over SFTP). */
  readonly chown: (instance: string, path: string, owner: Owner) => Effect.Effect<void, FilesError>
  /**
   * An SFTP session on the instance's file system, open until the scope closes. The
   * endpoint has no API extension of its own: it came with LXD 4.24 (and every Incus),
   * so the check is that release's `metrics_authentication` (`ExtensionNotAvailable`
   * otherwise, before anything is sent).
   */
  readonly sftp: (instance: string) => Effect.Effect<SftpSession, FilesError, Scope.Scope>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class Files extends Context.Tag("effect-lxd/Files")<Files, Service>() {}

const MAX_SYMLINK_HOPS = 16

const checkPath = (argument: string, p: string) => checkAbsolutePath(p, argument)

const checkInstance = (instance: string) => checkName(instance, "instance")

const checkIds = (o: Ownership | undefined) =>
  Effect.all([checkId(o?.uid, "uid"), checkId(o?.gid, "gid"), checkMode(o?.mode)], { discard: true })

/** The checks of a call on one path of an instance (and its owner and mode, when given). */
const checkTarget = (instance: string, argument: string, p: string, ids?: Ownership | undefined) =>
  Effect.all([checkInstance(instance), checkPath(argument, p), checkIds(ids)], { discard: true })

/**
 * `0o644` → `"0644"`: permission bits as LXD's mode headers carry them.
 *
 * @since 0.1.0
 * @category utils
 */
export const formatMode = (mode: number): string => "0" + (mode & 0o7777).toString(8).padStart(3, "0")

/** What the file headers (`X-LXD-Type`, `-Mode`, `-Uid`, `-Gid`, `-Modified`) say about a file. */
const fileInfoFrom = (
  prefix: string,
  p: string,
  method: string,
  res: RawResponse
): Effect.Effect<Omit<FileInfo, "target">, DecodeError> => {
  const h = (name: string) => res.headers[`${prefix}-${name}`.toLowerCase()]
  const type = h("type")
  const mode = h("mode")
  const uid = h("uid")
  const gid = h("gid")
  if (type !== "file" && type !== "directory" && type !== "symlink") {
    return Effect.fail(
      new DecodeError({ method, path: "/1.0/instances/…/files", reason: `unexpected ${prefix}-Type: ${type}` })
    )
  }
  return Effect.succeed({
    path: p,
    type,
    mode: mode === undefined ? 0 : parseInt(mode, 8),
    uid: uid === undefined ? 0 : parseInt(uid, 10),
    gid: gid === undefined ? 0 : parseInt(gid, 10),
    modified: h("modified")
  })
}

/** The headers that set a written file's mode and owner. */
const ownershipHeadersOf = (prefix: string, o: Ownership | undefined): Record<string, string> => {
  const out: Record<string, string> = {}
  if (o?.mode !== undefined) out[`${prefix}-Mode`] = formatMode(o.mode)
  if (o?.uid !== undefined) out[`${prefix}-Uid`] = String(o.uid)
  if (o?.gid !== undefined) out[`${prefix}-Gid`] = String(o.gid)
  return out
}

/** The calls on one path: everything but the tree transfers. */
const singlePathCalls = (http: LxdHttpService) => {
  const prefix = http.headerPrefix
  const header = (name: string) => `${prefix}-${name}`

  const filesPath = (instance: string) => apiPath`/1.0/instances/${instance}/files`

  const infoFrom = (p: string, method: string, res: RawResponse) => fileInfoFrom(prefix, p, method, res)

  const bodyText = (res: RawResponse) => res.body.pipe(Stream.decodeText(), Stream.mkString)

  const get = (instance: string, p: string) =>
    http.raw({ method: "GET", path: filesPath(instance), query: { path: p } })

  /**
   * The answer to a GET of a file, symlinks followed (each link read on its own request);
   * `bulk` asks for the transport's bulk path (the answer will go to `writeTo`).
   */
  const openFile = (instance: string, p: string, bulk: boolean) => {
    const from = (
      at: string,
      hops: number
    ): Effect.Effect<{ readonly res: RawResponse; readonly at: string }, FilesError, Scope.Scope> =>
      Effect.gen(function*() {
        yield* checkTarget(instance, "path", at)
        const res = yield* http.raw({ method: "GET", path: filesPath(instance), query: { path: at }, bulk })
        const info = yield* infoFrom(at, "GET", res)
        if (info.type === "directory") {
          return yield* Effect.fail(
            new InvalidArgument({ argument: "path", reason: `"${at}" is a directory (use list)` })
          )
        }
        if (info.type === "symlink") {
          if (hops >= MAX_SYMLINK_HOPS) {
            return yield* Effect.fail(new InvalidArgument({ argument: "path", reason: `too many symlinks at "${p}"` }))
          }
          return yield* from(resolveLink(at, (yield* bodyText(res)).trim()), hops + 1)
        }
        return { res, at }
      })
    return from(p, 0)
  }

  const read = (instance: string, p: string): Stream.Stream<Uint8Array, FilesError> =>
    Stream.unwrapScoped(Effect.map(openFile(instance, p, false), ({ res }) => res.body))

  const post = <E = never>(
    instance: string,
    p: string,
    headers: Record<string, string>,
    data: Uint8Array | Stream.Stream<Uint8Array, E>,
    contentLength?: number,
    file?: { readonly path: string; readonly readFailed: (cause: unknown) => E }
  ) =>
    http.send({
      method: "POST",
      path: filesPath(instance),
      query: { path: p },
      headers,
      raw: {
        contentType: "application/octet-stream",
        data,
        ...(contentLength === undefined ? {} : { contentLength }),
        ...(file === undefined ? {} : { file })
      }
    })

  const ownershipHeaders = (o: Ownership | undefined) => ownershipHeadersOf(prefix, o)

  const write = <E = never>(
    instance: string,
    p: string,
    data: Uint8Array | string | Stream.Stream<Uint8Array, E>,
    options?: WriteOptions
  ): Effect.Effect<void, FilesError | E> =>
    Effect.gen(function*() {
      yield* checkTarget(instance, "path", p, options)
      if (options?.write === "append") yield* http.requireExtension("file_append")
      const headers = {
        ...ownershipHeaders(options),
        [header("Type")]: "file",
        [header("Write")]: options?.write ?? "overwrite"
      }
      const body = typeof data === "string" ? new TextEncoder().encode(data) : data
      yield* post(instance, p, headers, body)
    })

  /**
   * `write` of a local file: sent with a content-length, not chunked; `data` reads the file,
   * which a transport with a bulk path reads itself (`file`).
   */
  const writeSized = <E>(
    instance: string,
    p: string,
    data: Stream.Stream<Uint8Array, E>,
    size: number,
    options: Ownership,
    file?: { readonly path: string; readonly readFailed: (cause: unknown) => E }
  ): Effect.Effect<void, FilesError | E> =>
    Effect.gen(function*() {
      yield* checkTarget(instance, "path", p, options)
      const headers = { ...ownershipHeaders(options), [header("Type")]: "file", [header("Write")]: "overwrite" }
      yield* post(instance, p, headers, data, size, file)
    })

  /**
   * A file's contents written into a local file (symlinks followed, as `read` does): on a
   * transport with a bulk path, read on a connection of its own into reused buffers; all
   * the pieces that have arrived go to the disk in one `writev`.
   */
  const saveTo = <W>(instance: string, p: string, local: LocalTarget<W>): Effect.Effect<number, FilesError | W> =>
    Effect.scoped(Effect.flatMap(openFile(instance, p, true), ({ res }) => saveAnswerTo(res, local)))

  const stat = (instance: string, p: string): Effect.Effect<FileInfo, FilesError> =>
    Effect.scoped(Effect.gen(function*() {
      yield* checkTarget(instance, "path", p)
      const head = yield* http.hasExtension("instance_file_head")
      const res = yield* http.raw({ method: head ? "HEAD" : "GET", path: filesPath(instance), query: { path: p } })
      const info = yield* infoFrom(p, head ? "HEAD" : "GET", res)
      if (info.type !== "symlink") return { ...info, target: undefined }
      // the target comes in the body of a GET
      const body = head ? yield* Effect.flatMap(get(instance, p), bodyText) : yield* bodyText(res)
      return { ...info, target: body.trim() }
    }))

  const list = (instance: string, p: string): Effect.Effect<ReadonlyArray<string>, FilesError> =>
    Effect.scoped(Effect.gen(function*() {
      yield* checkTarget(instance, "path", p)
      const res = yield* get(instance, p)
      const info = yield* infoFrom(p, "GET", res)
      if (info.type !== "directory") {
        return yield* Effect.fail(new InvalidArgument({ argument: "path", reason: `"${p}" is not a directory` }))
      }
      return yield* decodeListing(yield* bodyText(res), filesPath(instance))
    }))

  const mkdirOne = (instance: string, p: string, options: Ownership | undefined) =>
    post(instance, p, { ...ownershipHeaders(options), [header("Type")]: "directory" }, new Uint8Array(0))

  const mkdir = (instance: string, p: string, options?: MkdirOptions): Effect.Effect<void, FilesError> =>
    Effect.gen(function*() {
      yield* checkTarget(instance, "path", p, options)
      yield* http.requireExtension("directory_manipulation")
      const directories = options?.parents === true ? directoriesTo(p) : [p]
      yield* Effect.forEach(directories, (at) => mkdirOne(instance, at, options), { discard: true })
    })

  const remove = (instance: string, p: string): Effect.Effect<void, FilesError> =>
    Effect.gen(function*() {
      yield* checkTarget(instance, "path", p)
      yield* http.requireExtension("file_delete")
      yield* http.send({ method: "DELETE", path: filesPath(instance), query: { path: p } })
    })

  const symlink = (
    instance: string,
    p: string,
    target: string,
    options?: Omit<Ownership, "mode">
  ): Effect.Effect<void, FilesError> =>
    Effect.gen(function*() {
      yield* checkTarget(instance, "path", p, options)
      if (target.length === 0) {
        return yield* Effect.fail(new InvalidArgument({ argument: "target", reason: "the symlink target is empty" }))
      }
      yield* http.requireExtension("file_symlinks")
      yield* post(
        instance,
        p,
        { ...ownershipHeaders(options), [header("Type")]: "symlink" },
        new TextEncoder().encode(target)
      )
    })

  return { read, write, writeSized, openFile, saveTo, stat, list, mkdir, delete: remove, symlink }
}

/** A raw answer's body written into a local file, each batch of pieces in one write. */
const saveAnswerTo = <W>(res: RawResponse, local: LocalTarget<W>): Effect.Effect<number, FilesError | W> =>
  res.writeTo((pieces) => local.writer.append(pieces), local.writeFailed)

/**
 * The API extension that stands for the SFTP endpoint, which has none of its own: the
 * endpoint came with LXD 4.24, as did this extension (every Incus has both).
 *
 * @since 0.1.0
 * @category utils
 */
export const sftpExtension = "metrics_authentication"

/** From this size on, `Files.push` sends a file over SFTP (where it can). */
const SFTP_PUSH_MIN_BYTES = 2 * 1024 * 1024
/** From this size on, `Files.pull` reads a file over SFTP (where it can). */
const SFTP_PULL_MIN_BYTES = 2 * 1024 * 1024

/** The calls over SFTP, and the recursive delete (SFTP where the server has it). */
const sftpCalls = (http: LxdHttpService, single: ReturnType<typeof singlePathCalls>) => {
  /** A session, with the bulk write; not traced call by call. */
  const session = (instance: string): Effect.Effect<Sftp.Session, FilesError, Scope.Scope> =>
    Effect.gen(function*() {
      yield* checkInstance(instance)
      yield* http.requireExtension(sftpExtension)
      const where = { address: http.address, instance, apiPath: apiPath`/1.0/instances/${instance}/sftp` }
      const socket = yield* http.upgrade(where.apiPath, "sftp")
      const client = yield* Sftp.connect(socket, where)
      return Sftp.session(client, where)
    })

  const sftp = (instance: string): Effect.Effect<SftpSession, FilesError, Scope.Scope> =>
    Effect.map(
      session(instance),
      ({ readLocal: _r, writeLocal: _w, ...calls }) => traced("Files.sftp", calls, { nameAttribute: "lxd.path" })
    )

  /**
   * `writeSized` of a local file: a large one over SFTP where the server and the transport
   * have it (measured: the files API's `POST` takes the daemon about twice as long for the
   * same bytes over the unix socket, three times over HTTPS; see bench/README.md), a small
   * one with one `POST` (an SFTP session costs a few more round trips).
   */
  const writeSized: typeof single.writeSized = (instance, p, data, size, options, file) =>
    file === undefined || size < SFTP_PUSH_MIN_BYTES || options.mode === undefined || http.canUpgrade !== true
      ? single.writeSized(instance, p, data, size, options, file)
      : Effect.flatMap(http.hasExtension(sftpExtension), (has) =>
        has
          ? Effect.scoped(Effect.gen(function*() {
            yield* checkTarget(instance, "path", p, options)
            const s = yield* session(instance)
            yield* s.writeLocal(p, { path: file.path, size, readFailed: file.readFailed }, {
              mode: options.mode!,
              uid: options.uid,
              gid: options.gid
            })
          }))
          : single.writeSized(instance, p, data, size, options, file))

  /**
   * `saveTo` of a large file over SFTP where the server and the transport have it (as for
   * `writeSized`: the daemon serves SFTP reads about twice as fast as the files API's
   * `GET`, see bench/README.md). The size is the `GET`'s content-length (LXD 5.0's `HEAD`
   * has none): the answer to a small file's `GET` is the transfer; for a large one, that
   * `GET` is dropped before its body is read and the file it reached (symlinks followed)
   * is read over SFTP.
   */
  const saveTo = <W>(instance: string, p: string, local: LocalTarget<W>): Effect.Effect<number, FilesError | W> =>
    http.canUpgrade !== true
      ? single.saveTo(instance, p, local)
      : Effect.gen(function*() {
        if (!(yield* http.hasExtension(sftpExtension))) return yield* single.saveTo(instance, p, local)
        const viaApi = yield* Effect.scoped(
          Effect.flatMap(
            single.openFile(instance, p, true),
            ({ at, res }): Effect.Effect<{ readonly bytes: number } | { readonly sftp: string }, FilesError | W> =>
              Number(res.headers["content-length"]) >= SFTP_PULL_MIN_BYTES
                ? Effect.succeed({ sftp: at })
                : Effect.map(saveAnswerTo(res, local), (bytes) => ({ bytes }))
          )
        )
        if ("bytes" in viaApi) return viaApi.bytes
        return yield* Effect.scoped(Effect.flatMap(session(instance), (s) => s.readLocal(viaApi.sftp, local)))
      })

  const chmod = (instance: string, p: string, mode: number): Effect.Effect<void, FilesError> =>
    Effect.scoped(Effect.gen(function*() {
      yield* checkTarget(instance, "path", p, { mode })
      const session = yield* sftp(instance)
      yield* session.chmod(p, mode)
    }))

  const chown = (instance: string, p: string, owner: Owner): Effect.Effect<void, FilesError> =>
    Effect.scoped(Effect.gen(function*() {
      yield* checkTarget(instance, "path", p, owner)
      if (owner.uid === undefined && owner.gid === undefined) {
        return yield* Effect.fail(new InvalidArgument({ argument: "owner", reason: "give a uid, a gid or both" }))
      }
      const session = yield* sftp(instance)
      yield* session.chown(p, owner)
    }))

  /** The tree walk over one SFTP session: listings carry each entry's own type. */
  const sftpTree = (session: SftpSession): TreeOps<FilesError> => ({
    isDirectory: (p) => Effect.map(session.lstat(p), (a) => a.type === "directory"),
    entries: (p) =>
      Effect.map(
        session.readdir(p),
        (entries) => entries.map((e) => ({ name: e.name, directory: e.attributes.type === "directory" }))
      ),
    removeFile: session.unlink,
    removeDirectory: session.rmdir
  })

  /** The tree walk over the files API: its stat reports a symlink as one (not followed). */
  const filesTree = (instance: string): TreeOps<FilesError> => ({
    isDirectory: (p) => Effect.map(single.stat(instance, p), (info) => info.type === "directory"),
    entries: (p) =>
      Effect.flatMap(single.list(instance, p), (names) =>
        Effect.forEach(
          names.filter(safeName),
          (name) =>
            Effect.map(single.stat(instance, joinRemote(p, name)), (info) => ({
              name,
              directory: info.type === "directory"
            })),
          { concurrency: 4 }
        )),
    removeFile: (p) => single.delete(instance, p),
    removeDirectory: (p) => single.delete(instance, p)
  })

  const remove = (instance: string, p: string, options?: DeleteOptions): Effect.Effect<void, FilesError> => {
    if (options?.recursive !== true) return single.delete(instance, p)
    return Effect.scoped(Effect.gen(function*() {
      yield* checkTarget(instance, "path", p)
      if (p.split("/").every((segment) => segment === "" || segment === ".")) {
        return yield* Effect.fail(new InvalidArgument({ argument: "path", reason: "refusing to delete / recursively" }))
      }
      if (yield* http.hasExtension(sftpExtension)) {
        yield* removeTree(sftpTree(yield* sftp(instance)), p)
      } else {
        yield* http.requireExtension("file_delete")
        yield* removeTree(filesTree(instance), p)
      }
    }))
  }

  return { chmod, chown, remove, sftp, writeSized, saveTo }
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Service, never, LxdHttp> = Effect.gen(function*() {
  const http = yield* LxdHttp
  const calls = singlePathCalls(http)
  const { saveTo: _s, writeSized: _w, openFile: _o, ...single } = calls
  const { chmod, chown, remove, sftp, writeSized, saveTo } = sftpCalls(http, calls)
  const transfers = { ...single, writeSized, saveTo }

  const push = (
    instance: string,
    localPath: string,
    remotePath: string,
    options?: TransferOptions & { readonly uid?: number | undefined; readonly gid?: number | undefined }
  ): Effect.Effect<void, FilesError> =>
    Effect.gen(function*() {
      yield* checkTarget(instance, "remotePath", remotePath, options)
      yield* pushTree(transfers, instance, localPath, remotePath, options)
    })

  const pull = (
    instance: string,
    remotePath: string,
    localPath: string,
    options?: TransferOptions
  ): Effect.Effect<void, FilesError> =>
    Effect.gen(function*() {
      yield* checkTarget(instance, "remotePath", remotePath)
      yield* pullTree(transfers, instance, remotePath, localPath, options)
    })

  return Files.of(
    traced("Files", { ...single, delete: remove, push, pull, chmod, chown, sftp }, {
      nameAttribute: "lxd.instance"
    })
  )
})

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Files, never, LxdHttp> = Layer.effect(Files, make)
