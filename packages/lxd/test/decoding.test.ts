import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as JSONSchema from "effect/JSONSchema"
import * as Layer from "effect/Layer"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type * as SchemaAST from "effect/SchemaAST"
import * as Fs from "node:fs"
import { Instances, LxdHttp, Operations } from "../src/index.js"
import { Operation } from "../src/internal/envelope.js"
import { Backup } from "../src/internal/models/backup.js"
import {
  arrayOf,
  ConfigMap,
  ConfigRecord,
  DeviceMap,
  DeviceRecord,
  optionalStrings
} from "../src/internal/models/fields.js"
import { InstanceState } from "../src/internal/models/instance.js"
import { type ClassSchema, constructorOf, isPlainClass, onePass } from "../src/internal/models/onePass.js"
import { Snapshot } from "../src/internal/models/snapshot.js"
import { DecodeError } from "../src/LxdError.js"
import { fakeServer, json, serverInfo, sync } from "./fakeServer.js"

// The decoding of server answers was made cheaper (string maps checked by a loop, classes
// decoded in one pass, decoders built once). These tests hold it to the decoding it
// replaced: `Schema.Record` maps and the class's own two-pass decoding, on answers LXD
// 5.0.2 and Incus 6.0.4 really sent (test/fixtures), and on malformed variants of them.

// an answer to spoil in place, field by field (what the server sent is untyped JSON)
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Answer = Record<string, any>

interface Envelope {
  readonly metadata: unknown
}
const fixture = (file: string) =>
  JSON.parse(Fs.readFileSync(new URL(`./fixtures/${file}`, import.meta.url), "utf8")) as Record<string, Envelope>
const lxd = fixture("instances-lxd-5.0.2.json")
const incus = fixture("instances-incus-6.0.4.json")

// -- the decoding before: the same fields with `Schema.Record` maps, decoded by the class itself --

const recordConfig = Schema.optionalWith(ConfigRecord, { nullable: true, default: () => ({}) })
const recordDevices = Schema.optionalWith(DeviceRecord, { nullable: true, default: () => ({}) })

// the same identifier as the model, so that the two describe their issues in the same words
class RecordInstance extends Schema.Class<RecordInstance>("effect-lxd/Instance")({
  name: Schema.String,
  type: Schema.optionalWith(Schema.String, { default: () => "container" }),
  status: Schema.String,
  status_code: Schema.Number,
  architecture: Schema.String,
  config: recordConfig,
  devices: recordDevices,
  ephemeral: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  profiles: optionalStrings,
  stateful: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  description: Schema.optionalWith(Schema.String, { default: () => "" }),
  created_at: Schema.String,
  last_used_at: Schema.optional(Schema.String),
  location: Schema.optional(Schema.String),
  project: Schema.optional(Schema.String),
  expanded_config: recordConfig,
  expanded_devices: recordDevices
}) {}

class RecordSnapshot extends Schema.Class<RecordSnapshot>("effect-lxd/Snapshot")({
  ...Snapshot.fields,
  config: recordConfig,
  devices: recordDevices,
  expanded_config: recordConfig,
  expanded_devices: recordDevices
}) {}

class RecordInstanceFull extends RecordInstance.extend<RecordInstanceFull>("effect-lxd/InstanceFull")({
  state: Schema.optionalWith(InstanceState, { nullable: true }),
  snapshots: Schema.optionalWith(Schema.Array(RecordSnapshot), { nullable: true, default: () => [] }),
  backups: Schema.optionalWith(Schema.Array(Backup), { nullable: true, default: () => [] })
}) {}

/** A list as `arrayOf` read it before: `null` as `[]`, the elements decoded by their own schema. */
const recordArrayOf = <A, I>(schema: Schema.Schema<A, I, never>) =>
  Schema.transform(Schema.NullOr(Schema.Array(schema)), Schema.Array(Schema.typeSchema(schema)), {
    strict: true,
    decode: (a) => a ?? [],
    encode: (a) => a
  })

const before = { onExcessProperty: "ignore" } as const

/** The outcome as data: the value's own fields (any class), or the issue as the tree formatter writes it. */
const outcome = <A, I>(
  schema: Schema.Schema<A, I, never>,
  input: unknown,
  options: SchemaAST.ParseOptions = before
) =>
  Either.match(Schema.decodeUnknownEither(schema, options)(structuredClone(input)), {
    onLeft: (e) => ({ failed: ParseResult.TreeFormatter.formatErrorSync(e) }),
    onRight: (value) => ({ value: plain(value) })
  })

