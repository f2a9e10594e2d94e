/**
 * The test kit's warnings and metrics: the seeded host warnings with their status changes
 * and deletion, and `/1.0/metrics` following the running instances.
 */
import { assert, describe, it } from "@effect/vitest"
import { Instances, Metrics, Warnings } from "effect-lxd"
import * as Testing from "effect-lxd/testing"
import * as Effect from "effect/Effect"

describe("testing: warnings", () => {
  for (const dialect of ["lxd-5.0", "lxd-6", "incus-6.0"] as const) {
    it.live(`${dialect}: listed, fetched, acknowledged, deleted; unknown ones and bogus statuses refused`, () =>
      Effect.gen(function*() {
        const warnings = yield* Warnings.Warnings
        const all = yield* warnings.list()
        assert.strictEqual(all.length, 2)
        const first = all[0]!
        assert.strictEqual(first.status, "new")
        assert.match(first.uuid, /^[0-9a-f-]{36}$/)
        yield* warnings.acknowledge(first.uuid)
        assert.strictEqual((yield* warnings.get(first.uuid)).status, "acknowledged")
        const bogus = yield* Effect.flip(warnings.setStatus(first.uuid, "resolved"))
        assert.strictEqual(bogus._tag, "LXDAPIException")
        assert.strictEqual((yield* warnings.get(first.uuid)).status, "acknowledged")
        yield* warnings.delete(first.uuid)
        assert.deepStrictEqual((yield* warnings.list()).map((w) => w.uuid), [all[1]!.uuid])
        const gone = yield* Effect.flip(warnings.get(first.uuid))
        assert.strictEqual(gone._tag, "NotFound")
        assert.strictEqual((yield* Effect.flip(warnings.delete(first.uuid)))._tag, "NotFound")
      }).pipe(Effect.provide(Testing.layer({ dialect }))))
  }
})

describe("testing: metrics", () => {
  for (const dialect of ["lxd-5.0", "incus-6.0"] as const) {
    const prefix = dialect === "incus-6.0" ? "incus_" : "lxd_"
    it.live(`${dialect}: the running instances only, ${prefix} families with their types`, () =>
      Effect.gen(function*() {
        const instances = yield* Instances.Instances
        const metrics = yield* Metrics.Metrics
        yield* instances.create({ name: "up", source: { type: "image", alias: "busybox" }, start: true })
        yield* instances.create({ name: "down", source: { type: "image", alias: "busybox" } })
        const samples = yield* metrics.samples
        assert.isTrue(samples.some((s) => s.labels["name"] === "up"))
        assert.isFalse(samples.some((s) => s.labels["name"] === "down"))
        const procs = samples.find((s) => s.name === `${prefix}procs_total` && s.labels["name"] === "up")
        assert.isAtLeast(procs?.value ?? 0, 1)
        const families = yield* metrics.families
        assert.strictEqual(families.find((f) => f.name === `${prefix}cpu_seconds_total`)?.type, "counter")
        assert.strictEqual(families.find((f) => f.name === `${prefix}memory_MemTotal_bytes`)?.type, "gauge")
        yield* instances.stop("up")
        assert.isFalse((yield* metrics.samples).some((s) => s.labels["name"] === "up"))
      }).pipe(Effect.provide(Testing.layer({ dialect }))))
  }
})
