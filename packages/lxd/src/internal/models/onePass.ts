/**
 * Server answers decoded into `Schema.Class` models in one pass.
 *
 * A class whose fields have defaults (`Schema.optionalWith(..., { default })`) decodes in
 * three steps: the fields as sent (the encoded side), the defaults put in (each one an
 * `Option` and a `delete` on the half-decoded object), then every field checked again
 * against its type (the type side: the maps, the lists, the strings once more), before the
 * class is constructed. `onePass(Class)` is the same decoding without the second check: the
 * fields as sent go through the very same schemas, the same default functions fill in what
 * is missing, into a new object, and the class is constructed as its own decoding does it
 * (`new Class(props, true)`). What it gives is what the class gives: the fields' schemas
 * already produce values of their types, so the type side has nothing left to find.
 *
 * Anything that does not decode on that path (a malformed answer) goes through the class
 * itself, so the failure is the class's own issue, path and message; so do the options the
 * shortcut does not model (`onExcessProperty: "preserve"`, `propertyOrder: "original"`)
 * and classes of another shape (filters, custom transformations), which are their own
 * `onePass`.
 */
import * as Arbitrary from "effect/Arbitrary"
import type * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Pretty from "effect/Pretty"
import * as Schema from "effect/Schema"
import * as AST from "effect/SchemaAST"
import { type Check, compile, FAIL, registerCheck, standsForOptions } from "./compiled.js"

/**
 * A schema that decodes with `decode` and encodes with `encode`, and otherwise stands for
 * `original`: its description (so issues and messages read the same), JSON Schema,
 * arbitrary, pretty printer and equivalence.
 */
export const standingFor = <A, I>(
  original: Schema.Schema<A, I, never>,
  decode: (u: unknown, options: AST.ParseOptions) => Effect.Effect<A, ParseResult.ParseIssue>,
  encode: (u: unknown, options: AST.ParseOptions) => Effect.Effect<I, ParseResult.ParseIssue>,
  /** The compiled check of the decoding (`compiled.ts`), made when first needed. */
  check?: () => Check | undefined
): Schema.Schema<A, I, never> => {
  const schema = Schema.declare<A, I, readonly []>([], {
    decode: () => decode,
    encode: () => encode
  }, {
    title: String(original.ast),
    arbitrary: () => () => Arbitrary.make(Schema.typeSchema(original)),
    pretty: () => Pretty.make(Schema.typeSchema(original)),
    equivalence: () => Schema.equivalence(original),
    [AST.SurrogateAnnotationId]: original.ast
  })
  if (check !== undefined) registerCheck(schema.ast, check)
  return schema
}

/** `make()`, made on the first call. */
export const lazily = <A>(make: () => A): () => A => {
  let made: { readonly value: A } | undefined
  return () => (made ??= { value: make() }).value
}

/** What a `Schema.Class` is at run time, as far as decoding goes. */
export interface ClassSchema {
  new(props: Record<PropertyKey, unknown>, disableValidation: true): object
  readonly ast: AST.AST
  readonly fields: Schema.Struct.Fields
}

/** One field of the type side: where its value comes from in the encoded one. */
interface Step {
  readonly to: PropertyKey
  readonly from: PropertyKey
  /** The field's default (or other key transformation), when it has one. */
  readonly decode?: ((o: Option.Option<unknown>) => Option.Option<unknown>) | undefined
}

interface Plan {
  /** The encoded side: the fields as the server sends them. */
  readonly encoded: AST.TypeLiteral
  readonly steps: ReadonlyArray<Step>
}

const isClassSchema = (schema: Schema.Schema.Any): boolean => {
  const ast = schema.ast
  // a class is a function with `fields`, decoded as a transformation into its declaration
  return typeof (schema as unknown) === "function" && "fields" in schema && AST.isTransformation(ast) &&
    AST.isDeclaration(ast.to)
}

const hasParseAnnotations = (ast: AST.AST): boolean =>
  Option.isSome(AST.getParseOptionsAnnotation(ast)) || Option.isSome(AST.getDecodingFallbackAnnotation(ast))

/** The plan of a class whose encoded side is a plain struct, or a struct with per-field defaults. */
const planOf = (klass: ClassSchema): Plan | undefined => {
  const classAst = klass.ast as AST.Transformation
  const side = classAst.from
  if (hasParseAnnotations(classAst) || hasParseAnnotations(side)) return undefined
  if (AST.isTypeLiteral(side)) {
    if (side.indexSignatures.length > 0) return undefined
    return { encoded: side, steps: side.propertySignatures.map((ps) => ({ to: ps.name, from: ps.name })) }
  }
  if (
    AST.isTransformation(side) && AST.isTypeLiteralTransformation(side.transformation) &&
    AST.isTypeLiteral(side.from) && AST.isTypeLiteral(side.to) &&
    side.from.indexSignatures.length === 0 && side.to.indexSignatures.length === 0 &&
    !hasParseAnnotations(side.from) && !hasParseAnnotations(side.to)
  ) {
    const byTarget = new Map(side.transformation.propertySignatureTransformations.map((t) => [t.to, t]))
    return {
      encoded: side.from,
      steps: side.to.propertySignatures.map((ps) => {
        const t = byTarget.get(ps.name)
        return t === undefined ? { to: ps.name, from: ps.name } : { to: ps.name, from: t.from, decode: t.decode }
      })
    }
  }
  return undefined
}

// the base every plain `Schema.Class` extends (`Data.Class`), read off a class made here
class Reference extends Schema.Class<Reference>("effect-lxd/onePass/Reference")({}) {}
const plainBase: unknown = Object.getPrototypeOf(Object.getPrototypeOf(Reference))

