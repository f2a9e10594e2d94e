import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import * as TestClock from "effect/TestClock"
import * as Progress from "../src/Progress.js"

const some = <A>(o: Option.Option<A>): A => {
  if (Option.isNone(o)) throw new Error("expected Some")
  return o.value
}

describe("Progress texts (the <stage>_progress values of LXD and Incus)", () => {
  it("label, percent and speed: unpack, download with a file name, image pack", () => {
    expect(Progress.parseText("Unpack: 45% (12.34MB/s)")).toEqual({
      label: "Unpack",
      percent: 45,
      bytesDone: undefined,
      speed: 12_340_000
    })
    expect(Progress.parseText("rootfs: 45% (12.34MB/s)")).toEqual({
      label: "rootfs",
      percent: 45,
      bytesDone: undefined,
      speed: 12_340_000
    })
    expect(Progress.parseText("metadata: 100% (1.2GB/s)")).toEqual({
      label: "metadata",
      percent: 100,
      bytesDone: undefined,
      speed: 1_200_000_000
    })
    expect(Progress.parseText("Image pack: 59% (6.46MB/s)").label).toBe("Image pack")
    expect(Progress.parseText("Unpacking image: 10% (553.98MB/s)")).toEqual({
      label: "Unpacking image",
      percent: 10,
      bytesDone: undefined,
      speed: 553_980_000
    })
  })

  it("no label: a download without a file name", () => {
    expect(Progress.parseText("45% (12.34MB/s)")).toEqual({
      label: undefined,
      percent: 45,
      bytesDone: undefined,
      speed: 12_340_000
    })
  })

  it("bytes and speed: backups and migration (fs_progress, block_progress)", () => {
    expect(Progress.parseText("12.3MB (4.5MB/s)")).toEqual({
      label: undefined,
      percent: undefined,
      bytesDone: 12_300_000,
      speed: 4_500_000
    })
    expect(Progress.parseText("c1: 812B (406B/s)")).toEqual({
      label: "c1",
      percent: undefined,
      bytesDone: 812,
      speed: 406
    })
    expect(Progress.parseText("snap0: 1.50GB (120.00MB/s)").bytesDone).toBe(1_500_000_000)
  })

  it("speed only, percent only, bytes only (newer LXD's tracker), IEC units", () => {
    expect(Progress.parseText("Unpack: 12.34MB/s")).toEqual({
      label: "Unpack",
      percent: undefined,
      bytesDone: undefined,
      speed: 12_340_000
    })
    expect(Progress.parseText("999.00kB/s").speed).toBe(999_000)
    expect(Progress.parseText("Exporting: 45%")).toEqual({
      label: "Exporting",
      percent: 45,
      bytesDone: undefined,
      speed: undefined
    })
    expect(Progress.parseText("Exporting: 3.00MB").bytesDone).toBe(3_000_000)
    expect(Progress.parseText("2.00MiB (1.00KiB/s)")).toMatchObject({ bytesDone: 2 * 1024 * 1024, speed: 1024 })
  })

  it("free text is all label; a colon inside the label is kept", () => {
    expect(Progress.parseText("Remapping container filesystem")).toEqual({
      label: "Remapping container filesystem",
      percent: undefined,
      bytesDone: undefined,
      speed: undefined
    })
    expect(Progress.parseText("Migrating \"c1\" in project \"default\" to \"node2\"").percent).toBeUndefined()
    expect(Progress.parseText("a: b: 5% (1.00kB/s)")).toMatchObject({ label: "a: b", percent: 5, speed: 1000 })
    expect(Progress.parseText("disk: 12 monkeys").label).toBe("disk: 12 monkeys")
  })
})

