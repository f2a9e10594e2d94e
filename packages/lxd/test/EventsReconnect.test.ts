import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type WebSocket from "ws"
import { WebSocketServer } from "ws"
import { Events, LxdHttp, Operations } from "../src/index.js"
import { error, fakeServer, type Handler, json, operation, sync } from "./fakeServer.js"

/** One `/1.0/events` websocket as the fake server sees it. */
interface Connection {
  readonly socket: WebSocket
  readonly url: string
  /** Completes when the server side of the socket has closed. */
  readonly closed: Deferred.Deferred<void>
}

const lifecycle = (instance: string) =>
  JSON.stringify({
    type: "lifecycle",
    timestamp: "2026-01-01T00:00:00Z",
    location: "none",
    project: "default",
    metadata: { action: "instance-started", source: `/1.0/instances/${instance}` }
  })

const sourceOf = (e: Events.Event) => (e._tag === "LifecycleEvent" ? e.metadata.source : `<${e._tag}>`)

/**
 * A scripted LXD that accepts `/1.0/events` websockets and hands each one to the test
 * (through `connections`), counting upgrades. Everything is closed with the scope.
 */
const eventsServer = (greeting?: string, route?: Handler) =>
  Effect.gen(function*() {
    const connections = yield* Queue.unbounded<Connection>()
    const upgrades = { count: 0 }
    const wss = new WebSocketServer({ noServer: true })
    const { socketPath } = yield* fakeServer(
      route ?? ((_req, res) => json(res, 404, error(404, "not found"))),
      undefined,
      (req, socket, head) => {
        if (!(req.url ?? "").startsWith("/1.0/events")) {
          socket.destroy()
          return
        }
        upgrades.count++
        wss.handleUpgrade(req, socket, head, (ws) => {
          const closed = Deferred.unsafeMake<void>(FiberId.none)
          ws.on("close", () => Deferred.unsafeDone(closed, Exit.void))
          // written right behind the handshake answer: the client reads both at once
          if (greeting !== undefined) ws.send(greeting)
          connections.unsafeOffer({ socket: ws, url: req.url ?? "", closed })
        })
      }
    )
    // registered after the HTTP server, so it runs first: the HTTP server's close waits for
    // upgraded sockets
    yield* Effect.addFinalizer(() =>
      Effect.async<void>((resume) => {
        for (const client of wss.clients) client.terminate()
        wss.close(() => resume(Effect.void))
      })
    )
    const http = yield* LxdHttp.connect({ _tag: "Unix", socketPath })
    const ops = yield* Operations.make.pipe(Effect.provideService(LxdHttp.LxdHttp, http))
    const events = yield* Events.make.pipe(
      Effect.provideService(LxdHttp.LxdHttp, http),
      Effect.provideService(Operations.Operations, ops)
    )
    return { events, connections, upgrades }
  })

const send = (connection: Connection, frame: string) =>
  Effect.async<void>((resume) => connection.socket.send(frame, () => resume(Effect.void)))

