/**
 * The writes of a download into the local file the library opened for it (an exported
 * image or backup, a pulled file).
 *
 * A write into a regular file on a local filesystem is made on the calling thread
 * (`writevSync`), right after the socket read that filled the buffer: the bytes are still
 * in that core's cache, and there is no hand-over to libuv's thread pool and back. Measured
 * on a 100 MiB backup download over the unix socket (bench/README.md, *Downloads: where
 * the bytes are written*), that made the download about a quarter faster and cut its CPU
 * by about a third; the writes held the event loop for about 30 ms per 100 MiB in all, at
 * most 3 ms at a time.
 *
 * Anything else goes through the thread pool as before (`FileHandle.writev`/`write`): a
 * FIFO, a device or a socket (a write could wait for a reader for ever), and a filesystem
 * that is not known to be local (NFS, FUSE, SMB: a write could wait for the network).
 * And a write on the calling thread that took longer than `SLOW_WRITE_MS` (the kernel
 * throttling a writer with too many dirty pages, a slow disk) moves the rest of that
 * transfer to the thread pool, so that a slow disk costs the event loop one late write,
 * not the whole transfer.
 */
import * as Fs from "node:fs"

/** Where a download's bytes go. Every write is complete when its promise resolves; a failed write rejects it. */
export interface LocalWriter {
  /** Writes all of `pieces` at the file's current position. */
  readonly append: (pieces: ReadonlyArray<Uint8Array>) => Promise<void>
  /** Writes `bytes[0, length)` at `position`. */
  readonly writeAt: (bytes: Uint8Array, length: number, position: number) => Promise<void>
  /** Whether the next write is made on the calling thread. */
  readonly inline: () => boolean
}

/** A write on the calling thread that took longer than this moves the rest of the transfer to the thread pool. */
export const SLOW_WRITE_MS = 10

/**
 * Filesystems whose writes go to a local disk or to memory (`statfs`'s `f_type`): ext2/3/4,
 * XFS, Btrfs, tmpfs, overlayfs, ZFS, F2FS.
 */
const LOCAL_FILESYSTEMS: ReadonlySet<number> = new Set([
  0xEF53,
  0x58465342,
  0x9123683E,
  0x01021994,
  0x794C7630,
  0x2FC12FC1,
  0xF2F52010
])

/** Whether writes into the file at `path` (open as `handle`) may be made on the calling thread. */
export const writesInline = async (handle: Fs.promises.FileHandle, path: string): Promise<boolean> => {
  try {
    const [stat, fs] = await Promise.all([handle.stat(), Fs.promises.statfs(path)])
    return stat.isFile() && LOCAL_FILESYSTEMS.has(fs.type)
  } catch {
    return false
  }
}

/** What is left of `pieces` once `written` bytes of them have been written. */
const unwritten = (pieces: ReadonlyArray<Uint8Array>, written: number): ReadonlyArray<Uint8Array> => {
  let i = 0
  while (i < pieces.length && written >= pieces[i]!.length) written -= pieces[i++]!.length
  const rest = pieces.slice(i)
  if (written > 0) rest[0] = rest[0]!.subarray(written)
  return rest
}

/** All of `pieces` written with `writevSync` (which may write less than asked). */
const appendSync = (fd: number, pieces: ReadonlyArray<Uint8Array>): void => {
  for (let rest = pieces; rest.length > 0;) rest = unwritten(rest, Fs.writevSync(fd, rest as Array<Uint8Array>))
}

const writeAtSync = (fd: number, bytes: Uint8Array, length: number, position: number): void => {
  let done = 0
  while (done < length) done += Fs.writeSync(fd, bytes, done, length - done, position + done)
}

const appendAsync = async (handle: Fs.promises.FileHandle, pieces: ReadonlyArray<Uint8Array>): Promise<void> => {
  for (let rest = pieces; rest.length > 0;) {
    rest = unwritten(rest, (await handle.writev(rest as Array<Uint8Array>)).bytesWritten)
  }
}

const writeAtAsync = async (handle: Fs.promises.FileHandle, bytes: Uint8Array, length: number, position: number) => {
  let done = 0
  while (done < length) done += (await handle.write(bytes, done, length - done, position + done)).bytesWritten
}

/**
 * The writer of `handle`, on the calling thread while `inline` holds (`writesInline`) and
 * every such write stays under `slowMs`; `now` is the clock it is timed with.
 */
export const makeWriter = (
  handle: Fs.promises.FileHandle,
  inline: boolean,
  options?: { readonly slowMs?: number; readonly now?: () => number }
): LocalWriter => {
  const slowMs = options?.slowMs ?? SLOW_WRITE_MS
  const now = options?.now ?? (() => performance.now())
  let onThread = inline
  const timed = (write: () => void): Promise<void> => {
    const started = now()
    try {
      write()
    } catch (cause) {
      return Promise.reject(cause)
    }
    if (now() - started > slowMs) onThread = false
    return Promise.resolve()
  }
  return {
    append: (pieces) => onThread ? timed(() => appendSync(handle.fd, pieces)) : appendAsync(handle, pieces),
    writeAt: (bytes, length, position) =>
      onThread
        ? timed(() => writeAtSync(handle.fd, bytes, length, position))
        : writeAtAsync(handle, bytes, length, position),
    inline: () => onThread
  }
}

/** The writer of the file at `path`, open as `handle` (see `writesInline`). */
export const openWriter = async (handle: Fs.promises.FileHandle, path: string): Promise<LocalWriter> =>
  makeWriter(handle, await writesInline(handle, path))
