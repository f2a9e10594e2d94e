/**
 * Conformance with current LXD: an example of every response definition of LXD's REST
 * spec (`../shared/lxd-spec/rest-api.yaml`, LXD 6.9+), generated twice (every field
 * present; every optional field absent, see `conformance/spec.ts`), decoded with the
 * library's own models, as `LxdHttp` decodes answers (excess fields ignored).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as Fs from "node:fs"
import {
  Certificates,
  Cluster,
  Images,
  InstanceBackups,
  Instances,
  LxdHttp,
  NetworkAcls,
  Networks,
  NetworkZones,
  Operations,
  Profiles,
  Projects,
  Server,
  Snapshots,
  StorageBuckets,
  StoragePools,
  StorageVolumes,
  Warnings
} from "../src/index.js"
import { exampleOf, type Mode, readSpec, responseDefinitions, specPath } from "./conformance/spec.js"

type AnySchema = Schema.Schema.AnyNoContext

/** Spec definition name → the library's model for it. */
const models: Readonly<Record<string, AnySchema>> = {
  Certificate: Certificates.Certificate,
  Cluster: Cluster.ClusterInfo,
  ClusterGroup: Cluster.ClusterGroup,
  ClusterMember: Cluster.ClusterMember,
  ClusterMemberState: Cluster.ClusterMemberState,
  Image: Images.Image,
  ImageAliasesEntry: Images.ImageAlias,
  ImageMetadata: Images.ImageMetadata,
  Instance: Instances.Instance,
  InstanceBackup: InstanceBackups.Backup,
  InstanceFull: Instances.InstanceFull,
  InstanceSnapshot: Snapshots.Snapshot,
  InstanceState: Instances.InstanceState,
  MetadataConfiguration: Server.ConfigurationMetadata,
  Network: Networks.Network,
  NetworkACL: NetworkAcls.NetworkACL,
  NetworkForward: Networks.NetworkForward,
  NetworkLease: Networks.NetworkLease,
  NetworkLoadBalancer: Networks.NetworkLoadBalancer,
  NetworkPeer: Networks.NetworkPeer,
  NetworkState: Networks.NetworkState,
  NetworkZone: NetworkZones.NetworkZone,
  NetworkZoneRecord: NetworkZones.NetworkZoneRecord,
  Operation: Operations.Operation,
  Profile: Profiles.Profile,
  Project: Projects.Project,
  ProjectState: Projects.ProjectState,
  Resources: Server.Resources,
  ResourcesStoragePool: StoragePools.StoragePoolResources,
  Server: LxdHttp.ServerInfo,
  ServerUntrusted: LxdHttp.ServerInfo,
  StorageBucket: StorageBuckets.StorageBucket,
  StorageBucketKey: StorageBuckets.StorageBucketKey,
  StoragePool: StoragePools.StoragePool,
  StorageVolume: StorageVolumes.StorageVolume,
  StorageVolumeSnapshot: StorageVolumes.StorageVolumeSnapshot,
  StorageVolumeState: StorageVolumes.StorageVolumeState,
  Warning: Warnings.Warning
}

/** Response definitions of the spec that the library has no model for (yet). */
const unmodelled = [
  "AuthGroup",
  "ClusterLink",
  "ClusterLinkState",
  "Identity",
  "IdentityBearerToken",
  "IdentityInfo",
  "IdentityProviderGroup",
  "InstanceUEFIVars",
  "NetworkAllocations",
  "NetworkLoadBalancerPool",
  "NetworkLoadBalancerPoolState",
  "OIDCSession",
  "Permission",
  "PermissionInfo",
  "PlacementGroup",
  "Replicator",
  "ReplicatorState",
  "StoragePoolVolumeBackup"
]

const decodeFailure = (schema: AnySchema, value: unknown): string | undefined => {
  const result = Schema.decodeUnknownEither(schema, { onExcessProperty: "ignore" })(value)
  return Either.isLeft(result) ? ParseResult.TreeFormatter.formatErrorSync(result.left) : undefined
}

describe("conformance with LXD's REST spec", () => {
  const file = specPath()
  it("the spec is where the test looks for it", () => {
    assert.isTrue(Fs.existsSync(file), `LXD's rest-api.yaml not found at ${file} (set LXD_REST_API_SPEC)`)
  })
  if (!Fs.existsSync(file)) return
  const spec = readSpec(file)
  const responses = responseDefinitions(spec)

  it("every response definition is either mapped to a model or listed as unmodelled", () => {
    const names = [...responses.keys()].sort()
    assert.isAbove(names.length, 40)
    const unaccounted = names.filter((n) => models[n] === undefined && !unmodelled.includes(n))
    assert.deepStrictEqual(unaccounted, [])
    // and nothing is listed that the spec does not answer with
    assert.deepStrictEqual(Object.keys(models).filter((n) => !responses.has(n)), [])
    assert.deepStrictEqual(unmodelled.filter((n) => !responses.has(n) || models[n] !== undefined), [])
  })

  for (const mode of ["present", "absent"] satisfies ReadonlyArray<Mode>) {
    it(`every modelled answer decodes with every optional field ${mode}`, () => {
      const failures: Array<string> = []
      for (const [name, endpoint] of responses) {
        const schema = models[name]
        if (schema === undefined) continue
        const example = exampleOf(spec, spec.definitions[name]!, mode)
        const failure = decodeFailure(schema, example)
        if (failure !== undefined) failures.push(`${name} (${endpoint}):\n${failure}`)
      }
      assert.strictEqual(failures.length, 0, failures.join("\n\n"))
    })
  }

  it("the absent examples really leave fields out (the generator is not vacuous)", () => {
    const present = exampleOf(spec, spec.definitions["Instance"]!, "present") as Record<string, unknown>
    const absent = exampleOf(spec, spec.definitions["Instance"]!, "absent") as Record<string, unknown>
    assert.property(present, "name")
    assert.property(absent, "name")
    assert.isBelow(Object.keys(absent).length, Object.keys(present).length)
  })
})