describe("Events over a dropped connection (scripted server)", () => {
  it.scopedLive("with a reconnect schedule: reconnects, and the events go on in order", () =>
    Effect.gen(function*() {
      const { connections, events, upgrades } = yield* eventsServer()
      const baseline = LxdHttp.openWebSocketCount()
      const seen = yield* Queue.unbounded<Events.Event>()
      const consumer = yield* events.stream({ types: ["lifecycle"], reconnect: Schedule.spaced("20 millis") }).pipe(
        Stream.runForEach((e) => Queue.offer(seen, e)),
        Effect.fork
      )

      const first = yield* Queue.take(connections)
      assert.match(first.url, /^\/1\.0\/events\?.*type=lifecycle/)
      yield* send(first, lifecycle("a"))
      assert.strictEqual(sourceOf(yield* Queue.take(seen)), "/1.0/instances/a")

      // the connection dies without a close frame (daemon restart, network cut)
      first.socket.terminate()
      const second = yield* Queue.take(connections).pipe(Effect.timeout("3 seconds"))
      assert.strictEqual(upgrades.count, 2)
      assert.strictEqual(second.url, first.url)
      // sent right after the server accepted: the new subscription must already listen
      yield* send(second, lifecycle("b"))
      yield* send(second, lifecycle("c"))
      // the gap is marked before the first event of the new connection
      const marker = yield* Queue.take(seen)
      assert.strictEqual(marker._tag, "EventsMissed")
      if (marker._tag === "EventsMissed") {
        assert.strictEqual(marker.reason, "reconnected")
        assert.isUndefined(marker.dropped)
      }
      assert.strictEqual(sourceOf(yield* Queue.take(seen)), "/1.0/instances/b")
      assert.strictEqual(sourceOf(yield* Queue.take(seen)), "/1.0/instances/c")
      assert.isNull(consumer.unsafePoll(), "the stream is still running")
      // the new connection is the shared one for this filter
      yield* Effect.scoped(events.subscribe({ types: ["lifecycle"] }))
      assert.strictEqual(upgrades.count, 2)

      // stopping the stream closes the (second) websocket
      yield* Fiber.interrupt(consumer)
      yield* Deferred.await(second.closed).pipe(Effect.timeout("3 seconds"))
      assert.strictEqual(LxdHttp.openWebSocketCount(), baseline)
      assert.strictEqual(yield* Queue.size(seen), 0, "no duplicate or extra events")
      assert.strictEqual(upgrades.count, 2)
    }))

  it.scopedLive("without a schedule: a dropped connection fails the stream with TransportError, no reconnect", () =>
    Effect.gen(function*() {
      const { connections, events, upgrades } = yield* eventsServer()
      const seen = yield* Queue.unbounded<Events.Event>()
      const consumer = yield* events.stream({ types: ["lifecycle"] }).pipe(
        Stream.runForEach((e) => Queue.offer(seen, e)),
        Effect.fork
      )
      const connection = yield* Queue.take(connections)
      yield* send(connection, lifecycle("a"))
      assert.strictEqual(sourceOf(yield* Queue.take(seen)), "/1.0/instances/a")
      connection.socket.terminate()

      const failure = yield* Fiber.join(consumer).pipe(Effect.flip, Effect.timeout("3 seconds"))
      assert.strictEqual(failure._tag, "TransportError")
      assert.strictEqual(failure.method, "WEBSOCKET")
      assert.strictEqual(failure.path, "/1.0/events")
      assert.match(failure.reason, /closed/)
      assert.strictEqual(upgrades.count, 1)
      assert.strictEqual(yield* Queue.size(connections), 0)

      // a later subscriber is not handed the dead connection
      const again = yield* events.subscribe({ types: ["lifecycle"] })
      assert.strictEqual(upgrades.count, 2)
      const fresh = yield* Queue.take(connections)
      yield* send(fresh, lifecycle("b"))
      const [next] = yield* Stream.take(again, 1).pipe(Stream.runCollect)
      assert.strictEqual(next === undefined ? "" : sourceOf(next), "/1.0/instances/b")
    }))

  it.scopedLive("a schedule that gives up ends in TransportError after its retries", () =>
    Effect.gen(function*() {
      const { connections, events, upgrades } = yield* eventsServer()
      const consumer = yield* events.stream({ reconnect: Schedule.recurs(2) }).pipe(Stream.runDrain, Effect.fork)
      for (let i = 0; i < 3; i++) {
        const connection = yield* Queue.take(connections).pipe(Effect.timeout("3 seconds"))
        connection.socket.terminate()
      }
      const failure = yield* Fiber.join(consumer).pipe(Effect.flip, Effect.timeout("3 seconds"))
      assert.strictEqual(failure._tag, "TransportError")
      assert.strictEqual(upgrades.count, 3)
    }))

  it.scopedLive("the schedule starts over once events arrive again", () =>
    Effect.gen(function*() {
      const { connections, events, upgrades } = yield* eventsServer()
      const seen = yield* Queue.unbounded<Events.Event>()
      // one retry in a row only
      const consumer = yield* events.stream({ reconnect: Schedule.recurs(1) }).pipe(
        Stream.runForEach((e) => Queue.offer(seen, e)),
        Effect.fork
      )
      for (const name of ["a", "b", "c"]) {
        const connection = yield* Queue.take(connections).pipe(Effect.timeout("3 seconds"))
        yield* send(connection, lifecycle(name))
        if (name !== "a") assert.strictEqual(sourceOf(yield* Queue.take(seen)), "<EventsMissed>")
        assert.strictEqual(sourceOf(yield* Queue.take(seen)), `/1.0/instances/${name}`)
        connection.socket.terminate()
      }
      // two drops without an event in between exhaust it
      const last = yield* Queue.take(connections).pipe(Effect.timeout("3 seconds"))
      last.socket.terminate()
      const failure = yield* Fiber.join(consumer).pipe(Effect.flip, Effect.timeout("3 seconds"))
      assert.strictEqual(failure._tag, "TransportError")
      assert.strictEqual(upgrades.count, 4)
    }))
})

