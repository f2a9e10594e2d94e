import { describe, expect, it } from "@effect/vitest"
import * as Option from "effect/Option"
import { decodeEvent, type Event, instanceOf, isForInstance, lifecycle, type LifecycleEvent } from "../src/Events.js"
import { parseInstanceUrl } from "../src/internal/instanceUrls.js"

/** Frames as LXD 5.0.2 and Incus 6.0.4 sent them (names changed). */
const frame = (type: string, metadata: unknown, project = "default") =>
  JSON.stringify({ type, timestamp: "2026-12-01T13:45:18Z", location: "none", project, metadata })

const decode = (text: string): Event => Option.getOrThrow(decodeEvent(text))

const lifecycleFrame = (action: string, source: string, context?: unknown, project?: string): LifecycleEvent => {
  const e = decode(frame("lifecycle", { action, source, ...(context === undefined ? {} : { context }) }, project))
  if (e._tag !== "LifecycleEvent") throw new Error(`not a lifecycle event: ${e._tag}`)
  return e
}

describe("Events: one instance's events", () => {
  it("parses instance URLs: snapshots, project, percent-encoding; others are not instances", () => {
    expect(parseInstanceUrl("/1.0/instances/web1")).toEqual({ instance: "web1", rest: [], project: undefined })
    expect(parseInstanceUrl("/1.0/instances/web1/snapshots/s%200?project=p1")).toEqual({
      instance: "web1",
      rest: ["snapshots", "s 0"],
      project: "p1"
    })
    expect(parseInstanceUrl("/1.0/containers/old")?.instance).toBe("old")
    expect(parseInstanceUrl("/1.0/profiles/web1")).toBeUndefined()
    expect(parseInstanceUrl("/1.0/instances")).toBeUndefined()
    expect(parseInstanceUrl("/1.0/instances/%E0%A4%A")).toBeUndefined()
  })

  it("matches the instance's lifecycle events, its snapshots', and a rename away from its name", () => {
    const mine = isForInstance("web1")
    expect(mine(lifecycleFrame("instance-started", "/1.0/instances/web1"))).toBe(true)
    expect(mine(lifecycleFrame("instance-snapshot-created", "/1.0/instances/web1/snapshots/s0"))).toBe(true)
    expect(mine(lifecycleFrame("instance-renamed", "/1.0/instances/web2", { old_name: "web1" }))).toBe(true)
    expect(mine(lifecycleFrame("instance-started", "/1.0/instances/web10"))).toBe(false)
    expect(mine(lifecycleFrame("profile-created", "/1.0/profiles/web1"))).toBe(false)
    expect(mine(decode(frame("logging", { message: "web1", level: "info" })))).toBe(false)
  })

  it("matches operations by their resources", () => {
    const op = (resources: unknown) =>
      decode(frame("operation", {
        id: "abc",
        class: "task",
        description: "Creating instance",
        created_at: "",
        updated_at: "",
        status: "Running",
        status_code: 103,
        resources,
        metadata: null,
        may_cancel: false,
        err: ""
      }))
    const mine = isForInstance("web1")
    expect(mine(op({ containers: ["/1.0/containers/web1"], instances: ["/1.0/instances/web1"] }))).toBe(true)
    expect(mine(op({ instances: ["/1.0/instances/web2"] }))).toBe(false)
    expect(mine(op(null))).toBe(false)
  })

  it("with a project, only that project's events (the frame's project, else the URL's)", () => {
    const inP1 = isForInstance("web1", { project: "p1" })
    expect(inP1(lifecycleFrame("instance-started", "/1.0/instances/web1?project=p1", undefined, "p1"))).toBe(true)
    expect(inP1(lifecycleFrame("instance-started", "/1.0/instances/web1", undefined, "default"))).toBe(false)
    const inDefault = isForInstance("web1", { project: "default" })
    expect(inDefault(lifecycleFrame("instance-started", "/1.0/instances/web1"))).toBe(true)
    const ref = instanceOf(lifecycleFrame("instance-snapshot-deleted", "/1.0/instances/web1/snapshots/s1"))
    expect(ref).toEqual(Option.some({ instance: "web1", snapshot: "s1", project: "default" }))
  })

  it("types the common lifecycle actions by their metadata", () => {
    const renamed = lifecycleFrame("instance-renamed", "/1.0/instances/web2", { old_name: "web1" })
    const typed = lifecycle(renamed)
    expect(Option.isSome(typed)).toBe(true)
    if (Option.isSome(typed) && typed.value.action === "instance-renamed") {
      expect(typed.value.context.old_name).toBe("web1")
    }
    const created = lifecycle(
      lifecycleFrame("instance-created", "/1.0/instances/web1", { "storage-pool": "default", type: "container" })
    )
    expect(Option.map(created, (c) => c.action)).toEqual(Option.some("instance-created"))
    // a rename without old_name does not fit, and an unknown action is not typed
    expect(Option.isNone(lifecycle(lifecycleFrame("instance-renamed", "/1.0/instances/web2")))).toBe(true)
    expect(Option.isNone(lifecycle(lifecycleFrame("image-created", "/1.0/images/abc")))).toBe(true)
  })
})
