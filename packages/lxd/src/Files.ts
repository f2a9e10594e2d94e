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
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as NodePath from "node:path"
import { decodeEnvelope } from "./internal/envelope.js"
import { pullTree, pushTree } from "./internal/fileTrees.js"
import { path as apiPath } from "./internal/path.js"
import { traced } from "./internal/tracing.js"
import { DecodeError, type ExtensionNotAvailable, InvalidArgument, type RequestError } from "./LxdError.js"
import { LxdHttp, type RawResponse } from "./LxdHttp.js"

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

const Listing = Schema.NullOr(Schema.Array(Schema.String))

const MAX_SYMLINK_HOPS = 16

const checkPath = (argument: string, p: string) =>
  p.startsWith("/")
    ? Effect.void
    : Effect.fail(new InvalidArgument({ argument, reason: `"${p}" is not an absolute path` }))

const checkInstance = (instance: string) =>
  instance.length === 0
    ? Effect.fail(new InvalidArgument({ argument: "instance", reason: "the instance name is empty" }))
    : Effect.void

const checkIds = (o: Ownership | undefined) => {
  for (const [name, value] of [["uid", o?.uid], ["gid", o?.gid]] as const) {
    if (value !== undefined && (!Number.isInteger(value) || value < 0)) {
      return Effect.fail(new InvalidArgument({ argument: name, reason: "must be a non-negative integer" }))
    }
  }
  if (o?.mode !== undefined && (!Number.isInteger(o.mode) || o.mode < 0 || o.mode > 0o7777)) {
    return Effect.fail(new InvalidArgument({ argument: "mode", reason: "must be permission bits (0 to 0o7777)" }))
  }
  return Effect.void
}

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

/**
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Service, never, LxdHttp> = Effect.gen(function*() {
  const http = yield* LxdHttp
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
        yield* checkInstance(instance)
        yield* checkPath("path", at)
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
          const target = (yield* bodyText(res)).trim()
          return from(
            target.startsWith("/") ? target : NodePath.posix.resolve(NodePath.posix.dirname(at), target),
            hops + 1
          )
        }
        return res.body
      }))
    return from(p, 0)
  }

  const post = <E = never>(
    instance: string,
    p: string,
    headers: Record<string, string>,
    data: Uint8Array | Stream.Stream<Uint8Array, E>
  ) =>
    http.send({
      method: "POST",
      path: filesPath(instance),
      query: { path: p },
      headers,
      raw: { contentType: "application/octet-stream", data }
    })

  const ownershipHeaders = (o: Ownership | undefined) => ownershipHeadersOf(prefix, o)

  const write = <E = never>(
    instance: string,
    p: string,
    data: Uint8Array | string | Stream.Stream<Uint8Array, E>,
    options?: WriteOptions
  ): Effect.Effect<void, FilesError | E> =>
    Effect.gen(function*() {
      yield* checkInstance(instance)
      yield* checkPath("path", p)
      yield* checkIds(options)
      if (options?.write === "append") yield* http.requireExtension("file_append")
      const headers = {
        ...ownershipHeaders(options),
        [header("Type")]: "file",
        [header("Write")]: options?.write ?? "overwrite"
      }
      const body = typeof data === "string" ? new TextEncoder().encode(data) : data
      yield* post(instance, p, headers, body)
    })

  const stat = (instance: string, p: string): Effect.Effect<FileInfo, FilesError> =>
    Effect.scoped(Effect.gen(function*() {
      yield* checkInstance(instance)
      yield* checkPath("path", p)
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
      yield* checkInstance(instance)
      yield* checkPath("path", p)
      const res = yield* get(instance, p)
      const info = yield* infoFrom(p, "GET", res)
      if (info.type !== "directory") {
        return yield* Effect.fail(new InvalidArgument({ argument: "path", reason: `"${p}" is not a directory` }))
      }
      const text = yield* bodyText(res)
      const bad = (reason: string) => new DecodeError({ method: "GET", path: filesPath(instance), reason })
      let json: unknown
      try {
        json = JSON.parse(text)
      } catch {
        return yield* Effect.fail(bad("the directory listing is not JSON"))
      }
      const envelope = decodeEnvelope(json)
      if (Either.isLeft(envelope) || envelope.right.type !== "sync") {
        return yield* Effect.fail(bad("the directory listing is not a sync answer"))
      }
      const names = yield* Schema.decodeUnknown(Listing)(envelope.right.metadata).pipe(
        Effect.mapError(() => bad("the directory listing is not a list of names"))
      )
      return names ?? []
    }))

  const mkdirOne = (instance: string, p: string, options: Ownership | undefined) =>
    post(instance, p, { ...ownershipHeaders(options), [header("Type")]: "directory" }, new Uint8Array(0))

  const mkdir = (instance: string, p: string, options?: MkdirOptions): Effect.Effect<void, FilesError> =>
    Effect.gen(function*() {
      yield* checkInstance(instance)
      yield* checkPath("path", p)
      yield* checkIds(options)
      yield* http.requireExtension("directory_manipulation")
      if (options?.parents !== true) return yield* Effect.asVoid(mkdirOne(instance, p, options))
      const segments = p.split("/").filter((s) => s.length > 0)
      let at = ""
      for (const segment of segments) {
        at += "/" + segment
        yield* mkdirOne(instance, at, options)
      }
    })

  const remove = (instance: string, p: string): Effect.Effect<void, FilesError> =>
    Effect.gen(function*() {
      yield* checkInstance(instance)
      yield* checkPath("path", p)
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
      yield* checkInstance(instance)
      yield* checkPath("path", p)
      yield* checkIds(options)
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

  const single = { read, write, stat, list, mkdir, symlink }

  const push = (
    instance: string,
    localPath: string,
    remotePath: string,
    options?: TransferOptions & { readonly uid?: number | undefined; readonly gid?: number | undefined }
  ): Effect.Effect<void, FilesError> =>
    Effect.gen(function*() {
      yield* checkInstance(instance)
      yield* checkPath("remotePath", remotePath)
      yield* checkIds(options)
      yield* pushTree(single, instance, localPath, remotePath, options)
    })

  const pull = (
    instance: string,
    remotePath: string,
    localPath: string,
    options?: TransferOptions
  ): Effect.Effect<void, FilesError> =>
    Effect.gen(function*() {
      yield* checkInstance(instance)
      yield* checkPath("remotePath", remotePath)
      yield* pullTree(single, instance, remotePath, localPath, options)
    })

  return Files.of(
    traced("Files", { read, write, stat, list, mkdir, delete: remove, symlink, push, pull }, {
      nameAttribute: "lxd.instance"
    })
  )
})

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Files, never, LxdHttp> = Layer.effect(Files, make)
