/**
 * The pure helpers of Instances, InstanceBackups and Migration: request bodies,
 * validation and name derivation, with no server.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { Instances } from "../src/index.js"
import { backupBody, importHeaders } from "../src/internal/backups.js"
import { Operation } from "../src/internal/envelope.js"
import { imageCopyAliases, imageCopyBody, remoteImageBody } from "../src/internal/images-remote.js"
import {
  copiedInstance,
  copyCreateOptions,
  createdInstanceName,
  createdName,
  listQuery,
  needsSourceProfiles,
  stateBody,
  toPut,
  validateCreate,
  wrongType
} from "../src/internal/instances-body.js"
import {
  migrationSecrets,
  migrationSourceBody,
  migrationTargetOptions,
  withoutVolatile
} from "../src/internal/instances-remote.js"
import { Image } from "../src/internal/models/image.js"

const instance = Schema.decodeUnknownSync(Instances.Instance)({
  name: "c1",
  status: "Stopped",
  status_code: 102,
  architecture: "x86_64",
  created_at: "2026-01-01T00:00:00Z",
  config: { "user.a": "1", "volatile.uuid": "u-1", "volatile.eth0.hwaddr": "00:16:3e:00:00:01" },
  devices: { root: { type: "disk", path: "/", pool: "default" } },
  profiles: ["default"],
  description: "d"
})

const operation = (fields: Record<string, unknown>) =>
  Schema.decodeUnknownSync(Operation)({
    id: "op-1",
    description: "Creating instance",
    class: "task",
    status: "Success",
    status_code: 200,
    created_at: "2026-01-01T00:00:00Z",
    updated_at: "2026-01-01T00:00:00Z",
    may_cancel: false,
    err: "",
    ...fields
  })

/** A finished background operation, as `Operations.run` answers it. */
const started = (fields: Record<string, unknown>) => ({
  _tag: "Async" as const,
  status: 202,
  operation: operation(fields)
})

describe("Instances helpers", () => {
  it("validateCreate refuses an empty or slashed name and an image source that names no image", () => {
    const bad = (options: Instances.CreateOptions) => Either.getLeft(validateCreate(options))
    assert.strictEqual(
      bad({ name: "", source: { type: "none" } }).pipe((o) => o._tag === "Some" && o.value.argument),
      "name"
    )
    assert.strictEqual(
      bad({ name: "a/b", source: { type: "none" } }).pipe((o) => o._tag === "Some" && o.value.argument),
      "name"
    )
    assert.strictEqual(bad({ source: { type: "image" } }).pipe((o) => o._tag === "Some" && o.value.argument), "source")
    assert.isTrue(Either.isRight(validateCreate({ source: { type: "image", properties: { os: "busybox" } } })))
    assert.isTrue(Either.isRight(validateCreate({ name: "web", source: { type: "none" } })))
  })

  it("a copy within the project takes its source's profiles unless given; the copied instance of a snapshot", () => {
    assert.isTrue(needsSourceProfiles({ source: { type: "copy", source: "c1/snap0" } }))
    assert.isFalse(needsSourceProfiles({ source: { type: "copy", source: "c1" }, profiles: [] }))
    assert.isFalse(needsSourceProfiles({ source: { type: "copy", source: "c1", project: "other" } }))
    assert.isFalse(needsSourceProfiles({ source: { type: "none" } }))
    assert.strictEqual(copiedInstance({ type: "copy", source: "c1/snap0" }), "c1")
    assert.isUndefined(copiedInstance({ type: "none" }))
  })

  it("copyCreateOptions sends only what was given", () => {
    assert.deepStrictEqual(copyCreateOptions("c1", "c2", undefined), {
      name: "c2",
      source: { type: "copy", source: "c1", instanceOnly: undefined }
    })
    assert.deepStrictEqual(
      copyCreateOptions("c1", "c2", { instanceOnly: true, config: { k: "v" }, ephemeral: false }),
      {
        name: "c2",
        source: { type: "copy", source: "c1", instanceOnly: true },
        config: { k: "v" },
        ephemeral: false
      }
    )
  })

  it("stateBody defaults to a 30 s clean change; durations are whole seconds", () => {
    assert.deepStrictEqual(stateBody("stop", undefined), { action: "stop", timeout: 30, force: false, stateful: false })
    assert.deepStrictEqual(stateBody("restart", { timeout: "1500 millis", force: true }), {
      action: "restart",
      timeout: 2,
      force: true,
      stateful: false
    })
  })

  it("listQuery carries the filter, the type and all-projects", () => {
    assert.deepStrictEqual(listQuery({ filter: { status: "Running" }, type: "container", allProjects: true }, 1), {
      recursion: 1,
      filter: "status eq Running",
      "instance-type": "container",
      "all-projects": true
    })
    assert.deepStrictEqual(listQuery(undefined, 0), { recursion: 0, filter: undefined })
  })

  it("toPut keeps the writable fields; wrongType is a NotFound naming both types", () => {
    assert.deepStrictEqual(toPut(instance), {
      architecture: "x86_64",
      config: instance.config,
      devices: instance.devices,
      ephemeral: false,
      profiles: ["default"],
      description: "d"
    })
    const e = wrongType("v1", "virtual-machine", "container")
    assert.strictEqual(e._tag, "NotFound")
    assert.strictEqual(e.resource, `Virtual machine "v1"`)
    assert.include(e.serverMessage, "is a container, not a virtual-machine")
  })

  it("the created name: the one asked for, the entity URL, or the first resource that is not the source", () => {
    const viaEntity = started({ metadata: { entity_url: "/1.0/instances/new%201" } })
    const viaResources = started({ resources: { instances: ["/1.0/instances/c1", "/1.0/instances/c2"] } })
    assert.strictEqual(createdName(viaEntity, "instances"), "new 1")
    assert.strictEqual(createdName(viaResources, "instances", "c1"), "c2")
    assert.isUndefined(createdName(started({}), "instances"))
    assert.deepStrictEqual(createdInstanceName(viaResources, "wanted", undefined), Either.right("wanted"))
    assert.deepStrictEqual(createdInstanceName(viaResources, undefined, "c1"), Either.right("c2"))
    const none = createdInstanceName(started({}), undefined, undefined)
    assert.isTrue(Either.isLeft(none) && none.left._tag === "DecodeError")
  })
})

