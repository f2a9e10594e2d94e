/**
 * The pure helpers of Images uploads and exports, with no server.
 */
import { assert, describe, it } from "@effect/vitest"
import { makeSha256 } from "../src/internal/images-multipart.js"
import { filenameOf, uploadBody, uploadHeaders } from "../src/internal/images-upload.js"

describe("Images upload helpers", () => {
  it("uploadHeaders use the dialect's prefix and send only what was given", () => {
    assert.deepStrictEqual(uploadHeaders("X-LXD", undefined), {})
    assert.deepStrictEqual(
      uploadHeaders("X-Incus", {
        public: true,
        filename: "b.tar.gz",
        fingerprint: "abc",
        properties: { os: "busy box" },
        profiles: ["default", "x"]
      }),
      {
        "X-Incus-Public": "1",
        "X-Incus-Filename": "b.tar.gz",
        "X-Incus-Fingerprint": "abc",
        "X-Incus-Properties": "os=busy+box",
        "X-Incus-Profiles": "profile=default&profile=x"
      }
    )
    assert.deepStrictEqual(uploadHeaders("X-LXD", { properties: {} }), {})
  })

  it("filenameOf reads quoted and bare Content-Disposition file names", () => {
    assert.strictEqual(filenameOf(`attachment; filename="busybox.tar.gz"`), "busybox.tar.gz")
    assert.strictEqual(filenameOf("attachment; filename=rootfs.squashfs"), "rootfs.squashfs")
    assert.isUndefined(filenameOf("attachment"))
    assert.isUndefined(filenameOf(undefined))
  })

  it("uploadBody: a unified image is sent as it is, with its length; a VM's rootfs part is rootfs.img", () => {
    const unified = uploadBody({ _tag: "Unified", data: new Uint8Array(3) }, makeSha256())
    assert.strictEqual(unified.contentType, "application/octet-stream")
    assert.strictEqual(unified.contentLength, 3)
    const split = uploadBody({
      _tag: "Split",
      metadata: new Uint8Array(1),
      rootfs: new Uint8Array(1),
      virtualMachine: true
    }, makeSha256())
    assert.match(split.contentType, /^multipart\/form-data; boundary=/)
  })
})
