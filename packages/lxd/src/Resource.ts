/**
 * The calls every collection of the API offers, declared once. Each service's `Service`
 * (profiles, networks and their forwards, storage pools, volumes and their snapshots,
 * cluster members, certificates, image aliases, ...) extends these interfaces, so the
 * same name means the same thing everywhere:
 *
 * - `list` — every object, in full (one `GET` with `recursion=1`; `null` reads as `[]`).
 * - `listNames` — the names (the last segment of each URL, decoded).
 * - `get` — one object; `NotFound` when there is none.
 * - `exists` — `true` when `get` succeeds, `false` on `NotFound`; other failures pass.
 * - `create` — `POST` to the collection, then the object read back as the server stored it.
 * - `put` — replace every writable field (`PUT`), optionally guarded by an ETag.
 * - `patch` — **only the given fields change**. LXD's `PATCH` handlers merge `config`
 *   keys but take most other fields from the body, so an omitted `description` (or rule
 *   list, or port list) would be cleared. `patch` therefore reads the object with its
 *   ETag, sends the other writable fields as they are together with the changes, and
 *   lets the server merge the map-valued fields (`config`, and `devices` for profiles);
 *   the write carries `If-Match` and the whole step is retried when the object changed
 *   meanwhile (412). Keys of `config` given in the changes are set; the others stay.
 *   Where a server's `PATCH` handler is broken for a kind (network zones and records,
 *   cluster groups on LXD 5.0), the same is done with `PUT`: read, merge the changes into
 *   the writable fields (`config` keys merged), write with `If-Match`.
 * - `update` — read with the ETag, apply a pure function to the writable fields, `PUT`
 *   the result with `If-Match`; retried on 412.
 * - `rename` — `POST` with the new name.
 * - `delete` — `DELETE`.
 *
 * Every write waits for its background operation when the server answers with one.
 *
 * **Addressing.** A collection is reached through the names of its parents, given first:
 * `Parents` is the tuple of those arguments (`[]` for a top-level collection such as
 * profiles, `[network: string]` for a network's forwards, `[volume: VolumeRef]` for a
 * volume's snapshots), and `Item` the tuple that names one object (by default the parents
 * followed by `name: string`). So `forwards.get(network, listenAddress)`,
 * `forwards.list(network)` and `profiles.list()` all read the same way: parents first,
 * then the object, then the body or options. The calls stay plain functions of all
 * their arguments (no currying), so a call site shows every name it touches.
 *
 * `X` is the extra failure of a collection guarded by an API extension
 * (`ExtensionNotAvailable`, checked before every call), `never` otherwise.
 *
 * @example
 * ```ts
 * import type { Effect } from "effect"
 * import type { LxdError, Resource } from "effect-lxd"
 *
 * // a helper that works on any collection with top-level names
 * const names = <A>(c: Resource.Readable<A>): Effect.Effect<ReadonlyArray<string>, LxdError.RequestError> =>
 *   c.listNames()
 * ```
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import type { UpdateOptions } from "./internal/update.js"
import type { RequestError } from "./LxdError.js"

export type {
  /**
   * Options of `update` (`retries`: how many times to retry after a 412, default 5).
   *
   * @since 0.1.0
   * @category options
   */
  UpdateOptions
}

/**
 * Options of `put`.
 *
 * @since 0.1.0
 * @category options
 */
export interface PutOptions {
  /** Sent as `If-Match`: the server answers 412 when the object changed since. */
  readonly etag?: string | undefined
}

/**
 * What a call of a collection guarded by `X` yields.
 *
 * @since 0.1.0
 * @category models
 */
export type Call<A, X = never> = Effect.Effect<A, RequestError | X>

/**
 * The reading calls: `list`, `listNames`, `get`, `exists`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Readable<
  A,
  Parents extends ReadonlyArray<unknown> = [],
  X = never,
  Item extends ReadonlyArray<unknown> = [...Parents, name: string]
> {
  /** Every object of the collection, in full. */
  readonly list: (...parents: Parents) => Call<ReadonlyArray<A>, X>
  /** The names of the objects (the decoded last segments of their URLs). */
  readonly listNames: (...parents: Parents) => Call<ReadonlyArray<string>, X>
  /** One object; fails with `NotFound` when there is none. */
  readonly get: (...item: Item) => Call<A, X>
  /** `true` when the object exists, `false` on `NotFound`; other failures pass through. */
  readonly exists: (...item: Item) => Call<boolean, X>
}

/**
 * `create`: `POST` to the collection, then the new object as the server stored it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Creatable<A, C, Parents extends ReadonlyArray<unknown> = [], X = never> {
  readonly create: (...args: [...parents: Parents, options: C]) => Call<A, X>
}

/**
 * The writing calls on the writable view `P` of an object: `put`, `patch`, `update`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Writable<
  P,
  Parents extends ReadonlyArray<unknown> = [],
  X = never,
  Item extends ReadonlyArray<unknown> = [...Parents, name: string]
> {
  /** Replace every writable field (`PUT`), guarded by `options.etag` when given. */
  readonly put: (...args: [...item: Item, body: P, options?: PutOptions]) => Call<void, X>
  /**
   * Change only the given fields: the others keep their values, `config` keys not named
   * in `changes` stay (read with the ETag, the other writable fields sent along, `PATCH`
   * with `If-Match`, retried on 412).
   */
  readonly patch: (...args: [...item: Item, changes: Partial<P>]) => Call<void, X>
  /** Read with the ETag, apply `f`, `PUT` the result with `If-Match`; retried on 412. */
  readonly update: (...args: [...item: Item, f: (current: P) => P, options?: UpdateOptions]) => Call<void, X>
}

/**
 * `rename`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Renamable<
  Parents extends ReadonlyArray<unknown> = [],
  X = never,
  Item extends ReadonlyArray<unknown> = [...Parents, name: string]
> {
  readonly rename: (...args: [...item: Item, newName: string]) => Call<void, X>
}

/**
 * `delete`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Deletable<
  Parents extends ReadonlyArray<unknown> = [],
  X = never,
  Item extends ReadonlyArray<unknown> = [...Parents, name: string]
> {
  readonly delete: (...item: Item) => Call<void, X>
}

/**
 * A collection without `rename`: list, listNames, get, exists, create, put, patch,
 * update, delete. `A` is the object as read, `P` its writable view, `C` the options of
 * `create`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Fixed<
  A,
  P,
  C,
  Parents extends ReadonlyArray<unknown> = [],
  X = never,
  Item extends ReadonlyArray<unknown> = [...Parents, name: string]
> extends
  Readable<A, Parents, X, Item>,
  Creatable<A, C, Parents, X>,
  Writable<P, Parents, X, Item>,
  Deletable<Parents, X, Item>
{}

/**
 * The whole surface: list, listNames, get, exists, create, put, patch, update, rename,
 * delete.
 *
 * @since 0.1.0
 * @category models
 */
export interface Collection<
  A,
  P,
  C,
  Parents extends ReadonlyArray<unknown> = [],
  X = never,
  Item extends ReadonlyArray<unknown> = [...Parents, name: string]
> extends Fixed<A, P, C, Parents, X, Item>, Renamable<Parents, X, Item> {}
