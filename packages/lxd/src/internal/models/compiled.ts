/**
 * Server answers checked by code made once per schema, before the schema's own parser.
 *
 * `ParseResult` interprets a schema's AST on every decode: each field goes through a
 * parser closure that answers with an `Either`, each struct through the code that handles
 * excess keys, index signatures, concurrency and error collection, whatever the schema
 * uses. For an answer that decodes (nearly all of them) most of that is not needed.
 * `compile(ast)` walks the AST once and returns a plain function that gives the decoded
 * value, or `FAIL`, using the schema's own pieces where it transforms (the transformation
 * functions, the filters, the defaults of `onePass`).
 *
 * `FAIL` is never an answer: the caller then decodes with the schema itself, so a
 * malformed answer fails with the schema's own issue, path and message. The compiled
 * check may therefore refuse more than the schema does (a struct given an array, a union
 * whose members could both take the input): it must only never accept what the schema
 * refuses, and must give what the schema gives when it accepts. The decoding options it
 * stands for are `onExcessProperty` "ignore" (or absent), `exact` off and the default
 * property order; any other options go through the schema.
 *
 * An AST it does not know (suspensions, template literals, compositions) is not compiled
 * at all: `compile` returns `undefined` and the schema decodes as before.
 */
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as AST from "effect/SchemaAST"

/** What a compiled check returns for an input it does not take. */
export const FAIL: unique symbol = Symbol.for("effect-lxd/compiled/FAIL")

/** The decoded value, or `FAIL`. */
export type Check = (u: unknown) => unknown

/** The options the compiled checks stand for. */
export const compiledOptions: AST.ParseOptions = { onExcessProperty: "ignore" }

/** Whether decoding with `options` gives what the compiled checks give. */
export const standsForOptions = (options: AST.ParseOptions | undefined): boolean =>
  options === undefined ||
  ((options.onExcessProperty === undefined || options.onExcessProperty === "ignore") &&
    options.exact !== true && (options.propertyOrder === undefined || options.propertyOrder === "none"))

// declarations that know their own check (`standingFor`), made when first needed
const declared = new WeakMap<AST.AST, () => Check | undefined>()

/** `ast` (a declaration) is checked by `check()`. */
export const registerCheck = (ast: AST.AST, check: () => Check | undefined): void => {
  declared.set(ast, check)
}

const compiled = new WeakMap<AST.AST, Check | null>()

/** The compiled check of `ast`, or `undefined` when it has a part this module does not know. */
export const compile = (ast: AST.AST): Check | undefined => {
  const known = compiled.get(ast)
  if (known !== undefined) return known ?? undefined
  // a schema that refers to itself is not compiled: mark it while it is being made
  compiled.set(ast, null)
  const check = make(ast)
  compiled.set(ast, check ?? null)
  return check
}

/** Whether a member's value is its input (so two such members taking one input agree). */
const isIdentity = (ast: AST.AST): boolean => {
  switch (ast._tag) {
    case "StringKeyword":
    case "NumberKeyword":
    case "BooleanKeyword":
    case "BigIntKeyword":
    case "SymbolKeyword":
    case "UndefinedKeyword":
    case "VoidKeyword":
    case "UnknownKeyword":
    case "AnyKeyword":
    case "Literal":
    case "UniqueSymbol":
    case "Enums":
      return true
    case "Union":
      return ast.types.every(isIdentity)
    default:
      return false
  }
}

const keyword = (accepts: (u: unknown) => boolean): Check => (u) => accepts(u) ? u : FAIL

