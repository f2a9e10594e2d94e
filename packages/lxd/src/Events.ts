/**
 * The server's event feed (`/1.0/events`) as a Stream of a tagged union: lifecycle
 * events (`instance-started`, ...), operation updates and log records. Event types this
 * library does not know (or frames it cannot decode) arrive as `OtherEvent` instead of
 * ending the stream.
 *
 * Every subscriber with the same filter (types and project) shares one websocket, which
 * closes when the last of them stops. The project comes from the options, or from
 * `Lxd.withProject` around the subscription.
 *
 * LXD does not replay events from before a subscription: use `subscribe` (which returns
 * once the socket is listening) when you act right after, or start `stream` first.
 *
 * LXD never ends the feed itself: when the connection drops (daemon restart, network
 * cut), the stream fails with `TransportError`, unless `stream` was given a `reconnect`
 * schedule; then, once connected again, the stream carries an `EventsMissed` marker
 * (`reason: "reconnected"`): events in between are lost.
 *
 * Memory is bounded: each subscriber buffers at most `bufferSize` events (default 1024).
 * A subscriber that falls further behind loses the newest events, never blocks the
 * connection it shares, and is told so in order: an `EventsMissed` marker
 * (`reason: "overflow"`, `dropped`: how many) stands where the events were lost.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { Events } from "effect-lxd"
 *
 * const program = Effect.gen(function* () {
 *   const events = yield* Events.Events
 *   yield* events.stream({ types: ["lifecycle"] }).pipe(
 *     Stream.filter((e) => e._tag === "LifecycleEvent"),
 *     Stream.runForEach((e) => Effect.log(e.metadata.action, e.metadata.source))
 *   )
 * })
 * ```
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as RcMap from "effect/RcMap"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { Operation } from "./internal/envelope.js"
import { parseInstanceUrl, resourcesMention } from "./internal/instanceUrls.js"
import { traced } from "./internal/tracing.js"
import { type RequestError, TransportError } from "./LxdError.js"
import { currentProject, LxdHttp } from "./LxdHttp.js"
import { Operations } from "./Operations.js"

/**
 * The event types a subscription can ask for. LXD knows `logging`, `operation`,
 * `lifecycle`, `ovn`, `security`; Incus `logging`, `operation`, `lifecycle`,
 * `network-acl`. An unknown type is refused by the server.
 *
 * @since 0.1.0
 * @category models
 */
export type EventType = "lifecycle" | "operation" | "logging" | "ovn" | "security" | "network-acl" | (string & {})

/**
 * Who caused a lifecycle event.
 *
 * @since 0.1.0
 * @category models
 */
export const Requestor = Schema.Struct({
  username: Schema.optional(Schema.String),
  protocol: Schema.optional(Schema.String),
  address: Schema.optional(Schema.String)
})

/**
 * What happened to which resource (`instance-started` on `/1.0/instances/web1`).
 *
 * @since 0.1.0
 * @category models
 */
export const LifecycleMetadata = Schema.Struct({
  action: Schema.String,
  source: Schema.String,
  context: Schema.optional(Schema.NullOr(Schema.Record({ key: Schema.String, value: Schema.Unknown }))),
  requestor: Schema.optional(Schema.NullOr(Requestor)),
  name: Schema.optional(Schema.String),
  project: Schema.optional(Schema.String)
})

/**
 * A log record of the daemon.
 *
 * @since 0.1.0
 * @category models
 */
export const LoggingMetadata = Schema.Struct({
  message: Schema.String,
  level: Schema.String,
  context: Schema.optional(Schema.NullOr(Schema.Record({ key: Schema.String, value: Schema.Unknown })))
})

const common = {
  /** When the server emitted it (RFC 3339). */
  timestamp: Schema.String,
  /** The cluster member it comes from (`none` outside clusters). */
  location: Schema.optional(Schema.String),
  /** The project it belongs to (when the server says). */
  project: Schema.optional(Schema.String)
}

/**
 * A lifecycle event: a resource was created, started, updated, deleted...
 *
 * @since 0.1.0
 * @category models
 */
export class LifecycleEvent extends Schema.TaggedClass<LifecycleEvent>("effect-lxd/LifecycleEvent")(
  "LifecycleEvent",
  { ...common, metadata: LifecycleMetadata }
) {}

/**
 * An operation changed state (created, running, progress, finished).
 *
 * @since 0.1.0
 * @category models
 */
