/**
 * Bulk transfer over the files API against SFTP: one 100 MiB file written and read back
 * each way, one after the other on the same instance, on an otherwise idle connection.
 *
 *   pnpm exec tsx bench/files-sftp.ts --socket /var/lib/lxd/unix.socket --instance <running container>
 *   pnpm exec tsx bench/files-sftp.ts --https <prefix: LXD|INCUS> --instance <running container>
 *
 * Writes `/tmp/bench-files-sftp.{api,sftp}` in the instance and deletes them afterwards.
 */
import { Files, LxdHttp } from "effect-lxd"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { flag, parseArgs } from "./common.js"

const { flags } = parseArgs(["run", ...process.argv.slice(2)])
const instance = flag(flags, "instance")
const size = Number(flag(flags, "mib", "100")) * 1024 * 1024
const piece = new Uint8Array(256 * 1024).map((_, i) => i % 251)
const source = () => Stream.range(1, size / piece.length).pipe(Stream.map(() => piece))

const connection = flags.has("https")
  ? LxdHttp.layerConfig(LxdHttp.config(flag(flags, "https") as "LXD" | "INCUS"))
  : LxdHttp.layerUnix({ socketPath: flag(flags, "socket") })

const timed = <A, E, R>(label: string, effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const t0 = performance.now()
    yield* effect
    const s = (performance.now() - t0) / 1000
    console.log(
      `${label.padEnd(12)} ${s.toFixed(2).padStart(6)} s  ${(size / 1024 / 1024 / s).toFixed(1).padStart(7)} MiB/s`
    )
  })

const count = (stream: Stream.Stream<Uint8Array, unknown>) =>
  Stream.runFold(stream, 0, (n, c) => n + c.length).pipe(
    Effect.flatMap((n) => (n === size ? Effect.void : Effect.dieMessage(`read ${n} bytes, expected ${size}`)))
  )

const program = Effect.gen(function*() {
  const files = yield* Files.Files
  const api = "/tmp/bench-files-sftp.api"
  const sftpPath = "/tmp/bench-files-sftp.sftp"
  yield* Effect.scoped(Effect.gen(function*() {
    const sftp = yield* files.sftp(instance)
    yield* timed("api write", files.write(instance, api, source()))
    yield* timed("sftp write", sftp.writeFile(sftpPath, source()))
    yield* timed("api read", count(files.read(instance, api)))
    yield* timed("sftp read", count(sftp.readFile(sftpPath)))
  }))
  yield* files.delete(instance, api)
  yield* files.delete(instance, sftpPath)
})

Effect.runPromise(program.pipe(Effect.provide(Files.layer.pipe(Layer.provide(connection))))).catch((e) => {
  console.error(e)
  process.exit(1)
})