/** A decoded value with its class instances as plain objects (to compare two classes of the same fields). */
const plain = (u: unknown): unknown =>
  Array.isArray(u)
    ? u.map(plain)
    : typeof u === "object" && u !== null
    ? Object.fromEntries(Object.entries(u).map(([k, v]) => [k, plain(v)]))
    : u

const metadata = (envelope: Envelope | undefined) => {
  assert.isDefined(envelope)
  return envelope.metadata
}

describe("decoding: the models against the decoding they replaced", () => {
  it("the reference classes have the models' fields", () => {
    assert.deepStrictEqual(Object.keys(RecordInstance.fields), Object.keys(Instances.Instance.fields))
    assert.deepStrictEqual(Object.keys(RecordInstanceFull.fields), Object.keys(Instances.InstanceFull.fields))
    assert.deepStrictEqual(Object.keys(RecordSnapshot.fields), Object.keys(Snapshot.fields))
  })

  const real: ReadonlyArray<[string, unknown]> = [
    ["LXD 5.0.2 instance", metadata(lxd.get)],
    ["Incus 6.0.4 instance", metadata(incus.get)],
    ["LXD 5.0.2 running instance (recursion 1)", metadata(lxd.full)],
    ["Incus 6.0.4 running instance (recursion 1)", metadata(incus.full)]
  ]

  for (const [what, answer] of real) {
    it(`${what}: the model and its one-pass decoding give what the Record maps gave`, () => {
      const expected = outcome(RecordInstance, answer)
      assert.property(expected, "value")
      assert.deepStrictEqual(outcome(Instances.Instance, answer), expected)
      assert.deepStrictEqual(outcome(onePass(Instances.Instance), answer), expected)
      const decoded = Schema.decodeUnknownSync(onePass(Instances.Instance), before)(answer)
      assert.instanceOf(decoded, Instances.Instance)
    })
  }

  for (const [what, answer] of real.slice(2)) {
    it(`${what}: state, snapshots and backups too`, () => {
      const expected = outcome(RecordInstanceFull, answer)
      assert.property(expected, "value")
      assert.deepStrictEqual(outcome(Instances.InstanceFull, answer), expected)
      assert.deepStrictEqual(outcome(onePass(Instances.InstanceFull), answer), expected)
      const decoded = Schema.decodeUnknownSync(onePass(Instances.InstanceFull), before)(answer)
      assert.instanceOf(decoded, Instances.InstanceFull)
      assert.instanceOf(decoded.state, InstanceState)
      assert.instanceOf(decoded.snapshots[0], Snapshot)
    })
  }

  it("a list with recursion decodes as an array of the Record-map class did", () => {
    const answer = metadata(lxd.list)
    const expected = outcome(recordArrayOf(RecordInstance), answer)
    assert.property(expected, "value")
    assert.deepStrictEqual(outcome(arrayOf(Instances.Instance), answer), expected)
    assert.deepStrictEqual(outcome(arrayOf(Instances.Instance), null), { value: [] })
    assert.strictEqual(arrayOf(Instances.Instance), arrayOf(Instances.Instance), "one schema per element schema")
  })

  // each is one way an answer can be wrong, on a real answer; the issue must be the one
  // the class gave with Record maps, word for word (its path names the field)
  const broken: ReadonlyArray<[string, (i: Answer) => void]> = [
    ["a config value that is a number", (i) => (i.config["user.x"] = 7)],
    ["a config that is a list", (i) => (i.config = ["a"])],
    ["a config that is a string", (i) => (i.expanded_config = "x")],
    ["a device that is null", (i) => (i.expanded_devices.eth0 = null)],
    ["a device setting that is a number", (i) => (i.expanded_devices.root.size = 10)],
    ["devices that are a list", (i) => (i.devices = [])],
    ["no name", (i) => delete i.name],
    ["a status code that is a string", (i) => (i.status_code = "102")],
    ["profiles that are not a list", (i) => (i.profiles = "default")],
    ["ephemeral that is a string", (i) => (i.ephemeral = "no")],
    ["two faults at once", (i) => ((i.config["a"] = 1), (i.name = 5))]
  ]
  const fine: ReadonlyArray<[string, (i: Answer) => void]> = [
    ["null maps and lists", (i) => ((i.config = null), (i.devices = null), (i.profiles = null))],
    ["absent maps and defaults", (i) => (delete i.expanded_config, delete i.type, delete i.ephemeral)],
    ["fields we do not know", (i) => ((i.newer_field = { a: 1 }), (i.config["x"] = "y"))],
    ["an optional field sent as absent", (i) => delete i.last_used_at]
  ]

  for (const [what, spoil] of [...broken, ...fine]) {
    it(`${what}: the same outcome as before`, () => {
      const answer = structuredClone(metadata(lxd.get)) as Answer
      spoil(answer)
      const expected = outcome(RecordInstance, answer)
      if (broken.some(([name]) => name === what)) assert.property(expected, "failed")
      else assert.property(expected, "value")
      assert.deepStrictEqual(outcome(Instances.Instance, answer), expected)
      assert.deepStrictEqual(outcome(onePass(Instances.Instance), answer), expected)
      // every issue, not only the first
      const all = { ...before, errors: "all" } as const
      assert.deepStrictEqual(outcome(onePass(Instances.Instance), answer, all), outcome(RecordInstance, answer, all))
      // and in a list, at its index
      const list = [metadata(lxd.get), answer]
      assert.deepStrictEqual(outcome(arrayOf(Instances.Instance), list), outcome(recordArrayOf(RecordInstance), list))
    })
  }

  it("options the one pass does not model go through the class: excess properties preserved, original order", () => {
    const answer = { ...(metadata(lxd.get) as object), newer_field: "kept" }
    for (const options of [{ onExcessProperty: "preserve" }, { propertyOrder: "original" }] as const) {
      const expected = Schema.decodeUnknownSync(Instances.Instance, options)(answer)
      const got = Schema.decodeUnknownSync(onePass(Instances.Instance), options)(answer)
      assert.deepStrictEqual(Object.keys(got), Object.keys(expected))
      assert.deepStrictEqual({ ...got }, { ...expected })
    }
  })

  it("an operation decodes as the class decodes it", () => {
    const op = {
      id: "5f1e",
      class: "task",
      description: "Creating instance",
      created_at: "2026-12-01T20:00:00Z",
      updated_at: "2026-12-01T20:00:01Z",
      status: "Running",
      status_code: 103,
      resources: { instances: ["/1.0/instances/c1"], cluster: null },
      metadata: null,
      may_cancel: false,
      err: "",
      location: "none"
    }
    const expected = outcome(Operation, op)
    assert.property(expected, "value")
    assert.deepStrictEqual(outcome(onePass(Operation), op), expected)
    assert.deepStrictEqual(
      outcome(onePass(Operation), { ...op, status_code: "x" }),
      outcome(Operation, { ...op, status_code: "x" })
    )
    assert.isTrue(Schema.decodeUnknownSync(onePass(Operation))(op) instanceof Operation)
  })

  it("the models' values are made without their constructors, and equal what the constructors make", () => {
    // a plain class: its value is its fields on an object of its prototype
    for (const model of [Instances.Instance, InstanceState, Snapshot, Backup]) {
      assert.isTrue(isPlainClass(model as unknown as ClassSchema), model.identifier)
    }
    const answer = metadata(lxd.get) as Record<string, unknown>
    const got = Schema.decodeUnknownSync(onePass(Instances.Instance))(answer)
    const made = new Instances.Instance(Schema.decodeUnknownSync(Instances.Instance)(answer), {
      disableValidation: true
    })
    assert.deepStrictEqual(got, made)
    assert.strictEqual(Object.getPrototypeOf(got), Instances.Instance.prototype)
    assert.deepStrictEqual(Reflect.ownKeys(got).sort(), Reflect.ownKeys(made).sort())
    // a constructor default (not a decoding one) is still put in
    class WithDefault extends Schema.Class<WithDefault>("WithDefault")({
      a: Schema.String,
      b: Schema.String.pipe(Schema.propertySignature, Schema.withConstructorDefault(() => "made"))
    }) {}
    assert.isTrue(isPlainClass(WithDefault as unknown as ClassSchema))
    assert.deepStrictEqual(
      outcome(onePass(WithDefault), { a: "x", b: "sent" }),
      outcome(WithDefault, { a: "x", b: "sent" })
    )
    // the maker of a plain class fills the given fields in place (the constructor would
    // copy them first): the direct path is the one taken
    const props: Record<string, unknown> = { a: "x" }
    const value = constructorOf(WithDefault as unknown as ClassSchema)(props)
    assert.deepStrictEqual(props, { a: "x", b: "made" })
    assert.deepStrictEqual(value, new WithDefault({ a: "x" }))
    assert.instanceOf(value, WithDefault)
  })

  it("a class whose constructor does more is constructed: initialisers, a constructor, members, tags, subclasses", () => {
    let constructed = 0
    class Initialised extends Schema.Class<Initialised>("Initialised")({ a: Schema.String }) {
      readonly seen = true
    }
    class Counted extends Schema.Class<Counted>("Counted")({ a: Schema.String }) {
      constructor(props: { readonly a: string }, options?: boolean) {
        super(props, options)
        constructed++
      }
    }
    class WithGetter extends Schema.Class<WithGetter>("WithGetter")({ a: Schema.String }) {
      get upper() {
        return this.a.toUpperCase()
      }
    }
    class Tagged extends Schema.TaggedClass<Tagged>()("Tagged", { a: Schema.String }) {}
    class Base extends Schema.Class<Base>("Base")({ a: Schema.String }) {
      readonly fromBase = 1
    }
    class Sub extends Base {}
    class Extended extends Base.extend<Extended>("Extended")({ b: Schema.String }) {}
    for (const klass of [Initialised, Counted, WithGetter, Tagged, Sub, Extended]) {
      assert.isFalse(isPlainClass(klass as unknown as ClassSchema), klass.name)
    }
    const input = { _tag: "Tagged", a: "x", b: "y" }
    for (const klass of [Initialised, Counted, WithGetter, Tagged, Sub, Extended] as const) {
      const fast = Schema.decodeUnknownSync(onePass(klass as Schema.Schema<object, object>))(input)
      const slow = Schema.decodeUnknownSync(klass as Schema.Schema<object, object>)(input)
      assert.deepStrictEqual(fast, slow)
      assert.strictEqual(Object.getPrototypeOf(fast), klass.prototype)
    }
    // the constructor ran for both decodings
    assert.strictEqual(constructed, 2)
    // and the maker of such a class constructs it, leaving the given fields alone
    const given: Record<string, unknown> = { a: "x" }
    assert.instanceOf(constructorOf(Counted as unknown as ClassSchema)(given), Counted)
    assert.strictEqual(constructed, 3)
    assert.deepStrictEqual(given, { a: "x" })
    assert.isTrue((Schema.decodeUnknownSync(onePass(Initialised))(input)).seen)
    assert.strictEqual(Schema.decodeUnknownSync(onePass(WithGetter))(input).upper, "X")
  })

  it("schemas that are not classes of that shape are their own one pass", () => {
    const s = Schema.Struct({ a: Schema.String })
    assert.strictEqual(onePass(s), s)
    class Filtered extends Schema.Class<Filtered>("Filtered")(
      Schema.Struct({ a: Schema.Number }).pipe(Schema.filter((x) => x.a > 0))
    ) {}
    assert.strictEqual(onePass(Filtered), Filtered)
  })
})

