/**
 * Progress of long work as typed values: from a background operation's metadata (fed by
 * `operation` events, not by polling), or counted on our side for the bytes we move.
 *
 * Calls that start background work have an `...Operation` variant (for example
 * `Instances.createOperation`, for a creation from an image, a copy or a migration);
 * `track` starts one, reports its progress while it runs and waits for it, so nothing
 * is missed between the start and the first event. For an operation you already hold,
 * `ofOperation` is its progress as a Stream. For file transfers, `pushFile` and
 * `pullFile` count the bytes; `onBytes` and `counting` do the same for any byte Stream.
 *
 * @example
 * ```ts
 * import { Console, Effect } from "effect"
 * import { Instances, Progress } from "effect-lxd"
 *
 * const program = Effect.gen(function* () {
 *   const instances = yield* Instances.Instances
 *   yield* Progress.track(
 *     instances.createOperation({ name: "web1", source: { type: "image", alias: "debian/12" } }),
 *     (p) => Console.log(Progress.format(p))
 *   )
 * })
 * ```
 *
 * @since 0.1.0
 */
import * as NodeStream from "@effect/platform-node/NodeStream"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import * as Fs from "node:fs"
import * as Events from "./Events.js"
import * as Files from "./Files.js"
import type { Operation } from "./internal/envelope.js"
import { localFailure, saveStream } from "./internal/localFiles.js"
import { path } from "./internal/path.js"
import * as internal from "./internal/progress.js"
import { InvalidArgument, LXDAPIException, type RequestError, type TransportError } from "./LxdError.js"
import * as LxdHttp from "./LxdHttp.js"
import * as Operations from "./Operations.js"

/**
 * How far some work has come.
 *
 * - `stage`: what is going on. For operations the server's name for the step
 *   (`create_instance_from_image_unpack`, `create_image_from_container_pack`, `download`,
 *   `create_backup`, `fs`, `container`...); for counted transfers the caller's (`push`, `pull`).
 * - `text`: the server's own line for the CLI (`Unpack: 45% (12.34MB/s)`), when it sent one.
 * - `percent`: 0-100, when known.
 * - `bytesDone`, `bytesTotal`: bytes processed and expected, when known (servers report
 *   the processed bytes only in some stages, and never a total).
 * - `speed`: bytes per second (the mean since the start), when known.
 * - `raw`: the operation's metadata as the server sent it (`undefined` for counted transfers).
 *
 * @since 0.1.0
 * @category models
 */
export interface Progress extends internal.ProgressValue {}

/**
 * The progress in an operation's metadata (`None` when there is none). Understands the
 * `<stage>_progress` texts of LXD and Incus (`rootfs: 45% (12.34MB/s)`, `12.3MB (4.5MB/s)`,
 * `Unpack: 12.34MB/s`, free text) and the newer `progress` object
 * (`stage`, `percent`, `processed`, `speed`), which wins where both say something.
 *
 * @example
 * ```ts
 * import { Progress } from "effect-lxd"
 *
 * Progress.fromMetadata({ download_progress: "rootfs: 45% (12.34MB/s)" })
 * // Some({ stage: "download", percent: 45, speed: 12340000, ... })
 * ```
 *
 * @since 0.1.0
 * @category parsing
 */
export const fromMetadata: (metadata: unknown) => Option.Option<Progress> = internal.parseMetadata

