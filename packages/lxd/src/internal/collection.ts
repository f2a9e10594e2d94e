/**
 * The one resource builder: from a descriptor of a collection (paths, schema, writable
 * view, extension, scope, patch semantics) it makes the calls `Resource.Collection`
 * declares, so every service's CRUD behaves alike: lists with recursion that read `null`
 * as `[]`, decoded names, ETag updates retried on 412, `patch` that changes only the given
 * fields, and every write through `Operations.run` (sync or background answers).
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type { ExtensionNotAvailable, RequestError } from "../LxdError.js"
import type { LxdRequest, Service as Http } from "../LxdHttp.js"
import type { Service as Ops } from "../Operations.js"
import type * as Resource from "../Resource.js"
import { arrayOf } from "./models/fields.js"
import { nameFromUrl, type QueryValue } from "./path.js"
import { optimisticUpdate } from "./update.js"
import { checkNewName } from "./validation.js"

/**
 * How `patch` reaches "only the given fields change".
 *
 * - `"PATCH"` (default): read with the ETag; send every writable field except those in
 *   `merged` (the server merges those keys itself, `config` by default), overlaid with the
 *   changes; `PATCH` with `If-Match`.
 * - `"PUT"`: for servers whose `PATCH` handler is broken for this kind (LXD 5.0 and Incus
 *   6.0 on network zones and records): read with the ETag, merge the `merged` maps
 *   client-side, `PUT` the result with `If-Match`.
 *
 * Either way a 412 starts the step again.
 */
export interface PatchSemantics<P> {
  readonly via?: "PATCH" | "PUT" | undefined
  /** Map-valued fields whose keys the server (or, via `PUT`, the client) merges. Default `["config"]`. */
  readonly merged?: ReadonlyArray<keyof P & string> | undefined
}

/** What a collection is. */
export interface Descriptor<
  A,
  I,
  P,
  C,
  Parents extends ReadonlyArray<unknown>,
  Item extends ReadonlyArray<unknown>
> {
  /** The collection's path from the parents' names (encoded, e.g. with `path`; one parameter per parent). */
  readonly collection: (...parents: Parents) => string
  /**
   * One object's path. Write it with exactly one parameter per element of `Item` (no
   * defaults, no rest): its `length` tells the calls where the item's arguments end.
   */
  readonly item: (...item: Item) => string
  /** The object as read. */
  readonly schema: Schema.Schema<A, I, never>
  /** Its writable view (what `PUT` replaces and `update` sees). */
  readonly toPut: (a: A) => P
  /** The `POST` body of `create` (a collection without it has no `create`: omit it from the service). */
  readonly createBody?: ((options: C) => unknown) | undefined
  /**
   * The name of the object `create` makes: it is read back at `item(...parents, name)`.
   * (A collection whose items are not named that way writes its own `create` with `createAt`.)
   */
  readonly createdName?: ((options: C) => string) | undefined
  /** Applied to every body written (`put`, `patch` changes, `update` results), e.g. to normalise lists. */
  readonly writeBody?: ((body: Partial<P>) => Partial<P>) | undefined
  /** An API extension checked before every call (the failure type then has `ExtensionNotAvailable`). */
  readonly extension?: string | undefined
  /**
   * `project` (default): the current project applies. `server`: server-wide objects, never
   * sent with `?project=`. `cluster`: cluster-wide objects, sent with neither `?project=`
   * nor `?target=`.
   */
  readonly scope?: "project" | "server" | "cluster" | undefined
  readonly patch?: PatchSemantics<P> | undefined
}

/**
 * The builder's answer: the public surface (`calls`, to spread into a service) and the
 * primitives services use to write their own variants (a list with a query, a create with
 * an unusual body, a delete with options).
 */
export interface Built<
  A,
  P,
  C,
  Parents extends ReadonlyArray<unknown>,
  X,
  Item extends ReadonlyArray<unknown>
> {
  readonly calls: Resource.Collection<A, P, C, Parents, X, Item>
  /** `list` with extra query parameters (`all-projects`, `filter`). */
  readonly listWhere: (
    parents: Parents,
    query: Readonly<Record<string, QueryValue>>
  ) => Resource.Call<ReadonlyArray<A>, X>
  /** `listNames` with extra query parameters. */
  readonly listNamesWhere: (
    parents: Parents,
    query: Readonly<Record<string, QueryValue>>
  ) => Resource.Call<ReadonlyArray<string>, X>
  /** `POST` `body` to the collection, then read the object at `item`. */
  readonly createAt: (parents: Parents, body: unknown, item: Item) => Resource.Call<A, X>
  /** Send a request in this collection's scope through `Operations.run`, behind the extension check. */
  readonly write: (request: LxdRequest) => Resource.Call<void, X>
  /** Runs `effect` behind the extension check. */
  readonly guard: <B, E>(effect: Effect.Effect<B, E>) => Effect.Effect<B, E | X>
}

