import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import { Images, Instances, LxdHttp, LxdTransport, Operations, Profiles, Snapshots } from "../src/index.js"
import { decodeListing, directoriesTo, resolveLink } from "../src/internal/filePaths.js"
import { path } from "../src/internal/path.js"
import { printable } from "../src/internal/printable.js"
import {
  checkAbsolutePath,
  checkCommand,
  checkFingerprint,
  checkId,
  checkMode,
  checkName,
  checkNewName,
  checkRequestTarget
} from "../src/internal/validation.js"
import { json, sync } from "./fakeServer.js"
import { memoryTransport } from "./memoryTransport.js"

const refused = (e: Either.Either<unknown, { readonly _tag: string; readonly message: string }>) => {
  assert.isTrue(Either.isLeft(e))
  return Either.isLeft(e) ? e.left : undefined
}

describe("names", () => {
  it("a name that is empty, a dot segment or holds a control character is refused", () => {
    for (const bad of ["", ".", "..", "victim\u0000-x", "a\nb", "tab\there", "del\u007f"]) {
      const e = refused(checkName(bad, "instance name"))
      assert.strictEqual(e?._tag, "InvalidArgument")
      // the message never carries the raw control character
      assert.notMatch(e!.message, /[\u0000-\u001f\u007f]/)
    }
    for (const good of ["web1", "a b", "...x", "x..", "ünïcode", "a/b", "%2E"]) {
      assert.isTrue(Either.isRight(checkName(good)))
    }
  })

  it("fingerprints are hexadecimal (the servers match them with LIKE)", () => {
    for (const bad of ["%", "_", "abc%", "ab_d", "", "g00d", "a".repeat(65)]) {
      assert.strictEqual(refused(checkFingerprint(bad))?._tag, "InvalidArgument")
    }
    for (const good of ["a", "57f65045", "ABCDEF0123", "a".repeat(64)]) {
      assert.isTrue(Either.isRight(checkFingerprint(good)))
    }
  })

  it("request targets: every segment and query value is checked", () => {
    assert.isTrue(Either.isRight(checkRequestTarget("/1.0", undefined)))
    assert.isTrue(Either.isRight(checkRequestTarget("/", undefined)))
    assert.isTrue(Either.isRight(checkRequestTarget(path`/1.0/instances/${"web 1"}/state`, { project: "p" })))
    // dot segments, even percent-encoded, are refused: URL parsers remove them
    const dot = refused(checkRequestTarget(path`/1.0/instances/${"."}/state`, undefined))
    assert.include(dot?.message, "instance name")
    assert.strictEqual(refused(checkRequestTarget("/1.0/instances/%2E%2E/x", undefined))?._tag, "InvalidArgument")
    assert.strictEqual(refused(checkRequestTarget("/1.0/instances/", undefined))?._tag, "InvalidArgument")
    assert.strictEqual(refused(checkRequestTarget("/1.0//instances", undefined))?._tag, "InvalidArgument")
    assert.strictEqual(refused(checkRequestTarget("/1.0/instances/%ZZ", undefined))?._tag, "InvalidArgument")
    assert.strictEqual(
      refused(checkRequestTarget("/1.0/instances/c/files", { path: "/etc/passwd\u0000.txt" }))?._tag,
      "InvalidArgument"
    )
    // images and certificates are named by fingerprint; aliases are not
    assert.include(refused(checkRequestTarget("/1.0/images/%25", undefined))?.message, "image fingerprint")
    assert.strictEqual(refused(checkRequestTarget("/1.0/images/_/export", undefined))?._tag, "InvalidArgument")
    assert.strictEqual(refused(checkRequestTarget("/1.0/certificates/%25", undefined))?._tag, "InvalidArgument")
    assert.isTrue(Either.isRight(checkRequestTarget("/1.0/images/aliases/%25weird", undefined)))
    assert.isTrue(Either.isRight(checkRequestTarget("/1.0/images/abc123/export", undefined)))
  })

  it("printable escapes control characters", () => {
    assert.strictEqual(printable("a\u0000b\u001b[31m"), "a\\u0000b\\u001b[31m")
  })

  it.scoped("hostile names never leave the process, whichever service takes them", () =>
    Effect.gen(function*() {
      const { requests, transport } = memoryTransport((_req, res) => json(res, 200, sync({})))
      const services = yield* Layer.build(
        Layer.mergeAll(Instances.layer, Snapshots.layer, Images.layer, Profiles.layer).pipe(
          Layer.provideMerge(Operations.layer),
          Layer.provideMerge(LxdHttp.layer()),
          Layer.provide(Layer.succeed(LxdTransport.LxdTransport, transport))
        )
      )
      const instances = Effect.runSync(Effect.provide(Instances.Instances, services))
      const snapshots = Effect.runSync(Effect.provide(Snapshots.Snapshots, services))
      const images = Effect.runSync(Effect.provide(Images.Images, services))
      const profiles = Effect.runSync(Effect.provide(Profiles.Profiles, services))
      const before = requests.length
      const attempts: ReadonlyArray<Effect.Effect<unknown, { readonly _tag: string }>> = [
        instances.start("."),
        instances.get(".."),
        instances.get(""),
        instances.delete("victim\u0000-anything", { force: true }),
        snapshots.create(".", { name: "x" }),
        snapshots.get("c1", ".."),
        images.get("%"),
        images.get("_"),
        images.delete("%"),
        profiles.delete("default\u0000x"),
        // names the server would store
        instances.create({ name: "a/b", source: { type: "none" } }),
        instances.createOperation({ name: "..", source: { type: "none" } }),
        instances.rename("c1", "a/b"),
        instances.copy("c1", "x/y"),
        snapshots.createOperation("c1", { name: "a/b" }),
        snapshots.rename("c1", "s", "s/t"),
        profiles.create({ name: "p/q" }),
        profiles.rename("default", "")
      ]
      for (const attempt of attempts) {
        const failure = yield* Effect.flip(attempt)
        assert.strictEqual(failure._tag, "InvalidArgument")
      }
      assert.strictEqual(requests.length, before, "no request was sent")
    }))

  it("one rule per kind of argument", () => {
    // a name the server stores: the segment rule and no "/"
    for (const bad of ["", "..", "a/b", "x\u0000"]) assert.isTrue(Either.isLeft(checkNewName(bad)))
    assert.deepStrictEqual(checkNewName("web-1"), Either.right("web-1"))
    // paths inside an instance: absolute, no control characters
    for (const bad of ["etc/hosts", "", "/tmp/a\u0000b"]) assert.isTrue(Either.isLeft(checkAbsolutePath(bad)))
    assert.deepStrictEqual(checkAbsolutePath("/etc/hosts"), Either.right("/etc/hosts"))
    // ids and modes
    for (const bad of [-1, 1.5, Number.NaN]) assert.isTrue(Either.isLeft(checkId(bad, "uid")))
    assert.deepStrictEqual(checkId(undefined, "uid"), Either.right(undefined))
    assert.deepStrictEqual(checkId(0, "uid"), Either.right(0))
    for (const bad of [-1, 0o10000, 2.5]) assert.isTrue(Either.isLeft(checkMode(bad)))
    assert.deepStrictEqual(checkMode(0o7777), Either.right(0o7777))
    // commands
    assert.isTrue(Either.isLeft(checkCommand([])))
    assert.isTrue(Either.isLeft(checkCommand(["echo", "a\u0000b"])))
    assert.deepStrictEqual(checkCommand(["true"]), Either.right(["true"]))
    const e = refused(checkNewName("a/b", "snapshot name"))
    assert.strictEqual(e?.message.includes("snapshot name"), true)
  })
})