export class OperationEvent extends Schema.TaggedClass<OperationEvent>("effect-lxd/OperationEvent")(
  "OperationEvent",
  { ...common, metadata: Operation }
) {}

/**
 * A log record.
 *
 * @since 0.1.0
 * @category models
 */
export class LoggingEvent extends Schema.TaggedClass<LoggingEvent>("effect-lxd/LoggingEvent")("LoggingEvent", {
  ...common,
  metadata: LoggingMetadata
}) {}

/**
 * Any other event: a type this library does not model (`ovn`, `security`,
 * `network-acl`, newer ones), or one whose metadata did not decode. Nothing is lost.
 *
 * @since 0.1.0
 * @category models
 */
export class OtherEvent extends Schema.TaggedClass<OtherEvent>("effect-lxd/OtherEvent")("OtherEvent", {
  ...common,
  type: Schema.String,
  metadata: Schema.Unknown
}) {}

/**
 * Not an event of the server: a marker in the stream where events may have been lost.
 * `reconnected`: the connection dropped and was opened again (`stream` with `reconnect`);
 * how many were lost is not known. `overflow`: this subscriber fell more than
 * `bufferSize` events behind, and `dropped` events (the newest at the time) were left
 * out here. Filters over `Event` should let it through (see `isMissed`).
 *
 * @since 0.1.0
 * @category models
 */
export class EventsMissed extends Schema.TaggedClass<EventsMissed>("effect-lxd/EventsMissed")("EventsMissed", {
  reason: Schema.Literal("reconnected", "overflow"),
  /** How many events were left out (`overflow` only). */
  dropped: Schema.optional(Schema.Number)
}) {}

/**
 * What an event stream carries: the server's events, and `EventsMissed` markers where
 * some may have been lost (a reconnect, a subscriber too slow for its buffer).
 *
 * @since 0.1.0
 * @category models
 */
export type Event = LifecycleEvent | OperationEvent | LoggingEvent | OtherEvent | EventsMissed

/**
 * `true` for the marker of lost events. A filter that keeps it composes with any other:
 * `Stream.filter((e) => Events.isMissed(e) || mine(e))`.
 *
 * @since 0.1.0
 * @category refinements
 */
export const isMissed = (e: Event): e is EventsMissed => e._tag === "EventsMissed"

/**
 * @since 0.1.0
 * @category options
 */
