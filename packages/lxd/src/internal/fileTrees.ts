/**
 * Recursive transfers between a local directory and an instance (`Files.push` and
 * `Files.pull` of directories), built on the single-file calls. Work on many files runs
 * with bounded concurrency that waits for every clean-up.
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as Fs from "node:fs"
import * as NodePath from "node:path"
import type { FileInfo, FilesError, Ownership, Service as Files, TransferOptions } from "../Files.js"
import { InvalidArgument } from "../LxdError.js"
import { forEachBounded, forEachBoundedDiscard } from "./concurrency.js"
import { fileStream, intoLocalFile, localFailure } from "./localFiles.js"
import type { LocalTarget } from "./sftp.js"

/** The single-file calls a tree transfer is made of. */
export type SingleFiles = Pick<Files, "read" | "write" | "stat" | "list" | "mkdir" | "symlink"> & {
  /** Write a file of a known size (sent with a content-length instead of chunked). */
  readonly writeSized: <E>(
    instance: string,
    path: string,
    data: Stream.Stream<Uint8Array, E>,
    size: number,
    options: Ownership,
    file?: { readonly path: string; readonly readFailed: (cause: unknown) => E }
  ) => Effect.Effect<void, FilesError | E>
  /** A file's contents written into a local file open for writing. */
  readonly saveTo: <W>(instance: string, path: string, local: LocalTarget<W>) => Effect.Effect<number, FilesError | W>
}

/** `dir` + `/` + `name`, without doubling the slash. */
export const joinRemote = (dir: string, name: string): string => (dir.endsWith("/") ? dir + name : `${dir}/${name}`)

/** Names from a listing that are safe to join to a path (no traversal). */
export const safeName = (name: string): boolean =>
  name.length > 0 && name !== "." && name !== ".." && !/[/\\]/.test(name)

interface LocalEntry {
  readonly rel: string
  readonly kind: "file" | "directory" | "symlink"
  readonly mode: number
  readonly size: number
  readonly target: string | undefined
}

const localTree = (root: string): Effect.Effect<Array<LocalEntry>, InvalidArgument> =>
  Effect.tryPromise({
    try: async () => {
      const out: Array<LocalEntry> = []
      const walk = async (rel: string): Promise<void> => {
        const entries = await Fs.promises.readdir(NodePath.join(root, rel), { withFileTypes: true })
        for (const e of entries) {
          const childRel = rel === "" ? e.name : `${rel}/${e.name}`
          const full = NodePath.join(root, childRel)
          const st = await Fs.promises.lstat(full)
          if (st.isSymbolicLink()) {
            out.push({
              rel: childRel,
              kind: "symlink",
              mode: st.mode & 0o7777,
              size: st.size,
              target: await Fs.promises.readlink(full)
            })
          } else if (st.isDirectory()) {
            out.push({ rel: childRel, kind: "directory", mode: st.mode & 0o7777, size: st.size, target: undefined })
            await walk(childRel)
          } else if (st.isFile()) {
            out.push({ rel: childRel, kind: "file", mode: st.mode & 0o7777, size: st.size, target: undefined })
          }
          // sockets, fifos and devices are not copied
        }
      }
      await walk("")
      return out
    },
    catch: (cause) => localFailure(`cannot read ${root}`, cause)
  })

const pushFile = (
  files: SingleFiles,
  instance: string,
  local: string,
  remote: string,
  mode: number,
  size: number,
  ids: Ownership | undefined
) =>
  files.writeSized(
    instance,
    remote,
    fileStream(local),
    size,
    { mode, uid: ids?.uid, gid: ids?.gid },
    { path: local, readFailed: (cause) => localFailure(`cannot read ${local}`, cause) }
  )

