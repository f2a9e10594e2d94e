import { assert, describe, it } from "@effect/vitest"
import * as Option from "effect/Option"
import { Events } from "../src/index.js"

const frame = (type: string, metadata: unknown, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ type, timestamp: "2026-01-01T00:00:00Z", metadata, location: "none", ...extra })

describe("Events.decodeEvent", () => {
  it("decodes a lifecycle event", () => {
    const e = Option.getOrThrow(
      Events.decodeEvent(
        frame("lifecycle", {
          action: "instance-started",
          source: "/1.0/instances/web1",
          context: {},
          requestor: { username: "root", protocol: "unix", address: "@" }
        }, { project: "default" })
      )
    )
    assert.strictEqual(e._tag, "LifecycleEvent")
    if (e._tag === "LifecycleEvent") {
      assert.strictEqual(e.metadata.action, "instance-started")
      assert.strictEqual(e.metadata.source, "/1.0/instances/web1")
      assert.strictEqual(e.project, "default")
      assert.strictEqual(e.location, "none")
    }
  })

  it("decodes an operation event into an Operation", () => {
    const e = Option.getOrThrow(
      Events.decodeEvent(
        frame("operation", {
          id: "abc",
          class: "task",
          description: "Creating instance",
          created_at: "x",
          updated_at: "y",
          status: "Running",
          status_code: 103,
          resources: null,
          metadata: { progress: "50%" },
          may_cancel: false,
          err: ""
        })
      )
    )
    assert.strictEqual(e._tag, "OperationEvent")
    if (e._tag === "OperationEvent") {
      assert.strictEqual(e.metadata.id, "abc")
      assert.isFalse(e.metadata.isFinal)
    }
  })

  it("decodes a logging event", () => {
    const e = Option.getOrThrow(Events.decodeEvent(frame("logging", { message: "hi", level: "info", context: {} })))
    assert.strictEqual(e._tag, "LoggingEvent")
  })

  it("keeps unknown types and undecodable metadata as OtherEvent instead of failing", () => {
    const unknown = Option.getOrThrow(Events.decodeEvent(frame("network-acl", { anything: 1 })))
    assert.strictEqual(unknown._tag, "OtherEvent")
    if (unknown._tag === "OtherEvent") {
      assert.strictEqual(unknown.type, "network-acl")
      assert.deepStrictEqual(unknown.metadata, { anything: 1 })
    }
    const broken = Option.getOrThrow(Events.decodeEvent(frame("lifecycle", { action: 42 })))
    assert.strictEqual(broken._tag, "OtherEvent")
  })

  it("gives None for a frame that is not a JSON event", () => {
    assert.isTrue(Option.isNone(Events.decodeEvent("not json")))
    assert.isTrue(Option.isNone(Events.decodeEvent(JSON.stringify({ no: "type" }))))
  })
})
