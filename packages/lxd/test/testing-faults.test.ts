/**
 * The test kit's fault injection, seen through the real services: injected error
 * answers, delays, connections dropped mid-body, and the daemon stopping and starting.
 */
import { assert, layer } from "@effect/vitest"
import { Certificates, Events, Exec, Instances, LxdHttp, Operations, Server } from "effect-lxd"
import * as Testing from "effect-lxd/testing"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"

const image = { type: "image", alias: "busybox" } as const

const failureOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  const failure = exit.cause._tag === "Fail" ? exit.cause.error : undefined
  if (failure === undefined) throw new Error(`expected a typed failure, got ${String(exit.cause)}`)
  return failure
}

layer(Testing.layer(), { excludeTestServices: true })("testing: fault injection", (it) => {
  it.effect("failNext answers the matching request with the injected status, then the real answer", () =>
    Effect.gen(function*() {
      const fake = yield* Testing.FakeLxd
      const instances = yield* Instances.Instances
      yield* instances.create({ name: "f1", source: image })
      yield* fake.failNext({ method: "GET", path: "/1.0/instances/f1", status: 500, message: "database is locked" })
      const failure = failureOf(yield* Effect.exit(instances.get("f1")))
      assert.strictEqual(failure._tag, "LXDAPIException")
      if (failure._tag === "LXDAPIException") {
        assert.strictEqual(failure.status, 500)
        assert.strictEqual(failure.serverMessage, "database is locked")
      }
      // only the next one
      assert.strictEqual((yield* instances.get("f1")).name, "f1")
      // a 404 injected on any path becomes NotFound
      yield* fake.failNext({ path: /^\/1\.0\/instances\/f1$/, status: 404, message: "Instance not found" })
      assert.strictEqual(failureOf(yield* Effect.exit(instances.get("f1")))._tag, "NotFound")
      yield* instances.delete("f1")
    }))

  it.effect("failNext with times fails that many, and clearFaults forgets the rest", () =>
    Effect.gen(function*() {
      const fake = yield* Testing.FakeLxd
      const server = yield* Server.Server
      yield* fake.failNext({ method: "GET", path: "/1.0/resources", status: 503, times: 2 })
      assert.strictEqual(failureOf(yield* Effect.exit(server.resources))._tag, "LXDAPIException")
      yield* fake.clearFaults
      // resources is not modelled: the router's own 404, not the injected 503
      const after = failureOf(yield* Effect.exit(server.resources))
      assert.strictEqual(after._tag, "NotFound")
    }))

  it.effect("a dropped connection mid-body is a TransportError", () =>
    Effect.gen(function*() {
      const fake = yield* Testing.FakeLxd
      const instances = yield* Instances.Instances
      yield* fake.dropConnection({ method: "GET", path: "/1.0/instances" })
      const failure = failureOf(yield* Effect.exit(instances.listNames()))
      assert.strictEqual(failure._tag, "TransportError")
      assert.deepStrictEqual(yield* instances.listNames(), [])
    }))

  it.effect("a delayed answer holds the call; a timeout around it interrupts it", () =>
    Effect.gen(function*() {
      const fake = yield* Testing.FakeLxd
      const instances = yield* Instances.Instances
      yield* fake.delay({ method: "GET", path: "/1.0/instances", duration: "10 seconds", times: 1 })
      const timedOut = yield* instances.listNames().pipe(Effect.timeout("200 millis"), Effect.exit)
      assert.isTrue(Exit.isFailure(timedOut))
      const [elapsed] = yield* Effect.timed(instances.listNames())
      assert.isBelow(Duration.toMillis(elapsed), 5000)
    }))

  it.effect("interrupting a call held by the fake interrupts it", () =>
    Effect.gen(function*() {
      const fake = yield* Testing.FakeLxd
      const instances = yield* Instances.Instances
      yield* fake.delay({ method: "POST", path: "/1.0/instances", duration: "1 minute", times: 1 })
      const fiber = yield* Effect.fork(instances.create({ name: "never", source: image }))
      yield* Effect.sleep("100 millis")
      yield* Fiber.interrupt(fiber)
      assert.deepStrictEqual(yield* fake.instanceNames(), [])
    }))
})

