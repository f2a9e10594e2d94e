/**
 * The connections an exec dials for its websockets while its request is in flight
 * (`LxdHttp.preconnectWebsockets`; over HTTPS, a TCP and TLS handshake each): used when
 * it attaches, released whatever happens to the exec, and verified like every other
 * connection of the transport (the pin).
 */
import { assert } from "@effect/vitest"
import { Exec, Lxd, LxdHttp, LxdTransport } from "effect-lxd"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import { readText } from "../support/env.js"
import { container } from "../support/fixtures.js"
import { forEachServer } from "../support/servers.js"

class Box extends Context.Tag("test/exec-preconnect/Box")<Box, string>() {}

/** What this process holds: websockets, and connections dialled ahead that none has taken. */
const held = () => ({ websockets: LxdHttp.openWebSocketCount(), preconnected: LxdHttp.openPreconnectedSocketCount() })

forEachServer("exec on pre-dialled connections", (it, server) => {
  it.layer(Layer.scoped(Box, container(server.env.imageAlias, { prefix: "xpre" })), { timeout: "2 minutes" })((it) => {
    it.scoped("the opener dials ahead over HTTPS only, and a websocket takes one of its connections", () =>
      Effect.gen(function*() {
        const http = yield* LxdHttp.LxdHttp
        // one websocket first: before a TLS session can be resumed only one is dialled ahead
        yield* Effect.scoped(Effect.flatMap(http.websocket("/1.0/events", { type: "lifecycle" }), (ws) => ws.close))
        const before = held()
        const open = yield* http.preconnectWebsockets(3)
        const ahead = server.transport === "https" ? 3 : 0
        assert.strictEqual(LxdHttp.openPreconnectedSocketCount(), before.preconnected + ahead)
        const events = yield* open("/1.0/events", { type: "lifecycle" })
        assert.strictEqual(LxdHttp.openPreconnectedSocketCount(), before.preconnected + Math.max(ahead - 1, 0))
        assert.strictEqual(LxdHttp.openWebSocketCount(), before.websockets + 1)
        yield* events.close
      }))

    it.effect("20 execs in a row: right results, nothing left open", () =>
      Effect.gen(function*() {
        const exec = yield* Exec.Exec
        const box = yield* Box
        const before = held()
        for (let i = 0; i < 20; i++) {
          const result = yield* exec.run(box, ["sh", "-c", `echo out-${i}; echo err-${i} >&2; exit ${i % 4}`])
          assert.deepStrictEqual(result, { exitCode: i % 4, stdout: `out-${i}\n`, stderr: `err-${i}\n` })
        }
        assert.strictEqual(LxdHttp.openPreconnectedSocketCount(), before.preconnected)
        assert.strictEqual(LxdHttp.openWebSocketCount(), before.websockets)
      }))

    it.effect("a refused exec (missing instance, stopped instance) releases the connections dialled for it", () =>
      Effect.gen(function*() {
        const exec = yield* Exec.Exec
        const before = held()
        const missing = yield* Effect.flip(exec.run("t-xpre-no-such-instance", ["true"]))
        assert.strictEqual(missing._tag, "NotFound")
        assert.deepStrictEqual(held(), before)
        const stopped = yield* Effect.scoped(
          Effect.flatMap(
            container(server.env.imageAlias, { start: false, prefix: "xpre-stopped" }),
            (name) => Effect.flip(exec.run(name, ["true"]))
          )
        )
        assert.strictEqual(stopped._tag, "LXDAPIException")
        assert.deepStrictEqual(held(), before)
      }))

    it.effect("interrupted at any moment of the attach: every connection is released", () =>
      Effect.gen(function*() {
        const exec = yield* Exec.Exec
        const box = yield* Box
        const before = held()
        for (let i = 0; i < 20; i++) {
          const fiber = yield* Effect.fork(exec.run(box, ["sleep", "600"]))
          // from before the request is sent to after the last socket is attached
          yield* Effect.sleep(i * 3)
          const exit = yield* Fiber.interrupt(fiber)
          assert.isTrue(Exit.isInterrupted(exit), `exec ${i} was interrupted`)
          assert.strictEqual(LxdHttp.openPreconnectedSocketCount(), before.preconnected, `after interruption ${i}`)
          assert.strictEqual(LxdHttp.openWebSocketCount(), before.websockets, `after interruption ${i}`)
        }
        const left = yield* exec.run(box, ["sh", "-c", "ps | grep -c '[s]leep 600' || true"])
        assert.strictEqual(left.stdout.trim(), "0")
      }), { timeout: 120_000 })

    it.effect.skipIf(server.transport !== "https")(
      "a wrong pin on the websockets fails the exec with the pin explanation (needs https)",
      () =>
        Effect.gen(function*() {
          const box = yield* Box
          const options = server.httpsWith(server.env.clientCert, server.env.clientKey)
          const wrongPin = { ...options, serverCert: readText(server.env.clientCert) }
          // HTTP with the right pin (the exec request goes through), websockets with a wrong one
          const mixed = Layer.scoped(
            LxdTransport.LxdTransport,
            Effect.gen(function*() {
              const good = Context.get(yield* Layer.build(LxdTransport.layerHttps(options)), LxdTransport.LxdTransport)
              const bad = Context.get(yield* Layer.build(LxdTransport.layerHttps(wrongPin)), LxdTransport.LxdTransport)
              assert.isDefined(bad.preconnectWebsockets)
              return LxdTransport.make({
                ...good,
                websocket: bad.websocket,
                preconnectWebsockets: bad.preconnectWebsockets
              })
            })
          )
          const before = held()
          const failure = yield* Effect.flip(
            Effect.flatMap(Exec.Exec, (exec) => exec.run(box, ["true"])).pipe(
              Effect.provide(Lxd.layer(LxdHttp.layer().pipe(Layer.provide(mixed))))
            )
          )
          assert.strictEqual(failure._tag, "TransportError")
          assert.include(failure.message, "does not match the pinned certificate")
          assert.deepStrictEqual(held(), before)
        })
    )
  })
})
