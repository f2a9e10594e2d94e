import { assert, describe, it } from "@effect/vitest"
import { instanceOf, outputFiles } from "../src/internal/detachedExec.js"
import { Operation } from "../src/internal/envelope.js"

const op = (resources: Record<string, Array<string> | null> | null) =>
  new Operation({
    id: "a1b2",
    class: "task",
    description: "Executing command",
    created_at: "",
    updated_at: "",
    status: "Running",
    status_code: 103,
    resources,
    metadata: null,
    may_cancel: false,
    err: ""
  })

describe("DetachedExec helpers", () => {
  it("finds the instance of an exec operation, decoded, without the query", () => {
    assert.strictEqual(instanceOf(op({ instances: ["/1.0/instances/web%201?project=p"] })), "web 1")
    assert.strictEqual(instanceOf(op({ containers: ["/1.0/containers/c1"] })), "c1")
    assert.isUndefined(instanceOf(op(null)))
    assert.isUndefined(instanceOf(op({ instances: ["/1.0/instances/web1/snapshots/s"] })))
  })

  it("picks the operation's log files in either server's layout", () => {
    const lxd = outputFiles("c1", "a1b2", [
      "/1.0/instances/c1/logs/lxc.log",
      "/1.0/instances/c1/logs/exec_a1b2.stdout",
      "/1.0/instances/c1/logs/exec_a1b2.stderr",
      "/1.0/instances/c1/logs/exec_ffff.stdout"
    ])
    assert.deepStrictEqual(lxd, {
      stdout: "/1.0/instances/c1/logs/exec_a1b2.stdout",
      stderr: "/1.0/instances/c1/logs/exec_a1b2.stderr"
    })
    const incus = outputFiles("c1", "a1b2", ["/1.0/instances/c1/logs/exec-output/exec_a1b2.stdout"])
    assert.deepStrictEqual(incus, { stdout: "/1.0/instances/c1/logs/exec-output/exec_a1b2.stdout", stderr: undefined })
  })

  it("ignores listed paths that point outside the instance's logs", () => {
    const files = outputFiles("c1", "a1b2", [
      "/1.0/instances/other/logs/exec_a1b2.stdout",
      "/1.0/instances/c1/logs/../../other/logs/exec_a1b2.stdout",
      "/1.0/images/exec_a1b2.stdout"
    ])
    assert.deepStrictEqual(files, { stdout: undefined, stderr: undefined })
  })
})