const Urls = Schema.NullOr(Schema.Array(Schema.String))

const scopeOf = (
  scope: "project" | "server" | "cluster" | undefined
): { readonly project?: null; readonly target?: null } =>
  scope === "cluster" ? { project: null, target: null } : scope === "server" ? { project: null } : {}

/** The `PATCH` body: the writable fields but the merged ones, overlaid with the changes. */
export const keepingBody = <P>(current: P, changes: Partial<P>, merged: ReadonlyArray<string>): Partial<P> => {
  const body: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(current as Record<string, unknown>)) {
    if (!merged.includes(key)) body[key] = value
  }
  return { ...body, ...changes } as Partial<P>
}

/** The `PUT` body of a client-side patch: the changes over the current view, merged maps merged. */
export const mergedBody = <P>(current: P, changes: Partial<P>, merged: ReadonlyArray<string>): P => {
  const out: Record<string, unknown> = { ...current, ...changes }
  for (const key of merged) {
    const before = (current as Record<string, unknown>)[key]
    const given = (changes as Record<string, unknown>)[key]
    if (given !== undefined) out[key] = { ...(before as object | undefined), ...(given as object) }
  }
  return out as P
}

export function collection<A, I, P, C, Parents extends ReadonlyArray<unknown>, Item extends ReadonlyArray<unknown>>(
  http: Http,
  ops: Ops,
  descriptor: Descriptor<A, I, P, C, Parents, Item> & { readonly extension: string }
): Built<A, P, C, Parents, ExtensionNotAvailable, Item>
export function collection<A, I, P, C, Parents extends ReadonlyArray<unknown>, Item extends ReadonlyArray<unknown>>(
  http: Http,
  ops: Ops,
  descriptor: Descriptor<A, I, P, C, Parents, Item> & { readonly extension?: undefined }
): Built<A, P, C, Parents, never, Item>
export function collection<A, I, P, C, Parents extends ReadonlyArray<unknown>, Item extends ReadonlyArray<unknown>>(
  http: Http,
  ops: Ops,
  d: Descriptor<A, I, P, C, Parents, Item>
): Built<A, P, C, Parents, ExtensionNotAvailable, Item> {
  const scope = scopeOf(d.scope)
  const merged: ReadonlyArray<string> = d.patch?.merged ?? ["config"]
  const writeBody = d.writeBody ?? ((body: Partial<P>) => body)
  const guard = <B, E>(effect: Effect.Effect<B, E>): Effect.Effect<B, E | ExtensionNotAvailable> =>
    d.extension === undefined ? effect : Effect.zipRight(http.requireExtension(d.extension), effect)
  const send = (request: LxdRequest): Effect.Effect<void, RequestError> =>
    Effect.asVoid(ops.run({ ...request, ...scope }))
  const read = (item: Item) => http.sync({ method: "GET", path: d.item(...item), ...scope }, d.schema)
  const readWritable = (item: Item) =>
    Effect.map(
      http.syncWithEtag({ method: "GET", path: d.item(...item), ...scope }, d.schema),
      ({ etag, value }) => ({ value: d.toPut(value), etag })
    )
  const listWhere = (parents: Parents, query: Readonly<Record<string, QueryValue>>) =>
    guard(
      http.sync(
        { method: "GET", path: d.collection(...parents), query: { recursion: 1, ...query }, ...scope },
        arrayOf(d.schema)
      )
    )
  const listNamesWhere = (parents: Parents, query: Readonly<Record<string, QueryValue>>) =>
    guard(
      Effect.map(
        http.sync({ method: "GET", path: d.collection(...parents), query, ...scope }, Urls),
        (urls) => (urls ?? []).map(nameFromUrl)
      )
    )
  const createAt = (parents: Parents, body: unknown, item: Item) =>
    guard(Effect.zipRight(send({ method: "POST", path: d.collection(...parents), body }), read(item)))
  // calls take `(...item, ...rest)`: the item is the first `arity` arguments
  const arity = d.item.length
  const itemOf = (args: ReadonlyArray<unknown>) => args.slice(0, arity) as unknown as Item
  const patch = (item: Item, changes: Partial<P>) => {
    const path = d.item(...item)
    return d.patch?.via === "PUT"
      ? optimisticUpdate(
        readWritable(item),
        (current) => writeBody(mergedBody(current, changes, merged)),
        (body, etag) => send({ method: "PUT", path, body, etag })
      )
      : optimisticUpdate(
        readWritable(item),
        (current) => keepingBody(current, writeBody(changes), merged),
        (body, etag) => send({ method: "PATCH", path, body, etag })
      )
  }
  const calls: Resource.Collection<A, P, C, Parents, ExtensionNotAvailable, Item> = {
    list: (...parents) => listWhere(parents, {}),
    listNames: (...parents) => listNamesWhere(parents, {}),
    get: (...item) => guard(read(item)),
    exists: (...item) =>
      guard(
        Effect.catchIf(
          Effect.as(read(item), true),
          (e) => e._tag === "NotFound",
          () => Effect.succeed(false)
        )
      ),
    create: (...args) => {
      if (d.createBody === undefined || d.createdName === undefined) {
        return Effect.dieMessage("this collection has no create")
      }
      const parents = args.slice(0, d.collection.length) as unknown as Parents
      const options = args[d.collection.length] as C
      const name = d.createdName(options)
      const item = [...parents, name] as unknown as Item
      return Effect.zipRight(checkNewName(name), createAt(parents, d.createBody(options), item))
    },
    put: (...args) => {
      const body = args[arity] as P
      const options = args[arity + 1] as Resource.PutOptions | undefined
      return guard(send({ method: "PUT", path: d.item(...itemOf(args)), body: writeBody(body), etag: options?.etag }))
    },
    patch: (...args) => guard(patch(itemOf(args), args[arity] as Partial<P>)),
    update: (...args) => {
      const item = itemOf(args)
      const f = args[arity] as (current: P) => P
      const options = args[arity + 1] as Resource.UpdateOptions | undefined
      return guard(
        optimisticUpdate(
          readWritable(item),
          (current) => writeBody(f(current)) as P,
          (body, etag) => send({ method: "PUT", path: d.item(...item), body, etag }),
          options
        )
      )
    },
    rename: (...args) => {
      const newName = args[arity] as string
      return Effect.zipRight(
        checkNewName(newName, "new name"),
        guard(send({ method: "POST", path: d.item(...itemOf(args)), body: { name: newName } }))
      )
    },
    delete: (...item) => guard(send({ method: "DELETE", path: d.item(...item) }))
  }
  return { calls, listWhere, listNamesWhere, createAt, write: (request) => guard(send(request)), guard }
}

