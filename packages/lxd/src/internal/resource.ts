/**
 * Small helpers shared by the resource services (profiles, projects, networks, storage,
 * warnings): name listings, `exists`, writes that may run in the background. The common
 * model field shapes are in `models/fields.ts`.
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type { LxdRequest, Service as Http } from "../LxdHttp.js"
import type { ExtensionNotAvailable, RequestError } from "../LxdError.js"
import type { Service as Ops } from "../Operations.js"
import { arrayOf } from "./models/fields.js"
import { nameFromUrl, type QueryValue } from "./path.js"
import { optimisticUpdate, type UpdateOptions } from "./update.js"

/** `GET` a collection without recursion and return the decoded last segments of its URLs. */
export const listNames = (http: Http, request: Omit<LxdRequest, "method">): Effect.Effect<
  ReadonlyArray<string>,
  RequestError
> =>
  Effect.map(
    http.sync({ ...request, method: "GET" }, Schema.NullOr(Schema.Array(Schema.String))),
    (urls) => (urls ?? []).map(nameFromUrl)
  )

/** `true` when `get` succeeds, `false` on `NotFound`; other failures pass through. */
export const exists = <A, E extends { readonly _tag: string }, R>(
  get: Effect.Effect<A, E, R>
): Effect.Effect<boolean, Exclude<E, Extract<E, { readonly _tag: "NotFound" }>>, R> =>
  Effect.catchIf(
    Effect.as(get, true),
    (e): e is Extract<E, { readonly _tag: "NotFound" }> => e._tag === "NotFound",
    () => Effect.succeed(false)
  )

/** Send a mutating request and wait for it, whether the server answers sync or with an operation. */
export const run = (ops: Ops, request: LxdRequest): Effect.Effect<void, RequestError> => Effect.asVoid(ops.run(request))

/** Drop `undefined` values (the server treats a missing key and an explicit value differently). */
export const defined = <T extends Record<string, unknown>>(o: T): { [K in keyof T]: Exclude<T[K], undefined> } => {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v
  return out as { [K in keyof T]: Exclude<T[K], undefined> }
}

/**
 * The usual calls on one kind of object, by path: every service builds its public
 * methods from these, so they behave alike (recursion for lists, URL decoding for names,
 * ETag updates with retry, writes that wait for background work). `X` is
 * `ExtensionNotAvailable` when the calls are guarded by an extension, else `never`.
 */
export interface Crud<A, P, X> {
  readonly list: (
    collection: string,
    query?: Readonly<Record<string, QueryValue>>
  ) => Effect.Effect<ReadonlyArray<A>, RequestError | X>
  readonly listNames: (collection: string) => Effect.Effect<ReadonlyArray<string>, RequestError | X>
  readonly get: (item: string) => Effect.Effect<A, RequestError | X>
  readonly exists: (item: string) => Effect.Effect<boolean, RequestError | X>
  /** POST `body` to the collection, then read the new object back from `item`. */
  readonly create: (collection: string, body: unknown, item: string) => Effect.Effect<A, RequestError | X>
  readonly put: (item: string, body: P, etag?: string | undefined) => Effect.Effect<void, RequestError | X>
  readonly patch: (item: string, body: Partial<P>) => Effect.Effect<void, RequestError | X>
  readonly update: (
    item: string,
    f: (current: P) => P,
    options?: UpdateOptions
  ) => Effect.Effect<void, RequestError | X>
  readonly rename: (item: string, newName: string) => Effect.Effect<void, RequestError | X>
  readonly delete: (item: string) => Effect.Effect<void, RequestError | X>
}

/** What `crud` needs. */
export interface CrudOptions<A, I, P> {
  readonly http: Http
  readonly ops: Ops
  readonly schema: Schema.Schema<A, I, never>
  readonly toPut: (a: A) => P
  /** Checked before every call. */
  readonly extension?: string | undefined
  /** Server-wide objects: never send `?project=`. */
  readonly global?: boolean | undefined
}

/**
 * PATCH with the meaning callers expect: only the given fields change. LXD's PATCH
 * handlers merge `config` but take every other field from the body, so an omitted
 * `description` (or ACL rule list) would be cleared. The other writable fields are read
 * (with the ETag) and sent along; `config` is left to the server's merge; a concurrent
 * change answers 412 and the whole step is retried.
 */
export const patchKeeping = <A, I, P>(options: {
  readonly http: Http
  readonly ops: Ops
  readonly path: string
  readonly schema: Schema.Schema<A, I, never>
  readonly toPut: (a: A) => P
  readonly changes: Partial<P>
  readonly project?: null | undefined
}): Effect.Effect<void, RequestError> =>
  optimisticUpdate(
    Effect.map(
      options.http.syncWithEtag({ method: "GET", path: options.path, project: options.project }, options.schema),
      ({ etag, value }) => ({ value: options.toPut(value), etag })
    ),
    (current) => {
      const body: Record<string, unknown> = {}
      for (const [key, value] of Object.entries(current as Record<string, unknown>)) {
        if (key !== "config") body[key] = value
      }
      return { ...body, ...options.changes }
    },
    (body, etag) => run(options.ops, { method: "PATCH", path: options.path, body, etag, project: options.project })
  )

export function crud<A, I, P>(options: CrudOptions<A, I, P> & { readonly extension: string }): Crud<A, P, ExtensionNotAvailable>
export function crud<A, I, P>(options: CrudOptions<A, I, P> & { readonly extension?: undefined }): Crud<A, P, never>
export function crud<A, I, P>(options: CrudOptions<A, I, P>): Crud<A, P, ExtensionNotAvailable> {
  const { http, ops, schema } = options
  const scope: { readonly project?: null } = options.global ? { project: null } : {}
  const guard = <B, E>(effect: Effect.Effect<B, E>): Effect.Effect<B, E | ExtensionNotAvailable> =>
    options.extension === undefined ? effect : Effect.zipRight(http.requireExtension(options.extension), effect)
  const get = (item: string) => http.sync({ method: "GET", path: item, ...scope }, schema)
  const put = (item: string, body: P, etag?: string | undefined) =>
    run(ops, { method: "PUT", path: item, body, etag, ...scope })
  return {
    list: (collection, query) =>
      guard(http.sync({ method: "GET", path: collection, query: { recursion: 1, ...query }, ...scope }, arrayOf(schema))),
    listNames: (collection) => guard(listNames(http, { path: collection, ...scope })),
    get: (item) => guard(get(item)),
    exists: (item) => guard(exists(get(item))),
    create: (collection, body, item) =>
      guard(Effect.zipRight(run(ops, { method: "POST", path: collection, body, ...scope }), get(item))),
    put: (item, body, etag) => guard(put(item, body, etag)),
    patch: (item, changes) =>
      guard(patchKeeping({ http, ops, path: item, schema, toPut: options.toPut, changes, project: scope.project })),
    update: (item, f, updateOptions) =>
      guard(
        optimisticUpdate(
          Effect.map(http.syncWithEtag({ method: "GET", path: item, ...scope }, schema), ({ etag, value }) => ({
            value: options.toPut(value),
            etag
          })),
          f,
          (body, etag) => put(item, body, etag),
          updateOptions
        )
      ),
    rename: (item, newName) => guard(run(ops, { method: "POST", path: item, body: { name: newName }, ...scope })),
    delete: (item) => guard(run(ops, { method: "DELETE", path: item, ...scope }))
  }
}