/**
 * The numbers in one progress text: `Unpack: 45% (12.34MB/s)` is
 * `{ label: "Unpack", percent: 45, bytesDone: undefined, speed: 12340000 }`. Text without
 * numbers is all label.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseText: (text: string) => internal.ParsedText = internal.parseText

/**
 * One line for a terminal, the way `lxc` prints it: `Unpack: 45% (12.34MB/s)`,
 * `push: 12.00MB (4.50MB/s)`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const format: (progress: Progress) => string = internal.format

/**
 * A number of bytes the way LXD writes it (`999B`, `12.34MB`, decimal units).
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatBytes: (bytes: number) => string = internal.formatBytes

// -----------------------------------------------------------------------------
// Operations
// -----------------------------------------------------------------------------

const originOf = (id: string) => ({ method: "GET", path: path`/1.0/operations/${id}` })

const progressOf = (op: Operation): Option.Option<Progress> =>
  op.isFinal ? Option.none() : internal.parseMetadata(op.metadata)

/**
 * The progress of a running operation, from `operation` events, until it ends: the
 * stream ends when the operation succeeds, and fails with `LXDAPIException` (the
 * operation's error) when it fails or is cancelled. The first element is the current
 * progress, if it has any; states without progress metadata are skipped. An operation
 * the server has already forgotten gives an empty stream.
 *
 * Events from before the call are not replayed: to see all of it, start the operation
 * with `track`.
 *
 * @since 0.1.0
 * @category operations
 */
export const ofOperation = (
  operation: Operation | string
): Stream.Stream<Progress, RequestError | TransportError, Events.Events | Operations.Operations> => {
  const id = typeof operation === "string" ? operation : operation.id
  return Stream.unwrapScoped(Effect.gen(function*() {
    const ops = yield* Operations.Operations
    const events = yield* Events.Events
    // listen first, then look: nothing can happen in between unseen
    const feed = yield* events.subscribe({ types: ["operation"] })
    const current = yield* ops.get(id).pipe(
      Effect.map(Option.some),
      Effect.catchTag("NotFound", () => Effect.succeed(Option.none<Operation>()))
    )
    if (Option.isNone(current)) return Stream.empty
    const updates = Stream.filterMap(
      feed,
      (e) => (e._tag === "OperationEvent" && e.metadata.id === id ? Option.some(e.metadata) : Option.none())
    )
    return Stream.concat(Stream.make(current.value), updates).pipe(
      Stream.takeUntil((op) => op.isFinal),
      Stream.mapEffect((op) =>
        op.isFinal && !op.isSuccess ? Effect.fail(LXDAPIException.fromOperation(op, originOf(id))) : Effect.succeed(op)
      ),
      Stream.filterMap(progressOf)
    )
  })).pipe(Stream.withSpan("Progress.ofOperation", { attributes: { "lxd.operation.id": id } }))
}

/**
 * Start background work, report its progress while it runs, and wait for it: succeeds
 * with the finished operation, fails with `LXDAPIException` when it fails (like
 * `Operations.wait`). The event subscription is opened before `start` runs, so the first
 * progress is not missed. Interrupting cancels the operation on the server (see
 * `Operations.WaitOptions`); a failure of `onProgress` does too, and is the result.
 *
 * Progress is best effort: if the event connection cannot be opened or drops, the work
 * is still waited for, with no more progress reported.
 *
 * @example
 * ```ts
 * import { Console, Effect } from "effect"
 * import { Instances, Progress } from "effect-lxd"
 *
 * const copy = Effect.gen(function* () {
 *   const instances = yield* Instances.Instances
 *   yield* Progress.track(
 *     instances.createOperation({ name: "web2", source: { type: "copy", source: "web1" } }),
 *     (p) => Console.log(Progress.format(p))
 *   )
 *   return yield* instances.get("web2")
 * })
 * ```
 *
 * @since 0.1.0
 * @category operations
 */
export const track = <E, R, E2 = never, R2 = never>(
  start: Effect.Effect<Operation, E, R>,
  onProgress: (progress: Progress) => Effect.Effect<void, E2, R2>,
  options?: Operations.WaitOptions
): Effect.Effect<
  Operation,
  E | E2 | RequestError,
  Exclude<R | R2, Scope.Scope> | Events.Events | Operations.Operations
