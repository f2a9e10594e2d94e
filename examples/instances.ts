/**
 * The life of a container: launch it from an image, show its state, snapshot it, change
 * it, restore the snapshot, publish it as an image, and clean everything up (also when a
 * step fails or the program is interrupted).
 *
 * Run: `IMAGE=busybox pnpm exec tsx --conditions=effect-lxd-source examples/instances.ts` (an image alias the server
 * has; default `busybox`, the test image). The connection comes from the environment
 * (`Lxd.layerConfig()`): `LXD_SOCKET`, or `LXD_HTTPS_URL` with `LXD_CLIENT_CERT`,
 * `LXD_CLIENT_KEY`, `LXD_SERVER_CERT`.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Config, Console, Effect } from "effect"
import { Images, Instances, Launch, Lxd, Snapshots } from "effect-lxd"

const program = Effect.gen(function*() {
  const instances = yield* Instances.Instances
  const launch = yield* Launch.Launch
  const snapshots = yield* Snapshots.Snapshots
  const images = yield* Images.Images
  const alias = yield* Config.withDefault(Config.string("IMAGE"), "busybox")
  const name = `example-${Math.random().toString(36).slice(2, 8)}`

  // launch; the container is deleted when the scope closes, whatever happens next
  const container = yield* launch.scoped({
    name,
    source: { type: "image", alias },
    config: { "user.stage": "launched" }
  })
  yield* Console.log(`launched ${container.name} (${container.type}, ${container.status})`)

  const state = yield* instances.state(name)
  yield* Console.log(
    `state: ${state.status}, pid ${state.pid}, ${state.processes} processes, ` +
      `memory ${state.memory?.usage ?? 0} bytes, interfaces ${Object.keys(state.network).join(", ")}`
  )

  const snap = yield* snapshots.create(name, { name: "before" })
  yield* Console.log(`snapshot ${snap.name} taken at ${snap.created_at}`)

  yield* instances.update(name, (c) => ({ ...c, config: { ...c.config, "user.stage": "changed" } }))
  yield* Console.log(`config now: user.stage=${(yield* instances.get(name)).config["user.stage"]}`)

  yield* instances.restoreSnapshot(name, snap.name)
  yield* Console.log(`restored: user.stage=${(yield* instances.get(name)).config["user.stage"]}`)

  // LXD does not publish a running container: stop it first
  yield* instances.stop(name, { force: true })
  const image = yield* Effect.acquireRelease(
    instances.publish(name, { aliases: [`${name}-image`], properties: { description: "published by the example" } }),
    (img) => Effect.ignore(images.delete(img.fingerprint))
  )
  yield* Console.log(`published image ${image.fingerprint.slice(0, 12)} (${image.size} bytes) as ${name}-image`)
  yield* Console.log("cleaning up")
})

program.pipe(
  Effect.scoped,
  Effect.provide(Lxd.layerConfig()),
  Effect.tapErrorCause(Effect.logError),
  NodeRuntime.runMain
)