describe("Progress from operation metadata", () => {
  it("LXD 5.0 / Incus: text and progress object together; the object's numbers win", () => {
    const metadata = {
      create_instance_from_image_unpack_progress: "Unpack: 10% (688.18MB/s)",
      progress: { percent: "10", speed: "688176860", stage: "create_instance_from_image_unpack" }
    }
    expect(some(Progress.fromMetadata(metadata))).toEqual({
      stage: "create_instance_from_image_unpack",
      text: "Unpack: 10% (688.18MB/s)",
      percent: 10,
      bytesDone: undefined,
      bytesTotal: undefined,
      speed: 688_176_860,
      raw: metadata
    })
  })

  it("the processed bytes of the progress object", () => {
    const p = some(Progress.fromMetadata({
      create_image_from_container_pack_progress: "Image pack: 100% (7.64MB/s)",
      progress: { percent: "100", processed: "2063824", speed: "7637628", stage: "create_image_from_container_pack" }
    }))
    expect(p).toMatchObject({ percent: 100, bytesDone: 2_063_824, speed: 7_637_628 })
  })

  it("text alone (download, backup, migration, container): the stage is the key's prefix", () => {
    expect(some(Progress.fromMetadata({ download_progress: "rootfs: 45% (12.34MB/s)" }))).toMatchObject({
      stage: "download",
      percent: 45,
      speed: 12_340_000
    })
    expect(some(Progress.fromMetadata({ create_backup_progress: "12.3MB (4.5MB/s)" }))).toMatchObject({
      stage: "create_backup",
      bytesDone: 12_300_000,
      speed: 4_500_000,
      percent: undefined
    })
    expect(some(Progress.fromMetadata({ fs_progress: "c1: 3.00MB (1.00MB/s)", other: 1 }))).toMatchObject({
      stage: "fs",
      bytesDone: 3_000_000
    })
    expect(some(Progress.fromMetadata({ container_progress: "Remapping container filesystem" }))).toMatchObject({
      stage: "container",
      text: "Remapping container filesystem",
      percent: undefined
    })
  })

  it("numbers in the progress object may be numbers; the object alone is enough", () => {
    expect(some(Progress.fromMetadata({ progress: { stage: "migration", percent: 30, speed: 1000 } }))).toMatchObject({
      stage: "migration",
      text: undefined,
      percent: 30,
      speed: 1000
    })
  })

  it("the text of the object's stage is chosen when there are two", () => {
    const p = some(Progress.fromMetadata({
      a_progress: "Old: 100% (1.00MB/s)",
      b_progress: "New: 5% (2.00MB/s)",
      progress: { stage: "b" }
    }))
    expect(p).toMatchObject({ stage: "b", text: "New: 5% (2.00MB/s)", percent: 5, speed: 2_000_000 })
  })

  it("no progress: none, for every other metadata", () => {
    expect(Progress.fromMetadata(null)).toEqual(Option.none())
    expect(Progress.fromMetadata({ fingerprint: "abc", size: "1036057" })).toEqual(Option.none())
    expect(Progress.fromMetadata({ fds: { "0": "x" }, command: ["ls"] })).toEqual(Option.none())
    expect(Progress.fromMetadata({ download_progress: "" })).toEqual(Option.none())
    expect(Progress.fromMetadata({ _progress: "5%" })).toEqual(Option.none())
    expect(Progress.fromMetadata("45%")).toEqual(Option.none())
  })

  it("garbage numbers are left out, not NaN", () => {
    const p = some(Progress.fromMetadata({ progress: { stage: "x", percent: "lots", speed: "" } }))
    expect(p.percent).toBeUndefined()
    expect(p.speed).toBeUndefined()
  })
})

