/**
 * The errors every effect-lxd call can fail with.
 *
 * Each error is a `Schema.TaggedError`, so callers can handle them exhaustively with
 * `Effect.catchTags` and serialise them across process boundaries. Messages name the
 * resource and quote the server: `Instance "web1" not found (GET /1.0/instances/web1)`.
 *
 * No error ever carries a secret: request bodies (trust passwords, tokens) are never
 * recorded, and paths are stored without their query string (websocket secrets travel
 * in `?secret=`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Instances } from "effect-lxd"
 *
 * const program = Effect.gen(function* () {
 *   const instances = yield* Instances.Instances
 *   return yield* instances.get("web1")
 * }).pipe(
 *   Effect.catchTags({
 *     NotFound: () => Effect.succeed(undefined),
 *     LXDAPIException: (e) => Effect.logError(e.message)
 *   })
 * )
 * ```
 *
 * @since 0.1.0
 */
import * as ParseResult from "effect/ParseResult"
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"
import type { Operation } from "./internal/envelope.js"
import { resourceLabel, withoutQuery } from "./internal/path.js"
import { printable, printableLines } from "./internal/printable.js"

/**
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("effect-lxd/LxdError")

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

const describe = (resource: string | undefined, method: string, path: string) =>
  `${resource === undefined ? "" : printable(resource) + " "}(${method} ${printable(path)})`

/**
 * Where a request went: its method and path (the query is dropped: it may hold a secret).
 *
 * @since 0.1.0
 * @category models
 */
export interface RequestOrigin {
  readonly method: string
  readonly path: string
}

const labelled = (path: string): { readonly path: string; readonly resource?: string } => {
  const p = withoutQuery(path)
  const resource = resourceLabel(p)
  return resource === undefined ? { path: p } : { path: p, resource }
}

/**
 * The server answered 404: the resource does not exist (or is not visible in the
 * current project).
 *
 * @since 0.1.0
 * @category errors
 */
export class NotFound extends Schema.TaggedError<NotFound>("effect-lxd/NotFound")("NotFound", {
  /** HTTP method of the request. */
  method: Schema.String,
  /** Request path, without query string. */
  path: Schema.String,
  /** Human label of the resource, e.g. `Instance "web1"`, when it can be derived. */
  resource: Schema.optional(Schema.String),
  /** The server's own words, e.g. `Instance not found`. */
  serverMessage: Schema.String
}) {
  /**
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId

  /**
   * @since 0.1.0
   */
  override get message(): string {
    const what = this.resource === undefined ? "Resource" : printable(this.resource)
    return `${what} not found (${this.method} ${printable(this.path)}): ${printable(this.serverMessage)}`
  }
}

/**
 * The server refused a request, or a background operation failed. Carries the HTTP
 * status, LXD's `error_code`, the server's message and, for operations, the operation id.
 *
 * @since 0.1.0
 * @category errors
 */
export class LXDAPIException extends Schema.TaggedError<LXDAPIException>("effect-lxd/LXDAPIException")(
  "LXDAPIException",
  {
    /** HTTP method of the request that failed (or that started the operation). */
    method: Schema.String,
    /** Request path, without query string. */
    path: Schema.String,
    /** Human label of the resource, when it can be derived from the path. */
    resource: Schema.optional(Schema.String),
    /** HTTP status of the answer (200 for a failed operation reported through `/wait`). */
    status: Schema.Number,
    /** LXD's `error_code` (or the operation's `status_code`, e.g. 400 Failure, 401 Cancelled). */
    errorCode: Schema.Number,
    /** The server's message (`error`, or the operation's `err`). */
    serverMessage: Schema.String,
    /** The operation id, when the failure is that of a background operation. */
    operationId: Schema.optional(Schema.String)
  }
) {
  /**
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId

  /**
   * @since 0.1.0
   */
  override get message(): string {
    const op = this.operationId === undefined ? "" : ` [operation ${printable(this.operationId)}]`
    return `LXD error ${this.errorCode} ${describe(this.resource, this.method, this.path)}${op}: ${
      printable(this.serverMessage)
    }`
  }

  /**
   * A background operation that ended in failure (or was cancelled), reported for the
   * request that started it.
   *
   * @since 0.1.0
   * @category constructors
   */
  static fromOperation(operation: Operation, origin: RequestOrigin): LXDAPIException {
    return new LXDAPIException({
      method: origin.method,
      ...labelled(origin.path),
      status: 200,
      errorCode: operation.status_code,
      serverMessage: operation.err.length > 0 ? operation.err : operation.status,
      operationId: operation.id
    })
  }
}

