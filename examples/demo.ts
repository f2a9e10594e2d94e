/**
 * A tour of effect-lxd against a real LXD (run it with `bash scripts/demo.sh`).
 *
 * Connects over the unix socket and over HTTPS (client certificate, pinned server
 * certificate), says what the server is, then follows one container's life while
 * watching the server's events: launch, state, exec (collected and streamed), files,
 * snapshot and restore, concurrent work with a deadline, typed errors, clean-up.
 * Everything it creates is deleted at the end, also on failure or Ctrl-C.
 *
 * Settings come from the environment, as scripts/demo.sh exports them: `LXD_SOCKET`,
 * `LXD_HTTPS_URL`, `LXD_CLIENT_CERT`, `LXD_CLIENT_KEY`, `LXD_SERVER_CERT`, and the image
 * alias `LXD_TEST_IMAGE_ALIAS` (default `busybox`).
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Config, Console, Effect, Fiber, Option, Stream } from "effect"
import {
  Events,
  Exec,
  Files,
  Instances,
  Launch,
  Lxd,
  LxdHttp,
  Operations,
  Readiness,
  Server,
  Snapshots
} from "effect-lxd"

const section = (title: string) => Console.log(`\n== ${title}`)

/** What the server is, over whichever connection is provided. */
const describeServer = Effect.gen(function*() {
  const http = yield* LxdHttp.LxdHttp
  const info = yield* (yield* Server.Server).info
  yield* Console.log(`connected to ${http.address}`)
  yield* Console.log(
    `server: ${info.environment?.server} ${info.environment?.server_version} (dialect ${http.dialect}), ` +
      `${info.api_extensions.length} API extensions, client ${info.auth}`
  )
})

