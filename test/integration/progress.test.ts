import { assert } from "@effect/vitest"
import { Files, Instances, Operations, Progress } from "effect-lxd"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as NodePath from "node:path"
import { container, deleteInstance } from "../support/fixtures.js"
import { forEachServer, uniqueName } from "../support/servers.js"

const tempDir = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(NodePath.join(Os.tmpdir(), "effect-lxd-progress-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

const collector = Ref.make<ReadonlyArray<Progress.Progress>>([])

forEachServer("progress", (it, server) => {
  // both servers unpack the image into a dir pool on every creation and report it
  // (`create_instance_from_image_unpack_progress` and the `progress` object)
  it.effect(
    "track: an instance created from an image reports unpack progress, then the instance is there",
    () =>
      Effect.gen(function*() {
        const instances = yield* Instances.Instances
        const name = uniqueName("pg")
        yield* Effect.addFinalizer(() => deleteInstance(name))
        const seen = yield* collector
        const done = yield* Progress.track(
          instances.createOperation({ name, source: { type: "image", alias: server.env.imageAlias } }),
          (p) => Ref.update(seen, (all) => [...all, p])
        )
        assert.isTrue(done.isSuccess)
        assert.strictEqual((yield* instances.get(name)).name, name)
        const all = yield* Ref.get(seen)
        assert.isAbove(all.length, 0, "no progress reported")
        const unpack = all.filter((p) => p.stage === "create_instance_from_image_unpack")
        assert.isAbove(unpack.length, 0, `stages seen: ${[...new Set(all.map((p) => p.stage))].join(", ")}`)
        for (const p of unpack) {
          assert.isDefined(p.percent)
          assert.isTrue(p.percent! > 0 && p.percent! <= 100, `percent ${p.percent}`)
          assert.isDefined(p.text)
          assert.isTrue(p.speed === undefined || p.speed > 0)
        }
      }).pipe(Effect.scoped),
    { timeout: 120_000 }
  )

  it.effect(
    "ofOperation: the progress stream of a running operation ends when the operation does",
    () =>
      Effect.gen(function*() {
        const instances = yield* Instances.Instances
        const ops = yield* Operations.Operations
        const name = uniqueName("po")
        yield* Effect.addFinalizer(() => deleteInstance(name))
        const op = yield* instances.createOperation({ name, source: { type: "image", alias: server.env.imageAlias } })
        const progress = yield* Stream.runCollect(Progress.ofOperation(op)).pipe(
          Effect.timeout("90 seconds")
        )
        // the stream ended: the operation is over (or already reaped), and it worked
        const after = yield* ops.get(op.id).pipe(Effect.option)
        if (Option.isSome(after)) assert.isTrue(after.value.isFinal, `status ${after.value.status}`)
        assert.isTrue(yield* instances.exists(name))
        for (const p of Chunk.toReadonlyArray(progress)) {
          assert.strictEqual(p.stage, "create_instance_from_image_unpack")
        }
      }).pipe(Effect.scoped),
    { timeout: 120_000 }
  )

  it.effect("ofOperation: a failed operation fails the stream with its error", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      const name = yield* container(server.env.imageAlias, { prefix: "pf" })
      // a running container cannot be restored from a snapshot that does not exist: the
      // operation is accepted, then fails
      const ops = yield* Operations.Operations
      const op = yield* ops.startOperation({
        method: "PUT",
        path: `/1.0/instances/${name}`,
        body: { restore: "nope" }
      })
      const exit = yield* Effect.either(Stream.runDrain(Progress.ofOperation(op)))
      assert.isTrue(exit._tag === "Left", "the stream succeeded")
      if (exit._tag === "Left") {
        assert.strictEqual(exit.left._tag, "LXDAPIException")
        if (exit.left._tag === "LXDAPIException") assert.strictEqual(exit.left.operationId, op.id)
      }
      assert.isTrue(yield* instances.exists(name))
    }).pipe(Effect.scoped), { timeout: 120_000 })

  it.effect(
    "pushFile: progress counted on our side reaches 100% with the file's size; pullFile counts it back",
    () =>
      Effect.gen(function*() {
        const files = yield* Files.Files
        const name = yield* container(server.env.imageAlias, { prefix: "pp" })
        const dir = yield* tempDir
        const local = NodePath.join(dir, "data.bin")
        const size = (5 << 20) + 123
        Fs.writeFileSync(local, Crypto.randomBytes(size))
        const pushed = yield* collector
        yield* Progress.pushFile(name, local, "/root/data.bin", {
          onProgress: (p) => Ref.update(pushed, (all) => [...all, p]),
          mode: 0o600
        })
        const all = yield* Ref.get(pushed)
        assert.isAbove(all.length, 1, "one report per chunk read")
        const last = all[all.length - 1]!
        assert.strictEqual(last.percent, 100)
        assert.strictEqual(last.bytesDone, size)
        assert.strictEqual(last.bytesTotal, size)
        assert.strictEqual(last.stage, "push")
        assert.isTrue(all.every((p, i) => i === 0 || p.bytesDone! >= all[i - 1]!.bytesDone!))
        assert.strictEqual((yield* files.stat(name, "/root/data.bin")).mode & 0o777, 0o600)

        const pulled = yield* collector
        const back = NodePath.join(dir, "back.bin")
        yield* Progress.pullFile(name, "/root/data.bin", back, {
          onProgress: (p) => Ref.update(pulled, (all) => [...all, p])
        })
        const pulls = yield* Ref.get(pulled)
        assert.strictEqual(pulls[pulls.length - 1]!.bytesDone, size)
        assert.isTrue(Fs.readFileSync(back).equals(Fs.readFileSync(local)))
      }).pipe(Effect.scoped),
    { timeout: 120_000 }
  )
})