layer(Testing.layer(), { excludeTestServices: true })("testing: the daemon stops and starts", (it) => {
  it.effect("calls fail with TransportError, websockets close, and it comes back with its state", () =>
    Effect.gen(function*() {
      const fake = yield* Testing.FakeLxd
      const instances = yield* Instances.Instances
      const events = yield* Events.Events
      const exec = yield* Exec.Exec
      yield* instances.create({ name: "d1", source: image, start: true })
      // an event stream and a running command, both on websockets
      const seen = yield* events.stream({ types: ["lifecycle"] }).pipe(Stream.runCollect, Effect.fork)
      const sleeping = yield* exec.run("d1", ["sleep", "60"]).pipe(Effect.fork)
      yield* Effect.sleep("200 millis")
      assert.isAtLeast(yield* fake.openWebSockets, 4)
      yield* fake.stop
      assert.isFalse(yield* fake.isRunning)
      assert.strictEqual(yield* fake.openWebSockets, 0)
      const down = failureOf(yield* Effect.exit(instances.get("d1")))
      assert.strictEqual(down._tag, "TransportError")
      // the event stream fails with the socket, as against a real daemon going away
      const ended = failureOf(yield* Fiber.join(seen).pipe(Effect.timeout("5 seconds"), Effect.exit))
      assert.strictEqual(ended._tag, "TransportError")
      // the command's sockets are gone; its result cannot be fetched from a stopped daemon
      const lost = yield* Fiber.join(sleeping).pipe(Effect.timeout("5 seconds"), Effect.exit)
      assert.isTrue(Exit.isFailure(lost))
      const ws = yield* Effect.exit(Effect.scoped((yield* LxdHttp.LxdHttp).websocket("/1.0/events")))
      assert.strictEqual(failureOf(ws)._tag, "TransportError")
      yield* fake.start
      assert.strictEqual((yield* instances.get("d1")).name, "d1")
      yield* instances.delete("d1", { force: true })
    }))
})

layer(Testing.layer({ trusted: false }), { excludeTestServices: true })("testing: trust", (it) => {
  it.effect("an untrusted client sees the short view and 403; a trust token makes it trusted", () =>
    Effect.gen(function*() {
      const fake = yield* Testing.FakeLxd
      const http = yield* LxdHttp.LxdHttp
      const instances = yield* Instances.Instances
      const certificates = yield* Certificates.Certificates
      const info = yield* http.serverInfo
      assert.strictEqual(info.auth, "untrusted")
      assert.isUndefined(info.environment)
      const refused = failureOf(yield* Effect.exit(instances.listNames()))
      assert.strictEqual(refused._tag, "Forbidden")
      if (refused._tag === "Forbidden") assert.strictEqual(refused.status, 403)
      const events = yield* Effect.exit(Effect.scoped(http.websocket("/1.0/events")))
      assert.strictEqual(failureOf(events)._tag, "TransportError")
      // an administrator (trusted) issues a token; the untrusted client joins with it
      yield* fake.setTrusted(true)
      const token = yield* certificates.createToken({ name: "newcomer" })
      yield* fake.setTrusted(false)
      const wrong = failureOf(
        yield* Effect.exit(http.send({ method: "POST", path: "/1.0/certificates", body: { password: "nope" } }))
      )
      // a wrong password is a 403 on the real servers too
      assert.strictEqual(wrong._tag, "Forbidden")
      yield* http.send({
        method: "POST",
        path: "/1.0/certificates",
        body: { type: "client", password: Redacted.value(token.token) }
      })
      assert.strictEqual((yield* http.refreshServerInfo).auth, "trusted")
      assert.deepStrictEqual(yield* instances.listNames(), [])
      // the token is used up
      const used = yield* (yield* Operations.Operations).get(token.operationId)
      assert.strictEqual(used.status, "Cancelled")
    }))
})