> =>
  Effect.scoped(Effect.gen(function*() {
    const ops = yield* Operations.Operations
    const events = yield* Events.Events
    const feed = yield* Effect.option(events.subscribe({ types: ["operation"] }))
    const op = yield* start
    yield* Effect.annotateCurrentSpan("lxd.operation.id", op.id)
    const wait = ops.wait(op, options)
    if (Option.isNone(feed)) return yield* wait
    const reporter = yield* feed.value.pipe(
      Stream.filterMap((
        e
      ) => (e._tag === "OperationEvent" && e.metadata.id === op.id ? Option.some(e.metadata) : Option.none())),
      Stream.takeUntil((o) => o.isFinal),
      Stream.filterMap(progressOf),
      Stream.catchAll(() => Stream.empty), // a dropped event connection ends the progress, not the work
      Stream.runForEach(onProgress),
      Effect.forkScoped
    )
    // a failing reporter ends the wait (which cancels the work); a finished one leaves it be
    const result = yield* Effect.raceFirst(wait, Effect.zipRight(Fiber.join(reporter), Effect.never))
    // the final event comes with the end of the work: let the reporter see the last updates
    yield* Fiber.join(reporter).pipe(
      Effect.timeoutOption("1 second"),
      Effect.zipRight(Fiber.interrupt(reporter))
    )
    return result
  })).pipe(Effect.withSpan("Progress.track"))

/**
 * `track` for an operation that runs on another server: the events and the wait go to
 * `server` (a connection's `LxdHttp.Service`) instead of the context's. This is how to
 * watch the `Migration` variants, whose operation is the target's.
 *
 * @example
 * ```ts
 * import { Console, Effect } from "effect"
 * import { type LxdHttp, Migration, Progress } from "effect-lxd"
 *
 * const copyImage = (fingerprint: string, target: LxdHttp.Service) =>
 *   Effect.gen(function* () {
 *     const migration = yield* Migration.Migration
 *     yield* Progress.trackOn(
 *       target,
 *       migration.copyImageOperation(fingerprint, target),
 *       (p) => Console.log(Progress.format(p)) // download: 45% (12.34MB/s)
 *     )
 *   })
 * ```
 *
 * @since 0.1.0
 * @category operations
 */
export const trackOn = <E, R, E2 = never, R2 = never>(
  server: LxdHttp.Service,
  start: Effect.Effect<Operation, E, R>,
  onProgress: (progress: Progress) => Effect.Effect<void, E2, R2>,
  options?: Operations.WaitOptions
): Effect.Effect<
  Operation,
  E | E2 | RequestError,
  Exclude<Exclude<R | R2, Scope.Scope>, Events.Events | Operations.Operations>
> =>
  Effect.suspend(() => {
    const services = Events.layer.pipe(
      Layer.provideMerge(Operations.layer),
      Layer.provide(Layer.succeed(LxdHttp.LxdHttp, server))
    )
    return Effect.provide(track(start, onProgress, options), services)
  })

// -----------------------------------------------------------------------------
// Bytes we move
// -----------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category options
 */
export interface CountOptions {
  /** The number of bytes expected (for `percent`). */
  readonly total?: number | undefined
  /** The `stage` of the values (default `transfer`). */
  readonly stage?: string | undefined
}

/**
 * The same byte stream, calling `onProgress` after each chunk with the bytes so far,
 * the percent of `total` (when given) and the mean speed since the stream started (an
 * empty stream reports once, at its end). `onProgress`'s failures fail the stream.
 *
 * @example
 * ```ts
 * import { Console, Stream } from "effect"
 * import { Progress } from "effect-lxd"
 *
 * const data = Stream.make(new Uint8Array(512), new Uint8Array(512))
 * const counted = Progress.onBytes(data, (p) => Console.log(Progress.format(p)), { total: 1024, stage: "push" })
 * ```
 *
 * @since 0.1.0
 * @category bytes
 */
export const onBytes = <E, R, E2 = never, R2 = never>(
  self: Stream.Stream<Uint8Array, E, R>,
  onProgress: (progress: Progress) => Effect.Effect<void, E2, R2>,
  options?: CountOptions
): Stream.Stream<Uint8Array, E | E2, R | R2> =>
  internal.onBytes(self, onProgress, { stage: options?.stage ?? "transfer", total: options?.total })

/**
 * @since 0.1.0
 * @category models
 */
export interface Counted<E, R> {
  /** The same bytes; counting happens as they are pulled. */
  readonly stream: Stream.Stream<Uint8Array, E, R>
  /** The latest progress (`changes` is a Stream of it; it starts at 0 bytes). */
  readonly progress: SubscriptionRef.SubscriptionRef<Progress>
}

