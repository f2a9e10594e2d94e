/**
 * Progress of the long calls through their `...Operation` variants: `Progress.track` (or
 * `Progress.trackOn` for the target of a migration) around each variant reports typed
 * values where the daemon reports progress, and what the variant leaves behind equals
 * what the waiting call returns. Where the daemon reports nothing (local copies on a `dir`
 * pool), the operation still ends in success and nothing is reported.
 *
 * Facts these tests hold (LXD 5.0.2 and Incus 6.0.4, `dir` pools):
 * - image downloads (from a URL, from another server): `download_progress` `"45% (12.34MB/s)"`;
 * - publishing: `create_image_from_container_pack_progress` `"Image pack: 45% (12.34MB/s)"`
 *   and a `progress` object;
 * - backups (instance and volume): `create_backup_progress` `"17.33MB (17.24MB/s)"`, once a second;
 * - copies on the same server (instance, volume): no progress at all;
 * - migrations: the target's operation reports the transfer (see the migration block).
 */
import { assert } from "@effect/vitest"
import {
  Exec,
  Images,
  InstanceBackups,
  Instances,
  LxdHttp,
  Migration,
  Operations,
  Progress,
  Snapshots,
  StorageVolumeBackups,
  StorageVolumes
} from "effect-lxd"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import * as ChildProcess from "node:child_process"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Os from "node:os"
import * as Path from "node:path"
import { type DaemonEnv, daemons, readText } from "../support/env.js"
import { extraDaemon } from "../support/extraDaemon.js"
import { deleteInstance } from "../support/fixtures.js"
import { secondIncusDaemon } from "../support/secondDaemon.js"
import { forEachServer, quietly, uniqueName } from "../support/servers.js"

const MB = 1_000_000

const sha256 = (data: Uint8Array) => Crypto.createHash("sha256").update(data).digest("hex")

/** A unified image tarball that exists nowhere else: `mb` MB of random bytes in its rootfs. */
const bigImage = (mb: number): Buffer => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-lxd-progress-img-"))
  try {
    Fs.writeFileSync(
      Path.join(dir, "metadata.yaml"),
      `architecture: x86_64\ncreation_date: 1700000000\nproperties:\n  description: progress ${
        uniqueName("img")
      }\n  os: test\n`
    )
    Fs.mkdirSync(Path.join(dir, "rootfs"))
    Fs.writeFileSync(Path.join(dir, "rootfs", "blob"), Crypto.randomBytes(mb * MB))
    ChildProcess.execFileSync("tar", ["-czf", "image.tar.gz", "metadata.yaml", "rootfs"], { cwd: dir })
    return Fs.readFileSync(Path.join(dir, "image.tar.gz"))
  } finally {
    Fs.rmSync(dir, { recursive: true, force: true })
  }
}

/** A loopback HTTP server answering LXD's URL source: `/image` (headers), `/file` (the tarball). */
const imageUrlServer = (tarball: Buffer) =>
  Effect.acquireRelease(
    Effect.async<{ readonly url: string; readonly server: Http.Server }>((resume) => {
      const server = Http.createServer((req, res) => {
        const port = (server.address() as { port: number }).port
        if (req.url === "/image") {
          const file = `http://127.0.0.1:${port}/file`
          const hash = sha256(tarball)
          res.writeHead(200, {
            "LXD-Image-Hash": hash,
            "LXD-Image-URL": file,
            "Incus-Image-Hash": hash,
            "Incus-Image-URL": file
          })
          res.end()
        } else {
          res.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(tarball.length) })
          res.end(tarball)
        }
      })
      server.listen(0, "127.0.0.1", () => {
        const port = (server.address() as { port: number }).port
        resume(Effect.succeed({ url: `http://127.0.0.1:${port}/image`, server }))
      })
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  )

/** Run a variant under `Progress.track`, collecting every value reported. */
const tracked = <E, R>(start: Effect.Effect<Operations.Operation, E, R>) =>
  Effect.gen(function*() {
    const seen = yield* Ref.make<ReadonlyArray<Progress.Progress>>([])
    const done = yield* Progress.track(start, (p) => Ref.update(seen, (all) => [...all, p]))
    return { done, seen: yield* Ref.get(seen) }
  })