describe("file paths", () => {
  it("symlink targets resolve from the link's directory", () => {
    assert.strictEqual(resolveLink("/etc/alt/x", "../y"), "/etc/y")
    assert.strictEqual(resolveLink("/etc/x", "/abs/z"), "/abs/z")
    assert.strictEqual(resolveLink("/a/b", "c/./d"), "/a/c/d")
  })

  it("mkdir with parents makes every directory on the way, in order", () => {
    assert.deepStrictEqual(directoriesTo("/a/b/c"), ["/a", "/a/b", "/a/b/c"])
    assert.deepStrictEqual(directoriesTo("//a//b/"), ["/a", "/a/b"])
    assert.deepStrictEqual(directoriesTo("/"), [])
  })

  it("a directory listing is a sync envelope of names; anything else is a DecodeError", () => {
    const envelope = (metadata: unknown) =>
      JSON.stringify({ type: "sync", status: "Success", status_code: 200, metadata })
    assert.deepStrictEqual(decodeListing(envelope(["a", "b"]), "/p"), Either.right(["a", "b"]))
    assert.deepStrictEqual(decodeListing(envelope(null), "/p"), Either.right([]))
    for (const bad of ["not json", envelope([1, 2]), JSON.stringify({ type: "async", metadata: {} })]) {
      const e = refused(decodeListing(bad, "/p"))
      assert.strictEqual(e?._tag, "DecodeError")
    }
  })
})
