/**
 * Backups of custom volumes (`StorageVolumeBackups`) and the listing across pools, on
 * every server: create, list, get, rename, export as a stream, import the tarball as a new
 * volume, delete; the ISO and tarball imports and `/1.0/storage-volumes` where the server
 * has their extension, and `ExtensionNotAvailable` where it does not.
 */
import { assert } from "@effect/vitest"
import { LxdHttp, StorageVolumeBackups, StorageVolumes } from "effect-lxd"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import { forEachServer, quietly, uniqueName } from "../support/servers.js"

/** A custom volume deleted when the scope closes. */
const scopedVolume = (pool: string, name = uniqueName("vol")) =>
  Effect.flatMap(StorageVolumes.StorageVolumes, (volumes) =>
    Effect.acquireRelease(
      volumes.create(pool, { name, config: { "user.origin": "test" } }),
      () => quietly(volumes.delete({ pool, name }))
    ))

const bytesOf = <E>(stream: Stream.Stream<Uint8Array, E>) =>
  Effect.map(Stream.runCollect(stream), (chunks) => {
    const all = Chunk.toReadonlyArray(chunks)
    const out = new Uint8Array(all.reduce((n, c) => n + c.byteLength, 0))
    let at = 0
    for (const c of all) {
      out.set(c, at)
      at += c.byteLength
    }
    return out
  })

forEachServer("volume backups", (it, server) => {
  const pool = server.env.storagePool

  it.scoped("create, list, get, rename, export, import as a new volume, delete", () =>
    Effect.gen(function*() {
      const backups = yield* StorageVolumeBackups.StorageVolumeBackups
      const volumes = yield* StorageVolumes.StorageVolumes
      const vol = yield* scopedVolume(pool)
      const ref = { pool, name: vol.name }
      yield* volumes.snapshots.create(ref, { name: "s0" })

      const named = yield* backups.create(ref, { name: "b0", volumeOnly: true })
      assert.strictEqual(named.name, "b0")
      assert.isTrue(named.volume_only)
      const unnamed = yield* backups.create(ref)
      assert.notStrictEqual(unnamed.name, "b0")
      assert.sameMembers((yield* backups.list(ref)).map((b) => b.name), ["b0", unnamed.name])

      yield* backups.rename(ref, "b0", "b1")
      assert.strictEqual((yield* backups.get(ref, "b1")).name, "b1")
      assert.strictEqual((yield* Effect.flip(backups.get(ref, "b0")))._tag, "NotFound")

      const tarball = yield* bytesOf(backups.export(ref, "b1"))
      // gzip magic: the default compression
      assert.isAbove(tarball.byteLength, 100)
      assert.deepStrictEqual([tarball[0], tarball[1]], [0x1f, 0x8b])

      const restoredName = uniqueName("restored")
      yield* Effect.addFinalizer(() => quietly(volumes.delete({ pool, name: restoredName })))
      const restored = yield* backups.import(pool, Stream.make(tarball.subarray(0, 1000), tarball.subarray(1000)), {
        name: restoredName
      })
      assert.strictEqual(restored.name, restoredName)
      assert.strictEqual(restored.config["user.origin"], "test")
      // a volume-only backup brings no snapshots back
      assert.deepStrictEqual(yield* volumes.snapshots.listNames({ pool, name: restoredName }), [])

      yield* backups.delete(ref, "b1")
      yield* backups.delete(ref, unnamed.name)
      assert.deepStrictEqual(yield* backups.list(ref), [])
    }))

  it.scoped("backups of a missing volume or a missing backup are NotFound", () =>
    Effect.gen(function*() {
      const backups = yield* StorageVolumeBackups.StorageVolumeBackups
      const missing = { pool, name: uniqueName("nope") }
      assert.strictEqual((yield* Effect.flip(backups.list(missing)))._tag, "NotFound")
      assert.strictEqual((yield* Effect.flip(backups.create(missing)))._tag, "NotFound")
      const vol = yield* scopedVolume(pool)
      const ref = { pool, name: vol.name }
      assert.strictEqual((yield* Effect.flip(backups.get(ref, "nope")))._tag, "NotFound")
      assert.strictEqual((yield* Effect.flip(backups.delete(ref, "nope")))._tag, "NotFound")
      const exported = yield* Effect.flip(Stream.runDrain(backups.export(ref, "nope")))
      assert.strictEqual(exported._tag, "NotFound")
    }))

  it.scoped("an import interrupted mid-stream leaves no volume behind", () =>
    Effect.gen(function*() {
      const backups = yield* StorageVolumeBackups.StorageVolumeBackups
      const volumes = yield* StorageVolumes.StorageVolumes
      const name = uniqueName("cut")
      yield* Effect.addFinalizer(() => quietly(volumes.delete({ pool, name })))
      // a stream that sends a little and then never ends
      const endless = Stream.concat(Stream.make(new Uint8Array([0x1f, 0x8b, 8, 0])), Stream.never)
      const fiber = yield* Effect.fork(backups.import(pool, endless, { name }))
      yield* Effect.sleep("500 millis")
      yield* Fiber.interrupt(fiber)
      yield* Effect.sleep("500 millis")
      assert.isFalse((yield* volumes.listNames(pool)).some((v) => v.name === name))
    }))

  it.scoped("ISO import where the server has custom_volume_iso; ExtensionNotAvailable elsewhere", () =>
    Effect.gen(function*() {
      const backups = yield* StorageVolumeBackups.StorageVolumeBackups
      const volumes = yield* StorageVolumes.StorageVolumes
      const http = yield* LxdHttp.LxdHttp
      const name = uniqueName("iso")
      // not an ISO file system, but the server stores the bytes as they come
      const image = new Uint8Array(64 * 1024).map((_, i) => i % 251)
      if (yield* http.hasExtension("custom_volume_iso")) {
        yield* Effect.addFinalizer(() => quietly(volumes.delete({ pool, name })))
        const iso = yield* backups.importIso(pool, image, { name })
        assert.strictEqual(iso.name, name)
        assert.strictEqual(iso.content_type, "iso")
      } else {
        yield* Effect.log(`no custom_volume_iso on ${server.name}`)
        const error = yield* Effect.flip(backups.importIso(pool, image, { name }))
        assert.strictEqual(error._tag, "ExtensionNotAvailable")
        assert.isFalse((yield* volumes.listNames(pool)).some((v) => v.name === name))
      }
    }))

  it.effect("tarball import and the listing across pools need their extensions", () =>
    Effect.gen(function*() {
      const backups = yield* StorageVolumeBackups.StorageVolumeBackups
      const volumes = yield* StorageVolumes.StorageVolumes
      const http = yield* LxdHttp.LxdHttp
      // neither LXD 5.0 nor Incus 6.0 has them; a newer server would take the other branch
      if (yield* http.hasExtension("storage_volumes_all")) {
        const all = yield* volumes.listAll()
        assert.isTrue(all.every((v) => v.pool !== undefined))
      } else {
        const error = yield* Effect.flip(volumes.listAll())
        assert.strictEqual(error._tag, "ExtensionNotAvailable")
        if (error._tag === "ExtensionNotAvailable") assert.strictEqual(error.extension, "storage_volumes_all")
      }
      if (!(yield* http.hasExtension("import_custom_volume_tar"))) {
        const error = yield* Effect.flip(backups.importTarball(pool, new Uint8Array(10), { name: uniqueName("tar") }))
        assert.strictEqual(error._tag, "ExtensionNotAvailable")
      }
    }))
}, { timeout: "3 minutes" })