const stagesOf = (all: ReadonlyArray<Progress.Progress>) => [...new Set(all.map((p) => p.stage))].join(", ")

/** Every value of `stage` is typed: a percent (0, 100], or bytes > 0; a speed, when there, > 0. */
const assertTyped = (
  all: ReadonlyArray<Progress.Progress>,
  stage: string,
  measure: "percent" | "bytes"
) => {
  const of = all.filter((p) => p.stage === stage)
  assert.isAbove(of.length, 0, `no ${stage} progress; stages seen: ${stagesOf(all)}`)
  for (const p of of) {
    if (measure === "percent") {
      assert.isDefined(p.percent, Progress.format(p))
      assert.isTrue(p.percent! > 0 && p.percent! <= 100, `percent ${p.percent}`)
    } else {
      assert.isDefined(p.bytesDone, Progress.format(p))
      assert.isAbove(p.bytesDone!, 0)
    }
    assert.isTrue(p.speed === undefined || p.speed > 0, `speed ${p.speed}`)
    assert.isDefined(p.text)
    assert.isDefined(p.raw)
  }
}

const fingerprintIn = (op: Operations.Operation) =>
  Images.fingerprintOf({ _tag: "Async", status: 202, operation: op }, { method: "POST", path: "/1.0/images" })

const withoutVolatile = (config: Readonly<Record<string, string>>) =>
  Object.fromEntries(Object.entries(config).filter(([k]) => !k.startsWith("volatile.")))

/**
 * A stopped container without a NIC holding `mb` MB of random data in /root, and, when
 * `volume` is given, as much in that custom volume (mounted at /mnt). Deleted at the end.
 */
const dataContainer = (
  alias: string,
  pool: string,
  mb: number,
  volume?: string
) =>
  Effect.gen(function*() {
    const instances = yield* Instances.Instances
    const exec = yield* Exec.Exec
    const name = uniqueName("pd")
    yield* Effect.addFinalizer(() => deleteInstance(name))
    yield* instances.create({
      name,
      source: { type: "image", alias },
      profiles: [],
      devices: {
        root: { type: "disk", path: "/", pool },
        ...(volume === undefined ? {} : { data: { type: "disk", pool, source: volume, path: "/mnt" } })
      },
      start: true
    })
    const fill = (file: string) =>
      exec.run(name, ["sh", "-c", `head -c ${mb * MB} /dev/urandom > ${file} && sync`]).pipe(
        Effect.tap((r) => assert.strictEqual(r.exitCode, 0, r.stderr))
      )
    yield* fill("/root/blob")
    if (volume !== undefined) yield* fill("/mnt/blob")
    yield* instances.stop(name, { force: true })
    return name
  })

/** The other test daemon (LXD for Incus, Incus for LXD), if it is set up. */
const otherDaemon = (env: DaemonEnv): DaemonEnv | undefined => daemons().find((d) => d.kind !== env.kind)