/**
 * Count a byte stream into a `SubscriptionRef`: read the latest progress whenever you
 * like, or follow `progress.changes` (which does not end: stop it when the transfer ends).
 *
 * @since 0.1.0
 * @category bytes
 */
export const counting = <E, R>(
  self: Stream.Stream<Uint8Array, E, R>,
  options?: CountOptions
): Effect.Effect<Counted<E, R>> =>
  Effect.map(
    SubscriptionRef.make<Progress>(internal.counted(options?.stage ?? "transfer", 0, options?.total, 0)),
    (progress) => ({
      progress,
      stream: onBytes(self, (p) => SubscriptionRef.set(progress, p), options)
    })
  )

/**
 * @since 0.1.0
 * @category options
 */
export interface PushFileOptions<E2, R2> extends Files.WriteOptions {
  /** Called after each chunk sent (stage `push`, total = the local file's size). */
  readonly onProgress: (progress: Progress) => Effect.Effect<void, E2, R2>
}

/**
 * Push one local file to `remotePath` in an instance (through `Files.write`, streamed),
 * reporting progress on the way, like `lxc file push`. The total is the file's size, so
 * the last report says 100%.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Progress } from "effect-lxd"
 *
 * // needs Files.Files (any effect-lxd layer)
 * const push = Progress.pushFile("web1", "./app.tar", "/root/app.tar", {
 *   onProgress: (p) => Effect.sync(() => process.stdout.write(`\r${Progress.format(p)}`))
 * })
 * ```
 *
 * @since 0.1.0
 * @category files
 */
export const pushFile = <E2 = never, R2 = never>(
  instance: string,
  localPath: string,
  remotePath: string,
  options: PushFileOptions<E2, R2>
): Effect.Effect<void, Files.FilesError | E2, R2 | Files.Files> =>
  Effect.gen(function*() {
    const files = yield* Files.Files
    const st = yield* Effect.tryPromise({
      try: () => Fs.promises.stat(localPath),
      catch: (cause) => localFailure(`cannot read ${localPath}`, cause)
    })
    if (!st.isFile()) return yield* Effect.fail(localFailure(`cannot push ${localPath}`, "not a regular file"))
    const { onProgress, ...writeOptions } = options
    const bytes = NodeStream.fromReadable<InvalidArgument, Uint8Array>(
      () => Fs.createReadStream(localPath, { highWaterMark: 256 * 1024 }),
      (cause) => localFailure(`cannot read ${localPath}`, cause)
    )
    // Files.write takes a stream that needs nothing: hand it what onProgress needs
    const context = yield* Effect.context<R2>()
    const counted = Stream.provideContext(onBytes(bytes, onProgress, { total: st.size, stage: "push" }), context)
    yield* files.write(instance, remotePath, counted, writeOptions)
  }).pipe(Effect.withSpan("Progress.pushFile", { attributes: { "lxd.name": instance } }))

/**
 * Pull one file of an instance to `localPath` (created or truncated), reporting progress
 * on the way (stage `pull`; the server does not say the size first, so there is no
 * `percent`, only bytes and speed). A pull that fails or is interrupted removes the
 * partial file.
 *
 * @since 0.1.0
 * @category files
 */
export const pullFile = <E2 = never, R2 = never>(
  instance: string,
  remotePath: string,
  localPath: string,
  options: { readonly onProgress: (progress: Progress) => Effect.Effect<void, E2, R2> }
): Effect.Effect<void, Files.FilesError | E2, R2 | Files.Files> =>
  Effect.gen(function*() {
    const files = yield* Files.Files
    // each write awaited (a slow disk slows the download); a pull that fails or is
    // interrupted leaves no partial file
    yield* saveStream(onBytes(files.read(instance, remotePath), options.onProgress, { stage: "pull" }), localPath, {
      mode: 0o666 // less the umask, as a new file
    })
  }).pipe(Effect.withSpan("Progress.pullFile", { attributes: { "lxd.name": instance } }))
