/**
 * A tour of effect-lxd against a real LXD (run it with `bash scripts/demo.sh`).
 *
 * It connects over the unix socket and over HTTPS (client certificate, pinned server
 * certificate), prints what the server is, lists instances, and shows typed errors.
 * Connection settings come from the environment (`LXD_SOCKET`, `LXD_HTTPS_URL`,
 * `LXD_CLIENT_CERT`, `LXD_CLIENT_KEY`, `LXD_SERVER_CERT`), as scripts/demo.sh exports them.
 */
import { Console, Effect, Option, Schema } from "effect"
import { Lxd, LxdHttp, Operations, Server } from "effect-lxd"

const section = (title: string) => Console.log(`\n== ${title}`)

/** What the server is, over one connection. */
const describeServer = Effect.gen(function*() {
  const http = yield* LxdHttp.LxdHttp
  const info = yield* (yield* Server.Server).info
  yield* Console.log(`connected to ${http.address}`)
  yield* Console.log(
    `server: ${info.environment?.server} ${info.environment?.server_version} (dialect ${http.dialect}), ` +
      `${info.api_extensions.length} API extensions, auth ${info.auth}`
  )
  yield* Console.log(`has "instances" extension: ${yield* http.hasExtension("instances")}`)
})

const tour = Effect.gen(function*() {
  const http = yield* LxdHttp.LxdHttp
  const ops = yield* Operations.Operations

  yield* section("the server")
  yield* describeServer

  yield* section("instances (raw escape hatch: any endpoint, decoded with a Schema)")
  const instances = yield* http.sync({ method: "GET", path: "/1.0/instances" }, Schema.Array(Schema.String))
  yield* Console.log(instances.length === 0 ? "no instances" : instances.join("\n"))

  yield* section("operations")
  const running = yield* ops.list()
  yield* Console.log(`${running.length} operation(s) known to the server`)

  yield* section("typed errors")
  const missing = yield* http.sync({ method: "GET", path: "/1.0/instances/does-not-exist" }, Schema.Unknown).pipe(
    Effect.as("found?!"),
    Effect.catchTags({
      NotFound: (e) => Effect.succeed(`NotFound: ${e.message}`),
      LXDAPIException: (e) => Effect.succeed(`LXD refused: ${e.serverMessage}`)
    })
  )
  yield* Console.log(missing)
  const extension = yield* http.requireExtension("an_extension_from_the_future").pipe(
    Effect.as("present?!"),
    Effect.catchTag("ExtensionNotAvailable", (e) => Effect.succeed(`ExtensionNotAvailable: ${e.message}`))
  )
  yield* Console.log(extension)
})

const program = Effect.gen(function*() {
  yield* Console.log("effect-lxd demo")
  // over the unix socket (discovered, or LXD_SOCKET)
  yield* tour.pipe(Effect.provide(Lxd.layerUnix({ socketPath: process.env.LXD_SOCKET })))

  // over HTTPS with a client certificate, when the environment describes it
  const https = yield* LxdHttp.config("LXD").pipe(Effect.option)
  if (Option.isSome(https) && https.value._tag === "Https") {
    yield* section("again over HTTPS (client certificate, pinned server certificate)")
    yield* describeServer.pipe(Effect.provide(Lxd.layer(LxdHttp.layerHttps(https.value))))
  }
})

program.pipe(
  Effect.catchAll((error) => Console.error(`demo failed: ${error.message}`).pipe(Effect.zipRight(Effect.fail(error)))),
  Effect.runPromise
).catch(() => {
  process.exitCode = 1
})
