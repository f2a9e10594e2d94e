/**
 * Clustering, on throwaway daemons only (never on the shared ones: clustering cannot be
 * undone). One cluster per server family (LXD, and Incus when its test environment is
 * set up), built in the suite's layer: daemon A is enabled with `Cluster.enable`, daemon B
 * joins it with a token through `Cluster.join`. The tests then run over A's unix socket
 * and over B's HTTPS listener, with the server, member and transport in each title.
 */
import { assert, describe, layer } from "@effect/vitest"
import { Cluster, Lxd, LxdHttp, Operations, Server } from "effect-lxd"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { makeCert } from "../support/certs.js"
import { type DaemonEnv, daemons } from "../support/env.js"
import {
  type DaemonKind,
  type ExtraDaemon,
  extraDaemon,
  mountsBelow,
  processesServing,
  reloadTrust,
  runningExtraDaemons
} from "../support/extraDaemon.js"
import { deleteInstance } from "../support/fixtures.js"
import { quietly, uniqueName } from "../support/servers.js"

/** Every throwaway daemon this file started, per family, for the leak checks. */
const started: Record<DaemonKind, Array<{ readonly pid: number; readonly lxdDir: string }>> = { lxd: [], incus: [] }
const track = (d: ExtraDaemon) => Effect.sync(() => started[d.kind].push({ pid: d.pid, lxdDir: d.lxdDir }))

interface TestClusterShape {
  readonly a: ExtraDaemon
  readonly b: ExtraDaemon
  /** How long building the cluster took (two daemons started, enabled, joined). */
  readonly buildMillis: number
}
class TestCluster extends Context.Tag("test/TestCluster")<TestCluster, TestClusterShape>() {}

const withCluster = <A, E>(
  layer: Layer.Layer<Lxd.Services, Lxd.ConnectError>,
  effect: Effect.Effect<A, E, Lxd.Services>
) => Effect.provide(effect, layer)

const clusterService = Cluster.Cluster

/** Join `joiner` (started bare) to the cluster `via` belongs to, with the library. */
const joinWithLibrary = (
  joiner: ExtraDaemon,
  member: ExtraDaemon,
  via: Layer.Layer<Lxd.Services, Lxd.ConnectError>
) =>
  Effect.gen(function*() {
    const { info, token } = yield* withCluster(
      via,
      Effect.gen(function*() {
        const cluster = yield* clusterService
        const info = yield* cluster.get
        const token = yield* cluster.members.createToken(joiner.name)
        return { info, token }
      })
    )
    yield* withCluster(
      joiner.unixLayer,
      Effect.flatMap(clusterService, (cluster) =>
        cluster.join({
          token: token.token,
          clusterCertificate: Fs.readFileSync(member.currentServerCert(), "utf8"),
          serverAddress: joiner.httpsAddress,
          memberConfig: (info.member_config ?? []).map((k) => ({
            entity: k.entity,
            name: k.name,
            key: k.key,
            value: ""
          }))
        }))
    )
    yield* reloadTrust(joiner)
  })

const clusterLayer = (kind: DaemonKind) =>
  Layer.scoped(
    TestCluster,
    Effect.gen(function*() {
      const started = Date.now()
      const a = yield* extraDaemon({ kind, name: uniqueName("a") })
      const b = yield* extraDaemon({ kind, name: uniqueName("b"), bare: true })
      yield* track(a)
      yield* track(b)
      yield* withCluster(a.unixLayer, Effect.flatMap(clusterService, (cluster) => cluster.enable(a.name)))
      yield* joinWithLibrary(b, a, a.httpsLayer)
      return { a, b, buildMillis: Date.now() - started }
    })
  )

const InstanceLocation = Schema.Struct({ name: Schema.String, location: Schema.String })

