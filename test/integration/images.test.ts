import { assert } from "@effect/vitest"
import { Images, LxdHttp, Operations } from "effect-lxd"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as ChildProcess from "node:child_process"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Os from "node:os"
import * as Path from "node:path"
import { forEachServer, quietly, uniqueName } from "../support/servers.js"

const sha256 = (...parts: ReadonlyArray<Uint8Array>) => {
  const h = Crypto.createHash("sha256")
  for (const p of parts) h.update(p)
  return h.digest("hex")
}

interface BuiltImage {
  readonly unified: Buffer
  readonly metadata: Buffer
  readonly rootfs: Buffer
  readonly marker: string
}

/** A tiny image that exists nowhere else yet (unique metadata and rootfs), as tarballs. */
const buildImage: Effect.Effect<BuiltImage> = Effect.sync(() => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-lxd-img-"))
  try {
    const marker = Crypto.randomBytes(8).toString("hex")
    Fs.writeFileSync(
      Path.join(dir, "metadata.yaml"),
      `architecture: x86_64\ncreation_date: 1700000000\nproperties:\n  description: effect-lxd test ${marker}\n  os: test\n`
    )
    Fs.mkdirSync(Path.join(dir, "rootfs", "etc"), { recursive: true })
    Fs.writeFileSync(
      Path.join(dir, "rootfs", "etc", "marker"),
      marker + "\n" + Crypto.randomBytes(4096).toString("base64")
    )
    const tar = (out: string, args: ReadonlyArray<string>) => {
      ChildProcess.execFileSync("tar", ["-czf", Path.join(dir, out), ...args], { cwd: dir })
      return Fs.readFileSync(Path.join(dir, out))
    }
    return {
      unified: tar("unified.tar.gz", ["metadata.yaml", "rootfs"]),
      metadata: tar("meta.tar.gz", ["metadata.yaml"]),
      rootfs: tar("rootfs.tar.gz", ["-C", "rootfs", "."]),
      marker
    }
  } finally {
    Fs.rmSync(dir, { recursive: true, force: true })
  }
})

/** Split a buffer into small chunks, so uploads really stream. */
const chunked = (data: Uint8Array, size = 7_000): Stream.Stream<Uint8Array> => {
  const pieces: Array<Uint8Array> = []
  for (let i = 0; i < data.length; i += size) pieces.push(data.subarray(i, i + size))
  return Stream.fromIterable(pieces)
}

const failureOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) throw new Error("expected a failure, got a success")
  if (exit.cause._tag !== "Fail") throw new Error(`expected a typed failure, got ${String(exit.cause)}`)
  return exit.cause.error
}

/** Upload, deleted when the scope closes. */
const uploaded = <E>(source: Images.UploadSource<E>, options?: Images.UploadOptions) =>
  Effect.flatMap(
    Images.Images,
    (images) => Effect.acquireRelease(images.upload(source, options), (img) => quietly(images.delete(img.fingerprint)))
  )

/**
 * A plain HTTP server on loopback that records what it is asked. `/image` answers the
 * way LXD's URL source wants (hash and download URL in headers, under both server
 * families' names), `/file.tar.gz` serves `tarball`; anything else is 404.
 */
const imageUrlServer = (tarball: Buffer) =>
  Effect.acquireRelease(
    Effect.async<{ readonly port: number; readonly paths: Array<string>; readonly server: Http.Server }>((resume) => {
      const paths: Array<string> = []
      const hash = sha256(tarball)
      const server = Http.createServer((req, res) => {
        paths.push(req.url ?? "")
        const port = (server.address() as { port: number }).port
        if (req.url === "/image") {
          const url = `http://127.0.0.1:${port}/file.tar.gz`
          res.writeHead(200, {
            "LXD-Image-Hash": hash,
            "LXD-Image-URL": url,
            "Incus-Image-Hash": hash,
            "Incus-Image-URL": url
          })
          res.end()
        } else if (req.url === "/file.tar.gz") {
          res.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(tarball.length) })
          res.end(tarball)
        } else {
          res.writeHead(404, { "content-type": "text/plain" })
          res.end("nothing here")
        }
      })
      server.listen(0, "127.0.0.1", () => {
        const address = server.address()
        resume(
          Effect.succeed({ port: typeof address === "object" && address !== null ? address.port : 0, paths, server })
        )
      })
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  )