describe("InstanceBackups helpers", () => {
  it("backupBody says instance_only both ways and an ISO expiry; importHeaders use the dialect's prefix", () => {
    assert.deepStrictEqual(backupBody(undefined), {
      instance_only: false,
      container_only: false,
      optimized_storage: false
    })
    assert.deepStrictEqual(
      backupBody({ name: "b1", instanceOnly: true, expiresAt: new Date(0), compressionAlgorithm: "xz" }),
      {
        name: "b1",
        expires_at: "1970-01-01T00:00:00.000Z",
        instance_only: true,
        container_only: true,
        optimized_storage: false,
        compression_algorithm: "xz"
      }
    )
    assert.deepStrictEqual(importHeaders("X-Incus", { name: "c1", pool: "p" }), {
      "X-Incus-Name": "c1",
      "X-Incus-Pool": "p"
    })
    assert.deepStrictEqual(importHeaders("X-LXD", undefined), {})
  })
})

describe("Migration helpers", () => {
  const endpoint = { url: "https://127.0.0.1:8443", certificate: "PEM" }
  const pull = { endpoint, operationId: "op 1", secrets: { control: Redacted.make("s1") } }

  it("the source offers a migration; its string metadata are the secrets", () => {
    assert.deepStrictEqual(migrationSourceBody({ instanceOnly: true }), {
      migration: true,
      live: false,
      instance_only: true,
      container_only: true
    })
    const secrets = migrationSecrets({ control: "a", fs: "b", count: 2 })
    assert.deepStrictEqual(Object.keys(secrets), ["control", "fs"])
    assert.strictEqual(Redacted.value(secrets["fs"]!), "b")
    assert.deepStrictEqual(migrationSecrets(null), {})
  })

  it("a copy drops volatile keys, a move keeps them; options override the source's settings", () => {
    assert.deepStrictEqual(withoutVolatile(instance.config), { "user.a": "1" })
    const copy = migrationTargetOptions(instance, { config: { "user.b": "2" } }, false, pull)
    assert.deepStrictEqual(copy.config, { "user.a": "1", "user.b": "2" })
    assert.strictEqual(copy.name, "c1")
    assert.deepStrictEqual(copy.profiles, ["default"])
    assert.deepStrictEqual(copy.source, {
      type: "migration",
      operation: "https://127.0.0.1:8443/1.0/operations/op%201",
      secrets: pull.secrets,
      certificate: "PEM",
      instanceOnly: false,
      live: false
    })
    const move = migrationTargetOptions(instance, { name: "c9", profiles: [] }, true, pull)
    assert.strictEqual(move.config?.["volatile.uuid"], "u-1")
    assert.strictEqual(move.name, "c9")
    assert.deepStrictEqual(move.profiles, [])
    assert.strictEqual(
      migrationTargetOptions(instance, { keepVolatile: false }, true, pull).config?.["volatile.uuid"],
      undefined
    )
  })

  it("an image copy pulls from this server by fingerprint with the image's flags, and its aliases on request", () => {
    const image = Schema.decodeUnknownSync(Image)({
      fingerprint: "abc",
      architecture: "x86_64",
      size: 1,
      public: false,
      auto_update: true,
      properties: { os: "busybox" },
      filename: "busybox.tar.gz",
      aliases: [{ name: "busybox", description: "" }]
    })
    const body = imageCopyBody(image, endpoint, Redacted.make("sec"), undefined)
    assert.deepStrictEqual(body, {
      public: false,
      auto_update: true,
      properties: { os: "busybox" },
      filename: "busybox.tar.gz",
      source: {
        type: "image",
        mode: "pull",
        server: "https://127.0.0.1:8443",
        protocol: "lxd",
        fingerprint: "abc",
        secret: "sec",
        certificate: "PEM",
        image_type: "container"
      }
    })
    assert.strictEqual(imageCopyBody(image, endpoint, undefined, { public: true }).public, true)
    assert.deepStrictEqual(imageCopyAliases(image, { aliases: ["x"] }), ["x"])
    assert.deepStrictEqual(imageCopyAliases(image, { aliases: ["x"], copyAliases: true }).length, 2)
    assert.deepStrictEqual(remoteImageBody({ server: "https://i", protocol: "simplestreams", alias: "a" }, undefined), {
      public: false,
      auto_update: false,
      source: { type: "image", mode: "pull", server: "https://i", protocol: "simplestreams", alias: "a" }
    })
  })
})