forEachServer("progress of long calls", (it, server) => {
  const alias = server.env.imageAlias
  const pool = server.env.storagePool

  it.scoped(
    "Images.createFromUrlOperation: download progress, then the image createFromUrl gives",
    () =>
      Effect.gen(function*() {
        const images = yield* Images.Images
        const tarball = bigImage(8)
        const local = yield* imageUrlServer(tarball)
        yield* Effect.addFinalizer(() => quietly(images.delete(sha256(tarball))))
        const { done, seen } = yield* tracked(images.createFromUrlOperation(local.url))
        assert.isTrue(done.isSuccess)
        assertTyped(seen, "download", "percent")
        const fingerprint = yield* fingerprintIn(done)
        assert.strictEqual(fingerprint, sha256(tarball))
        const viaVariant = yield* images.get(fingerprint)
        yield* images.delete(fingerprint)
        const viaCall = yield* images.createFromUrl(local.url)
        assert.strictEqual(viaCall.fingerprint, viaVariant.fingerprint)
        assert.strictEqual(viaCall.size, viaVariant.size)
        assert.deepStrictEqual(viaCall.properties, viaVariant.properties)
      }),
    { timeout: 120_000 }
  )

  it.scoped(
    "Images.createFromRemoteOperation: pulled from the other local daemon with download progress",
    () =>
      Effect.gen(function*() {
        const other = otherDaemon(server.env)
        assert.isDefined(other, "both test daemons are needed (LXD and Incus)")
        const images = yield* Images.Images
        // a public image on the other daemon, uploaded over its own socket
        const there = Context.get(
          yield* Layer.build(Images.layer.pipe(
            Layer.provideMerge(Operations.layer),
            Layer.provideMerge(LxdHttp.layerUnix({ socketPath: other!.socket }))
          )),
          Images.Images
        )
        const tarball = bigImage(8)
        const uploaded = yield* Effect.acquireRelease(
          there.upload(Images.unified(tarball), { public: true }),
          (img) => quietly(there.delete(img.fingerprint))
        )
        yield* Effect.addFinalizer(() => quietly(images.delete(uploaded.fingerprint)))
        const source: Images.RemoteSource = {
          server: other!.httpsUrl,
          protocol: "lxd",
          fingerprint: uploaded.fingerprint,
          certificate: readText(other!.serverCert)
        }
        const { done, seen } = yield* tracked(images.createFromRemoteOperation(source))
        assert.isTrue(done.isSuccess)
        assertTyped(seen, "download", "percent")
        assert.strictEqual(yield* fingerprintIn(done), uploaded.fingerprint)
        const viaVariant = yield* images.get(uploaded.fingerprint)
        yield* images.delete(uploaded.fingerprint)
        const viaCall = yield* images.createFromRemote(source)
        assert.strictEqual(viaCall.fingerprint, viaVariant.fingerprint)
        assert.strictEqual(viaCall.size, viaVariant.size)
        assert.deepStrictEqual(viaCall.properties, viaVariant.properties)
        // the same validation as the waiting call, before any request
        const refused = yield* Effect.flip(
          images.createFromRemoteOperation({ server: other!.httpsUrl, protocol: "lxd" })
        )
        assert.strictEqual(refused._tag, "InvalidArgument")
      }),
    { timeout: 120_000 }
  )

  it.scoped("Instances.publishOperation: packing progress, then an image like publish's", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      const images = yield* Images.Images
      const name = yield* dataContainer(alias, pool, 8)
      const properties = { description: `progress ${name}` }
      const { done, seen } = yield* tracked(instances.publishOperation(name, { properties }))
      assert.isTrue(done.isSuccess)
      const fingerprint = yield* fingerprintIn(done)
      yield* Effect.addFinalizer(() => quietly(images.delete(fingerprint)))
      assertTyped(seen, "create_image_from_container_pack", "percent")
      const viaVariant = yield* images.get(fingerprint)
      // the same container packs to the same bytes: LXD 5.0 refuses a second image with that fingerprint
      yield* images.delete(fingerprint)
      const viaCall = yield* Effect.acquireRelease(
        instances.publish(name, { properties }),
        (img) => quietly(images.delete(img.fingerprint))
      )
      assert.deepStrictEqual(viaVariant.properties, viaCall.properties)
      assert.strictEqual(viaVariant.public, viaCall.public)
      assert.strictEqual(viaVariant.type, viaCall.type)
      assert.strictEqual(viaVariant.architecture, viaCall.architecture)
    }), { timeout: 120_000 })

  it.scoped(
    "InstanceBackups.createOperation: bytes read so far, then the backup create gives",
    () =>
      Effect.gen(function*() {
        const backups = yield* InstanceBackups.InstanceBackups
        const name = yield* dataContainer(alias, pool, 128)
        const { done, seen } = yield* tracked(backups.createOperation(name, { name: "b1", instanceOnly: true }))
        assert.isTrue(done.isSuccess)
        // reported once a second: 128 MB of random data take longer than that to compress
        // (32 MB sometimes did not, on both daemons)
        assertTyped(seen, "create_backup", "bytes")
        const viaVariant = yield* backups.get(name, "b1")
        const viaCall = yield* backups.create(name, { name: "b2", instanceOnly: true })
        assert.strictEqual(viaVariant.name, "b1")
        assert.strictEqual(viaVariant.instance_only, viaCall.instance_only)
        assert.strictEqual(viaVariant.optimized_storage, viaCall.optimized_storage)
        assert.deepStrictEqual((yield* backups.list(name)).map((b) => b.name).sort(), ["b1", "b2"])
      }),
    { timeout: 120_000 }
  )

  it.scoped(
    "StorageVolumeBackups.createOperation and StorageVolumes.copyOperation: no progress, and what create and copy give",
    () =>
      Effect.gen(function*() {
        const volumes = yield* StorageVolumes.StorageVolumes
        const backups = yield* StorageVolumeBackups.StorageVolumeBackups
        const volume = uniqueName("pv")
        yield* Effect.acquireRelease(volumes.create(pool, { name: volume }), () =>
          quietly(volumes.delete({ pool, name: volume })))
        // the container goes first (it uses the volume)
        yield* dataContainer(alias, pool, 24, volume)
        const ref = { pool, name: volume }

        // neither daemon reports progress for a volume backup (80 MB, 7 s: still nothing)
        const backup = yield* tracked(backups.createOperation(ref, { name: "b1", volumeOnly: true }))
        assert.isTrue(backup.done.isSuccess)
        assert.deepStrictEqual(backup.seen, [], `a volume backup reported ${stagesOf(backup.seen)}`)
        const viaVariant = yield* backups.get(ref, "b1")
        const viaCall = yield* backups.create(ref, { name: "b2", volumeOnly: true })
        assert.strictEqual(viaVariant.name, "b1")
        assert.strictEqual(viaVariant.volume_only, viaCall.volume_only)

        // a copy in a dir pool: no progress from either daemon, the operation succeeds
        const copyA = uniqueName("pv")
        const copyB = uniqueName("pv")
        for (const n of [copyA, copyB]) {
          yield* Effect.addFinalizer(() =>
            quietly(volumes.delete({ pool, name: n }))
          )
        }
        const copy = yield* tracked(volumes.copyOperation(ref, { pool, name: copyA, config: { "user.k": "v" } }))
        assert.isTrue(copy.done.isSuccess)
        assert.deepStrictEqual(copy.seen, [], `a local volume copy reported ${stagesOf(copy.seen)}`)
        const a = yield* volumes.get({ pool, name: copyA })
        const b = yield* volumes.copy(ref, { pool, name: copyB, config: { "user.k": "v" } })
        assert.deepStrictEqual(withoutVolatile(a.config), withoutVolatile(b.config))
        assert.strictEqual(a.content_type, b.content_type)
        assert.strictEqual(a.config["user.k"], "v")
      }),
    { timeout: 120_000 }
  )

  it.scoped(
    "Instances.copyOperation: no progress on a dir pool, and the same copy as copy",
    () =>
      Effect.gen(function*() {
        const instances = yield* Instances.Instances
        const exec = yield* Exec.Exec
        const name = yield* dataContainer(alias, pool, 8)
        const a = uniqueName("pc")
        const b = uniqueName("pc")
        for (const n of [a, b]) yield* Effect.addFinalizer(() => deleteInstance(n))
        const { done, seen } = yield* tracked(instances.copyOperation(name, a, { config: { "user.copy": "yes" } }))
        assert.isTrue(done.isSuccess)
        assert.deepStrictEqual(seen, [], `a local copy reported ${stagesOf(seen)}`)
        const viaVariant = yield* instances.get(a)
        const viaCall = yield* instances.copy(name, b, { config: { "user.copy": "yes" } })
        assert.deepStrictEqual(withoutVolatile(viaVariant.config), withoutVolatile(viaCall.config))
        assert.deepStrictEqual(viaVariant.devices, viaCall.devices)
        assert.deepStrictEqual(viaVariant.profiles, viaCall.profiles)
        // the data came along
        yield* instances.start(a)
        const size = yield* exec.run(a, ["sh", "-c", "wc -c < /root/blob"])
        assert.strictEqual(Number(size.stdout.trim()), 8 * MB)
        yield* instances.stop(a, { force: true })
        // the same validation as copy: a name with a slash is refused before any request
        const refused = yield* Effect.flip(instances.copyOperation(name, "a/b"))
        assert.strictEqual(refused._tag, "InvalidArgument")
      }),
    { timeout: 120_000 }
  )
})

