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
import * as Stream from "effect/Stream"
import { decodeListing, directoriesTo, resolveLink } from "./internal/filePaths.js"
import { pullTree, pushTree } from "./internal/fileTrees.js"
import { path as apiPath } from "./internal/path.js"
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
  /** Delete a file, a symlink or an empty directory (extension `file_delete`). */
  readonly delete: (instance: string, path: string) => Effect.Effect<void, FilesError>
  /** Create a symlink at `path` pointing to `target` (extension `file_symlinks`). */
  readonly symlink: (
    instance: string,
    path: string,
    target: string,
    options?: Omit<Ownership, "mode">
  ) => Effect.Effect<void, FilesError>
  /**
   * Copy a local file or directory tree into the instance at `remotePath`, keeping modes
   * and symlinks. Parents of `remotePath` are created.
   */
  readonly push: (
    instance: string,
    localPath: string,
    remotePath: string,
    options?: TransferOptions & { readonly uid?: number | undefined; readonly gid?: number | undefined }
  ) => Effect.Effect<void, FilesError>
  /** Copy a file or directory tree from the instance to `localPath`, keeping modes and symlinks. */
  readonly pull: (
    instance: string,
    remotePath: string,
    localPath: string,
    options?: TransferOptions
  ) => Effect.Effect<void, FilesError>
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

  const read = (instance: string, p: string): Stream.Stream<Uint8Array, FilesError> => {
    const from = (at: string, hops: number): Stream.Stream<Uint8Array, FilesError> =>
      Stream.unwrapScoped(Effect.gen(function*() {
        yield* checkTarget(instance, "path", at)
        const res = yield* get(instance, at)
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
          return from(resolveLink(at, (yield* bodyText(res)).trim()), hops + 1)
        }
        return res.body
      }))
    return from(p, 0)
  }

  const post = <E = never>(
    instance: string,
    p: string,
    headers: Record<string, string>,
    data: Uint8Array | Stream.Stream<Uint8Array, E>,
    contentLength?: number
  ) =>
    http.send({
      method: "POST",
      path: filesPath(instance),
      query: { path: p },
      headers,
      raw: { contentType: "application/octet-stream", data, ...(contentLength === undefined ? {} : { contentLength }) }
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

  /** `write` of a stream whose length is known (a local file): sent with a content-length, not chunked. */
  const writeSized = <E>(
    instance: string,
    p: string,
    data: Stream.Stream<Uint8Array, E>,
    size: number,
    options: Ownership
  ): Effect.Effect<void, FilesError | E> =>
    Effect.gen(function*() {
      yield* checkTarget(instance, "path", p, options)
      const headers = { ...ownershipHeaders(options), [header("Type")]: "file", [header("Write")]: "overwrite" }
      yield* post(instance, p, headers, data, size)
    })

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

  return { read, write, writeSized, stat, list, mkdir, delete: remove, symlink }
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Service, never, LxdHttp> = Effect.gen(function*() {
  const { writeSized, ...single } = singlePathCalls(yield* LxdHttp)
  const transfers = { ...single, writeSized }

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
    traced("Files", { ...single, push, pull }, {
      nameAttribute: "lxd.instance"
    })
  )
})

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Files, never, LxdHttp> = Layer.effect(Files, make)