/** What a singleton object is: one path per argument tuple (the server's `/1.0`, an instance's metadata). */
export interface SingletonDescriptor<A, I, V, Args extends ReadonlyArray<unknown>> {
  readonly path: (...args: Args) => string
  /** The object as read. */
  readonly schema: Schema.Schema<A, I, never>
  /** What `update`'s function sees of the object as read. */
  readonly toPut: (a: A) => V
  /** As for a collection: `server` objects are never sent with `?project=`, `cluster` ones with neither it nor `?target=`. */
  readonly scope?: "project" | "server" | "cluster" | undefined
}

/**
 * The calls of an object that exists once (no list, create or delete): `get`, `put` (of
 * the writable body `P`), `update` (from the view `V` to `P`).
 */
export interface SingletonCalls<A, V, P, Args extends ReadonlyArray<unknown>> {
  readonly get: (...args: Args) => Effect.Effect<A, RequestError>
  readonly put: (...args: [...args: Args, body: P, options?: Resource.PutOptions]) => Effect.Effect<void, RequestError>
  readonly update: (
    ...args: [...args: Args, f: (current: V) => P, options?: Resource.UpdateOptions]
  ) => Effect.Effect<void, RequestError>
}

/** The same reads and ETag writes as `collection`, for an object that exists once. */
export const singleton = <P>() =>
<A, I, V, Args extends ReadonlyArray<unknown>>(
  http: Http,
  ops: Ops,
  d: SingletonDescriptor<A, I, V, Args>
): SingletonCalls<A, V, P, Args> => {
  const scope = scopeOf(d.scope)
  const arity = d.path.length
  const pathOf = (args: ReadonlyArray<unknown>) => d.path(...(args.slice(0, arity) as unknown as Args))
  const send = (request: LxdRequest) => Effect.asVoid(ops.run({ ...request, ...scope }))
  return {
    get: (...args) => http.sync({ method: "GET", path: d.path(...args), ...scope }, d.schema),
    put: (...args) => {
      const options = args[arity + 1] as Resource.PutOptions | undefined
      return send({ method: "PUT", path: pathOf(args), body: args[arity], etag: options?.etag })
    },
    update: (...args) => {
      const path = pathOf(args)
      const f = args[arity] as (current: V) => P
      return optimisticUpdate(
        Effect.map(
          http.syncWithEtag({ method: "GET", path, ...scope }, d.schema),
          ({ etag, value }) => ({ value: d.toPut(value), etag })
        ),
        f,
        (body, etag) => send({ method: "PUT", path, body, etag }),
        args[arity + 1] as Resource.UpdateOptions | undefined
      )
    }
  }
}