describe("decoding: string maps", () => {
  const cases: ReadonlyArray<[string, unknown]> = [
    ["empty", {}],
    ["strings", { "limits.cpu": "1", "user.x": "" }],
    ["a number", { a: "1", b: 2 }],
    ["null", null],
    ["a list", ["a"]],
    ["a string", "a"],
    ["no prototype", Object.assign(Object.create(null), { a: "1" })],
    [
      "a class instance",
      new (class {
        a = "1"
      })()
    ]
  ]
  for (const [what, input] of cases) {
    it(`${what}: ConfigMap decodes and encodes as the Record did`, () => {
      assert.deepStrictEqual(outcome(ConfigMap, input), outcome(ConfigRecord, input))
      assert.deepStrictEqual(
        Either.isRight(Schema.encodeUnknownEither(ConfigMap)(input)),
        Either.isRight(Schema.encodeUnknownEither(ConfigRecord)(input))
      )
      const devices = { eth0: input }
      assert.deepStrictEqual(outcome(DeviceMap, devices), outcome(DeviceRecord, devices))
    })
  }

  it("a non-plain object is decoded by the Record itself (a new plain object)", () => {
    const odd = Object.assign(Object.create(null), { a: "1" })
    const decoded = Schema.decodeUnknownSync(ConfigMap)(odd)
    assert.notStrictEqual(decoded, odd)
    assert.strictEqual(Object.getPrototypeOf(decoded), Object.prototype)
  })

  it("a `__proto__` key from the server is kept as a key (the Record dropped it)", () => {
    const sent = JSON.parse(`{"__proto__": "x", "a": "1"}`) as unknown
    assert.deepStrictEqual(Object.keys(Schema.decodeUnknownSync(ConfigMap)(sent)), ["__proto__", "a"])
    assert.deepStrictEqual(Object.keys(Schema.decodeUnknownSync(ConfigRecord)(sent)), ["a"])
  })

  it("the maps describe themselves as the Records did (JSON Schema, messages)", () => {
    assert.deepStrictEqual(JSONSchema.make(ConfigMap), JSONSchema.make(ConfigRecord))
    assert.deepStrictEqual(JSONSchema.make(DeviceMap), JSONSchema.make(DeviceRecord))
    assert.strictEqual(String(ConfigMap.ast), String(ConfigRecord.ast))
    assert.strictEqual(String(DeviceMap.ast), String(DeviceRecord.ast))
  })
})