describe("metadata the long calls carry on LXD 5.0.2 and Incus 6.0.4 (as observed)", () => {
  const value = (metadata: Record<string, unknown>) => some(Progress.fromMetadata(metadata))

  it("an image download (from a URL, another server, Migration.copyImage): download_progress, both servers", () => {
    const metadata = { download_progress: "45% (19.67MB/s)" }
    expect(value(metadata)).toEqual({
      stage: "download",
      text: "45% (19.67MB/s)",
      percent: 45,
      bytesDone: undefined,
      bytesTotal: undefined,
      speed: 19_670_000,
      raw: metadata
    })
    expect(Progress.format(value(metadata))).toBe("download: 45% (19.67MB/s)")
  })

  it("a publish: the pack text and the progress object, the bytes processed at 100%", () => {
    expect(value({
      create_image_from_container_pack_progress: "Image pack: 40% (9.47MB/s)",
      progress: { percent: "40", speed: "9472699", stage: "create_image_from_container_pack" }
    })).toMatchObject({
      stage: "create_image_from_container_pack",
      percent: 40,
      speed: 9_472_699,
      bytesDone: undefined
    })
    const last = value({
      create_image_from_container_pack_progress: "Image pack: 100% (10.96MB/s)",
      progress: { percent: "100", processed: "32063827", speed: "10960594", stage: "create_image_from_container_pack" }
    })
    expect(last).toMatchObject({ percent: 100, bytesDone: 32_063_827, speed: 10_960_594 })
    expect(Progress.format(last)).toBe("Image pack: 100% (10.96MB/s)")
  })

  it("an instance backup: create_backup_progress, bytes and speed without a percent", () => {
    const p = value({ create_backup_progress: "17.33MB (17.24MB/s)" })
    expect(p).toMatchObject({ stage: "create_backup", percent: undefined, bytesDone: 17_330_000, speed: 17_240_000 })
    expect(Progress.format(p)).toBe("create_backup: 17.33MB (17.24MB/s)")
  })

  it("a migration's target: fs_progress named after the part sent (snapshot, instance, pool_volume)", () => {
    const snapshot = value({ fs_progress: "t-pm-o797f9/s0: 21.28MB (21.12MB/s)" })
    expect(snapshot).toMatchObject({ stage: "fs", percent: undefined, bytesDone: 21_280_000, speed: 21_120_000 })
    expect(Progress.parseText(snapshot.text!).label).toBe("t-pm-o797f9/s0")
    expect(Progress.format(snapshot)).toBe("t-pm-o797f9/s0: 21.28MB (21.12MB/s)")
    expect(value({ fs_progress: "t-pm-zagcpc: 29.95MB (29.95MB/s)" })).toMatchObject({ bytesDone: 29_950_000 })
    const volume = value({ fs_progress: "default_t-pmv-wetdb6: 12.95MB (12.93MB/s)" })
    expect(Progress.parseText(volume.text!).label).toBe("default_t-pmv-wetdb6")
    expect(volume).toMatchObject({ stage: "fs", bytesDone: 12_950_000, speed: 12_930_000 })
  })

  it("the end of each: the result's metadata, with no progress in it", () => {
    expect(Progress.fromMetadata({ fingerprint: "d45230bfd30ba756", size: "25170032" })).toEqual(Option.none())
    expect(Progress.fromMetadata(null)).toEqual(Option.none())
  })
})

describe("Progress.format", () => {
  const base = { stage: "push", text: undefined, bytesDone: undefined, bytesTotal: undefined, raw: undefined }
  it("prints lines like lxc", () => {
    expect(Progress.format({ ...base, percent: 45.7, speed: 12_340_000 })).toBe("push: 45% (12.34MB/s)")
    expect(Progress.format({ ...base, percent: undefined, bytesDone: 12_000_000, speed: 4_500_000 })).toBe(
      "push: 12.00MB (4.50MB/s)"
    )
    expect(Progress.format({ ...base, percent: undefined, speed: 999 })).toBe("push: 999B/s")
    expect(Progress.format({ ...base, percent: undefined, speed: undefined })).toBe("push")
    expect(Progress.format(some(Progress.fromMetadata({ download_progress: "rootfs: 45% (12.34MB/s)" })))).toBe(
      "rootfs: 45% (12.34MB/s)"
    )
    expect(Progress.format(some(Progress.fromMetadata({ container_progress: "Remapping container filesystem" }))))
      .toBe("Remapping container filesystem")
  })
  it("sizes in LXD's units", () => {
    expect(Progress.formatBytes(0)).toBe("0B")
    expect(Progress.formatBytes(999)).toBe("999B")
    expect(Progress.formatBytes(1000)).toBe("1.00kB")
    expect(Progress.formatBytes(1_234_567)).toBe("1.23MB")
    expect(Progress.formatBytes(5e12)).toBe("5.00TB")
  })
})

