import { assert, describe, it } from "@effect/vitest"
import * as Schema from "effect/Schema"
import { Cluster, Images, Instances, Profiles, Snapshots, StorageVolumes } from "../src/index.js"

// What LXD 5.0 and Incus 6.0 send for empty maps and lists: Go marshals a nil map or
// slice as `null`, and older servers leave newer fields out. The shared field shapes
// (internal/models/fields.ts) decode both to the empty value and never encode `null`.

const decode = <A, I>(schema: Schema.Schema<A, I, never>, input: unknown): A => Schema.decodeUnknownSync(schema)(input)
const encode = <A, I>(schema: Schema.Schema<A, I, never>, value: A): I => Schema.encodeSync(schema)(value)

const instance = {
  name: "c1",
  status: "Stopped",
  status_code: 102,
  architecture: "x86_64",
  created_at: "2026-01-01T00:00:00Z"
}

describe("models: null and missing fields", () => {
  it("an instance with null config, devices and profiles has empty ones, and encodes none as null", () => {
    const i = decode(Instances.Instance, {
      ...instance,
      config: null,
      devices: null,
      profiles: null,
      expanded_config: null,
      expanded_devices: null
    })
    assert.deepStrictEqual(i.config, {})
    assert.deepStrictEqual(i.devices, {})
    assert.deepStrictEqual(i.profiles, [])
    assert.deepStrictEqual(i.expanded_config, {})
    assert.deepStrictEqual(i.expanded_devices, {})
    const missing = decode(Instances.Instance, instance)
    assert.deepStrictEqual(missing.config, {})
    assert.deepStrictEqual(missing.profiles, [])
    const encoded = encode(Instances.Instance, i)
    assert.deepStrictEqual(encoded.config, {})
    assert.deepStrictEqual(encoded.devices, {})
    assert.deepStrictEqual(encoded.profiles, [])
  })

  it("values present are kept as sent", () => {
    const i = decode(Instances.Instance, {
      ...instance,
      config: { "limits.cpu": "1" },
      devices: { root: { type: "disk", path: "/", pool: "default" } },
      profiles: ["default"]
    })
    assert.deepStrictEqual(i.config, { "limits.cpu": "1" })
    assert.deepStrictEqual(i.devices, { root: { type: "disk", path: "/", pool: "default" } })
    assert.deepStrictEqual(i.profiles, ["default"])
  })

  it("an instance read with recursion carries snapshots that tolerate nulls too", () => {
    const full = decode(Instances.InstanceFull, {
      ...instance,
      state: null,
      backups: null,
      snapshots: [{ name: "snap0", created_at: "2026-01-01T00:00:00Z", config: null, devices: null, profiles: null }]
    })
    assert.strictEqual(full.state, undefined)
    assert.deepStrictEqual(full.backups, [])
    const snap = full.snapshots[0]!
    assert.instanceOf(snap, Snapshots.Snapshot)
    assert.deepStrictEqual(snap.config, {})
    assert.deepStrictEqual(snap.devices, {})
    assert.deepStrictEqual(snap.profiles, [])
  })

  it("images: null aliases, properties, profiles and template fields", () => {
    const image = decode(Images.Image, {
      fingerprint: "abc",
      architecture: "x86_64",
      size: 1,
      aliases: null,
      properties: null,
      profiles: null
    })
    assert.deepStrictEqual(image.aliases, [])
    assert.deepStrictEqual(image.properties, {})
    assert.deepStrictEqual(image.profiles, [])
    const metadata = decode(Images.ImageMetadata, {
      architecture: "x86_64",
      creation_date: 1,
      properties: null,
      templates: { "hostname.tpl": { template: "hostname.tpl", when: null, properties: null } }
    })
    assert.deepStrictEqual(metadata.properties, {})
    assert.deepStrictEqual(metadata.templates["hostname.tpl"]?.when, [])
    assert.deepStrictEqual(metadata.templates["hostname.tpl"]?.properties, {})
    assert.deepStrictEqual(
      decode(Images.ImageMetadata, { architecture: "x86_64", creation_date: 1, templates: null }).templates,
      {}
    )
  })

  it("profiles: null description, config, devices and used_by", () => {
    const p = decode(Profiles.Profile, { name: "p", description: null, config: null, devices: null, used_by: null })
    assert.strictEqual(p.description, "")
    assert.deepStrictEqual(p.config, {})
    assert.deepStrictEqual(p.devices, {})
    assert.deepStrictEqual(p.used_by, [])
  })

  it("cluster members keep the server's null for roles and groups (missing reads as null)", () => {
    const member = {
      server_name: "m1",
      url: "https://198.51.100.1:8443",
      database: true,
      status: "Online"
    }
    const withNull = decode(Cluster.ClusterMember, { ...member, roles: null, groups: null, config: null })
    assert.strictEqual(withNull.roles, null)
    assert.strictEqual(withNull.groups, null)
    assert.strictEqual(withNull.config, null)
    assert.strictEqual(decode(Cluster.ClusterMember, member).roles, null)
    assert.deepStrictEqual(decode(Cluster.ClusterMember, { ...member, roles: ["database"] }).roles, ["database"])
  })

  it("LXD's zero time and null both read as no time", () => {
    const volume = { name: "v", type: "custom", content_type: "filesystem" }
    assert.strictEqual(
      decode(StorageVolumes.StorageVolume, { ...volume, created_at: "0001-01-01T00:00:00Z" }).created_at,
      null
    )
    assert.strictEqual(decode(StorageVolumes.StorageVolume, { ...volume, created_at: null }).created_at, null)
    assert.strictEqual(
      decode(StorageVolumes.StorageVolume, { ...volume, created_at: "2026-01-01T00:00:00Z" }).created_at,
      "2026-01-01T00:00:00Z"
    )
  })

  it("the map schemas themselves are plain records: null is handled by the optional field", () => {
    assert.deepStrictEqual(decode(Snapshots.ConfigMap, { a: "b" }), { a: "b" })
    assert.deepStrictEqual(decode(Snapshots.DeviceMap, { eth0: { type: "nic" } }), { eth0: { type: "nic" } })
    assert.throws(() => decode(Snapshots.ConfigMap, null))
  })
})
