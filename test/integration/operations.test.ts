import { assert } from "@effect/vitest"
import { Certificates, Operations } from "effect-lxd"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import { deleteInstance } from "../support/fixtures.js"
import { forEachServer, uniqueName } from "../support/servers.js"

forEachServer("operations", (it, server) => {
  const createBody = (name: string) => ({
    name,
    type: "container",
    source: { type: "image", alias: server.env.imageAlias },
    profiles: ["default"]
  })

  it.scoped("a real operation: start, get, wait", () =>
    Effect.gen(function*() {
      const ops = yield* Operations.Operations
      const name = uniqueName("op")
      yield* Effect.addFinalizer(() => deleteInstance(name))
      const started = yield* ops.start({ method: "POST", path: "/1.0/instances", body: createBody(name) })
      assert.strictEqual(started._tag, "Async")
      if (started._tag !== "Async") return
      const got = yield* Effect.either(ops.get(started.operation.id))
      if (got._tag === "Right") assert.strictEqual(got.right.id, started.operation.id)
      const done = yield* ops.wait(started.operation)
      assert.strictEqual(done.status, "Success")
      assert.strictEqual(done.status_code, 200)
      assert.isTrue(done.isSuccess)
      assert.deepInclude(done.resources?.instances ?? [], `/1.0/instances/${name}`)
      // the operation is still known right after it finished
      const after = yield* ops.get(started.operation.id)
      assert.strictEqual(after.status_code, 200)
    }))

  it.scoped("list shows a running operation, flattened from the status map", () =>
    Effect.gen(function*() {
      const ops = yield* Operations.Operations
      const certs = yield* Certificates.Certificates
      const token = yield* certs.createToken({ name: uniqueName("list") })
      yield* Effect.addFinalizer(() => Effect.ignore(ops.cancel(token.operationId)))
      const list = yield* ops.list()
      const mine = list.find((o) => o.id === token.operationId)
      assert.isDefined(mine)
      assert.strictEqual(mine!.status, "Running")
    }))

  it.scoped("a failed operation surfaces as LXDAPIException with LXD's message", () =>
    Effect.gen(function*() {
      const ops = yield* Operations.Operations
      const name = uniqueName("fail")
      yield* Effect.addFinalizer(() => deleteInstance(name))
      const failure = yield* Effect.flip(
        ops.run({
          method: "POST",
          path: "/1.0/instances",
          body: {
            ...createBody(name),
            devices: { broken: { type: "disk", source: "/nonexistent/effect-lxd-test", path: "/mnt/x" } }
          }
        })
      )
      assert.strictEqual(failure._tag, "LXDAPIException")
      if (failure._tag === "LXDAPIException") {
        assert.isDefined(failure.operationId)
        assert.strictEqual(failure.method, "POST")
        assert.strictEqual(failure.path, "/1.0/instances")
        assert.include(failure.serverMessage, "/nonexistent/effect-lxd-test")
        assert.include(failure.message, "/nonexistent/effect-lxd-test")
      }
    }))

  it.effect("interrupting a wait cancels a cancellable operation on the server", () =>
    Effect.gen(function*() {
      const ops = yield* Operations.Operations
      const certs = yield* Certificates.Certificates
      const token = yield* certs.createToken({ name: uniqueName("cancel") })
      const fiber = yield* Effect.fork(ops.wait(token.operationId))
      yield* Effect.sleep("300 millis")
      // still waiting: a token operation runs until used or cancelled
      assert.isTrue((yield* Fiber.poll(fiber))._tag === "None")
      yield* Fiber.interrupt(fiber)
      const after = yield* Effect.either(ops.get(token.operationId))
      if (after._tag === "Right") {
        assert.strictEqual(after.right.status, "Cancelled")
      } else {
        assert.strictEqual(after.left._tag, "NotFound")
      }
    }))

  it.scoped("watch follows an operation to its end", () =>
    Effect.gen(function*() {
      const ops = yield* Operations.Operations
      const name = uniqueName("watch")
      yield* Effect.addFinalizer(() => deleteInstance(name))
      const started = yield* ops.start({ method: "POST", path: "/1.0/instances", body: createBody(name) })
      if (started._tag !== "Async") return assert.fail("expected an operation")
      const states = yield* Stream.runCollect(ops.watch(started.operation.id, { interval: "50 millis" }))
      const last = Chunk.last(states)
      assert.isTrue(last._tag === "Some" && last.value.status_code === 200)
    }))

  it.effect("a missing operation is NotFound", () =>
    Effect.gen(function*() {
      const ops = yield* Operations.Operations
      const failure = yield* Effect.flip(ops.get("00000000-0000-0000-0000-000000000000"))
      assert.strictEqual(failure._tag, "NotFound")
      assert.include(failure.message, "Operation")
    }))
})