export interface StreamOptions {
  /** Only these types (default: every type the client may see). */
  readonly types?: ReadonlyArray<EventType> | undefined
  /** Events of this project (default: the one of `Lxd.withProject`, else the default project). */
  readonly project?: string | undefined
  /** Events of every project. */
  readonly allProjects?: boolean | undefined
  /**
   * Only the events about this instance (see `isForInstance`): its lifecycle events,
   * those of its snapshots and backups, and the operations that touch it.
   */
  readonly instance?: string | undefined
  /**
   * How many events this subscriber may have waiting before newer ones are dropped (and
   * counted in an `EventsMissed` marker). Default 1024.
   */
  readonly bufferSize?: number | undefined
  /**
   * Reconnect after the connection drops or cannot be opened, on this schedule (events
   * in between are lost, and an `EventsMissed` marker says so once connected again; the
   * schedule starts over once events arrive again). Without it, or once the schedule
   * gives up, the stream fails with `TransportError`.
   */
  readonly reconnect?: Schedule.Schedule<unknown, TransportError> | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /**
   * Events from the moment the stream starts, until it is stopped. Fails with
   * `TransportError` when the connection drops (see `reconnect`).
   */
  readonly stream: (options?: StreamOptions) => Stream.Stream<Event, TransportError>
  /**
   * Connect (or join the shared connection) now, and return the events from this point
   * on. Act after this returns and you will see the consequences. The stream fails with
   * `TransportError` when the connection drops (no reconnect here).
   */
  readonly subscribe: (
    options?: Omit<StreamOptions, "reconnect">
  ) => Effect.Effect<Stream.Stream<Event, TransportError>, TransportError, Scope.Scope>
  /**
   * The states of one operation, from now until it ends (the first element is its
   * current state), from `operation` events: progress without polling. Where events
   * were lost, the operation is read again, so its end is never missed.
   */
  readonly watchOperation: (id: string) => Stream.Stream<Operation, TransportError | RequestError>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class Events extends Context.Tag("effect-lxd/Events")<Events, Service>() {}

const Frame = Schema.Struct({
  type: Schema.String,
  timestamp: Schema.optionalWith(Schema.String, { default: () => "" }),
  metadata: Schema.optionalWith(Schema.Unknown, { default: () => null }),
  location: Schema.optional(Schema.String),
  project: Schema.optional(Schema.String)
})

const decodeFrame = Schema.decodeUnknownOption(Schema.parseJson(Frame))
const decodeLifecycle = Schema.decodeUnknownOption(LifecycleMetadata)
const decodeOperation = Schema.decodeUnknownOption(Operation)
const decodeLogging = Schema.decodeUnknownOption(LoggingMetadata)

/**
 * Decode one text frame of `/1.0/events`. Never fails: what does not fit a known type
 * becomes an `OtherEvent`; `None` only for a frame that is not a JSON event at all.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeEvent = (text: string): Option.Option<Event> =>
  Option.map(decodeFrame(text), (frame): Event => {
    const base = {
      timestamp: frame.timestamp,
      ...(frame.location === undefined ? {} : { location: frame.location }),
      ...(frame.project === undefined ? {} : { project: frame.project })
    }
    const other = () => new OtherEvent({ ...base, type: frame.type, metadata: frame.metadata })
    switch (frame.type) {
      case "lifecycle":
        return Option.match(decodeLifecycle(frame.metadata), {
          onNone: other,
          onSome: (metadata) => new LifecycleEvent({ ...base, metadata })
        })
      case "operation":
        return Option.match(decodeOperation(frame.metadata), {
          onNone: other,
          onSome: (metadata) => new OperationEvent({ ...base, metadata })
        })
      case "logging":
        return Option.match(decodeLogging(frame.metadata), {
          onNone: other,
          onSome: (metadata) => new LoggingEvent({ ...base, metadata })
        })
      default:
        return other()
    }
  })

// -----------------------------------------------------------------------------
// One instance's events
// -----------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category options
 */
export interface InstanceFilterOptions {
  /**
   * The instance's project. Without it, an instance of that name in any project the
   * subscription sees matches (a subscription is of one project unless `allProjects`).
   */
  readonly project?: string | undefined
}

/**
 * The instance (and snapshot) a lifecycle event is about, from its `source`.
 *
 * @since 0.1.0
 * @category models
 */
export interface InstanceRef {
  readonly instance: string
  /** Set for `instance-snapshot-*` events. */
  readonly snapshot: string | undefined
  /** The event's project (`default` when the server does not say). */
  readonly project: string
}

/**
 * Which instance a lifecycle event is about (`None` for events about other resources).
 *
 * @since 0.1.0
 * @category filters
 */
export const instanceOf = (event: LifecycleEvent): Option.Option<InstanceRef> => {
  const url = parseInstanceUrl(event.metadata.source)
  if (url === undefined) return Option.none()
  return Option.some({
    instance: url.instance,
    snapshot: url.rest[0] === "snapshots" ? url.rest[1] : undefined,
    project: event.project ?? event.metadata.project ?? url.project ?? "default"
  })
}

/**
 * Whether an event is about one instance: its lifecycle events (the instance's own, its
 * snapshots', its backups'; a rename under its old name too, whose `context.old_name`
 * names it) and the operations whose resources name it. Logging and other events never
 * match.
 *
 * @since 0.1.0
 * @category filters
 */
export const isForInstance = (name: string, options?: InstanceFilterOptions) => (event: Event): boolean => {
  const wanted = options?.project
  switch (event._tag) {
    case "LifecycleEvent": {
      const ref = instanceOf(event)
      if (Option.isNone(ref) || (wanted !== undefined && ref.value.project !== wanted)) return false
      return ref.value.instance === name ||
        (event.metadata.action === "instance-renamed" && event.metadata.context?.old_name === name)
    }
    case "OperationEvent":
      return (wanted === undefined || event.project === undefined || event.project === wanted) &&
        resourcesMention(event.metadata.resources, name, event.project === undefined ? wanted : undefined)
    default:
      return false
  }
}

/**
 * Keep only the events about one instance (`isForInstance`), for any stream of events:
 * `events.stream({ types: ["lifecycle"] }).pipe(Events.forInstance("web1"))`.
 *
 * @since 0.1.0
 * @category filters
 */
export const forInstance =
  (name: string, options?: InstanceFilterOptions) =>
  <E, R>(self: Stream.Stream<Event, E, R>): Stream.Stream<Event, E, R> =>
    Stream.filter(self, (e) => isMissed(e) || isForInstance(name, options)(e))

// -----------------------------------------------------------------------------
// Typed lifecycle metadata
// -----------------------------------------------------------------------------

const Context_ = Schema.optional(Schema.NullOr(Schema.Record({ key: Schema.String, value: Schema.Unknown })))

const action = <A extends string>(name: A) =>
  Schema.Struct({ ...LifecycleMetadata.fields, action: Schema.Literal(name), context: Context_ })

const renamed = <A extends string>(name: A) =>
  Schema.Struct({
    ...LifecycleMetadata.fields,
    action: Schema.Literal(name),
    context: Schema.Struct({ old_name: Schema.String })
  })

/**
 * `instance-created` (context: `type`, `storage-pool`, on Incus `location`).
 *
 * @since 0.1.0
 * @category lifecycle
 */
export const InstanceCreated = Schema.Struct({
  ...LifecycleMetadata.fields,
  action: Schema.Literal("instance-created"),
  context: Schema.optional(
    Schema.NullOr(
      Schema.Struct({
        type: Schema.optional(Schema.String),
        "storage-pool": Schema.optional(Schema.String),
        location: Schema.optional(Schema.String)
      })
    )
  )
})

/**
 * @since 0.1.0
 * @category lifecycle
 */
export const InstanceStarted = action("instance-started")

/**
 * @since 0.1.0
 * @category lifecycle
 */
export const InstanceStopped = action("instance-stopped")

/**
 * A clean shutdown (`stop` without `force`).
 *
 * @since 0.1.0
 * @category lifecycle
 */
export const InstanceShutdown = action("instance-shutdown")

/**
 * @since 0.1.0
 * @category lifecycle
 */
export const InstanceRestarted = action("instance-restarted")

/**
 * Frozen (`freeze`; also around a snapshot of a running container).
 *
 * @since 0.1.0
 * @category lifecycle
 */
export const InstancePaused = action("instance-paused")

/**
 * @since 0.1.0
 * @category lifecycle
 */
export const InstanceResumed = action("instance-resumed")

/**
 * Its configuration changed.
 *
 * @since 0.1.0
 * @category lifecycle
 */
export const InstanceUpdated = action("instance-updated")

/**
 * @since 0.1.0
 * @category lifecycle
 */
export const InstanceDeleted = action("instance-deleted")

/**
 * Renamed: `source` is the new URL, `context.old_name` the old name.
 *
 * @since 0.1.0
 * @category lifecycle
 */
export const InstanceRenamed = renamed("instance-renamed")

/**
 * A snapshot was restored into it.
 *
 * @since 0.1.0
 * @category lifecycle
 */
export const InstanceRestored = action("instance-restored")

/**
 * A command was started in it.
 *
 * @since 0.1.0
 * @category lifecycle
 */
export const InstanceExec = action("instance-exec")

/**
 * `source` is the snapshot's URL (`/1.0/instances/web1/snapshots/s0`).
 *
 * @since 0.1.0
 * @category lifecycle
 */
export const InstanceSnapshotCreated = action("instance-snapshot-created")

/**
 * @since 0.1.0
 * @category lifecycle
 */
export const InstanceSnapshotDeleted = action("instance-snapshot-deleted")

/**
 * @since 0.1.0
 * @category lifecycle
 */
export const InstanceSnapshotUpdated = action("instance-snapshot-updated")

/**
 * `context.old_name` is `instance/old-snapshot`.
 *
 * @since 0.1.0
 * @category lifecycle
 */
export const InstanceSnapshotRenamed = renamed("instance-snapshot-renamed")

/**
 * An operation was cancelled (`source` is the operation's URL).
 *
 * @since 0.1.0
 * @category lifecycle
 */
export const OperationCancelled = action("operation-cancelled")

/**
 * The lifecycle actions this library types: the instance's life, its snapshots', and
 * cancelled operations. Operation events carry a full `Operation` already.
 *
 * @since 0.1.0
 * @category lifecycle
 */
export const Lifecycle = Schema.Union(
  InstanceCreated,
  InstanceStarted,
  InstanceStopped,
  InstanceShutdown,
  InstanceRestarted,
  InstancePaused,
  InstanceResumed,
  InstanceUpdated,
  InstanceDeleted,
  InstanceRenamed,
  InstanceRestored,
  InstanceExec,
  InstanceSnapshotCreated,
  InstanceSnapshotDeleted,
  InstanceSnapshotUpdated,
  InstanceSnapshotRenamed,
  OperationCancelled
)

/**
 * @since 0.1.0
 * @category lifecycle
 */
export type Lifecycle = typeof Lifecycle.Type

const decodeLifecycleAction = Schema.decodeUnknownOption(Lifecycle)

/**
 * The typed metadata of a lifecycle event, narrowed by `action` (`None` for actions this
 * library does not type, or metadata that does not fit them).
 *
 * @since 0.1.0
 * @category lifecycle
 */
export const lifecycle = (event: LifecycleEvent): Option.Option<Lifecycle> => decodeLifecycleAction(event.metadata)

/** Where `overflow` events were left out; closed once the subscriber has read it. */
interface Gap {
  readonly _tag: "Gap"
  dropped: number
  closed: boolean
}

type Entry = Event | Gap | { readonly _tag: "End"; readonly cause: Cause.Cause<TransportError> }

/** One subscriber's bounded buffer. */
interface Mailbox {
  readonly queue: Queue.Queue<Entry>
  readonly capacity: number
  /** Events (and markers) waiting. */
  size: number
  /** The gap at the tail of the queue, still counting, if the last entry is one. */
  tail: Gap | undefined
}

/** One connection, shared by its subscribers. */
interface Hub {
  readonly boxes: Set<Mailbox>
  ended: Cause.Cause<TransportError> | undefined
}

const DEFAULT_BUFFER = 1024

/**
 * Hand an event to a subscriber without ever waiting: when its buffer is full the event
 * is dropped and counted in the gap at the tail (one entry beyond the capacity at most).
 */
const deliver = (box: Mailbox, event: Event): void => {
  if (box.size >= box.capacity) {
    if (box.tail !== undefined && !box.tail.closed) {
      box.tail.dropped++
    } else {
      const gap: Gap = { _tag: "Gap", dropped: 1, closed: false }
      box.tail = gap
      box.size++
      box.queue.unsafeOffer(gap)
    }
    return
  }
  box.tail = undefined
  box.size++
  box.queue.unsafeOffer(event)
}

/** A subscriber's buffer as a stream: gaps become markers, the end a failure. */
const drain = (box: Mailbox): Stream.Stream<Event, TransportError> =>
  Stream.fromQueue(box.queue).pipe(
    Stream.mapEffect((entry): Effect.Effect<Event, TransportError> => {
      switch (entry._tag) {
        case "End":
          return Effect.failCause(entry.cause)
        case "Gap": {
          box.size--
          entry.closed = true
          return Effect.succeed(new EventsMissed({ reason: "overflow", dropped: entry.dropped }))
        }
        default:
          box.size--
          return Effect.succeed(entry)
      }
    })
  )

interface Key {
  readonly types: string
  readonly project: string | undefined
  readonly allProjects: boolean
}

const keyString = (k: Key) => JSON.stringify([k.types, k.project ?? null, k.allProjects])

/**
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Service, never, LxdHttp | Operations | Scope.Scope> = Effect.gen(function*() {
  const http = yield* LxdHttp
  const ops = yield* Operations

  const connectionsRef: { current: RcMap.RcMap<string, Hub, TransportError> | undefined } = { current: undefined }
  // one websocket per filter, shared by its subscribers, closed after the last one leaves
  const connections = yield* RcMap.make({
    lookup: (serialized: string): Effect.Effect<Hub, TransportError, Scope.Scope> =>
      Effect.gen(function*() {
        const key: Key = (() => {
          const [types, project, allProjects] = JSON.parse(serialized) as [string, string | null, boolean]
          return { types, project: project ?? undefined, allProjects }
        })()
        const query: Record<string, string | boolean | undefined> = {
          type: key.types.length > 0 ? key.types : undefined
        }
        if (key.allProjects) query["all-projects"] = true
        else if (key.project !== undefined) query.project = key.project
        const ws = yield* Effect.locally(http.websocket("/1.0/events", query), currentProject, Option.none())
        const hub: Hub = { boxes: new Set(), ended: undefined }
        // the server never ends the feed: the socket closing under us (we close it only
        // after the last subscriber left, interrupting this fiber first) is a failure
        const dropped = new TransportError({
          address: http.address,
          method: "WEBSOCKET",
          path: "/1.0/events",
          reason: "the server closed the event connection"
        })
        yield* ws.messages.pipe(
          Stream.filterMap((m) => (m._tag === "Text" ? decodeEvent(m.data) : Option.none())),
          Stream.runForEachChunk((chunk) =>
            Effect.sync(() => {
              for (const box of hub.boxes) for (const event of chunk) deliver(box, event)
            })
          ),
          Effect.zipRight(Effect.fail(dropped)),
          Effect.catchAllCause((cause) =>
            // a dead connection must not be handed to the next subscriber (a reconnect
            // included): forget it before telling the current ones
            Effect.zipRight(
              RcMap.invalidate(connectionsRef.current!, serialized),
              Effect.sync(() => {
                hub.ended = cause
                for (const box of hub.boxes) box.queue.unsafeOffer({ _tag: "End", cause })
              })
            )
          ),
          Effect.forkScoped
        )
        return hub
      })
  })
  connectionsRef.current = connections

  const subscribe = (options?: Omit<StreamOptions, "reconnect">) =>
    Effect.gen(function*() {
      const project = options?.project ?? Option.getOrUndefined(yield* FiberRef.get(currentProject))
      const key: Key = {
        types: [...new Set(options?.types ?? [])].sort().join(","),
        project: options?.allProjects === true ? undefined : project,
        allProjects: options?.allProjects === true
      }
      const hub = yield* RcMap.get(connections, keyString(key))
      const capacity = Math.max(1, Math.floor(options?.bufferSize ?? DEFAULT_BUFFER))
      const box: Mailbox = { queue: yield* Queue.unbounded<Entry>(), capacity, size: 0, tail: undefined }
      if (hub.ended !== undefined) box.queue.unsafeOffer({ _tag: "End", cause: hub.ended })
      else hub.boxes.add(box)
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          hub.boxes.delete(box)
        }).pipe(Effect.zipRight(Queue.shutdown(box.queue)))
      )
      const events = drain(box)
      // markers pass the filter: a gap may have held events about the instance
      return options?.instance === undefined
        ? events
        : Stream.filter(
          events,
          (e) => isMissed(e) || isForInstance(options.instance!, project === undefined ? {} : { project })(e)
        )
    })

  const stream = (options?: StreamOptions): Stream.Stream<Event, TransportError> => {
    const connect = (afterGap: boolean) =>
      Stream.unwrapScoped(
        Effect.map(
          subscribe(options),
          (events) =>
            afterGap ? Stream.concat(Stream.make(new EventsMissed({ reason: "reconnected" })), events) : events
        )
      )
    const schedule = options?.reconnect
    return schedule === undefined ? connect(false) : reconnecting(connect, schedule)
  }

  const watchOperation = (id: string): Stream.Stream<Operation, TransportError | RequestError> =>
    Stream.unwrapScoped(Effect.gen(function*() {
      // listen first, then look: nothing can happen in between unseen
      const events = yield* subscribe({ types: ["operation"] })
      const current = yield* ops.get(id)
      if (current.isFinal) return Stream.make(current)
      const updates = events.pipe(
        Stream.filterMapEffect((e): Option.Option<Effect.Effect<Operation, RequestError>> =>
          e._tag === "OperationEvent" && e.metadata.id === id
            ? Option.some(Effect.succeed(e.metadata))
            : isMissed(e)
            ? Option.some(ops.get(id))
            : Option.none()
        )
      )
      return Stream.concat(Stream.make(current), updates).pipe(Stream.takeUntil((op) => op.isFinal))
    }))

  return Events.of(traced("Events", { stream, subscribe, watchOperation }))
})

/**
 * Connect again on `schedule` when the stream fails; every connection after a failure
 * starts, once it listens, with an `EventsMissed` marker. The schedule starts over on each
 * chunk holding a real event (not on markers: a connection that drops at once must still
 * use it up).
 */
const reconnecting = (
  connect: (afterGap: boolean) => Stream.Stream<Event, TransportError>,
  schedule: Schedule.Schedule<unknown, TransportError>
): Stream.Stream<Event, TransportError> =>
  Stream.unwrap(Effect.map(Schedule.driver(schedule), (driver) => {
    const attempt = (first: boolean): Stream.Stream<Event, TransportError> =>
      connect(!first).pipe(
        Stream.mapChunksEffect((chunk) =>
          Chunk.some(chunk, (e) => !isMissed(e)) ? Effect.as(driver.reset, chunk) : Effect.succeed(chunk)
        ),
        Stream.catchAll((error) =>
          Stream.unwrap(
            driver.next(error).pipe(
              Effect.as(attempt(false)),
              Effect.catchAll(() => Effect.fail(error))
            )
          )
        )
      )
    return attempt(true)
  }))

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Events, never, LxdHttp | Operations> = Layer.scoped(Events, make)