describe("decoding: through the protocol", () => {
  /** The reason a DecodeError gave for `input` with the decoding before (the same formatting and length limit). */
  const reasonBefore = <A, I>(schema: Schema.Schema<A, I, never>, input: unknown, path: string) => {
    const decoded = Schema.decodeUnknownEither(schema, before)(input)
    assert.isTrue(Either.isLeft(decoded))
    return Either.isLeft(decoded) ? DecodeError.fromParseError({ method: "GET", path }, decoded.left).reason : ""
  }

  const served = (answer: unknown) =>
    Effect.gen(function*() {
      const { socketPath } = yield* fakeServer((req, res) => json(res, 200, sync(answer)), serverInfo())
      const http = yield* LxdHttp.connect({ _tag: "Unix", socketPath })
      return yield* Instances.make.pipe(
        Effect.provideService(LxdHttp.LxdHttp, http),
        Effect.provide(Operations.layer.pipe(Layer.provide(Layer.succeed(LxdHttp.LxdHttp, http))))
      )
    })

  it.scoped("Instances.get and list give what the Record maps gave, on the daemons' answers", () =>
    Effect.gen(function*() {
      for (const answer of [metadata(lxd.get), metadata(incus.get)]) {
        const instances = yield* served(answer)
        const got = yield* instances.get("c1")
        assert.instanceOf(got, Instances.Instance)
        assert.deepStrictEqual({ value: plain(got) }, outcome(RecordInstance, answer))
      }
      const list = metadata(lxd.list)
      const all = yield* (yield* served(list)).list()
      assert.strictEqual(all.length, 3)
      assert.deepStrictEqual({ value: plain(all) }, outcome(recordArrayOf(RecordInstance), list))
      const full = metadata(incus.full)
      const one = yield* (yield* served(full)).getFull("c1")
      assert.deepStrictEqual({ value: plain(one) }, outcome(RecordInstanceFull, full))
    }))

  it.scoped("a malformed answer is a DecodeError with the issue the Record maps gave, naming the field", () =>
    Effect.gen(function*() {
      const answer = structuredClone(metadata(lxd.get)) as Answer
      answer.expanded_devices.root.size = 10
      const error = yield* Effect.flip((yield* served(answer)).get("c1"))
      assert.strictEqual(error._tag, "DecodeError")
      if (error._tag !== "DecodeError") return
      assert.strictEqual(error.reason, reasonBefore(RecordInstance, answer, "/1.0/instances/c1"))
      assert.include(error.reason, `["expanded_devices"]`)
      assert.include(error.reason, `["size"]`)
      assert.include(error.message, "GET /1.0/instances/c1")

      const list = [metadata(lxd.get), { ...answer, expanded_devices: {}, config: { a: 1 } }]
      const listError = yield* Effect.flip((yield* served(list)).list())
      assert.strictEqual(listError._tag, "DecodeError")
      if (listError._tag !== "DecodeError") return
      assert.strictEqual(listError.reason, reasonBefore(recordArrayOf(RecordInstance), list, "/1.0/instances"))
      assert.include(listError.reason, "[1]")
      assert.include(listError.reason, `["config"]`)
    }))
})