/** `Files.push`: a file, or a directory tree (directories parent first, then files and links). */
export const pushTree = (
  files: SingleFiles,
  instance: string,
  localPath: string,
  remotePath: string,
  options?: TransferOptions & { readonly uid?: number | undefined; readonly gid?: number | undefined }
): Effect.Effect<void, FilesError> =>
  Effect.gen(function*() {
    const concurrency = options?.concurrency ?? 4
    const st = yield* Effect.tryPromise({
      try: () => Fs.promises.stat(localPath),
      catch: (cause) => localFailure(`cannot read ${localPath}`, cause)
    })
    const ids = { uid: options?.uid, gid: options?.gid }
    const parent = NodePath.posix.dirname(remotePath)
    if (parent !== "/") yield* files.mkdir(instance, parent, { parents: true, ...ids })
    if (!st.isDirectory()) {
      return yield* pushFile(files, instance, localPath, remotePath, st.mode & 0o7777, st.size, ids)
    }
    const entries = yield* localTree(localPath)
    yield* files.mkdir(instance, remotePath, { mode: st.mode & 0o7777, ...ids })
    // directories parent first, level by level; then files and links, several at once
    const dirs = entries.filter((e) => e.kind === "directory")
    const depth = (e: LocalEntry) => e.rel.split("/").length
    const levels = [...new Set(dirs.map(depth))].sort((a, b) => a - b)
    for (const level of levels) {
      yield* forEachBoundedDiscard(
        dirs.filter((d) => depth(d) === level),
        (d) => files.mkdir(instance, joinRemote(remotePath, d.rel), { mode: d.mode, ...ids }),
        concurrency
      )
    }
    yield* forEachBoundedDiscard(
      entries.filter((e) => e.kind !== "directory"),
      (e) =>
        e.kind === "symlink"
          ? files.symlink(instance, joinRemote(remotePath, e.rel), e.target!, ids)
          : pushFile(
            files,
            instance,
            NodePath.join(localPath, e.rel),
            joinRemote(remotePath, e.rel),
            e.mode,
            e.size,
            ids
          ),
      concurrency
    )
  })

const pullFile = (files: SingleFiles, instance: string, remote: string, local: string, mode: number) =>
  Effect.gen(function*() {
    // the transfer's writes are awaited (a slow disk slows the download), and a transfer
    // that fails or is interrupted leaves no partial file
    yield* intoLocalFile(local, 0o600, (writer) =>
      files.saveTo(instance, remote, {
        writer,
        writeFailed: (cause) => localFailure(`cannot write ${local}`, cause)
      }))
    yield* Effect.tryPromise({
      try: () => Fs.promises.chmod(local, mode),
      catch: (cause) => localFailure(`cannot chmod ${local}`, cause)
    })
  })

/** `Files.pull`: a file, a link, or a directory tree (walked breadth first). */
export const pullTree = (
  files: SingleFiles,
  instance: string,
  remotePath: string,
  localPath: string,
  options?: TransferOptions
): Effect.Effect<void, FilesError> =>
  Effect.gen(function*() {
    const concurrency = options?.concurrency ?? 4
    const local = <A>(what: string, f: () => Promise<A>) =>
      Effect.tryPromise({ try: f, catch: (cause) => localFailure(what, cause) })
    const root = yield* files.stat(instance, remotePath)
    if (root.type === "file") return yield* pullFile(files, instance, remotePath, localPath, root.mode)
    if (root.type === "symlink") {
      return yield* local(`cannot create ${localPath}`, () => Fs.promises.symlink(root.target ?? "", localPath))
    }
    // walk the remote tree (breadth first), creating local directories on the way
    const dirs: Array<{ readonly local: string; readonly mode: number }> = []
    const leaves: Array<FileInfo & { readonly local: string }> = []
    let frontier: Array<{ readonly remote: string; readonly local: string; readonly mode: number }> = [
      { remote: remotePath, local: localPath, mode: root.mode }
    ]
    while (frontier.length > 0) {
      const next: typeof frontier = []
      yield* forEachBoundedDiscard(frontier, (dir) =>
        Effect.gen(function*() {
          yield* local(
            `cannot create ${dir.local}`,
            () => Fs.promises.mkdir(dir.local, { recursive: true, mode: 0o700 })
          )
          dirs.push({ local: dir.local, mode: dir.mode })
          const names = (yield* files.list(instance, dir.remote)).filter(safeName)
          const infos = yield* forEachBounded(
            names,
            (name) => files.stat(instance, joinRemote(dir.remote, name)),
            concurrency
          )
          infos.forEach((info, i) => {
            const childLocal = NodePath.join(dir.local, names[i]!)
            if (info.type === "directory") next.push({ remote: info.path, local: childLocal, mode: info.mode })
            else leaves.push({ ...info, local: childLocal })
          })
        }), concurrency)
      frontier = next
    }
    yield* forEachBoundedDiscard(
      leaves,
      (f) =>
        f.type === "symlink"
          ? local(`cannot create ${f.local}`, () => Fs.promises.symlink(f.target ?? "", f.local))
          : pullFile(files, instance, f.path, f.local, f.mode),
      concurrency
    )
    // modes last, deepest first, so that a read-only directory does not stop its filling
    for (const d of dirs.reverse()) {
      yield* local(`cannot chmod ${d.local}`, () => Fs.promises.chmod(d.local, d.mode))
    }
  })
