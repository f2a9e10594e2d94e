/**
 * Local files as request bodies and as the destination of raw answers (image and backup
 * files): sent and saved through the transport's bulk path when it has one, through
 * streams otherwise.
 */
import * as NodeStream from "@effect/platform-node/NodeStream"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Stream from "effect/Stream"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import { InvalidArgument, type TransportError } from "../LxdError.js"
import type { RawBody, RawResponse } from "../LxdHttp.js"
import { type LocalWriter, openWriter } from "./localWrites.js"

/** The reads of a local file sent by the stream path: 1 MiB chunks keep the per-chunk work small. */
const READ_CHUNK = 1024 * 1024

/** A local failure (reading, creating, writing a local file), named after the local path. */
export const localFailure = (what: string, cause: unknown): InvalidArgument =>
  new InvalidArgument({
    argument: "localPath",
    reason: `${what}: ${cause instanceof Error ? cause.message : String(cause)}`
  })

/** The stream of a local file's bytes (the stream path of a file body). */
export const fileStream = (path: string): Stream.Stream<Uint8Array, InvalidArgument> =>
  NodeStream.fromReadable<InvalidArgument, Uint8Array>(
    () => Fs.createReadStream(path, { highWaterMark: READ_CHUNK }),
    (cause) => localFailure(`cannot read ${path}`, cause)
  )

/**
 * The SHA-256 (hex) of the local file at `path`, read in 1 MiB pieces into one buffer. If
 * interrupted, it stops after the read under way, and the file is closed before the
 * interruption completes.
 */
export const hashFile = (path: string): Effect.Effect<string, InvalidArgument> => {
  const failed = (cause: unknown) => localFailure(`cannot read ${path}`, cause)
  return Effect.acquireUseRelease(
    Effect.tryPromise({ try: () => Fs.promises.open(path, "r"), catch: failed }),
    (handle) => {
      const hash = Crypto.createHash("sha256")
      const buffer = Buffer.allocUnsafe(READ_CHUNK)
      const next: Effect.Effect<string, InvalidArgument> = Effect.flatMap(
        Effect.tryPromise({ try: () => handle.read(buffer, 0, buffer.length, null), catch: failed }),
        ({ bytesRead }) => {
          if (bytesRead === 0) return Effect.succeed(hash.digest("hex"))
          hash.update(buffer.subarray(0, bytesRead))
          return next
        }
      )
      return next
    },
    (handle) => Effect.promise(() => handle.close().catch(() => undefined))
  )
}

/**
 * A raw body that is a local file (its size taken now): the transport's bulk path reads
 * the file itself; `observe` sees every piece either way.
 */
export const fileBody = (
  path: string,
  contentType: string,
  observe?: (piece: Uint8Array) => void
): Effect.Effect<RawBody<InvalidArgument>, InvalidArgument> =>
  Effect.map(
    Effect.tryPromise({
      try: () => Fs.promises.stat(path),
      catch: (cause) => localFailure(`cannot read ${path}`, cause)
    }),
    (stat) => ({
      contentType,
      data: fileStream(path),
      contentLength: stat.size,
      file: { path, readFailed: (cause) => localFailure(`cannot read ${path}`, cause), observe }
    })
  )

/**
 * `use` writes the local file at `path` (created or truncated, mode 0600 unless `mode`
 * says otherwise) through its writer (`localWrites.ts`); the file is closed after. If
 * `use` fails or is interrupted, the partial file is removed: a transfer that did not
 * complete leaves no file behind. A file that could not be opened is left as it was.
 */
export const intoLocalFile = <A, E, R>(
  path: string,
  mode: number | undefined,
  use: (writer: LocalWriter) => Effect.Effect<A, E, R>
): Effect.Effect<A, E | InvalidArgument, R> =>
  Effect.acquireUseRelease(
    Effect.tryPromise({
      try: () => Fs.promises.open(path, "w", mode ?? 0o600),
      catch: (cause) => localFailure(`cannot create ${path}`, cause)
    }),
    (handle) => Effect.flatMap(Effect.promise(() => openWriter(handle, path)), use),
    (handle, exit) =>
      Effect.promise(() =>
        handle.close().catch(() => undefined).then(() =>
          Exit.isSuccess(exit) ? undefined : Fs.promises.rm(path, { force: true }).catch(() => undefined)
        )
      )
  )

/**
 * A raw answer's body written into the local file at `path` (as `intoLocalFile`: no
 * partial file is left if the transfer fails or is interrupted); `observe` sees every
 * piece before it is written. Succeeds with the bytes written.
 */
export const saveAnswer = (
  response: RawResponse,
  path: string,
  options?: { readonly mode?: number | undefined; readonly observe?: ((piece: Uint8Array) => void) | undefined }
): Effect.Effect<number, TransportError | InvalidArgument> =>
  intoLocalFile(path, options?.mode, (writer) => {
    const observe = options?.observe
    return response.writeTo(
      (pieces) => {
        if (observe !== undefined) { for (const p of pieces) observe(p) }
        return writer.append(pieces)
      },
      (cause) => localFailure(`cannot write ${path}`, cause)
    )
  })

/**
 * A byte stream written into the local file at `path` (as `intoLocalFile`), each write
 * awaited before the next chunk is pulled, so that a slow disk slows the stream instead
 * of piling chunks up in memory. Succeeds with the bytes written.
 */
export const saveStream = <E, R>(
  data: Stream.Stream<Uint8Array, E, R>,
  path: string,
  options?: { readonly mode?: number | undefined }
): Effect.Effect<number, E | InvalidArgument, R> =>
  intoLocalFile(path, options?.mode, (writer) => {
    let bytes = 0
    const written = Stream.runForEachChunk(data, (chunk) =>
      Effect.tryPromise({
        try: () => {
          const pieces = Chunk.toArray(chunk)
          return writer.append(pieces).then(() => {
            for (const p of pieces) bytes += p.length
          })
        },
        catch: (cause) => localFailure(`cannot write ${path}`, cause)
      }))
    return Effect.map(written, () => bytes)
  })