const make = (ast: AST.AST): Check | undefined => {
  switch (ast._tag) {
    case "StringKeyword":
      return keyword((u) => typeof u === "string")
    case "NumberKeyword":
      return keyword((u) => typeof u === "number")
    case "BooleanKeyword":
      return keyword((u) => typeof u === "boolean")
    case "BigIntKeyword":
      return keyword((u) => typeof u === "bigint")
    case "SymbolKeyword":
      return keyword((u) => typeof u === "symbol")
    case "UndefinedKeyword":
    case "VoidKeyword":
      return keyword((u) => u === undefined)
    case "UnknownKeyword":
    case "AnyKeyword":
      return (u) => u
    case "NeverKeyword":
      return () => FAIL
    case "Literal": {
      const literal = ast.literal
      return keyword((u) => u === literal)
    }
    case "UniqueSymbol": {
      const symbol = ast.symbol
      return keyword((u) => u === symbol)
    }
    case "Enums": {
      const values = ast.enums.map(([, value]) => value)
      return keyword((u) => values.includes(u as string | number))
    }
    case "Union":
      return union(ast)
    case "TupleType":
      return tuple(ast)
    case "TypeLiteral":
      return typeLiteral(ast)
    case "Refinement":
      return refinement(ast)
    case "Transformation":
      return transformation(ast)
    case "Declaration": {
      const registered = declared.get(ast)
      if (registered !== undefined) return registered()
      // any other declaration (a class's instance side, say): its own parser, when synchronous
      const parse = ast.decodeUnknown(...ast.typeParameters)
      return (u) => {
        try {
          return settled(parse(u, compiledOptions, ast))
        } catch {
          return FAIL
        }
      }
    }
    default:
      // Suspend, TemplateLiteral, ObjectKeyword: the schema's own parser
      return undefined
  }
}

const union = (ast: AST.Union): Check | undefined => {
  const members: Array<readonly [Check, boolean]> = []
  for (const member of ast.types) {
    const check = compile(member)
    if (check === undefined) return undefined
    members.push([check, isIdentity(member)])
  }
  return (u) => {
    // the schema tries its members in an order of its own: take the input only when
    // every member that takes it gives the same value (the input itself), or one does
    let found: unknown = FAIL
    let identity = true
    let takers = 0
    for (const [check, same] of members) {
      const value = check(u)
      if (value === FAIL) continue
      takers++
      if (found === FAIL) found = value
      identity &&= same
    }
    return takers === 1 || (takers > 1 && identity) ? found : FAIL
  }
}

const tuple = (ast: AST.TupleType): Check | undefined => {
  // arrays only: `Schema.Array(item)`
  if (ast.elements.length !== 0 || ast.rest.length !== 1) return undefined
  const item = compile(ast.rest[0]!.type)
  if (item === undefined) return undefined
  return (u) => {
    if (!Array.isArray(u)) return FAIL
    const out = new Array(u.length)
    for (let i = 0; i < u.length; i++) {
      const value = item(u[i])
      if (value === FAIL) return FAIL
      out[i] = value
    }
    return out
  }
}

interface Field {
  readonly name: string
  readonly optional: boolean
  readonly check: Check
}

/** `Schema.Record({ key: Schema.String, value })`: every own key, each value checked, into a new object. */
const record = (signature: AST.IndexSignature): Check | undefined => {
  if (!AST.isStringKeyword(signature.parameter)) return undefined
  const value = compile(signature.type)
  if (value === undefined) return undefined
  return (u) => {
    if (typeof u !== "object" || u === null || Array.isArray(u)) return FAIL
    const input = u as Record<string, unknown>
    // built as the schema builds it (a `__proto__` key included)
    const out: Record<string, unknown> = {}
    for (const key of Object.keys(input)) {
      const v = value(input[key])
      if (v === FAIL) return FAIL
      out[key] = v
    }
    return out
  }
}

