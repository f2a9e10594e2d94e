/**
 * A corpus of hostile names, tried on every call that takes a name, on every server:
 * names that cannot be sent safely are refused before any request (`InvalidArgument`);
 * names that can are sent as one segment and reach only the endpoint the call names.
 * Either way nothing else on the server changes (checked against a snapshot of it,
 * with a victim instance and profile whose names prefix the hostile ones).
 */
import { assert } from "@effect/vitest"
import {
  Certificates,
  Exec,
  Files,
  Images,
  Instances,
  LxdHttp,
  Networks,
  Profiles,
  Projects,
  Snapshots,
  StoragePools,
  StorageVolumes
} from "effect-lxd"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { container } from "../support/fixtures.js"
import { forEachServer, quietly, uniqueName } from "../support/servers.js"

const Urls = Schema.NullOr(Schema.Array(Schema.String))

// objects of other suites (a developer may run several at once) come and go on their own
const ours = (entry: string) => !/\bt-(?!victim)/.test(entry)

/** What could change on the server: the lists of every kind of object touched below. */
const serverState = Effect.gen(function*() {
  const http = yield* LxdHttp.LxdHttp
  const list = (path: string, project?: null) =>
    Effect.map(
      http.sync({ method: "GET", path, ...(project === null ? { project } : {}) }, Urls),
      (urls) => [...(urls ?? [])].filter(ours).sort()
    )
  const instances = yield* Instances.Instances
  const states = yield* Effect.map(
    instances.list(),
    (all) => all.map((i) => `${i.name}:${i.status}`).filter(ours).sort()
  )
  return {
    instances: states,
    profiles: yield* list("/1.0/profiles"),
    images: yield* list("/1.0/images"),
    aliases: yield* list("/1.0/images/aliases"),
    networks: yield* list("/1.0/networks"),
    projects: yield* list("/1.0/projects", null),
    pools: yield* list("/1.0/storage-pools", null),
    volumes: yield* list("/1.0/storage-pools/default/volumes"),
    certificates: yield* list("/1.0/certificates", null)
  }
})

forEachServer("hostile names", (it, server) => {
  it.scoped("refused unsent, or sent as one segment; nothing else on the server changes", () =>
    Effect.gen(function*() {
      const victim = yield* container(server.env.imageAlias, { prefix: "victim", start: false })
      const profiles = yield* Profiles.Profiles
      const victimProfile = uniqueName("victim-p")
      yield* Effect.acquireRelease(profiles.create({ name: victimProfile }), () =>
        quietly(profiles.delete(victimProfile)))
      yield* Effect.gen(function*() {
        const snapshot = yield* Snapshots.Snapshots
        yield* snapshot.create(victim, { name: "snap0" })
      })
      const before = yield* serverState

      const instances = yield* Instances.Instances
      const snapshots = yield* Snapshots.Snapshots
      const images = yield* Images.Images
      const projects = yield* Projects.Projects
      const networks = yield* Networks.Networks
      const pools = yield* StoragePools.StoragePools
      const volumes = yield* StorageVolumes.StorageVolumes
      const certificates = yield* Certificates.Certificates
      const files = yield* Files.Files
      const exec = yield* Exec.Exec

      // names that cannot be a path segment, or that the servers would cut at NUL
      const unsendable = ["", ".", "..", `${victim}\u0000-anything`, `${victimProfile}\u0000x`, "a\nb", "tab\tx"]
      // names that are sent, encoded as one segment: each must reach its own endpoint only
      const sendable = [
        `${victim}/../${victim}`,
        "../certificates",
        "a/../../1.0/certificates",
        "x?recursion=1",
        "x#frag",
        "%2E%2E",
        `${victim}%00`
      ]
      const callsOn = (name: string): ReadonlyArray<Effect.Effect<unknown, { readonly _tag: string }>> => [
        instances.get(name),
        instances.state(name),
        instances.start(name),
        instances.stop(name, { force: true }),
        instances.delete(name, { force: true }),
        instances.rename(name, uniqueName("r")),
        instances.patch(name, { description: "x" }),
        snapshots.get(victim, name),
        snapshots.get(name, "snap0"),
        snapshots.delete(victim, name),
        snapshots.create(name, { name: "s1" }),
        profiles.get(name),
        profiles.delete(name),
        profiles.rename(name, uniqueName("r")),
        projects.get(name),
        projects.delete(name),
        networks.get(name),
        networks.delete(name),
        pools.get(name),
        volumes.get({ pool: "default", type: "custom", name }),
        volumes.delete({ pool: "default", type: "custom", name }),
        images.getAlias(name),
        images.deleteAlias(name),
        Stream.runDrain(files.read(name, "/etc/hostname")),
        files.delete(name, "/etc/hostname"),
        exec.run(name, ["true"])
      ]

      for (const name of unsendable) {
        for (const call of callsOn(name)) {
          const failure = yield* Effect.flip(call)
          assert.strictEqual(failure._tag, "InvalidArgument", JSON.stringify(name))
        }
      }
      for (const name of sendable) {
        for (const call of callsOn(name)) {
          const failure = yield* Effect.flip(call)
          // had the name left its segment, some of these would have succeeded elsewhere
          assert.oneOf(failure._tag, ["NotFound", "LXDAPIException"], `${JSON.stringify(name)}: ${String(failure)}`)
        }
      }
      // fingerprints: the servers match them with LIKE, so only hex digits may be sent
      for (const fingerprint of ["%", "_", "%%", "5_", `${server.env.imageFingerprint.slice(0, 4)}%`]) {
        for (const call of [images.get(fingerprint), images.delete(fingerprint), images.refresh(fingerprint)]) {
          assert.strictEqual((yield* Effect.flip(call))._tag, "InvalidArgument", fingerprint)
        }
        assert.strictEqual((yield* Effect.flip(certificates.delete(fingerprint)))._tag, "InvalidArgument")
      }
      // a file path holding NUL is refused too (the server would cut it)
      const nulPath = yield* Effect.flip(files.delete(victim, "/etc/hostname\u0000.bak"))
      assert.strictEqual(nulPath._tag, "InvalidArgument")

      const after = yield* serverState
      assert.deepStrictEqual(after, before)
      assert.isTrue(yield* instances.exists(victim))
      assert.isTrue(yield* profiles.exists(victimProfile))
    }))
})