// -----------------------------------------------------------------------------
// Migration: the target's operation
// -----------------------------------------------------------------------------

interface TargetDaemon {
  readonly unixConnection: Layer.Layer<LxdHttp.LxdHttp, unknown>
  readonly httpsConnection: Layer.Layer<LxdHttp.LxdHttp, unknown>
}

class Target extends Context.Tag("test/progress-operations/Target")<Target, TargetDaemon>() {}

const targetDaemon = (kind: "lxd" | "incus"): Layer.Layer<Target, unknown> =>
  Layer.scoped(
    Target,
    Effect.gen(function*() {
      const daemon: TargetDaemon = kind === "lxd" ? yield* extraDaemon() : yield* secondIncusDaemon()
      return daemon
    })
  )

const onTarget = (transport: "unix" | "https") =>
  Effect.gen(function*() {
    const daemon = yield* Target
    const context = yield* Layer.build(
      Layer.mergeAll(Instances.layer, Images.layer, StorageVolumes.layer, Snapshots.layer).pipe(
        Layer.provideMerge(Operations.layer),
        Layer.provideMerge(transport === "unix" ? daemon.unixConnection : daemon.httpsConnection)
      )
    )
    return {
      http: Context.get(context, LxdHttp.LxdHttp),
      instances: Context.get(context, Instances.Instances),
      images: Context.get(context, Images.Images),
      volumes: Context.get(context, StorageVolumes.StorageVolumes),
      snapshots: Context.get(context, Snapshots.Snapshots)
    }
  })