describe("Events connection sharing (scripted server)", () => {
  it.scopedLive("frames arriving with the handshake are not lost: the first subscriber gets them", () =>
    Effect.gen(function*() {
      const { events } = yield* eventsServer(lifecycle("early"))
      const stream = yield* events.subscribe({ types: ["lifecycle"] })
      const [first] = yield* Stream.take(stream, 1).pipe(Stream.runCollect, Effect.timeout("3 seconds"))
      assert.strictEqual(first === undefined ? "" : sourceOf(first), "/1.0/instances/early")
    }))

  it.scopedLive("subscribers with the same filter share one websocket, closed when the last one leaves", () =>
    Effect.gen(function*() {
      const { connections, events, upgrades } = yield* eventsServer()
      const scopeA = yield* Scope.make()
      const scopeB = yield* Scope.make()
      yield* Effect.addFinalizer(() => Effect.all([Scope.close(scopeA, Exit.void), Scope.close(scopeB, Exit.void)]))

      const a = yield* events.subscribe({ types: ["lifecycle", "operation"] }).pipe(Scope.extend(scopeA))
      // same filter, types in another order
      const b = yield* events.subscribe({ types: ["operation", "lifecycle"] }).pipe(Scope.extend(scopeB))
      assert.strictEqual(upgrades.count, 1)
      const connection = yield* Queue.take(connections)

      yield* send(connection, lifecycle("one"))
      const [fromA] = yield* Stream.take(a, 1).pipe(Stream.runCollect)
      const [fromB] = yield* Stream.take(b, 1).pipe(Stream.runCollect)
      assert.strictEqual(fromA === undefined ? "" : sourceOf(fromA), "/1.0/instances/one")
      assert.strictEqual(fromB === undefined ? "" : sourceOf(fromB), "/1.0/instances/one")

      // the first leaves: the socket stays for the second
      yield* Scope.close(scopeA, Exit.void)
      yield* send(connection, lifecycle("two"))
      const [next] = yield* Stream.take(b, 1).pipe(Stream.runCollect)
      assert.strictEqual(next === undefined ? "" : sourceOf(next), "/1.0/instances/two")
      assert.isFalse(yield* Deferred.isDone(connection.closed))
      assert.strictEqual(connection.socket.readyState, connection.socket.OPEN)

      // the last leaves: the socket closes
      yield* Scope.close(scopeB, Exit.void)
      yield* Deferred.await(connection.closed).pipe(Effect.timeout("3 seconds"))
      assert.strictEqual(upgrades.count, 1)

      // a new subscriber opens a new one
      yield* events.subscribe({ types: ["lifecycle", "operation"] })
      assert.strictEqual(upgrades.count, 2)
    }))

  it.scopedLive("a different filter gets its own websocket", () =>
    Effect.gen(function*() {
      const { connections, events, upgrades } = yield* eventsServer()
      yield* events.subscribe({ types: ["lifecycle"] })
      yield* events.subscribe({ types: ["lifecycle"], project: "other" })
      yield* events.subscribe({ types: ["lifecycle"], allProjects: true })
      assert.strictEqual(upgrades.count, 3)
      const urls = [yield* Queue.take(connections), yield* Queue.take(connections), yield* Queue.take(connections)]
        .map((c) => c.url)
        .sort()
      assert.isTrue(urls.some((u) => u.includes("project=other")))
      assert.isTrue(urls.some((u) => u.includes("all-projects=true")))
    }))
})