const typeLiteral = (ast: AST.TypeLiteral): Check | undefined => {
  if (ast.indexSignatures.length > 0) {
    return ast.propertySignatures.length === 0 && ast.indexSignatures.length === 1
      ? record(ast.indexSignatures[0]!)
      : undefined
  }
  // `{}` accepts anything but null and undefined, as itself
  if (ast.propertySignatures.length === 0) return keyword((u) => u !== null && u !== undefined)
  const fields: Array<Field> = []
  for (const ps of ast.propertySignatures) {
    if (typeof ps.name !== "string") return undefined
    const check = compile(ps.type)
    if (check === undefined) return undefined
    fields.push({ name: ps.name, optional: ps.isOptional, check })
  }
  return (u) => {
    if (typeof u !== "object" || u === null || Array.isArray(u)) return FAIL
    const input = u as Record<string, unknown>
    const out: Record<string, unknown> = {}
    for (const field of fields) {
      const has = Object.hasOwn(input, field.name)
      // as the schema does without `exact`: a missing required key is checked as `undefined`
      if (!has && field.optional) continue
      const value = field.check(has ? input[field.name] : undefined)
      if (value === FAIL) return FAIL
      out[field.name] = value
    }
    return out
  }
}

const refinement = (ast: AST.Refinement): Check | undefined => {
  const from = compile(ast.from)
  if (from === undefined) return undefined
  return (u) => {
    const value = from(u)
    if (value === FAIL) return FAIL
    return Option.isNone(ast.filter(value, compiledOptions, ast)) ? value : FAIL
  }
}

/** The value of a transformation's synchronous result, or `FAIL`. */
const settled = (result: unknown): unknown => Either.isEither(result) && Either.isRight(result) ? result.right : FAIL

const transformation = (ast: AST.Transformation): Check | undefined => {
  const from = compile(ast.from)
  const to = compile(ast.to)
  if (from === undefined || to === undefined) return undefined
  const step = transformationStep(ast)
  if (step === undefined) return undefined
  return (u) => {
    const a = from(u)
    if (a === FAIL) return FAIL
    const b = step(a, u)
    return b === FAIL ? FAIL : to(b)
  }
}

/** The middle of a transformation, as the schema's parser runs it between its two sides. */
const transformationStep = (ast: AST.Transformation): ((a: unknown, u: unknown) => unknown) | undefined => {
  const t = ast.transformation
  if (AST.isFinalTransformation(t)) {
    return (a, u) => {
      try {
        return settled(t.decode(a, compiledOptions, ast, u))
      } catch {
        // the schema's parser throws it again
        return FAIL
      }
    }
  }
  if (AST.isTypeLiteralTransformation(t)) {
    // renamed keys and defaults (`optionalWith`, `fromKey`): each key's `Option` in, one out
    const steps = t.propertySignatureTransformations
    return (a) => {
      const out: Record<PropertyKey, unknown> = { ...(a as Record<PropertyKey, unknown>) }
      for (const pst of steps) {
        const value = pst.decode(Object.hasOwn(out, pst.from) ? Option.some(out[pst.from]) : Option.none())
        delete out[pst.from]
        if (Option.isSome(value)) out[pst.to] = value.value
      }
      return out
    }
  }
  // a composition: the schema's own parser
  return undefined
}

/**
 * `Schema.decodeUnknownEither(schema, options)` with the compiled check first (when the
 * schema compiles and the options are those it stands for). The check is made on the
 * first decode, not when the module loads.
 */
export const decodeUnknownEither = <A, I>(
  schema: Schema.Schema<A, I, never>,
  options?: AST.ParseOptions
): (u: unknown) => Either.Either<A, ParseResult.ParseError> => {
  const slow = Schema.decodeUnknownEither(schema, options)
  return standsForOptions(options) ? checkedFirst<A, typeof slow>(schema.ast, slow) : slow
}

/**
 * `slow` (a decoder of `ast` with the options the checks stand for) with the compiled check
 * in front, made on the first call: what the check takes is `Either.right`, the rest is `slow`'s.
 */
export const checkedFirst = <A, D extends (u: unknown) => unknown>(
  ast: AST.AST,
  slow: D
): (u: unknown) => Either.Either<A, never> | ReturnType<D> => {
  let check: Check | undefined | null = null
  return (u) => {
    if (check === null) check = compile(ast)
    if (check !== undefined) {
      const value = check(u)
      if (value !== FAIL) return Either.right(value as A)
    }
    return slow(u) as ReturnType<D>
  }
}
