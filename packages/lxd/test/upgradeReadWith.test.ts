/**
 * `UpgradedSocket.readWith`, the callback reader of an upgraded connection (what the SFTP
 * client reads with on the Node transports), against a local unix server: the bytes that
 * came with the `101` and those queued before the call are handed over first and in
 * order, later ones as they arrive, and the end comes once.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as NodePath from "node:path"
import { open } from "../src/internal/upgrade.js"

/** A server that answers the upgrade with `first` glued to the head, then `later` pieces, then closes. */
const server = (first: string, later: ReadonlyArray<string>) =>
  Effect.acquireRelease(
    Effect.async<{ readonly path: string; readonly server: Net.Server }>((resume) => {
      const dir = Fs.mkdtempSync(NodePath.join(Os.tmpdir(), "effect-lxd-upgrade-"))
      const path = NodePath.join(dir, "s.sock")
      const s = Net.createServer((conn) => {
        conn.once("data", () => {
          conn.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: sftp\r\nConnection: Upgrade\r\n\r\n${first}`)
          let i = 0
          const next = () => {
            if (i === later.length) return void conn.end()
            conn.write(later[i++]!)
            setTimeout(next, 20)
          }
          setTimeout(next, 50)
        })
      })
      s.listen(path, () => resume(Effect.succeed({ path, server: s })))
    }),
    ({ path, server }) =>
      Effect.async<void>((resume) => {
        server.close(() => {
          Fs.rmSync(NodePath.dirname(path), { recursive: true, force: true })
          resume(Effect.void)
        })
      })
  )

describe("upgraded socket: readWith", () => {
  it.scopedLive("hands over the queued bytes first, then the rest in order, then one end", () =>
    Effect.gen(function*() {
      const { path } = yield* server("abc", ["def", "ghi", "jkl"])
      const answer = yield* open({
        // reads into one reused buffer, as the unix transport dials
        dial: (onread) => Net.connect({ path, onread }),
        readyEvent: "connect",
        host: "lxd",
        path: "/1.0/instances/c1/sftp",
        protocol: "sftp",
        headers: {},
        address: path,
        errorPath: "/1.0/instances/c1/sftp",
        openTimeoutMs: 5000
      })
      assert.strictEqual(answer._tag, "Upgraded")
      if (answer._tag !== "Upgraded") return
      // the first later piece is queued before the reader comes
      yield* Effect.sleep("60 millis")
      const readWith = answer.socket.readWith
      assert.isDefined(readWith)
      let text = ""
      let ends = 0
      const ended = yield* Deferred.make<string | undefined>()
      yield* readWith!({
        onData: (chunk) => {
          text += Buffer.from(chunk).toString()
        },
        onEnd: (error) => {
          ends++
          Deferred.unsafeDone(ended, Effect.succeed(error?.message))
        }
      })
      const error = yield* Deferred.await(ended)
      assert.isUndefined(error)
      assert.strictEqual(text, "abcdefghijkl")
      yield* Effect.sleep("20 millis")
      assert.strictEqual(ends, 1)
    }))
})