/** The fields every refusal of a request carries (the same as `LXDAPIException`'s). */
const refusalFields = {
  /** HTTP method of the request. */
  method: Schema.String,
  /** Request path, without query string. */
  path: Schema.String,
  /** Human label of the resource, when it can be derived from the path. */
  resource: Schema.optional(Schema.String),
  /** HTTP status of the answer. */
  status: Schema.Number,
  /** LXD's `error_code`. */
  errorCode: Schema.Number,
  /** The server's message. */
  serverMessage: Schema.String
}

const refusal = (what: string, e: {
  readonly resource?: string | undefined
  readonly method: string
  readonly path: string
  readonly serverMessage: string
}) => `${what} ${describe(e.resource, e.method, e.path)}: ${printable(e.serverMessage)}`

/**
 * The server answered 403: the client may not do this (an untrusted client certificate,
 * a restricted project or certificate, an operation of another project, a refused
 * websocket secret).
 *
 * @since 0.1.0
 * @category errors
 */
export class Forbidden extends Schema.TaggedError<Forbidden>("effect-lxd/Forbidden")("Forbidden", refusalFields) {
  /**
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId

  /**
   * @since 0.1.0
   */
  override get message(): string {
    return refusal("Forbidden", this)
  }
}

/**
 * The server answered 409: the object already exists (or conflicting work is under way).
 * Not every kind says so with 409: LXD 5.0 and Incus 6.0 refuse an existing profile with
 * 500, LXD 5.0 an existing network with 400, Incus 6.0 an existing project with 500; those
 * stay `LXDAPIException` (the status is what the server says, not a guess from its words).
 *
 * @since 0.1.0
 * @category errors
 */
export class Conflict extends Schema.TaggedError<Conflict>("effect-lxd/Conflict")("Conflict", refusalFields) {
  /**
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId

  /**
   * @since 0.1.0
   */
  override get message(): string {
    return refusal("Conflict", this)
  }
}

/**
 * The server answered 412: the `If-Match` ETag is stale, the object changed since it was
 * read. `update` and `patch` read again and retry on it (see `isStale`).
 *
 * @since 0.1.0
 * @category errors
 */
export class PreconditionFailed extends Schema.TaggedError<PreconditionFailed>("effect-lxd/PreconditionFailed")(
  "PreconditionFailed",
  refusalFields
) {
  /**
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId

  /**
   * @since 0.1.0
   */
  override get message(): string {
    return refusal("Stale ETag, the object changed since it was read", this)
  }
}

/**
 * `true` for the refusal of a stale `If-Match` ETag (412): the one test for "read again
 * and retry", used by every optimistic update.
 *
 * @since 0.1.0
 * @category refinements
 */
export const isStale = (u: unknown): u is PreconditionFailed => u instanceof PreconditionFailed

/**
 * A background operation finished and was reaped by the server (LXD keeps finished
 * operations for a few seconds) before its end was seen: whether it succeeded is not
 * known. Look at the resource it worked on to find out. Carries the request that started
 * it, the operation id and the last state seen, if any.
 *
 * @since 0.1.0
 * @category errors
 */
export class OperationOutcomeUnknown extends Schema.TaggedError<OperationOutcomeUnknown>(
  "effect-lxd/OperationOutcomeUnknown"
)("OperationOutcomeUnknown", {
  /** HTTP method of the request that started the operation (`GET` when waited on by id). */
  method: Schema.String,
  /** Path of that request, without query string. */
  path: Schema.String,
  /** Human label of the resource, when it can be derived from the path. */
  resource: Schema.optional(Schema.String),
  /** The operation id. */
  operationId: Schema.String,
  /** The last status seen (`Running`, ...), when the operation was seen at all. */
  lastStatus: Schema.optional(Schema.String)
}) {
  /**
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId

  /**
   * @since 0.1.0
   */
  override get message(): string {
    const seen = this.lastStatus === undefined ? "never seen" : `last seen ${printable(this.lastStatus)}`
    // waited on by id, the origin is the operation itself: say so once
    const which = this.path.startsWith("/1.0/operations/")
      ? `Operation ${printable(this.operationId)}`
      : `The operation ${printable(this.operationId)} of ${describe(this.resource, this.method, this.path)}`
    return `${which} ended and was removed by the server before its outcome was seen (${seen}): it may or may not have succeeded`
  }

  /**
   * For the request that started the operation.
   *
   * @since 0.1.0
   * @category constructors
   */
  static of(origin: RequestOrigin, operationId: string, lastStatus?: string): OperationOutcomeUnknown {
    return new OperationOutcomeUnknown({
      method: origin.method,
      ...labelled(origin.path),
      operationId,
      ...(lastStatus === undefined ? {} : { lastStatus })
    })
  }
}

/**
 * The server lacks an API extension a call needs.
 *
 * @since 0.1.0
 * @category errors
 */