describe("Events buffers are bounded (scripted server)", () => {
  it.scopedLive("a subscriber that does not read loses the newest events, counted in a marker where they were", () =>
    Effect.gen(function*() {
      const { connections, events } = yield* eventsServer()
      const slow = yield* events.subscribe({ types: ["lifecycle"], bufferSize: 3 })
      const fast = yield* events.subscribe({ types: ["lifecycle"] })
      const connection = yield* Queue.take(connections)
      for (let i = 0; i < 10; i++) yield* send(connection, lifecycle(`e${i}`))
      // the subscriber with the default buffer reads all ten: the slow one never held it up
      const all = yield* Stream.take(fast, 10).pipe(Stream.runCollect, Effect.timeout("3 seconds"))
      assert.deepStrictEqual(Array.from(all, sourceOf), Array.from({ length: 10 }, (_, i) => `/1.0/instances/e${i}`))
      // the slow one kept three, then one marker for the seven it could not hold
      const kept = yield* Stream.take(slow, 4).pipe(Stream.runCollect, Effect.timeout("3 seconds"))
      assert.deepStrictEqual(Array.from(kept, sourceOf), [
        "/1.0/instances/e0",
        "/1.0/instances/e1",
        "/1.0/instances/e2",
        "<EventsMissed>"
      ])
      const marker = Array.from(kept)[3]!
      assert.isTrue(Events.isMissed(marker))
      if (marker._tag === "EventsMissed") {
        assert.strictEqual(marker.reason, "overflow")
        assert.strictEqual(marker.dropped, 7)
      }
    }))

  it.scopedLive("after a gap the buffer fills again and a new gap gets its own marker and count", () =>
    Effect.gen(function*() {
      const { connections, events } = yield* eventsServer()
      const slow = yield* Stream.toPull(yield* events.subscribe({ types: ["lifecycle"], bufferSize: 2 }))
      // a subscriber with room for everything tells us when the frames have been read
      const probe = yield* Stream.toPull(yield* events.subscribe({ types: ["lifecycle"] }))
      const connection = yield* Queue.take(connections)
      const take = (pull: typeof slow, n: number) =>
        Effect.gen(function*() {
          const out: Array<string> = []
          while (out.length < n) {
            for (const e of yield* pull.pipe(Effect.timeout("3 seconds"))) {
              out.push(e._tag === "EventsMissed" ? `missed:${e.reason}:${e.dropped}` : sourceOf(e))
            }
          }
          return out
        })
      const sendAll = (names: ReadonlyArray<string>) =>
        Effect.gen(function*() {
          for (const n of names) yield* send(connection, lifecycle(n))
          yield* take(probe, names.length)
        })
      yield* sendAll(["a", "b", "c", "d"])
      assert.deepStrictEqual(yield* take(slow, 3), ["/1.0/instances/a", "/1.0/instances/b", "missed:overflow:2"])
      yield* sendAll(["e", "f", "g"])
      assert.deepStrictEqual(yield* take(slow, 3), ["/1.0/instances/e", "/1.0/instances/f", "missed:overflow:1"])
    }))

  it.scopedLive(
    "watchOperation reads the operation again where events were lost, so its end is not missed",
    () =>
      Effect.gen(function*() {
        const state = { status: "Running", status_code: 103 }
        const { connections, events } = yield* eventsServer(undefined, (req, res) => {
          if (req.url === "/1.0/operations/op1") return json(res, 200, sync(operation("op1", state)))
          json(res, 404, error(404, "not found"))
        })
        const opFrame = (id: string, fields: Record<string, unknown>) =>
          JSON.stringify({ type: "operation", timestamp: "2026-01-01T00:00:00Z", metadata: operation(id, fields) })
        const watch = yield* Stream.toPull(events.watchOperation("op1"))
        const first = yield* watch.pipe(Effect.timeout("3 seconds"))
        assert.strictEqual(Array.from(first)[0]!.status, "Running")
        // a subscriber with room for everything tells us when the frames have been read
        const probe = yield* Stream.toPull(yield* events.subscribe({ types: ["operation"], bufferSize: 2000 }))
        const connection = yield* Queue.take(connections)
        // more than the watcher's buffer of other operations, then op1's end: dropped
        for (let i = 0; i < 1100; i++) yield* send(connection, opFrame(`other${i}`, {}))
        state.status = "Success"
        state.status_code = 200
        yield* send(connection, opFrame("op1", state))
        let read = 0
        while (read < 1101) read += (yield* probe.pipe(Effect.timeout("3 seconds"))).length
        const rest = yield* Stream.fromPull(Effect.succeed(watch)).pipe(
          Stream.runCollect,
          Effect.timeout("3 seconds")
        )
        assert.deepStrictEqual(Array.from(rest, (op) => op.status), ["Success"])
        // 1,100 frames through a real socket: seconds on a loaded machine, beyond vitest's default 5 s
      }),
    30_000
  )
})
