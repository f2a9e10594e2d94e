/**
 * Pure helpers of `Images` uploads and exports: the headers of an upload, its streamed
 * body (a raw tarball or a `multipart/form-data` body, hashed on the way), and the chunks
 * of an export. Nothing here talks to a server.
 */
import * as Stream from "effect/Stream"
import type { ImageExportChunk, UploadOptions, UploadSource } from "../Images.js"
import { DecodeError, type TransportError } from "../LxdError.js"
import type { RawBody, RawResponse } from "../LxdHttp.js"
import { boundaryOf, makeBoundary, makeSha256, multipartBody, splitMultipart } from "./images-multipart.js"

const asStream = <E>(data: Stream.Stream<Uint8Array, E> | Uint8Array): Stream.Stream<Uint8Array, E> =>
  data instanceof Uint8Array ? Stream.make(data) : data

/** The file name of a `Content-Disposition` header. */
export const filenameOf = (disposition: string | undefined): string | undefined => {
  if (disposition === undefined) return undefined
  const m = /filename\*?=(?:"([^"]*)"|([^;]+))/i.exec(disposition)
  return m === null ? undefined : (m[1] ?? m[2])?.trim()
}

/** The headers of `POST /1.0/images` with a raw body (`X-LXD-*`, or `X-Incus-*` for `prefix`). */
export const uploadHeaders = (prefix: string, options: UploadOptions | undefined): Record<string, string> => {
  const headers: Record<string, string> = {}
  if (options?.public) headers[`${prefix}-Public`] = "1"
  if (options?.filename !== undefined) headers[`${prefix}-Filename`] = options.filename
  if (options?.fingerprint !== undefined) headers[`${prefix}-Fingerprint`] = options.fingerprint
  if (options?.properties !== undefined && Object.keys(options.properties).length > 0) {
    headers[`${prefix}-Properties`] = new URLSearchParams(Object.entries(options.properties)).toString()
  }
  if (options?.profiles !== undefined) {
    headers[`${prefix}-Profiles`] = new URLSearchParams(options.profiles.map((p) => ["profile", p])).toString()
  }
  return headers
}

/**
 * The streamed body of an upload, every byte passing through `sha` (make one per
 * request): a unified tarball as it is, a split image as `metadata` then `rootfs`
 * (`rootfs.img` for a VM) parts of a `multipart/form-data` body.
 */
export const uploadBody = <E>(
  source: Exclude<UploadSource<E>, { readonly _tag: "UnifiedFile" }>,
  sha: ReturnType<typeof makeSha256>
): RawBody<E> => {
  if (source._tag === "Unified") {
    return {
      contentType: "application/octet-stream",
      data: sha.tap(asStream(source.data)),
      contentLength: source.contentLength ?? (source.data instanceof Uint8Array ? source.data.byteLength : undefined)
    }
  }
  const rootfs = source.virtualMachine ? "rootfs.img" : "rootfs"
  const boundary = makeBoundary()
  return {
    contentType: `multipart/form-data; boundary=${boundary}`,
    data: multipartBody(boundary, [
      { name: "metadata", filename: "metadata", data: sha.tap(asStream(source.metadata)) },
      { name: rootfs, filename: rootfs, data: sha.tap(asStream(source.rootfs)) }
    ])
  }
}

/**
 * The chunks of an export answered at `path`: one `image` part for a unified image, the
 * parts of the multipart body for a split one.
 */
export const exportChunks = (
  response: RawResponse,
  path: string
): Stream.Stream<ImageExportChunk, DecodeError | TransportError> => {
  const boundary = boundaryOf(response.headers["content-type"])
  if (boundary === undefined) {
    const filename = filenameOf(response.headers["content-disposition"])
    return Stream.map(response.body, (data): ImageExportChunk => ({ part: "image", filename, data }))
  }
  return splitMultipart(
    boundary,
    response.body,
    (reason) => new DecodeError({ method: "GET", path, reason: `malformed multipart export: ${reason}` })
  ).pipe(Stream.map((c): ImageExportChunk => ({ part: c.name, filename: c.filename, data: c.data })))
}