forEachServer("images", (it, server) => {
  it.scoped("upload a unified tarball from a stream: fingerprint, properties, aliases; get, list, exists", () =>
    Effect.gen(function*() {
      const images = yield* Images.Images
      const built = yield* buildImage
      const imageAlias = uniqueName("img")
      const image = yield* uploaded(Images.unified(chunked(built.unified)), {
        properties: { os: "test", marker: built.marker },
        filename: "unified.tar.gz",
        aliases: [imageAlias]
      })
      assert.strictEqual(image.fingerprint, sha256(built.unified))
      assert.strictEqual(image.properties["marker"], built.marker)
      assert.strictEqual(image.filename, "unified.tar.gz")
      assert.isFalse(image.public)
      assert.strictEqual(image.size, built.unified.length)
      assert.deepStrictEqual(image.aliases.map((a) => a.name), [imageAlias])
      assert.strictEqual((yield* images.get(image.fingerprint)).fingerprint, image.fingerprint)
      assert.strictEqual((yield* images.get(image.fingerprint.slice(0, 12))).fingerprint, image.fingerprint)
      assert.strictEqual((yield* images.getByAlias(imageAlias)).fingerprint, image.fingerprint)
      assert.include(yield* images.listNames(), image.fingerprint)
      assert.include((yield* images.list()).map((i) => i.fingerprint), image.fingerprint)
      assert.isTrue(yield* images.exists(image.fingerprint))
      assert.isTrue(yield* images.aliasExists(imageAlias))
      const filtered = yield* images.list({ filter: { fingerprint: image.fingerprint } })
      assert.deepStrictEqual(filtered.map((i) => i.fingerprint), [image.fingerprint])
    }))

  it.scoped("upload a split image (metadata + rootfs) as a streamed multipart body", () =>
    Effect.gen(function*() {
      const built = yield* buildImage
      const image = yield* uploaded(Images.split(chunked(built.metadata, 100), chunked(built.rootfs)), { public: true })
      assert.strictEqual(image.fingerprint, sha256(built.metadata, built.rootfs))
      assert.isTrue(image.public)
      assert.strictEqual(image.properties["description"], `effect-lxd test ${built.marker}`)
    }))

  it.scoped("export: the SHA-256 of a unified export equals the fingerprint", () =>
    Effect.gen(function*() {
      const images = yield* Images.Images
      const built = yield* buildImage
      const image = yield* uploaded(Images.unified(built.unified))
      const chunks = Chunk.toReadonlyArray(yield* Stream.runCollect(images.export(image.fingerprint)))
      assert.isTrue(chunks.every((c) => c.part === "image"))
      assert.strictEqual(sha256(...chunks.map((c) => c.data)), image.fingerprint)
      // the test image of the set-up too
      const base = Chunk.toReadonlyArray(yield* Stream.runCollect(images.export(server.env.imageFingerprint)))
      assert.strictEqual(sha256(...base.map((c) => c.data)), server.env.imageFingerprint)
    }))

  it.scoped("unifiedFile and exportTo: a local tarball uploaded and exported to a local file (the bulk path)", () =>
    Effect.gen(function*() {
      const images = yield* Images.Images
      const built = yield* buildImage
      const dir = yield* Effect.acquireRelease(
        Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-lxd-imgfile-"))),
        (d) => Effect.sync(() => Fs.rmSync(d, { recursive: true, force: true }))
      )
      Fs.writeFileSync(Path.join(dir, "image.tar.gz"), built.unified)
      const image = yield* uploaded(Images.unifiedFile(Path.join(dir, "image.tar.gz")), { aliases: [uniqueName("f")] })
      assert.strictEqual(image.fingerprint, sha256(built.unified))
      assert.strictEqual(image.properties["description"], `effect-lxd test ${built.marker}`)
      yield* images.exportTo(image.fingerprint.slice(0, 12), Path.join(dir, "out.tar.gz"))
      assert.isTrue(Fs.readFileSync(Path.join(dir, "out.tar.gz")).equals(built.unified))
      assert.strictEqual(Fs.statSync(Path.join(dir, "out.tar.gz")).mode & 0o777, 0o600)
      assert.strictEqual(LxdHttp.openBulkConnectionCount(), 0)
      // failures: a missing local file, a missing image (no file left behind), a split image
      const missing = failureOf(yield* Effect.exit(images.upload(Images.unifiedFile(Path.join(dir, "nope")))))
      assert.strictEqual(missing._tag, "InvalidArgument")
      const gone = failureOf(yield* Effect.exit(images.exportTo("0".repeat(64), Path.join(dir, "gone.tar"))))
      assert.strictEqual(gone._tag, "NotFound")
      assert.isFalse(Fs.existsSync(Path.join(dir, "gone.tar")))
      const splitImage = yield* uploaded(Images.split(built.metadata, built.rootfs))
      const split = failureOf(yield* Effect.exit(images.exportTo(splitImage.fingerprint, Path.join(dir, "s.tar"))))
      assert.strictEqual(split._tag, "InvalidArgument")
      assert.isFalse(Fs.existsSync(Path.join(dir, "s.tar")))
    }))

  it.scoped("export of a split image gives both parts, metadata first", () =>
    Effect.gen(function*() {
      const images = yield* Images.Images
      const built = yield* buildImage
      const image = yield* uploaded(Images.split(built.metadata, built.rootfs))
      const chunks = Chunk.toReadonlyArray(yield* Stream.runCollect(images.export(image.fingerprint)))
      const parts = [...new Set(chunks.map((c) => c.part))]
      assert.deepStrictEqual(parts, ["metadata", "rootfs"])
      const metadata = Buffer.concat(chunks.filter((c) => c.part === "metadata").map((c) => c.data))
      const rootfs = Buffer.concat(chunks.filter((c) => c.part === "rootfs").map((c) => c.data))
      assert.isTrue(metadata.equals(built.metadata))
      assert.isTrue(rootfs.equals(built.rootfs))
      assert.strictEqual(sha256(...chunks.map((c) => c.data)), image.fingerprint)
    }))

  it.scoped("update (ETag), put and patch: properties, public, auto_update", () =>
    Effect.gen(function*() {
      const images = yield* Images.Images
      const built = yield* buildImage
      const image = yield* uploaded(Images.unified(built.unified))
      yield* images.update(image.fingerprint, (cur) => ({
        ...cur,
        public: true,
        auto_update: true,
        properties: { ...cur.properties, description: "edited" }
      }))
      const edited = yield* images.get(image.fingerprint)
      assert.isTrue(edited.public)
      assert.isTrue(edited.auto_update)
      assert.strictEqual(edited.properties["description"], "edited")
      yield* images.patch(image.fingerprint, { public: false })
      const patched = yield* images.get(image.fingerprint)
      assert.isFalse(patched.public)
      // only the given fields change: auto_update and the properties stay
      assert.isTrue(patched.auto_update)
      assert.strictEqual(patched.properties["description"], "edited")
      yield* images.patch(image.fingerprint, { properties: { extra: "yes" } })
      const merged = yield* images.get(image.fingerprint)
      assert.strictEqual(merged.properties["description"], "edited")
      assert.strictEqual(merged.properties["extra"], "yes")
      yield* images.put(image.fingerprint, { auto_update: false, public: false, properties: { only: "this" } })
      const put = yield* images.get(image.fingerprint)
      assert.deepStrictEqual(put.properties, { only: "this" })
      assert.isFalse(put.auto_update)
    }))

  it.scoped("delete; missing images and aliases are NotFound", () =>
    Effect.gen(function*() {
      const images = yield* Images.Images
      const built = yield* buildImage
      const image = yield* images.upload(Images.unified(built.unified))
      yield* images.delete(image.fingerprint)
      assert.isFalse(yield* images.exists(image.fingerprint))
      assert.strictEqual(failureOf(yield* Effect.exit(images.get(image.fingerprint)))._tag, "NotFound")
      const missing = uniqueName("noalias")
      assert.strictEqual(failureOf(yield* Effect.exit(images.getAlias(missing)))._tag, "NotFound")
      assert.strictEqual(failureOf(yield* Effect.exit(images.getByAlias(missing)))._tag, "NotFound")
      assert.isFalse(yield* images.aliasExists(missing))
    }))

  it.scoped("aliases: add, list, get, rename, update (ETag), delete", () =>
    Effect.gen(function*() {
      const images = yield* Images.Images
      const a = yield* uploaded(Images.unified((yield* buildImage).unified))
      const b = yield* uploaded(Images.unified((yield* buildImage).unified))
      const name = uniqueName("alias")
      const renamed = uniqueName("alias2")
      yield* Effect.addFinalizer(() =>
        Effect.all([quietly(images.deleteAlias(name)), quietly(images.deleteAlias(renamed))])
      )
      yield* images.addAlias(name, a.fingerprint, { description: "first" })
      assert.include((yield* images.aliases).map((x) => x.name), name)
      const got = yield* images.getAlias(name)
      assert.strictEqual(got.target, a.fingerprint)
      assert.strictEqual(got.description, "first")
      yield* images.renameAlias(name, renamed)
      assert.isFalse(yield* images.aliasExists(name))
      assert.strictEqual((yield* images.getAlias(renamed)).target, a.fingerprint)
      yield* images.updateAlias(renamed, (cur) => ({ ...cur, target: b.fingerprint, description: "moved" }))
      const moved = yield* images.getAlias(renamed)
      assert.strictEqual(moved.target, b.fingerprint)
      assert.strictEqual(moved.description, "moved")
      yield* images.deleteAlias(renamed)
      assert.isFalse(yield* images.aliasExists(renamed))
    }))

  it.scoped("uploading the same image twice is refused; a wrong expected fingerprint is refused", () =>
    Effect.gen(function*() {
      const images = yield* Images.Images
      const built = yield* buildImage
      yield* uploaded(Images.unified(built.unified))
      const again = failureOf(yield* Effect.exit(images.upload(Images.unified(built.unified))))
      assert.strictEqual(again._tag, "LXDAPIException")
      assert.match(again.message, /already exists/i)

      const other = yield* buildImage
      const wrong = failureOf(
        yield* Effect.exit(images.upload(Images.unified(other.unified), { fingerprint: "0".repeat(64) }))
      )
      assert.strictEqual(wrong._tag, "LXDAPIException")
      assert.isFalse(yield* images.exists(sha256(other.unified)))
    }))

  it.scoped("an upload stream that fails surfaces its own error, not a transport error", () =>
    Effect.gen(function*() {
      const images = yield* Images.Images
      const built = yield* buildImage
      const broken = Stream.concat(chunked(built.unified.subarray(0, 20_000)), Stream.fail("disk on fire" as const))
      const failure = failureOf(yield* Effect.exit(images.upload(Images.unified(broken))))
      assert.strictEqual(failure, "disk on fire")
      assert.isFalse(yield* images.exists(sha256(built.unified)))
    }))

  it.scoped("public listing; untrusted clients see public images only, private ones with a secret", () =>
    Effect.gen(function*() {
      const images = yield* Images.Images
      const pub = yield* uploaded(Images.unified((yield* buildImage).unified), { public: true })
      const priv = yield* uploaded(Images.unified((yield* buildImage).unified))
      const publicOnly = (yield* images.list({ publicOnly: true })).map((i) => i.fingerprint)
      assert.include(publicOnly, pub.fingerprint)
      assert.notInclude(publicOnly, priv.fingerprint)
      assert.include(yield* images.listNames({ publicOnly: true }), pub.fingerprint)

      const secret = yield* images.secret(priv.fingerprint)
      assert.strictEqual(secret.fingerprint, priv.fingerprint)
      assert.isTrue(secret.operationId.length > 0)

      if (
        server.transport !== "https" || server.env.untrustedCert === undefined || server.env.untrustedKey === undefined
      ) {
        return
      }
      const untrusted = LxdHttp.layerHttps(server.httpsWith(server.env.untrustedCert, server.env.untrustedKey))
      const context = yield* Layer.build(Operations.layer.pipe(Layer.provideMerge(untrusted)))
      const stranger = yield* Effect.provide(Images.make, context)
      const seen = yield* stranger.listNames()
      assert.include(seen, pub.fingerprint)
      assert.notInclude(seen, priv.fingerprint)
      assert.strictEqual((yield* stranger.get(pub.fingerprint)).fingerprint, pub.fingerprint)
      assert.strictEqual(failureOf(yield* Effect.exit(stranger.get(priv.fingerprint)))._tag, "NotFound")
      const withSecret = yield* stranger.get(priv.fingerprint, { secret: secret.secret })
      assert.strictEqual(withSecret.fingerprint, priv.fingerprint)
    }))

  it.scoped("download from a URL (served on loopback): the image arrives with the expected fingerprint", () =>
    Effect.gen(function*() {
      const images = yield* Images.Images
      const built = yield* buildImage
      const local = yield* imageUrlServer(built.unified)
      const imageAlias = uniqueName("fromurl")
      const image = yield* Effect.acquireRelease(
        images.createFromUrl(`http://127.0.0.1:${local.port}/image`, { aliases: [imageAlias] }),
        (img) => quietly(images.delete(img.fingerprint))
      )
      assert.strictEqual(image.fingerprint, sha256(built.unified))
      assert.deepStrictEqual(local.paths, ["/image", "/file.tar.gz"])
      assert.strictEqual((yield* images.getByAlias(imageAlias)).fingerprint, image.fingerprint)

      const missing = failureOf(yield* Effect.exit(images.createFromUrl(`http://127.0.0.1:${local.port}/nothing`)))
      assert.strictEqual(missing._tag, "LXDAPIException")
      assert.match(missing.message, /Image-Hash/)
    }))

  it.scoped("download from an image server: the request is sent, the server's failure surfaces", () =>
    Effect.gen(function*() {
      const images = yield* Images.Images
      const fromStreams = failureOf(
        yield* Effect.exit(images.createFromRemote({
          server: `https://127.0.0.1:9`,
          protocol: "simplestreams",
          alias: "busybox/1.0"
        }))
      )
      assert.strictEqual(fromStreams._tag, "LXDAPIException")
      assert.match(fromStreams.message, /127\.0\.0\.1:9|connect|refused/i)

      const noImage = failureOf(
        yield* Effect.exit(images.createFromRemote({ server: "https://127.0.0.1:9", protocol: "lxd" }))
      )
      assert.strictEqual(noImage._tag, "InvalidArgument")
    }))

  it.scoped("refresh of an image without a source", () =>
    Effect.gen(function*() {
      const images = yield* Images.Images
      const image = yield* uploaded(Images.unified((yield* buildImage).unified))
      // an uploaded image has nothing to refresh from: the server either does nothing or refuses
      const result = yield* Effect.either(images.refresh(image.fingerprint))
      if (result._tag === "Left") assert.strictEqual(result.left._tag, "LXDAPIException", result.left.message)
      assert.strictEqual((yield* images.get(image.fingerprint)).fingerprint, image.fingerprint)
      assert.strictEqual(failureOf(yield* Effect.exit(images.refresh("0".repeat(64))))._tag, "NotFound")
    }))
})