const tour = Effect.gen(function*() {
  const instances = yield* Instances.Instances
  const exec = yield* Exec.Exec
  const files = yield* Files.Files
  const snapshots = yield* Snapshots.Snapshots
  const events = yield* Events.Events
  const launch = yield* Launch.Launch
  const alias = yield* Config.withDefault(Config.string("LXD_TEST_IMAGE_ALIAS"), "busybox")
  const name = `demo-${Math.random().toString(36).slice(2, 8)}`

  yield* section("the server, over the unix socket")
  yield* describeServer
  const existing = yield* instances.listNames()
  yield* Console.log(`${existing.length} instance(s) on the server before we start`)

  yield* section(`events: listening for lifecycle events of ${name}`)
  const feed = yield* events.subscribe({ types: ["lifecycle"] })
  const seen = yield* feed.pipe(
    Events.forInstance(name),
    Stream.filter((e): e is Events.LifecycleEvent => e._tag === "LifecycleEvent"),
    Stream.tap((e) => Console.log(`  [event] ${e.metadata.action}`)),
    Stream.runCollect,
    Effect.fork
  )

  yield* section(`launch ${name} from image "${alias}"`)
  // deleted when the scope closes, whatever happens (Ctrl-C included)
  const created = yield* launch.scoped({ name, source: { type: "image", alias }, readiness: Readiness.running })
  const state = yield* instances.state(name)
  yield* Console.log(`${created.name}: ${state.status}, pid ${state.pid}, ${state.processes} processes`)

  yield* section("exec")
  const hello = yield* exec.run(name, ["sh", "-c", "echo hello from $(hostname); echo oops >&2; exit 3"])
  yield* Console.log(
    `exit ${hello.exitCode}, stdout ${JSON.stringify(hello.stdout)}, stderr ${JSON.stringify(hello.stderr)}`
  )
  yield* Console.log("streaming output as it comes:")
  yield* Effect.scoped(Effect.gen(function*() {
    const proc = yield* exec.start(name, ["sh", "-c", "for i in 1 2 3; do echo tick $i; sleep 0.3; done"])
    yield* Stream.run(Stream.empty, proc.stdin)
    yield* proc.stdout.pipe(
      Stream.decodeText(),
      Stream.splitLines,
      Stream.runForEach((line) => Console.log(`  ${line}`))
    )
    yield* Console.log(`  (exit ${yield* proc.exitCode})`)
  }))

  yield* section("files")
  yield* files.write(name, "/root/notes.txt", "written by effect-lxd\n", { mode: 0o600 })
  yield* files.write(name, "/root/notes.txt", "and appended\n", { write: "append" })
  const notes = yield* files.read(name, "/root/notes.txt").pipe(Stream.decodeText(), Stream.mkString)
  const info = yield* files.stat(name, "/root/notes.txt")
  yield* Console.log(`/root/notes.txt (mode ${info.mode.toString(8)}):\n${notes.trimEnd()}`)

  yield* section("snapshot and restore")
  const snap = yield* snapshots.create(name, { name: "clean" })
  yield* files.delete(name, "/root/notes.txt")
  yield* Console.log(
    `snapshot "${snap.name}" taken; file deleted: exists=${yield* fileExists(name, "/root/notes.txt")}`
  )
  yield* instances.restoreSnapshot(name, snap.name)
  yield* Console.log(`restored: exists=${yield* fileExists(name, "/root/notes.txt")}`)

  yield* section("three commands at once, under a 5 second deadline")
  const results = yield* Effect.all(
    ["uname -r", "cat /etc/hostname", "ls / | wc -l"].map((cmd) =>
      exec.run(name, ["sh", "-c", cmd]).pipe(Effect.map((r) => `${cmd} -> ${r.stdout.trim()}`))
    ),
    { concurrency: 3 }
  ).pipe(Effect.timeout("5 seconds"))
  for (const line of results) yield* Console.log(`  ${line}`)
  yield* Console.log("a command that outlives its deadline is killed on the server:")
  const slow = yield* exec.run(name, ["sleep", "30"]).pipe(Effect.timeout("1 second"), Effect.option)
  yield* Console.log(
    `  sleep 30 under a 1 s timeout -> ${Option.isNone(slow) ? "timed out, process killed" : "finished?!"}`
  )

  yield* section("typed errors")
  const missing = yield* instances.get("no-such-instance").pipe(
    Effect.as("found?!"),
    Effect.catchTags({
      NotFound: (e) => Effect.succeed(`NotFound: ${e.message}`),
      LXDAPIException: (e) => Effect.succeed(`LXD refused: ${e.serverMessage}`)
    })
  )
  yield* Console.log(missing)
  const running = yield* instances.delete(name).pipe(
    Effect.as("deleted?!"),
    Effect.catchTag("LXDAPIException", (e) => Effect.succeed(`LXDAPIException ${e.status}: ${e.serverMessage}`))
  )
  yield* Console.log(`deleting a running instance without force -> ${running}`)
  const future = yield* (yield* LxdHttp.LxdHttp).requireExtension("an_extension_from_the_future").pipe(
    Effect.as("present?!"),
    Effect.catchTag("ExtensionNotAvailable", (e) => Effect.succeed(`ExtensionNotAvailable: ${e.message}`))
  )
  yield* Console.log(future)

  yield* section("stop, then clean up")
  yield* instances.stop(name, { force: true })
  yield* instances.delete(name)
  yield* Effect.sleep("500 millis") // let the last events arrive
  yield* Fiber.interrupt(seen)
  const after = yield* instances.exists(name)
  yield* Console.log(`${name} exists afterwards: ${after}`)
  const ops = yield* (yield* Operations.Operations).list()
  yield* Console.log(`${ops.length} operation(s) still known to the server (LXD keeps finished ones a few seconds)`)
})

const fileExists = (instance: string, path: string) =>
  Effect.flatMap(Files.Files, (files) =>
    files.stat(instance, path).pipe(
      Effect.as(true),
      Effect.catchTag("NotFound", () => Effect.succeed(false))
    ))

const program = Effect.gen(function*() {
  yield* Console.log("effect-lxd demo")
  yield* tour.pipe(Effect.scoped, Effect.provide(Lxd.layerUnix({ socketPath: process.env.LXD_SOCKET })))

  // the same services over HTTPS, when the environment describes it
  const settings = yield* LxdHttp.config("LXD").pipe(Effect.option)
  if (Option.isSome(settings) && settings.value._tag === "Https") {
    yield* section("the same server over HTTPS (client certificate, pinned server certificate)")
    yield* describeServer.pipe(Effect.provide(Lxd.layer(LxdHttp.layerHttps(settings.value))))
  }
  yield* Console.log("\ndone")
})

program.pipe(Effect.tapErrorCause(Effect.logError), NodeRuntime.runMain)