// a class with nothing between its braces, as `Function.prototype.toString` gives it (no
// member of a class body ends in `{`, so a source that does is an empty body)
const emptyBody = /\{\s*\}\s*$/

type Defaults = ReadonlyArray<readonly [string | symbol, () => unknown]>

/** The fields the class's constructor fills in when they are `undefined` (constructor defaults). */
const constructorDefaults = (fields: Schema.Struct.Fields): Defaults => {
  const out: Array<readonly [string | symbol, () => unknown]> = []
  for (const key of Reflect.ownKeys(fields)) {
    const field = fields[key]
    if (!Schema.isPropertySignature(field)) continue
    const ast = field.ast
    const value = ast._tag === "PropertySignatureDeclaration" ? ast.defaultValue : ast.to.defaultValue
    if (value !== undefined) out.push([key, value])
  }
  return out
}

/**
 * How the decoded value is made from its fields. `new klass(props, true)` copies the
 * fields, looks through all of the class's fields for constructor defaults (on every
 * call), and assigns the fields to the new value (`Data.Class`). When the class adds
 * nothing to that (a plain `Schema.Class`, and the classes between it and `klass` have
 * empty bodies) and constructing it from no fields gives only its constructor defaults
 * (no field initialisers), the same value is the fields, with those defaults where they
 * are `undefined`, assigned to an object of the class's prototype: no copies, and the
 * defaults found once. Any other class is constructed.
 */
export const constructorOf = (klass: ClassSchema): (props: Record<PropertyKey, unknown>) => object => {
  const defaults = constructorDefaults(klass.fields)
  if (!isPlainClass(klass, defaults)) return (props) => new klass(props, true)
  const prototype = (klass as unknown as { readonly prototype: object }).prototype
  return (props) => {
    // `props` is `build`'s new object: filled in place
    for (const [key, value] of defaults) if (props[key] === undefined) props[key] = value()
    return Object.assign(Object.create(prototype) as object, props)
  }
}

/** Whether `klass` is a class `constructorOf` makes values of without its constructor (see there). */
export const isPlainClass = (klass: ClassSchema, defaults = constructorDefaults(klass.fields)): boolean => {
  let own: unknown = klass
  // the class `Schema.Class` made is the one that owns `fields`; the ones below it are the caller's
  while (typeof own === "function" && !Object.hasOwn(own, "fields")) {
    if (!emptyBody.test(Function.prototype.toString.call(own))) return false
    own = Object.getPrototypeOf(own)
  }
  if (typeof own !== "function" || Object.getPrototypeOf(own) !== plainBase) return false
  try {
    const keys = Reflect.ownKeys(new klass({}, true))
    return keys.length === defaults.length && defaults.every(([key]) => keys.includes(key))
  } catch {
    return false
  }
}

const build = (steps: ReadonlyArray<Step>, encoded: Record<PropertyKey, unknown>): Record<PropertyKey, unknown> => {
  const props: Record<PropertyKey, unknown> = {}
  for (const step of steps) {
    const present = Object.hasOwn(encoded, step.from)
    if (step.decode === undefined) {
      if (present) props[step.to] = encoded[step.from]
    } else {
      const value = step.decode(present ? Option.some(encoded[step.from]) : Option.none())
      if (Option.isSome(value)) props[step.to] = value.value
    }
  }
  return props
}

const make = <A, I>(schema: Schema.Schema<A, I, never>): Schema.Schema<A, I, never> => {
  if (!isClassSchema(schema)) return schema
  const klass = schema as unknown as ClassSchema
  const plan = planOf(klass)
  if (plan === undefined) return schema
  const decodeEncoded = ParseResult.decodeUnknownEither(Schema.make(plan.encoded))
  // the class's own parsers are built when first needed (a failure, an encoding), not up front
  const decodeClass = lazily(() => ParseResult.decodeUnknown(schema))
  const encodeClass = lazily(() => ParseResult.encodeUnknown(schema))
  // the encoded side compiled (`compiled.ts`), when all of it compiles
  const checkEncoded = lazily(() => compile(plan.encoded))
  const construct = lazily(() => constructorOf(klass))
  const check = lazily((): Check | undefined => {
    const encoded = checkEncoded()
    if (encoded === undefined) return undefined
    return (u) => {
      const fields = encoded(u)
      return fields === FAIL ? FAIL : construct()(build(plan.steps, fields as Record<PropertyKey, unknown>))
    }
  })
  return standingFor(
    schema,
    (u, options) => {
      if (options.onExcessProperty === "preserve" || options.propertyOrder === "original") {
        return decodeClass()(u, options)
      }
      const fast = standsForOptions(options) ? check() : undefined
      if (fast !== undefined) {
        const value = fast(u)
        if (value !== FAIL) return ParseResult.succeed(value as A)
      }
      const encoded = decodeEncoded(u, options)
      // a failure (or a field that is not synchronous) is the class's to report
      if (!Either.isEither(encoded) || Either.isLeft(encoded)) return decodeClass()(u, options)
      return ParseResult.succeed(construct()(build(plan.steps, encoded.right as Record<PropertyKey, unknown>)) as A)
    },
    (u, options) => encodeClass()(u, options),
    check
  )
}

const made = new WeakMap<Schema.Schema.Any, Schema.Schema.Any>()

/**
 * `schema`, decoded in one pass when it is a `Schema.Class` of that shape (see above);
 * any other schema as it is. One per schema.
 */
export const onePass = <A, I>(schema: Schema.Schema<A, I, never>): Schema.Schema<A, I, never> => {
  const known = made.get(schema)
  if (known !== undefined) return known as Schema.Schema<A, I, never>
  const fast = make(schema)
  made.set(schema, fast)
  return fast
}