export class ExtensionNotAvailable extends Schema.TaggedError<ExtensionNotAvailable>(
  "effect-lxd/ExtensionNotAvailable"
)("ExtensionNotAvailable", {
  /** The API extension that is missing. */
  extension: Schema.String,
  /** Which server: `lxd` or `incus` (or `unknown` for untrusted views). */
  server: Schema.String,
  /** The server's version, when known. */
  serverVersion: Schema.optional(Schema.String)
}) {
  /**
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId

  /**
   * @since 0.1.0
   */
  override get message(): string {
    const version = this.serverVersion === undefined ? "" : ` ${this.serverVersion}`
    return `The server (${this.server}${version}) does not have the API extension "${this.extension}"`
  }
}

/**
 * The request never got an answer: the socket is missing, the connection was refused or
 * dropped, TLS verification failed, a websocket handshake was refused, or the layer's
 * connect timeout expired.
 *
 * @since 0.1.0
 * @category errors
 */
export class TransportError extends Schema.TaggedError<TransportError>("effect-lxd/TransportError")(
  "TransportError",
  {
    /** The address dialled: `unix:/var/lib/lxd/unix.socket` or `https://127.0.0.1:8443`. */
    address: Schema.String,
    /** HTTP method, or `WEBSOCKET`. */
    method: Schema.String,
    /** Request path, without query string. */
    path: Schema.String,
    /** What went wrong, in words (the underlying error's message). */
    reason: Schema.String,
    /** The underlying error, for debugging. */
    cause: Schema.optional(Schema.Defect)
  }
) {
  /**
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId

  /**
   * @since 0.1.0
   */
  override get message(): string {
    return `Cannot reach LXD at ${printable(this.address)} (${this.method} ${printable(this.path)}): ${
      printable(this.reason)
    }`
  }

  /**
   * From whatever the transport failed with (an undici error, an HTTP client error, a
   * socket error): the innermost message that says what happened, with its code.
   *
   * @since 0.1.0
   * @category constructors
   */
  static fromCause(address: string, origin: RequestOrigin, cause: unknown): TransportError {
    return new TransportError({
      address,
      method: origin.method,
      path: withoutQuery(origin.path),
      reason: describeCause(cause),
      cause
    })
  }
}

const describeCause = (cause: unknown): string => {
  // the platform wraps undici's errors: the innermost message with a code says most
  let current: unknown = cause
  const parts: Array<string> = []
  for (let depth = 0; depth < 5 && current !== undefined && current !== null; depth++) {
    if (typeof current === "object") {
      const message = Predicate.hasProperty(current, "message") && typeof current.message === "string"
        ? current.message
        : ""
      const code = Predicate.hasProperty(current, "code") && typeof current.code === "string" ? current.code : ""
      if (message.length > 0 && !parts.includes(message)) parts.push(code ? `${message} (${code})` : message)
      current = Predicate.hasProperty(current, "cause") ? current.cause : undefined
    } else {
      parts.push(String(current))
      break
    }
  }
  return parts.length === 0 ? "unknown transport failure" : parts[parts.length - 1]!
}

/**
 * The server's answer does not match the expected schema (or is not JSON at all).
 *
 * @since 0.1.0
 * @category errors
 */
export class DecodeError extends Schema.TaggedError<DecodeError>("effect-lxd/DecodeError")("DecodeError", {
  /** HTTP method of the request. */
  method: Schema.String,
  /** Request path, without query string. */
  path: Schema.String,
  /** The schema failure, with the path inside the document. */
  reason: Schema.String
}) {
  /**
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId

  /**
   * @since 0.1.0
   */
  override get message(): string {
    return `Unexpected answer from LXD (${this.method} ${printable(this.path)}): ${printableLines(this.reason)}`
  }

  /**
   * From a schema failure, with the path inside the document. Formatting never throws: an
   * answer too deeply nested to describe gets a short reason instead.
   *
   * @since 0.1.0
   * @category constructors
   */
  static fromParseError(origin: RequestOrigin, error: ParseResult.ParseError): DecodeError {
    let reason: string
    try {
      reason = ParseResult.TreeFormatter.formatErrorSync(error)
    } catch {
      reason = "the answer does not match the expected shape (too deeply nested to describe)"
    }
    if (reason.length > 4000) reason = reason.slice(0, 4000) + " …"
    return new DecodeError({ method: origin.method, path: withoutQuery(origin.path), reason })
  }

  /**
   * A decode failure described in words.
   *
   * @since 0.1.0
   * @category constructors
   */
  static because(origin: RequestOrigin, reason: string): DecodeError {
    return new DecodeError({ method: origin.method, path: withoutQuery(origin.path), reason })
  }
}

