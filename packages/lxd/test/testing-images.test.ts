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
