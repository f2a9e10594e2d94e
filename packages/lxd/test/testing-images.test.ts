/**
 * The test kit's image uploads and exports: a unified tarball and a split image go up,
 * are named by the SHA-256 of their bytes, and come back byte for byte.
 */
import { assert, describe, it } from "@effect/vitest"
import { Images } from "effect-lxd"
import * as Testing from "effect-lxd/testing"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

const bytes = (text: string, repeat: number) => new TextEncoder().encode(text.repeat(repeat))

const sha256 = (...parts: ReadonlyArray<Uint8Array>) => {
  const h = Crypto.createHash("sha256")
  for (const p of parts) h.update(p)
  return h.digest("hex")
}

describe("testing: image upload and export", () => {
  for (const dialect of ["lxd-5.0", "lxd-6", "incus-6.0"] as const) {
    it.live(`${dialect}: a unified tarball and a split image round-trip; a wrong fingerprint is refused`, () =>
      Effect.gen(function*() {
        const images = yield* Images.Images
        const tarball = bytes("unified image\n", 5000)
        const up = yield* images.upload(Images.unified(Stream.make(tarball.slice(0, 1000), tarball.slice(1000))), {
          aliases: ["mine"],
          properties: { os: "fake", description: "uploaded" }
        })
        assert.strictEqual(up.fingerprint, sha256(tarball))
        assert.strictEqual(up.properties["description"], "uploaded")
        assert.strictEqual((yield* images.getByAlias("mine")).fingerprint, up.fingerprint)
        const back = Chunk.toReadonlyArray(yield* Stream.runCollect(images.export(up.fingerprint)))
        assert.isTrue(back.every((c) => c.part === "image"))
        assert.strictEqual(sha256(...back.map((c) => c.data)), up.fingerprint)

        const metadata = bytes("metadata\n", 100)
        const rootfs = new Uint8Array(70_000).map((_, i) => (i * 7) & 0xff)
        const split = yield* images.upload(Images.split(metadata, rootfs))
        assert.strictEqual(split.fingerprint, sha256(metadata, rootfs))
        const parts = Chunk.toReadonlyArray(yield* Stream.runCollect(images.export(split.fingerprint)))
        const joined = (name: string) => Buffer.concat(parts.filter((c) => c.part === name).map((c) => c.data))
        assert.deepStrictEqual(new Uint8Array(joined("metadata")), metadata)
        assert.deepStrictEqual(new Uint8Array(joined("rootfs")), rootfs)

        const wrong = yield* Effect.flip(
          images.upload(Images.unified(bytes("other\n", 10)), { fingerprint: "0".repeat(64) })
        )
        assert.strictEqual(wrong._tag, "LXDAPIException")
        assert.notInclude(yield* images.listNames(), sha256(bytes("other\n", 10)))
        // the seeded image has no file to export
        const seeded = yield* images.getByAlias("busybox")
        const none = yield* Effect.flip(Stream.runDrain(images.export(seeded.fingerprint)))
        assert.strictEqual(none._tag, "NotFound")
      }).pipe(Effect.provide(Testing.layer({ dialect }))))
  }
})

describe("testing: local-file uploads and exports (the stream path of unifiedFile and exportTo)", () => {
  it.scoped("a tarball in a local file goes up and comes back into a local file; a split image is refused", () =>
    Effect.gen(function*() {
      const images = yield* Images.Images
      const dir = yield* Effect.acquireRelease(
        Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-lxd-fake-img-"))),
        (d) => Effect.sync(() => Fs.rmSync(d, { recursive: true, force: true }))
      )
      const tarball = Crypto.randomBytes(3 * 1024 * 1024 + 17)
      Fs.writeFileSync(Path.join(dir, "in.tar"), tarball)
      const up = yield* images.upload(Images.unifiedFile(Path.join(dir, "in.tar")))
      assert.strictEqual(up.fingerprint, sha256(tarball))
      yield* images.exportTo(up.fingerprint, Path.join(dir, "out.tar"))
      assert.isTrue(Fs.readFileSync(Path.join(dir, "out.tar")).equals(tarball))
      assert.strictEqual(Fs.statSync(Path.join(dir, "out.tar")).mode & 0o777, 0o600)

      const missing = yield* Effect.flip(images.upload(Images.unifiedFile(Path.join(dir, "nope.tar"))))
      assert.strictEqual(missing._tag, "InvalidArgument")
      const split = yield* images.upload(Images.split(bytes("metadata\n", 10), bytes("rootfs\n", 10)))
      const refused = yield* Effect.flip(images.exportTo(split.fingerprint, Path.join(dir, "split.tar")))
      assert.strictEqual(refused._tag, "InvalidArgument")
      assert.isFalse(Fs.existsSync(Path.join(dir, "split.tar")))
    }).pipe(Effect.provide(Testing.layer())))

  it.scoped("an export cut off half-way fails with a transport error and leaves no file", () =>
    Effect.gen(function*() {
      const images = yield* Images.Images
      const fake = yield* Testing.FakeLxd
      const dir = yield* Effect.acquireRelease(
        Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-lxd-fake-img-"))),
        (d) => Effect.sync(() => Fs.rmSync(d, { recursive: true, force: true }))
      )
      const up = yield* images.upload(Images.unified(Crypto.randomBytes(2 * 1024 * 1024)))
      yield* fake.dropConnection({ method: "GET", path: `/1.0/images/${up.fingerprint}/export` })
      const error = yield* Effect.flip(images.exportTo(up.fingerprint, Path.join(dir, "cut.tar")))
      assert.strictEqual(error._tag, "TransportError")
      assert.isFalse(Fs.existsSync(Path.join(dir, "cut.tar")))
    }).pipe(Effect.provide(Testing.layer())))
})
