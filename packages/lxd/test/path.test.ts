import { assert, describe, it } from "@effect/vitest"
import { encodeSegment, nameFromUrl, path, queryString, resourceLabel, withoutQuery } from "../src/internal/path.js"

describe("path building", () => {
  it("encodes every interpolated value as one segment", () => {
    assert.strictEqual(path`/1.0/instances/${"web1"}/state`, "/1.0/instances/web1/state")
    assert.strictEqual(
      path`/1.0/instances/${"a/../../1.0/certificates"}`,
      "/1.0/instances/a%2F..%2F..%2F1.0%2Fcertificates"
    )
    assert.strictEqual(path`/1.0/instances/${"x?recursion=1#f"}`, "/1.0/instances/x%3Frecursion%3D1%23f")
    assert.strictEqual(path`/1.0/instances/${"a b"}`, "/1.0/instances/a%20b")
  })

  it("escapes segments made only of dots", () => {
    assert.strictEqual(encodeSegment(".."), "%2E%2E")
    assert.strictEqual(encodeSegment("."), "%2E")
    assert.strictEqual(encodeSegment("a.b"), "a.b")
    assert.strictEqual(encodeSegment("it's(x)*!"), "it%27s%28x%29%2A%21")
  })

  it("builds query strings, dropping undefined and repeating arrays", () => {
    assert.strictEqual(queryString(undefined), "")
    assert.strictEqual(queryString({ a: undefined }), "")
    assert.strictEqual(queryString({ recursion: 1, project: "p 1", all: true }), "?recursion=1&project=p%201&all=true")
    assert.strictEqual(queryString({ type: ["a", "b"] }), "?type=a&type=b")
    assert.strictEqual(queryString({ filter: "name eq x&y" }), "?filter=name%20eq%20x%26y")
  })

  it("reads names back from LXD URLs", () => {
    assert.strictEqual(nameFromUrl("/1.0/instances/c%201?project=p"), "c 1")
    assert.strictEqual(nameFromUrl("/1.0/images/abc"), "abc")
  })

  it("labels resources for error messages", () => {
    assert.strictEqual(resourceLabel("/1.0/instances/web1"), `Instance "web1"`)
    assert.strictEqual(resourceLabel("/1.0/instances/web1/snapshots/s0"), `Snapshot "s0" of instance "web1"`)
    assert.strictEqual(
      resourceLabel("/1.0/storage-pools/p/volumes/custom/v%201"),
      `Storage volume "v 1" of storage pool "p"`
    )
    assert.strictEqual(resourceLabel("/1.0/images/aliases/busybox"), `Image alias "busybox"`)
    assert.strictEqual(resourceLabel("/1.0/instances"), undefined)
    assert.strictEqual(resourceLabel("/1.0"), undefined)
  })

  it("strips query strings (secrets never reach errors)", () => {
    assert.strictEqual(withoutQuery("/1.0/operations/x/websocket?secret=s3cret"), "/1.0/operations/x/websocket")
  })
})
