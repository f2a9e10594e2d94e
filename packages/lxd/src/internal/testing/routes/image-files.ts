/**
 * Image uploads and exports: `POST /1.0/images` with a unified tarball
 * (`application/octet-stream`) or a split image (`multipart/form-data`, parts `metadata`
 * and `rootfs` or `rootfs.img`), named by the SHA-256 of the bytes (of both parts, in
 * order, for a split image); the `X-LXD-*` (`X-Incus-*`) headers give the fingerprint to
 * check, `public`, `filename`, `properties` and `profiles`. `GET /1.0/images/<fp>/export`
 * sends the same bytes back (a multipart body for a split image). The bytes are not
 * unpacked: what the tarball holds is not checked. Images the fake was seeded with, or
 * published, have no file to export.
 */
import * as Effect from "effect/Effect"
import * as Crypto from "node:crypto"
import * as H from "../http.js"
import type { ImageRecord } from "../model.js"
import { type FakeServer } from "../server.js"
import { asyncOf, encoder, type Handler } from "./common.js"
import { concat } from "./logs.js"

type Parts = ReadonlyArray<{ readonly name: string; readonly data: Uint8Array }>

const files = new WeakMap<ImageRecord, Parts>()

/** The parts of a `multipart/form-data` body, or a refusal. */
const multipart = (body: Uint8Array, contentType: string): Parts => {
  const m = /boundary="?([^";]+)"?/.exec(contentType)
  if (m === null) return H.refuse(400, "Missing multipart boundary")
  const text = Buffer.from(body).toString("latin1")
  const delimiter = `--${m[1]}`
  const out: Array<{ name: string; data: Uint8Array }> = []
  const pieces = text.split(delimiter)
  // pieces[0] is the preamble; the last one starts with "--" (the close delimiter)
  for (const piece of pieces.slice(1)) {
    if (piece.startsWith("--")) break
    const headerEnd = piece.indexOf("\r\n\r\n")
    if (headerEnd < 0) return H.refuse(400, "Malformed multipart part")
    const headers = piece.slice(0, headerEnd)
    const name = /name="([^"]*)"/.exec(headers)?.[1]
    if (name === undefined) return H.refuse(400, "Multipart part without a name")
    const data = piece.slice(headerEnd + 4).replace(/\r\n$/, "")
    out.push({ name, data: new Uint8Array(Buffer.from(data, "latin1")) })
  }
  return out
}

const stringList = (encoded: string | undefined, key: string): Array<string> =>
  encoded === undefined ? [] : new URLSearchParams(encoded).getAll(key)

/** `POST /1.0/images` with the image's bytes. */
export const uploadImage: Handler = (server: FakeServer, request: H.FakeRequest) => {
  const project = server.projectOf(request)
  const type = request.headers["content-type"] ?? ""
  const prefix = server.headerPrefix.toLowerCase()
  const header = (name: string): string | undefined => request.headers[`${prefix}-${name}`]
  let parts: Parts
  if (type.startsWith("multipart/form-data")) {
    parts = multipart(request.body, type)
    const names = parts.map((p) => p.name)
    if (names[0] !== "metadata" || (names[1] !== "rootfs" && names[1] !== "rootfs.img") || names.length !== 2) {
      return H.refuse(400, `A split image needs the parts metadata and rootfs (got ${names.join(", ")})`)
    }
  } else {
    if (request.body.length === 0) return H.refuse(400, "Empty image upload")
    parts = [{ name: "image", data: request.body }]
  }
  const hash = Crypto.createHash("sha256")
  for (const p of parts) hash.update(p.data)
  const fingerprint = hash.digest("hex")
  const expected = header("fingerprint")
  const properties = Object.fromEntries(new URLSearchParams(header("properties") ?? ""))
  const profiles = header("profiles") === undefined ? ["default"] : stringList(header("profiles"), "profile")
  const size = parts.reduce((n, p) => n + p.data.length, 0)
  const vm = parts[1]?.name === "rootfs.img"
  return Effect.map(
    server.startOperation({
      project: project.name,
      description: "Downloading image",
      origin: { method: "POST", path: "/1.0/images" },
      resources: {},
      run: () =>
        Effect.suspend(() => {
          if (expected !== undefined && expected !== fingerprint) {
            return Effect.fail(`Fingerprints don't match, got ${fingerprint} expected ${expected}`)
          }
          if (server.images.has(fingerprint)) return Effect.fail("Image with same fingerprint already exists")
          const now = new Date()
          const image: ImageRecord = {
            fingerprint,
            architecture: "x86_64",
            description: properties.description ?? "",
            properties,
            public: header("public") === "1" || header("public") === "true",
            autoUpdate: false,
            profiles,
            size,
            type: vm ? "virtual-machine" : "container",
            createdAt: now,
            uploadedAt: now
          }
          server.images.set(fingerprint, image)
          files.set(image, parts)
          return Effect.as(
            server.lifecycle(project.name, "image-created", `/1.0/images/${fingerprint}`),
            { fingerprint, size }
          )
        })
    }),
    (op) => asyncOf(server, op)
  )
}

/** `GET /1.0/images/<fp>/export`. */
export const exportImage = (image: ImageRecord, request: H.FakeRequest): H.Answer => {
  if (request.method !== "GET") return H.refuse(405, "Method not allowed")
  const parts = files.get(image)
  if (parts === undefined) return H.refuse(404, "The image has no file the fake could export (seeded or published)")
  if (parts.length === 1) {
    return H.raw(200, parts[0]!.data, {
      "content-type": "application/octet-stream",
      "content-disposition": `inline;filename=${image.fingerprint}.tar.gz`
    })
  }
  const boundary = `fake-${image.fingerprint.slice(0, 16)}`
  const chunks: Array<Uint8Array> = []
  for (const p of parts) {
    const filename = p.name === "metadata"
      ? `meta-${image.fingerprint}.tar.xz`
      : `${image.fingerprint}.${p.name === "rootfs" ? "squashfs" : "img"}`
    chunks.push(encoder.encode(
      `--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"; filename="${filename}"\r\nContent-Type: application/octet-stream\r\n\r\n`
    ))
    chunks.push(p.data)
    chunks.push(encoder.encode("\r\n"))
  }
  chunks.push(encoder.encode(`--${boundary}--\r\n`))
  return H.raw(200, concat(chunks), { "content-type": `multipart/form-data; boundary=${boundary}` })
}