/** An empty container (no image, no profiles, a root disk) on the current target; deleted with the scope. */
const emptyContainer = (prefix: string) =>
  Effect.gen(function*() {
    const ops = yield* Operations.Operations
    const name = uniqueName(prefix)
    yield* Effect.acquireRelease(
      ops.run({
        method: "POST",
        path: "/1.0/instances",
        body: {
          name,
          type: "container",
          source: { type: "none" },
          profiles: [],
          devices: { root: { type: "disk", path: "/", pool: "default" } }
        }
      }),
      // the finalizer must not inherit the `withTarget` of the creating fiber
      () => deleteInstance(name).pipe(Effect.locally(LxdHttp.currentTarget, Option.none()))
    )
    return name
  })

const location = (name: string) =>
  Effect.flatMap(
    LxdHttp.LxdHttp,
    (http) =>
      http.sync({ method: "GET", path: `/1.0/instances/${encodeURIComponent(name)}`, target: null }, InstanceLocation)
  ).pipe(
    Effect.map((i) => i.location)
  )

const failureTag = <A, E extends { readonly _tag: string }, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.either(effect), (r) => (Either.isLeft(r) ? r.left._tag : "success"))

const clusterSuite = (env: DaemonEnv) => {
  const kind = env.kind
  const server = `${kind} ${env.serverVersion}`
  describe(`[${server} throwaway cluster] cluster`, () => {
    // the layer's own describe: its daemons are released before "teardown" runs
    describe("one cluster of two members", () => {
      layer(clusterLayer(kind), { timeout: Duration.minutes(3), excludeTestServices: true })((it) => {
        it.effect(`[${server} cluster member A unix] Cluster.enable and Cluster.join made a two-member cluster, both Online`, () =>
          Effect.gen(function*() {
            const { a, b, buildMillis } = yield* TestCluster
            yield* Effect.log(`cluster of two built in ${buildMillis} ms`)
            const members = yield* withCluster(a.unixLayer, Effect.flatMap(clusterService, (c) => c.members.list()))
            assert.deepStrictEqual(members.map((m) => m.server_name).sort(), [a.name, b.name].sort())
            for (const m of members) assert.strictEqual(m.status, "Online", `${m.server_name}: ${m.message}`)
            const memberB = members.find((m) => m.server_name === b.name)!
            assert.strictEqual(memberB.url, `https://${b.httpsAddress}`)
            for (const d of [a, b]) {
              const info = yield* withCluster(d.unixLayer, Effect.flatMap(Server.Server, (s) => s.info))
              assert.isTrue(info.environment?.server_clustered, `${d.name} is clustered`)
              assert.strictEqual(info.environment?.server_name, d.name)
            }
          }))

        const vias = [
          {
            label: `${server} cluster member A unix`,
            pick: (t: TestClusterShape) => ({ self: t.a, other: t.b, layer: t.a.unixLayer })
          },
          {
            label: `${server} cluster member B https`,
            pick: (t: TestClusterShape) => ({ self: t.b, other: t.a, layer: t.b.httpsLayer })
          }
        ] as const

        for (const via of vias) {
          const on = <A, E, R>(f: (v: ReturnType<typeof via.pick>) => Effect.Effect<A, E, R>) =>
            Effect.flatMap(TestCluster, (t) => {
              const v = via.pick(t)
              return Effect.provide(f(v), v.layer)
            })

          it.effect(`[${via.label}] get: enabled, answered by this member, member_config lists the pool source`, () =>
            on(({ self }) =>
              Effect.gen(function*() {
                const info = yield* Effect.flatMap(clusterService, (c) => c.get)
                assert.isTrue(info.enabled)
                assert.strictEqual(info.server_name, self.name)
                const keys = (info.member_config ?? []).map((k) => `${k.entity}/${k.name}/${k.key}`)
                assert.include(keys, "storage-pool/default/source")
              })
            ))

          it.effect(`[${via.label}] members: list, listNames, get, exists`, () =>
            on(({ other, self }) =>
              Effect.gen(function*() {
                const cluster = yield* clusterService
                const names = yield* cluster.members.listNames()
                assert.includeMembers([...names], [self.name, other.name])
                const me = yield* cluster.members.get(self.name)
                assert.strictEqual(me.server_name, self.name)
                assert.strictEqual(me.url, `https://${self.httpsAddress}`)
                assert.strictEqual(me.status, "Online")
                assert.include(me.groups ?? [], "default")
                // roles move between members as the cluster changes; the flag follows them
                assert.strictEqual(me.database, (me.roles ?? []).some((r) => r.startsWith("database")))
                const all = yield* cluster.members.list()
                assert.strictEqual(all.filter((m) => (m.roles ?? []).includes("database-leader")).length, 1)
                assert.isTrue(yield* cluster.members.exists(other.name))
                assert.isFalse(yield* cluster.members.exists(uniqueName("nope")))
              })
            ))

          it.effect(`[${via.label}] a missing member or group is NotFound`, () =>
            on(() =>
              Effect.gen(function*() {
                const cluster = yield* clusterService
                const missing = uniqueName("nope")
                const error = yield* Effect.flip(cluster.members.get(missing))
                assert.strictEqual(error._tag, "NotFound")
                if (error._tag === "NotFound") assert.strictEqual(error.resource, `Cluster member "${missing}"`)
                // LXD 5.0.2 answers 500 "expected to update one row, not 0" here
                assert.oneOf(yield* failureTag(cluster.members.rename(missing, uniqueName("x"))), [
                  "NotFound",
                  "LXDAPIException"
                ])
                assert.strictEqual(yield* failureTag(cluster.members.delete(missing)), "NotFound")
                assert.strictEqual(yield* failureTag(cluster.members.update(missing, (m) => m)), "NotFound")
                assert.strictEqual(yield* failureTag(cluster.groups.get(missing)), "NotFound")
                // LXD 5.0.2 checks emptiness first and answers 500 for a group that is not there
                assert.oneOf(yield* failureTag(cluster.groups.delete(missing)), ["NotFound", "LXDAPIException"])
              })
            ))

          it.scoped(`[${via.label}] member update (ETag), patch, and a stale ETag refused with 412`, () =>
            on(({ self }) =>
              Effect.gen(function*() {
                const cluster = yield* clusterService
                const http = yield* LxdHttp.LxdHttp
                const marker = uniqueName("v")
                yield* Effect.addFinalizer(() =>
                  quietly(cluster.members.update(self.name, (m) => ({ ...m, description: "", config: {} })))
                )
                yield* cluster.members.update(self.name, (m) => ({
                  ...m,
                  description: `updated ${marker}`,
                  config: { ...m.config, "user.marker": marker }
                }))
                let me = yield* cluster.members.get(self.name)
                assert.strictEqual(me.description, `updated ${marker}`)
                assert.strictEqual(me.config?.["user.marker"], marker)

                yield* cluster.members.patch(self.name, { description: `patched ${marker}` })
                me = yield* cluster.members.get(self.name)
                assert.strictEqual(me.description, `patched ${marker}`)
                assert.strictEqual(me.config?.["user.marker"], marker, "patch keeps the other fields")

                // a write with an ETag taken before another change is refused
                const before = yield* http.syncWithEtag(
                  { method: "GET", path: `/1.0/cluster/members/${self.name}`, project: null },
                  Cluster.ClusterMember
                )
                assert.isDefined(before.etag)
                yield* cluster.members.patch(self.name, { description: `moved on ${marker}` })
                const stale = yield* Effect.flip(
                  cluster.members.put(self.name, {
                    description: "stale",
                    config: before.value.config ?? {},
                    failure_domain: before.value.failure_domain,
                    groups: before.value.groups ?? [],
                    roles: before.value.roles ?? []
                  }, { etag: before.etag })
                )
                assert.strictEqual(stale._tag, "PreconditionFailed", stale.message)
                assert.strictEqual((yield* cluster.members.get(self.name)).description, `moved on ${marker}`)
              })
            ))

          it.scoped(`[${via.label}] groups: create, list, get, update, patch, rename, delete`, () =>
            on(({ other, self }) =>
              Effect.gen(function*() {
                const cluster = yield* clusterService
                const name = uniqueName("g")
                const renamed = uniqueName("g")
                const remove = (group: string) =>
                  quietly(Effect.zipRight(cluster.groups.patch(group, { members: [] }), cluster.groups.delete(group)))
                yield* Effect.addFinalizer(() => Effect.all([remove(name), remove(renamed)]))
                const created = yield* cluster.groups.create({ name, description: "first", members: [self.name] })
                assert.strictEqual(created.name, name)
                assert.strictEqual(created.description, "first")
                assert.deepStrictEqual(created.members, [self.name])
                assert.include(yield* cluster.groups.listNames(), name)
                assert.include((yield* cluster.members.get(self.name)).groups ?? [], name)
                assert.isTrue((yield* cluster.groups.list()).some((g) => g.name === name && g.description === "first"))

                yield* cluster.groups.update(name, (g) => ({ ...g, members: [...g.members, other.name] }))
                let group = yield* cluster.groups.get(name)
                assert.deepStrictEqual([...(group.members ?? [])].sort(), [self.name, other.name].sort())
                assert.include((yield* cluster.members.get(other.name)).groups ?? [], name)

                yield* cluster.groups.patch(name, { description: "patched" })
                group = yield* cluster.groups.get(name)
                assert.strictEqual(group.description, "patched")
                assert.strictEqual(group.members?.length, 2)

                yield* cluster.groups.rename(name, renamed)
                assert.isFalse(yield* cluster.groups.exists(name))
                assert.strictEqual((yield* cluster.groups.get(renamed)).description, "patched")

                // only empty groups can go
                const notEmpty = yield* Effect.flip(cluster.groups.delete(renamed))
                assert.strictEqual(notEmpty._tag, "LXDAPIException")
                yield* cluster.groups.patch(renamed, { members: [] })
                const emptied = yield* cluster.groups.get(renamed)
                assert.deepStrictEqual(emptied.members ?? [], [])
                assert.strictEqual(emptied.description, "patched", "patch keeps the description")
                yield* cluster.groups.delete(renamed)
                assert.isFalse(yield* cluster.groups.exists(renamed))
                assert.notInclude((yield* cluster.members.get(self.name)).groups ?? [], renamed)

                // the default group stays (both servers refuse with 403)
                assert.strictEqual(yield* failureTag(cluster.groups.delete("default")), "Forbidden")
                assert.isTrue(yield* cluster.groups.exists("default"))
              })
            ))

          it.scoped(`[${via.label}] withTarget places an instance on the chosen member`, () =>
            on(({ other, self }) =>
              Effect.gen(function*() {
                for (const member of [self.name, other.name]) {
                  const name = yield* Lxd.withTarget(emptyContainer("place"), member)
                  assert.strictEqual(yield* location(name), member)
                }
                const nowhere = yield* Effect.flip(Lxd.withTarget(emptyContainer("place"), uniqueName("nope")))
                assert.oneOf(nowhere._tag, ["NotFound", "LXDAPIException"])
              })
            ))

          it.scoped(`[${via.label}] evacuate a member moves its instance away; restore brings it back`, () =>
            on(({ other }) =>
              Effect.gen(function*() {
                const cluster = yield* clusterService
                const name = yield* Lxd.withTarget(emptyContainer("evac"), other.name)
                assert.strictEqual(yield* location(name), other.name)
                yield* Effect.addFinalizer(() => quietly(cluster.members.restore(other.name)))

                yield* cluster.members.evacuate(other.name)
                const evacuated = yield* cluster.members.get(other.name)
                assert.strictEqual(evacuated.status, "Evacuated")
                const whereNow = yield* location(name)
                yield* Effect.log(`after evacuating ${other.name}, ${name} is on ${whereNow}`)
                assert.notStrictEqual(whereNow, other.name)

                yield* cluster.members.restore(other.name)
                const restored = yield* cluster.members.get(other.name)
                assert.strictEqual(restored.status, "Online")
                assert.strictEqual(yield* location(name), other.name)
              })
            ))

          it.effect(`[${via.label}] join token: redacted, decodable, revocable`, () =>
            on(({ self }) =>
              Effect.gen(function*() {
                const cluster = yield* clusterService
                const ops = yield* Operations.Operations
                const newName = uniqueName("n")
                const token = yield* cluster.members.createToken(newName)
                assert.strictEqual(token.serverName, newName)
                assert.notInclude(String(token.token), "secret")
                assert.notInclude(JSON.stringify(token), Redacted.value(token.token))
                const clusterFingerprint = LxdHttp.certificateFingerprint(
                  Fs.readFileSync(self.currentServerCert(), "utf8")
                )
                assert.strictEqual(token.fingerprint, clusterFingerprint)
                assert.isTrue(token.addresses.length > 0)
                const decoded = yield* Cluster.decodeJoinToken(token.token)
                assert.strictEqual(decoded.serverName, newName)
                assert.strictEqual(decoded.fingerprint, clusterFingerprint)
                assert.deepStrictEqual(decoded.addresses, token.addresses)
                assert.isTrue(Redacted.value(decoded.secret).length >= 32)
                const pending = yield* ops.get(token.operationId)
                assert.strictEqual(pending.class, "token")
                assert.strictEqual(pending.status, "Running")

                yield* cluster.members.revokeToken(token)
                const after = yield* Effect.either(ops.get(token.operationId))
                if (Either.isRight(after)) assert.strictEqual(after.right.status, "Cancelled")
                else assert.strictEqual(after.left._tag, "NotFound")

                const bad = yield* Effect.flip(Cluster.decodeJoinToken("not-a-token"))
                assert.strictEqual(bad._tag, "InvalidArgument")
              })
            ))

          it.effect(`[${via.label}] enable on a clustered server and join with the wrong certificate both fail`, () =>
            on(({ self }) =>
              Effect.gen(function*() {
                const cluster = yield* clusterService
                const again = yield* Effect.flip(cluster.enable(self.name))
                assert.strictEqual(again._tag, "LXDAPIException")
                const token = yield* cluster.members.createToken(uniqueName("n"))
                yield* Effect.addFinalizer(() => quietly(cluster.members.revokeToken(token)))
                // the member's own server.crt is not the cluster certificate the token names
                const wrong = yield* Effect.flip(
                  cluster.join({
                    token: token.token,
                    clusterCertificate: Fs.readFileSync(Path.join(self.lxdDir, "server.crt"), "utf8"),
                    serverAddress: "127.0.0.1:1"
                  })
                )
                assert.strictEqual(wrong._tag, "InvalidArgument")
                assert.notInclude(wrong.message, Redacted.value(token.token))
              }).pipe(Effect.scoped)
            ))

          it.effect(`[${via.label}] member state needs cluster_member_state`, () =>
            on(({ self }) =>
              Effect.gen(function*() {
                const cluster = yield* clusterService
                const http = yield* LxdHttp.LxdHttp
                if (yield* http.hasExtension("cluster_member_state")) {
                  const state = yield* cluster.members.state(self.name)
                  assert.isTrue((state.sysinfo?.total_ram ?? 0) > 0)
                  assert.isTrue((state.sysinfo?.processes ?? 0) > 0)
                  // LXD reports logical_cpus, Incus 6.0 leaves it out
                  const cpus = state.sysinfo?.logical_cpus
                  assert.isTrue(cpus === undefined || cpus > 0)
                  assert.property(state.storage_pools ?? {}, "default")
                } else {
                  yield* Effect.log(`skipped on ${server}: no extension cluster_member_state`)
                  const error = yield* Effect.flip(cluster.members.state(self.name))
                  assert.strictEqual(error._tag, "ExtensionNotAvailable")
                }
              })
            ))

          it.scoped(`[${via.label}] a third member joins with a token, is renamed, and is removed`, () =>
            Effect.gen(function*() {
              const t = yield* TestCluster
              const v = via.pick(t)
              const c = yield* extraDaemon({ kind, name: uniqueName("c"), bare: true })
              yield* track(c)
              yield* Effect.log(`third member ${c.name} started (${c.lxdDir})`)
              yield* joinWithLibrary(c, v.self, v.layer)
              yield* Effect.log(`third member ${c.name} joined`)
              yield* Effect.provide(
                Effect.gen(function*() {
                  const cluster = yield* clusterService
                  assert.include(yield* cluster.members.listNames(), c.name)
                  const joined = yield* cluster.members.get(c.name)
                  assert.strictEqual(joined.status, "Online")
                  assert.strictEqual(joined.url, `https://${c.httpsAddress}`)

                  const renamed = uniqueName("c")
                  yield* cluster.members.rename(c.name, renamed)
                  yield* Effect.log(`renamed to ${renamed}`)
                  const names = yield* cluster.members.listNames()
                  assert.include(names, renamed)
                  assert.notInclude(names, c.name)

                  yield* cluster.members.delete(renamed)
                  yield* Effect.log(`deleted ${renamed}`)
                  const left = yield* cluster.members.listNames()
                  yield* Effect.log(`members now ${left.join(", ")}`)
                  assert.notInclude(left, renamed)
                  assert.sameMembers([...left], [t.a.name, t.b.name])
                }),
                v.layer
              )
            }).pipe(Effect.timeout("60 seconds")))
        }

        it.effect(`[${server} cluster member A unix] the cluster certificate is replaced on every member`, () =>
          Effect.gen(function*() {
            const { a, b } = yield* TestCluster
            const made = makeCert("effect-lxd-test-cluster", {
              days: 30,
              subjectAltName: "DNS:effect-lxd-test-cluster,IP:127.0.0.1"
            })
            try {
              const certificate = made.cert
              const key = Redacted.make(made.key)
              const oldCert = Fs.readFileSync(a.currentServerCert(), "utf8")
              yield* withCluster(
                a.unixLayer,
                Effect.flatMap(clusterService, (c) => c.updateCertificate({ certificate, key }))
              )
              const expected = LxdHttp.certificateFingerprint(certificate)
              for (const d of [a, b]) {
                // the member writes it to its cluster.crt and presents it on HTTPS
                assert.strictEqual(
                  LxdHttp.certificateFingerprint(Fs.readFileSync(d.currentServerCert(), "utf8")),
                  expected
                )
                const info = yield* withCluster(d.httpsLayer, Effect.flatMap(Server.Server, (s) => s.info))
                assert.isTrue(info.trusted)
              }
              // a client still pinning the old certificate is refused
              const client = Fs.readFileSync(env.clientCert, "utf8")
              const clientKey = Fs.readFileSync(env.clientKey, "utf8")
              const pinnedOld = yield* Effect.either(
                Effect.provide(
                  LxdHttp.LxdHttp,
                  LxdHttp.layerHttps({
                    url: a.httpsUrl,
                    cert: client,
                    key: Redacted.make(clientKey),
                    serverCert: oldCert
                  })
                )
              )
              assert.isTrue(Either.isLeft(pinnedOld))
              if (Either.isLeft(pinnedOld)) assert.strictEqual(pinnedOld.left._tag, "TransportError")
            } finally {
              Fs.rmSync(made.dir, { recursive: true, force: true })
            }
          }))
      })
    })

    // runs after the cluster layer above has been released (suites run in order)
    describe("teardown", () => {
      layer(Layer.empty)((it) => {
        it.effect(`[${server} cluster] no throwaway daemon, process, mount or directory is left behind`, () =>
          Effect.sync(() => {
            assert.isAtLeast(started[kind].length, 2)
            assert.deepStrictEqual(runningExtraDaemons(), [])
            for (const d of started[kind]) {
              assert.isFalse(Fs.existsSync(d.lxdDir), `${d.lxdDir} removed`)
              assert.deepStrictEqual(mountsBelow(d.lxdDir), [])
              assert.throws(() => process.kill(d.pid, 0), /ESRCH/, `daemon ${d.pid} is gone`)
              assert.deepStrictEqual(processesServing(d.lxdDir), [], `no daemon left for ${d.lxdDir}`)
            }
          }))
      })
    })
  })
}

for (const env of daemons()) clusterSuite(env)
