import { assert, describe, it } from "@effect/vitest"
import * as Arbitrary from "effect/Arbitrary"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Schema from "effect/Schema"
import * as Fs from "node:fs"
import { Instances, Networks, Profiles, Projects, StoragePools, Warnings } from "../src/index.js"
import { Envelope } from "../src/internal/envelope.js"
import { Backup } from "../src/internal/models/backup.js"
import { compile, decodeUnknownEither, FAIL } from "../src/internal/models/compiled.js"
import { arrayOf } from "../src/internal/models/fields.js"
import { Image } from "../src/internal/models/image.js"
import { InstanceState } from "../src/internal/models/instance.js"
import { onePass } from "../src/internal/models/onePass.js"
import { Snapshot } from "../src/internal/models/snapshot.js"
import { StorageVolume } from "../src/internal/models/storage-volume.js"

// The compiled checks (`models/compiled.ts`) stand in front of the schemas: whatever they
// accept must decode to what the schema gives, and whatever the schema refuses they must
// refuse, so that the schema itself reports it. These tests hold them to the schema on
// generated answers, on spoiled ones, and on the daemons' own answers.

const options = { onExcessProperty: "ignore" } as const

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnySchema = Schema.Schema<any, any, never>

/** The schema's own verdict beside the compiled decoder's, and whether the check alone took it. */
const both = (schema: AnySchema, u: unknown) => {
  const expected = Schema.decodeUnknownEither(schema, options)(u)
  const actual = decodeUnknownEither(schema, options)(u)
  const check = compile(schema.ast)
  return { expected, actual, checked: check === undefined ? FAIL : check(u) }
}

/** Same verdict: equal values of the same class, or the same message. */
const assertSame = (schema: AnySchema, u: unknown) => {
  const { actual, checked, expected } = both(schema, u)
  if (Either.isRight(expected)) {
    assert.isTrue(Either.isRight(actual), `the compiled decoder refused what the schema took: ${JSON.stringify(u)}`)
    assert.deepStrictEqual(Either.getOrThrow(actual), expected.right)
    assert.strictEqual(Object.getPrototypeOf(Either.getOrThrow(actual)), Object.getPrototypeOf(expected.right))
  } else {
    assert.strictEqual(checked, FAIL, `the check took what the schema refused: ${JSON.stringify(u)}`)
    assert.isTrue(Either.isLeft(actual))
    if (Either.isLeft(actual)) assert.strictEqual(actual.left.message, expected.left.message)
  }
  return { accepted: Either.isRight(expected), checked: checked !== FAIL }
}

// what a server answer may be spoiled with: a value of another type, null, nothing
const spoilers: ReadonlyArray<(v: unknown) => unknown> = [
  (v) => (typeof v === "string" ? 42 : "x"),
  () => null,
  () => undefined,
  () => [],
  () => ({ nested: true })
]

/** `u` with one key (at some depth) changed by `spoil`, or deleted. */
const spoiled = (u: unknown, path: ReadonlyArray<number>, spoil: number): unknown => {
  if (typeof u !== "object" || u === null) return spoilers[spoil % spoilers.length]!(u)
  const copy: Record<string, unknown> = Array.isArray(u) ? ([...u] as never) : { ...(u as Record<string, unknown>) }
  const keys = Object.keys(copy)
  if (keys.length === 0) return spoilers[spoil % spoilers.length]!(u)
  const key = keys[path[0]! % keys.length]!
  if (path.length === 1 || typeof copy[key] !== "object" || copy[key] === null) {
    if (spoil % (spoilers.length + 1) === spoilers.length) delete copy[key]
    else copy[key] = spoilers[spoil % spoilers.length]!(copy[key])
  } else {
    copy[key] = spoiled(copy[key], path.slice(1), spoil)
  }
  return copy
}

const models: ReadonlyArray<readonly [string, AnySchema]> = [
  ["Instance", Instances.Instance],
  ["InstanceState", InstanceState],
  ["Snapshot", Snapshot],
  ["Backup", Backup],
  ["Image", Image],
  ["StorageVolume", StorageVolume],
  ["Network", Networks.Network],
  ["Profile", Profiles.Profile],
  ["Project", Projects.Project],
  ["StoragePool", StoragePools.StoragePool],
  ["Warning", Warnings.Warning]
]

describe("compiled checks: the models", () => {
  for (const [name, model] of models) {
    const schema = onePass(model)
    it(`${name}: compiles, and takes every generated answer as the schema decodes it`, () => {
      assert.isDefined(compile(schema.ast))
      const answers = Arbitrary.make(model).map((value) => Schema.encodeSync(model)(value))
      FastCheck.assert(
        FastCheck.property(answers, (u) => {
          const { accepted, checked } = assertSame(schema, u)
          // a valid answer is the check's own work, not the fallback's
          assert.isTrue(accepted && checked)
        }),
        { numRuns: 60 }
      )
    })
    it(`${name}: a spoiled answer gets the schema's verdict, word for word`, () => {
      const answers = Arbitrary.make(model).map((value) => Schema.encodeSync(model)(value))
      FastCheck.assert(
        FastCheck.property(
          answers,
          FastCheck.array(FastCheck.nat(40), { minLength: 1, maxLength: 3 }),
          FastCheck.nat(20),
          (u, path, spoil) => {
            assertSame(schema, spoiled(u, path, spoil))
          }
        ),
        { numRuns: 150 }
      )
    })
  }

  it("lists (`arrayOf`) and envelopes compile", () => {
    assert.isDefined(compile(arrayOf(Instances.Instance).ast))
    assert.isDefined(compile(Envelope.ast))
  })
})