/**
 * Invalid input detected before any request was sent (an empty name, a relative file
 * path, an option the server cannot take).
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidArgument extends Schema.TaggedError<InvalidArgument>("effect-lxd/InvalidArgument")(
  "InvalidArgument",
  {
    /** The argument at fault. */
    argument: Schema.String,
    /** Why it was refused. */
    reason: Schema.String
  }
) {
  /**
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId

  /**
   * @since 0.1.0
   */
  override get message(): string {
    return `Invalid ${printable(this.argument)}: ${printable(this.reason)}`
  }
}

/**
 * An instance did not reach a readiness condition (`Launch.untilReady`,
 * `Launch.waitReady`) before the timeout, or before the retry schedule gave up. It says
 * which condition did not hold and what was seen last.
 *
 * @since 0.1.0
 * @category errors
 */
export class NotReady extends Schema.TaggedError<NotReady>("effect-lxd/NotReady")("NotReady", {
  /** The instance. */
  instance: Schema.String,
  /** The condition that did not hold (`running`, `inet address on eth0`, `command true`...). */
  condition: Schema.String,
  /** What the last check saw (`status Stopped`, `eth0: fe80::1/64 (link)`, `exit 1: ...`). */
  observed: Schema.String,
  /** Why the wait ended: `timeout` (after how long) or `schedule` (the schedule gave up). */
  reason: Schema.String
}) {
  /**
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId

  /**
   * @since 0.1.0
   */
  override get message(): string {
    return `Instance ${printable(this.instance)} not ready (${printable(this.reason)}): ${
      printable(this.condition)
    } did not hold; last seen: ${printable(this.observed)}`
  }
}

/**
 * What an error answer of the server becomes: a tagged error per status that has a
 * meaning of its own, `LXDAPIException` for the others.
 *
 * @since 0.1.0
 * @category errors
 */
export type Refusal = NotFound | Forbidden | Conflict | PreconditionFailed | LXDAPIException

/**
 * The typed error for an error answer (an error envelope, or a failure status without
 * one): `NotFound` for 404, `Forbidden` for 403, `Conflict` for 409, `PreconditionFailed`
 * for 412, `LXDAPIException` otherwise. The HTTP status decides, else LXD's `error_code`
 * (an error envelope behind HTTP 200, as `/wait` answers). The resource is named from the
 * path.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromErrorAnswer = (
  origin: RequestOrigin,
  answer: { readonly status: number; readonly errorCode: number; readonly serverMessage: string }
): Refusal => {
  const where = { method: origin.method, ...labelled(origin.path) }
  const code = answer.status >= 400 ? answer.status : answer.errorCode
  switch (code) {
    case 404:
      return new NotFound({ ...where, serverMessage: answer.serverMessage })
    case 403:
      return new Forbidden({ ...where, ...answer })
    case 409:
      return new Conflict({ ...where, ...answer })
    case 412:
      return new PreconditionFailed({ ...where, ...answer })
    default:
      return new LXDAPIException({ ...where, ...answer })
  }
}

/**
 * Any error effect-lxd produces.
 *
 * @since 0.1.0
 * @category errors
 */
export type LxdError =
  | NotFound
  | Forbidden
  | Conflict
  | PreconditionFailed
  | LXDAPIException
  | OperationOutcomeUnknown
  | ExtensionNotAvailable
  | TransportError
  | DecodeError
  | InvalidArgument
  | NotReady

/**
 * The errors of a request to the server (what `LxdHttp` calls can fail with).
 * `InvalidArgument` is among them because every request is checked before it is sent: a
 * name that is empty, `.`, `..` or holds a control character never leaves the process.
 * `OperationOutcomeUnknown` is among them because a request that starts background work
 * waits for it, and `ExtensionNotAvailable` because a query the server would silently
 * ignore (`all-projects` without the listing's extension, `target` without clustering)
 * is refused before it is sent.
 *
 * @since 0.1.0
 * @category errors
 */
export type RequestError =
  | Refusal
  | OperationOutcomeUnknown
  | ExtensionNotAvailable
  | TransportError
  | DecodeError
  | InvalidArgument

/**
 * Schema of the union, for serialising errors (e.g. across workers or RPC).
 *
 * @since 0.1.0
 * @category schemas
 */
export const LxdError: Schema.Union<[
  typeof NotFound,
  typeof Forbidden,
  typeof Conflict,
  typeof PreconditionFailed,
  typeof LXDAPIException,
  typeof OperationOutcomeUnknown,
  typeof ExtensionNotAvailable,
  typeof TransportError,
  typeof DecodeError,
  typeof InvalidArgument
]> = Schema.Union(
  NotFound,
  Forbidden,
  Conflict,
  PreconditionFailed,
  LXDAPIException,
  OperationOutcomeUnknown,
  ExtensionNotAvailable,
  TransportError,
  DecodeError,
  InvalidArgument
)

/**
 * @since 0.1.0
 * @category refinements
 */
export const isLxdError = (u: unknown): u is LxdError => Predicate.hasProperty(u, TypeId)
