/**
 * Throwaway resources for integration tests. Containers come from `Launch.scoped` (which
 * launch.test.ts proves on every server, interruptions included); `deleteInstance` uses
 * the raw escape hatch so that any suite can clean up without the typed services. Each
 * one is deleted (forcefully) when the test's scope closes, even if the test fails.
 */
import { Launch, Operations } from "effect-lxd"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { uniqueName } from "./servers.js"

const enc = encodeURIComponent

export interface ContainerOptions {
  /** Start it (default true). */
  readonly start?: boolean
  /** Image alias (default: the test image). */
  readonly alias?: string
  readonly config?: Record<string, string>
  /** Profiles (default `["default"]`). */
  readonly profiles?: ReadonlyArray<string>
  readonly devices?: Record<string, Record<string, string>>
  readonly prefix?: string
}

/** Create a container from the test image (started unless told otherwise); deleted when the scope closes. */
export const container = (
  alias: string,
  options: ContainerOptions = {}
): Effect.Effect<string, unknown, Launch.Launch | Scope.Scope> =>
  Effect.gen(function*() {
    const launch = yield* Launch.Launch
    const instance = yield* launch.scoped({
      name: uniqueName(options.prefix ?? "c"),
      source: { type: "image", alias: options.alias ?? alias },
      config: options.config ?? {},
      profiles: options.profiles ?? ["default"],
      devices: options.devices ?? {},
      start: options.start !== false
    })
    return instance.name
  })

/** Force-delete an instance, ignoring every failure (for finalizers). */
export const deleteInstance = (name: string): Effect.Effect<void, never, Operations.Operations> =>
  Effect.gen(function*() {
    const ops = yield* Operations.Operations
    yield* Effect.ignore(
      ops.run({
        method: "PUT",
        path: `/1.0/instances/${enc(name)}/state`,
        body: { action: "stop", force: true, timeout: 30 }
      })
    )
    yield* Effect.ignore(ops.run({ method: "DELETE", path: `/1.0/instances/${enc(name)}` }))
  })