describe("compiled checks: the daemons' answers", () => {
  const fixture = (file: string) =>
    JSON.parse(Fs.readFileSync(new URL(`./fixtures/${file}`, import.meta.url), "utf8")) as Record<
      string,
      { readonly metadata: unknown }
    >
  for (const file of ["instances-lxd-5.0.2.json", "instances-incus-6.0.4.json"]) {
    it(`${file}: every answer is taken by the check, as the schema decodes it`, () => {
      const answers = fixture(file)
      let seen = 0
      for (const answer of Object.values(answers)) {
        // the file's own comment
        if (typeof answer !== "object") continue
        const { accepted: env, checked: envChecked } = assertSame(Envelope, answer)
        assert.isTrue(env && envChecked)
        const metadata = answer.metadata
        const schema = Array.isArray(metadata) ? arrayOf(Instances.Instance) : onePass(Instances.Instance)
        if (!Array.isArray(metadata) && (metadata as { name?: unknown }).name === undefined) continue
        const { accepted, checked } = assertSame(schema, metadata)
        assert.isTrue(accepted && checked)
        seen++
      }
      assert.isAtLeast(seen, 2)
    })
  }
})

describe("compiled checks: the constructs", () => {
  it("a union two structs can both take is left to the schema (its own order decides)", () => {
    const A = Schema.Struct({ a: Schema.String })
    const B = Schema.Struct({ a: Schema.String, b: Schema.Number })
    const schema = Schema.Union(A, B)
    const u = { a: "x", b: 1 }
    const check = compile(schema.ast)!
    assert.strictEqual(check(u), FAIL)
    assertSame(schema, u)
    assertSame(Schema.Union(B, A), u)
    // only one member takes it: the check does
    assert.deepStrictEqual(check({ a: "x" }), { a: "x" })
  })

  it("literals and keywords overlapping in a union are the input either way", () => {
    const schema = Schema.Union(Schema.Literal("a", "b"), Schema.String, Schema.Null)
    assert.strictEqual(compile(schema.ast)!("a"), "a")
    assert.strictEqual(compile(schema.ast)!(null), null)
    assert.strictEqual(compile(schema.ast)!(1), FAIL)
    assertSame(schema, 1)
  })

  it("refinements run their filter", () => {
    const schema = Schema.Struct({ name: Schema.String.pipe(Schema.minLength(2)) })
    assert.deepStrictEqual(compile(schema.ast)!({ name: "ab" }), { name: "ab" })
    assert.strictEqual(compile(schema.ast)!({ name: "a" }), FAIL)
    assertSame(schema, { name: "a" })
  })

  it("transformations run theirs; renamed keys and defaults as the schema does", () => {
    const schema = Schema.Struct({
      n: Schema.NumberFromString,
      renamed: Schema.propertySignature(Schema.String).pipe(Schema.fromKey("original")),
      d: Schema.optionalWith(Schema.Number, { default: () => 7 })
    })
    const check = compile(schema.ast)!
    assert.deepStrictEqual(check({ n: "12", original: "x" }), { n: 12, renamed: "x", d: 7 })
    assert.strictEqual(check({ n: "twelve", original: "x" }), FAIL)
    assertSame(schema, { n: "twelve", original: "x" })
    assertSame(schema, { n: "1", original: "x", d: "no" })
  })

  it("a class outside onePass decodes through its own declaration", () => {
    class Point extends Schema.Class<Point>("Point")({
      x: Schema.Number,
      y: Schema.optionalWith(Schema.Number, { default: () => 0 })
    }) {}
    const check = compile(Point.ast)!
    const p = check({ x: 1 })
    assert.instanceOf(p, Point)
    assert.deepStrictEqual(p, new Point({ x: 1, y: 0 }))
    assertSame(Point, { x: "1" })
  })

  it("a missing required key of type unknown is kept as undefined, as without `exact`", () => {
    const schema = Schema.Struct({ a: Schema.Unknown, b: Schema.optional(Schema.String) })
    assert.deepStrictEqual(compile(schema.ast)!({}), { a: undefined })
    assertSame(schema, {})
  })

  it("excess keys are dropped; arrays and null are not structs", () => {
    const schema = Schema.Struct({ a: Schema.String })
    assert.deepStrictEqual(compile(schema.ast)!({ a: "x", extra: 1 }), { a: "x" })
    assert.strictEqual(compile(schema.ast)!([]), FAIL)
    assert.strictEqual(compile(schema.ast)!(null), FAIL)
    assertSame(schema, [])
  })

  it("what it does not know is not compiled: recursive schemas, template literals", () => {
    interface Tree {
      readonly children: ReadonlyArray<Tree>
    }
    const Tree: Schema.Schema<Tree> = Schema.Struct({
      children: Schema.Array(Schema.suspend((): Schema.Schema<Tree> => Tree))
    })
    assert.isUndefined(compile(Tree.ast))
    assert.isUndefined(compile(Schema.TemplateLiteral("a", Schema.String).ast))
    // and the decoder is then the schema's own
    assertSame(Tree, { children: [{ children: [] }] })
  })

  it("other options are the schema's: excess keys preserved, exact, errors", () => {
    const schema = Schema.Struct({ a: Schema.String })
    const preserved = decodeUnknownEither(schema, { onExcessProperty: "preserve" })({ a: "x", extra: 1 })
    assert.deepStrictEqual(Either.getOrThrow(preserved), { a: "x", extra: 1 } as never)
    const exact = decodeUnknownEither(Schema.Struct({ a: Schema.Unknown }), { exact: true })({})
    assert.isTrue(Either.isLeft(exact))
  })
})