/** `Progress.trackOn` the target, collecting every value reported. */
const trackedOn = <E, R>(target: LxdHttp.Service, start: Effect.Effect<Operations.Operation, E, R>) =>
  Effect.gen(function*() {
    const seen = yield* Ref.make<ReadonlyArray<Progress.Progress>>([])
    const done = yield* Progress.trackOn(target, start, (p) => Ref.update(seen, (all) => [...all, p]))
    return { done, seen: yield* Ref.get(seen) }
  })

forEachServer("progress of migrations", (it, server) => {
  const alias = server.env.imageAlias
  const pool = server.env.storagePool

  it.layer(targetDaemon(server.env.kind), { timeout: "3 minutes" })((it) => {
    it.scoped(
      "copyInstanceOperation and copySnapshotOperation: the target's operation, with progress",
      () =>
        Effect.gen(function*() {
          const migration = yield* Migration.Migration
          const snapshots = yield* Snapshots.Snapshots
          const there = yield* onTarget(server.transport)
          // the target reports once a second: 80 MB take a few seconds here (32 MB sometimes
          // went through in less than one, with no report)
          const name = yield* dataContainer(alias, pool, 80)
          yield* snapshots.create(name, { name: "s0" })
          const a = uniqueName("pm")
          const b = uniqueName("pm")
          const s = uniqueName("pm")
          for (const n of [a, b, s]) {
            yield* Effect.addFinalizer(() => quietly(there.instances.delete(n, { force: true })))
          }
          const copy = yield* trackedOn(
            there.http,
            migration.copyInstanceOperation(name, there.http, { name: a, config: { "user.k": "v" } })
          )
          assert.isTrue(copy.done.isSuccess)
          // the snapshot's 80 MB go first, named as on the target (`<copy>/s0: 21.28MB (21.12MB/s)`);
          // the instance after it is quick
          assertTyped(copy.seen, "fs", "bytes")
          assert.isTrue(copy.seen.some((p) => p.text!.startsWith(`${a}/s0: `)), copy.seen[0]?.text)
          const viaVariant = yield* there.instances.get(a)
          const viaCall = yield* migration.copyInstance(name, there.http, { name: b, config: { "user.k": "v" } })
          assert.deepStrictEqual(withoutVolatile(viaVariant.config), withoutVolatile(viaCall.config))
          assert.deepStrictEqual(viaVariant.devices, viaCall.devices)
          assert.deepStrictEqual(yield* there.snapshots.listNames(a), yield* there.snapshots.listNames(b))

          const snap = yield* trackedOn(
            there.http,
            migration.copySnapshotOperation(name, "s0", there.http, { name: s })
          )
          assert.isTrue(snap.done.isSuccess)
          // a snapshot is sent as the new instance: `<new name>: 13.59MB (12.56MB/s)`
          assertTyped(snap.seen, "fs", "bytes")
          assert.isTrue(snap.seen.every((p) => p.text!.startsWith(`${s}: `)), snap.seen[0]?.text)
          assert.isTrue(yield* there.instances.exists(s))
        }),
      { timeout: 180_000 }
    )

    it.scoped(
      "copyVolumeOperation: the target's operation reports the transfer and ends with the volume there",
      () =>
        Effect.gen(function*() {
          const migration = yield* Migration.Migration
          const volumes = yield* StorageVolumes.StorageVolumes
          const there = yield* onTarget(server.transport)
          const volume = uniqueName("pmv")
          yield* Effect.acquireRelease(
            volumes.create(pool, { name: volume }),
            () => quietly(volumes.delete({ pool, name: volume }))
          )
          // reported once a second: enough data for a transfer of a few seconds
          yield* dataContainer(alias, pool, 80, volume)
          const a = uniqueName("pmv")
          const b = uniqueName("pmv")
          for (const n of [a, b]) yield* Effect.addFinalizer(() => quietly(there.volumes.delete({ pool, name: n })))
          const copy = yield* trackedOn(
            there.http,
            migration.copyVolumeOperation({ pool, name: volume }, there.http, { name: a })
          )
          assert.isTrue(copy.done.isSuccess)
          // named as on the target: `<pool>_<copy>: 12.95MB (12.93MB/s)`
          assertTyped(copy.seen, "fs", "bytes")
          assert.isTrue(copy.seen.every((p) => p.text!.startsWith(`${pool}_${a}: `)), copy.seen[0]?.text)
          const viaVariant = yield* there.volumes.get({ pool, name: a })
          const viaCall = yield* migration.copyVolume({ pool, name: volume }, there.http, { name: b })
          assert.deepStrictEqual(withoutVolatile(viaVariant.config), withoutVolatile(viaCall.config))
        }),
      { timeout: 180_000 }
    )

    it.scoped(
      "copyImageOperation: download progress on the target; the secret is revoked",
      () =>
        Effect.gen(function*() {
          const images = yield* Images.Images
          const migration = yield* Migration.Migration
          const there = yield* onTarget(server.transport)
          const image = yield* Effect.acquireRelease(
            images.upload(Images.unified(bigImage(8))),
            (img) => quietly(images.delete(img.fingerprint))
          )
          assert.isFalse(image.public)
          yield* Effect.addFinalizer(() => quietly(there.images.delete(image.fingerprint)))
          const copy = yield* trackedOn(there.http, migration.copyImageOperation(image.fingerprint, there.http))
          assert.isTrue(copy.done.isSuccess)
          assertTyped(copy.seen, "download", "percent")
          assert.strictEqual(yield* fingerprintIn(copy.done), image.fingerprint)
          const viaVariant = yield* there.images.get(image.fingerprint)
          yield* there.images.delete(image.fingerprint)
          const viaCall = yield* migration.copyImage(image.fingerprint, there.http)
          assert.strictEqual(viaCall.fingerprint, viaVariant.fingerprint)
          assert.deepStrictEqual(viaCall.properties, viaVariant.properties)
          // no secret is left: the token operations of this image's copies are gone or ended
          const ops = yield* Operations.Operations
          const left = (yield* ops.list()).filter((op) => op.class === "token" && op.status === "Running")
          assert.isFalse(
            left.some((op) => JSON.stringify(op.resources ?? {}).includes(image.fingerprint)),
            "a secret of the copied image is still valid"
          )
        }),
      { timeout: 180_000 }
    )
  })
}, { timeout: "4 minutes" })
