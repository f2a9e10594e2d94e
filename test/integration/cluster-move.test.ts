/**
 * `Migration.relocate` between the members of a real two-member cluster of each server
 * family, built from throwaway daemons only (never the shared ones: clustering cannot be
 * undone): daemon A bootstraps the cluster, daemon B joins it. The instances are empty
 * containers (the throwaway daemons have no image), stopped, with a root disk on the
 * cluster's `default` pool.
 */
import { assert, describe, layer } from "@effect/vitest"
import { Instances, type Lxd, LxdHttp, Migration, Operations, Projects } from "effect-lxd"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { type DaemonEnv, daemons } from "../support/env.js"
import { type DaemonKind, type ExtraDaemon, extraDaemon } from "../support/extraDaemon.js"
import { deleteInstance } from "../support/fixtures.js"
import { quietly, uniqueName } from "../support/servers.js"

interface TwoMembers {
  readonly a: ExtraDaemon
  readonly b: ExtraDaemon
}
class MoveCluster extends Context.Tag("test/cluster-move/MoveCluster")<MoveCluster, TwoMembers>() {}

const clusterOf = (kind: DaemonKind) =>
  Layer.scoped(
    MoveCluster,
    Effect.gen(function*() {
      const a = yield* extraDaemon({ kind, name: uniqueName("ma"), cluster: "bootstrap" })
      const b = yield* extraDaemon({ kind, name: uniqueName("mb"), cluster: { join: a } })
      return { a, b }
    })
  )

const Located = Schema.Struct({ name: Schema.String, location: Schema.String })

/** Where the cluster keeps the instance (asked without `?target=`). */
const location = (name: string, project?: string) =>
  Effect.flatMap(LxdHttp.LxdHttp, (http) =>
    http.sync({
      method: "GET",
      path: `/1.0/instances/${encodeURIComponent(name)}`,
      target: null,
      ...(project === undefined ? {} : { project })
    }, Located)).pipe(Effect.map((i) => i.location))

/** An empty stopped container on `member`, deleted (wherever it is then) when the scope closes. */
const emptyOn = (member: string) =>
  Effect.gen(function*() {
    const ops = yield* Operations.Operations
    const name = uniqueName("mv")
    yield* Effect.acquireRelease(
      ops.run({
        method: "POST",
        path: "/1.0/instances",
        target: member,
        body: {
          name,
          type: "container",
          source: { type: "none" },
          profiles: [],
          devices: { root: { type: "disk", path: "/", pool: "default" } },
          config: { "user.marker": "kept" }
        }
      }),
      () => deleteInstance(name).pipe(Effect.locally(LxdHttp.currentTarget, Option.none()))
    )
    return name
  })

const suite = (env: DaemonEnv) => {
  const server = `${env.kind} ${env.serverVersion}`
  describe(`[${server} throwaway cluster] relocate between members`, () => {
    layer(clusterOf(env.kind), { timeout: Duration.minutes(3), excludeTestServices: true })((it) => {
      const over =
        (pick: (t: TwoMembers) => Layer.Layer<Lxd.Services, Lxd.ConnectError>) =>
        <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.flatMap(MoveCluster, (t) => Effect.provide(effect, pick(t)))

      it.scoped(`[${server} cluster member A unix] relocate to member B and back (over B's HTTPS)`, () =>
        Effect.gen(function*() {
          const { a, b } = yield* MoveCluster
          yield* over((t) => t.a.unixLayer)(Effect.scoped(Effect.gen(function*() {
            const migration = yield* Migration.Migration
            const name = yield* emptyOn(a.name)
            assert.strictEqual(yield* location(name), a.name)
            const moved = yield* migration.relocate(name, { member: b.name })
            assert.strictEqual(moved.location, b.name)
            assert.strictEqual(moved.config["user.marker"], "kept")
            assert.strictEqual(yield* location(name), b.name)
            const back = yield* over((t) => t.b.httpsLayer)(
              Effect.flatMap(Migration.Migration, (m) => m.relocate(name, { member: a.name }))
            )
            assert.strictEqual(back.location, a.name)
            assert.strictEqual(yield* location(name), a.name)
          })))
        }))

      it.scoped(`[${server} cluster member B https] relocate to a member and a project at once`, () =>
        over((t) => t.b.httpsLayer)(Effect.scoped(Effect.gen(function*() {
          const { a, b } = yield* MoveCluster
          const migration = yield* Migration.Migration
          const projects = yield* Projects.Projects
          const project = uniqueName("cp")
          yield* Effect.acquireRelease(
            projects.create({ name: project, config: { "features.profiles": "false", "features.images": "false" } }),
            () => quietly(projects.delete(project))
          )
          const name = yield* emptyOn(b.name)
          yield* Effect.addFinalizer(() =>
            deleteInstance(name).pipe(
              Effect.locally(LxdHttp.currentTarget, Option.none()),
              Effect.locally(LxdHttp.currentProject, Option.some(project))
            )
          )
          const moved = yield* migration.relocate(name, { member: a.name, project })
          assert.strictEqual(moved.location, a.name)
          assert.strictEqual(yield* location(name, project), a.name)
          const instances = yield* Instances.Instances
          assert.isFalse(yield* instances.exists(name))
        }))))

      it.scoped(`[${server} cluster member A unix] relocate to a member that does not exist fails, the instance stays`, () =>
        over((t) => t.a.unixLayer)(Effect.scoped(Effect.gen(function*() {
          const { a } = yield* MoveCluster
          const migration = yield* Migration.Migration
          const name = yield* emptyOn(a.name)
          const failure = yield* Effect.flip(migration.relocate(name, { member: uniqueName("ghost") }))
          assert.oneOf(failure._tag, ["NotFound", "LXDAPIException"])
          assert.strictEqual(yield* location(name), a.name)
        }))))
    })
  })
}

for (const env of daemons()) suite(env)