describe("Progress.onBytes / counting", () => {
  // one Uint8Array per chunk, as a file read delivers them
  const chunks = (...sizes: ReadonlyArray<number>) =>
    Stream.rechunk(Stream.fromIterable(sizes.map((n) => new Uint8Array(n))), 1)

  it.effect("reports bytes done, percent of the total and the mean speed; the bytes pass unchanged", () =>
    Effect.gen(function*() {
      const seen = yield* Ref.make<ReadonlyArray<Progress.Progress>>([])
      const source = chunks(100, 300, 600).pipe(Stream.tap(() => TestClock.adjust("500 millis")))
      const fiber = yield* Progress.onBytes(source, (p) => Ref.update(seen, (all) => [...all, p]), {
        total: 1000,
        stage: "push"
      }).pipe(Stream.runCollect, Effect.fork)
      const out = yield* Fiber.join(fiber)
      expect(Chunk.toReadonlyArray(out).map((c) => c.byteLength)).toEqual([100, 300, 600])
      const all = yield* Ref.get(seen)
      expect(all.map((p) => p.bytesDone)).toEqual([100, 400, 1000])
      expect(all.map((p) => p.percent)).toEqual([10, 40, 100])
      expect(all.every((p) => p.bytesTotal === 1000 && p.stage === "push")).toBe(true)
      // 1000 bytes in 1.5 s (the clock moved 0.5 s before each chunk)
      expect(all[2]!.speed).toBe(Math.round(1000 / 1.5))
    }))

  it.effect("without a total: bytes and speed, no percent; an empty stream reports once", () =>
    Effect.gen(function*() {
      const seen = yield* Ref.make<ReadonlyArray<Progress.Progress>>([])
      yield* Stream.runDrain(Progress.onBytes(chunks(5, 7), (p) => Ref.update(seen, (all) => [...all, p])))
      const all = yield* Ref.get(seen)
      expect(all.map((p) => [p.bytesDone, p.percent, p.stage])).toEqual([[5, undefined, "transfer"], [
        12,
        undefined,
        "transfer"
      ]])
      const empty = yield* Ref.make<ReadonlyArray<Progress.Progress>>([])
      yield* Stream.runDrain(
        Progress.onBytes(Stream.empty, (p) => Ref.update(empty, (all) => [...all, p]), { total: 0 })
      )
      expect((yield* Ref.get(empty)).map((p) => [p.bytesDone, p.percent])).toEqual([[0, 100]])
    }))

  it.effect("a failing reporter fails the stream", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.either(
        Stream.runDrain(
          Progress.onBytes(chunks(1, 2), (p) => p.bytesDone! > 1 ? Effect.fail("stop" as const) : Effect.void)
        )
      )
      expect(exit._tag === "Left" && exit.left).toBe("stop")
    }))

  it.effect("counting keeps the latest progress in a SubscriptionRef, counted per run", () =>
    Effect.gen(function*() {
      const counted = yield* Progress.counting(chunks(10, 20, 30), { total: 60 })
      expect((yield* SubscriptionRef.get(counted.progress)).bytesDone).toBe(0)
      yield* Stream.runDrain(counted.stream)
      expect(yield* SubscriptionRef.get(counted.progress)).toMatchObject({
        bytesDone: 60,
        percent: 100,
        bytesTotal: 60
      })
      yield* Stream.runDrain(Stream.take(counted.stream, 1))
      expect((yield* SubscriptionRef.get(counted.progress)).bytesDone).toBe(10)
    }))
})
