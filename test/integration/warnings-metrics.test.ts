import { assert } from "@effect/vitest"
import { Metrics, Warnings } from "effect-lxd"
import * as Effect from "effect/Effect"
import { container } from "../support/fixtures.js"
import { forEachServer, quietly } from "../support/servers.js"

forEachServer("warnings and metrics", (it, server) => {
  it.scoped("warnings: listed, fetched, acknowledged, and restored", () =>
    Effect.gen(function*() {
      const warnings = yield* Warnings.Warnings
      const all = yield* warnings.list()
      // both test daemons start with a few (missing cgroup controllers, AppArmor, vsock)
      assert.isAbove(all.length, 0)
      for (const w of all) {
        assert.match(w.uuid, /^[0-9a-f-]{36}$/)
        assert.include(["new", "acknowledged", "resolved"], w.status)
        assert.isAbove(w.count, 0)
        assert.isAbove(w.type.length, 0)
      }
      const target = all.find((w) => w.status === "new") ?? all.find((w) => w.status === "acknowledged")
      assert.isDefined(target)
      if (target === undefined) return
      const original = target.status === "new" ? "new" : "acknowledged"
      // put the warning back the way it was, whatever happens
      yield* Effect.addFinalizer(() => quietly(warnings.setStatus(target.uuid, original)))

      const got = yield* warnings.get(target.uuid)
      assert.strictEqual(got.uuid, target.uuid)
      assert.strictEqual(got.type, target.type)
      assert.strictEqual(got.last_message, target.last_message)

      yield* warnings.acknowledge(target.uuid)
      assert.strictEqual((yield* warnings.get(target.uuid)).status, "acknowledged")
      assert.strictEqual((yield* warnings.list()).find((w) => w.uuid === target.uuid)?.status, "acknowledged")
      yield* warnings.setStatus(target.uuid, "new")
      assert.strictEqual((yield* warnings.get(target.uuid)).status, "new")
      yield* warnings.setStatus(target.uuid, original)
      assert.strictEqual((yield* warnings.get(target.uuid)).status, original)
    }))

  it.effect("warnings: unknown uuids are NotFound for get and delete; a bogus status is refused", () =>
    Effect.gen(function*() {
      const warnings = yield* Warnings.Warnings
      const uuid = "00000000-0000-4000-8000-000000000000"
      assert.strictEqual((yield* Effect.flip(warnings.get(uuid)))._tag, "NotFound")
      // (a status change of an unknown uuid is not checked: LXD 5.0 answers success for it)
      const failure = yield* Effect.flip(warnings.delete(uuid))
      assert.strictEqual(failure._tag, "NotFound")
      assert.include(failure.message, `Warning "${uuid}"`)
      // an invalid status is refused by the server
      const all = yield* warnings.list()
      if (all.length > 0) {
        const bad = yield* Effect.flip(warnings.setStatus(all[0]!.uuid, "bogus" as Warnings.WarningStatus))
        assert.strictEqual(bad._tag, "LXDAPIException")
      }
    }))

  it.scoped("metrics: text and parsed samples include a running instance", () =>
    Effect.gen(function*() {
      const metrics = yield* Metrics.Metrics
      const instance = yield* container(server.env.imageAlias)
      // the server refreshes its metrics every few seconds: wait for the new instance
      let text = yield* metrics.text
      for (let i = 0; i < 40 && !text.includes(`name="${instance}"`); i++) {
        yield* Effect.sleep("1 second")
        text = yield* metrics.text
      }
      assert.include(text, `name="${instance}"`)
      const samples = yield* metrics.samples
      const mine = samples.filter((s) => s.labels["name"] === instance)
      assert.isAbove(mine.length, 5)
      for (const s of mine) {
        assert.strictEqual(s.labels["project"], "default")
        assert.isFalse(Number.isNaN(s.value))
      }
      assert.isTrue(
        mine.filter((s) => s.name.endsWith("cpu_seconds_total")).every((s) => s.labels["type"] === "container")
      )
      const prefix = server.env.kind === "incus" ? "incus_" : "lxd_"
      const processes = mine.find((s) => s.name === `${prefix}procs_total`)
      assert.isDefined(processes)
      assert.isAtLeast(processes?.value ?? 0, 1)
      const memory = mine.find((s) => s.name === `${prefix}memory_MemTotal_bytes`)
      assert.isAbove(memory?.value ?? 0, 0)
      // families carry the declared types
      const families = yield* metrics.families
      const cpu = families.find((f) => f.name === `${prefix}cpu_seconds_total`)
      assert.strictEqual(cpu?.type, "counter")
      assert.isString(cpu?.help)
      assert.isTrue(cpu?.samples.some((s) => s.labels["name"] === instance && s.labels["mode"] !== undefined))
    }))
})
