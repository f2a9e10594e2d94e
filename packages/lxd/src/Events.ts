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
 * schedule.
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
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as PubSub from "effect/PubSub"
import * as RcMap from "effect/RcMap"
import type * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Take from "effect/Take"
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
 * @since 0.1.0
 * @category models
 */
export type Event = LifecycleEvent | OperationEvent | LoggingEvent | OtherEvent

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
   * Reconnect after the connection drops or cannot be opened, on this schedule (events
   * in between are lost; the schedule starts over once events arrive again). Without
   * it, or once the schedule gives up, the stream fails with `TransportError`.
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
   * current state), from `operation` events: progress without polling.
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
    Stream.filter(self, isForInstance(name, options))

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

type Hub = PubSub.PubSub<Take.Take<Event, TransportError>>

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
        const hub = yield* Effect.acquireRelease(
          PubSub.unbounded<Take.Take<Event, TransportError>>(),
          PubSub.shutdown
        )
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
          Stream.runForEachChunk((chunk) => PubSub.publish(hub, Take.chunk(chunk))),
          Effect.zipRight(Effect.fail(dropped)),
          Effect.catchAllCause((cause) =>
            // a dead connection must not be handed to the next subscriber (a reconnect
            // included): forget it before telling the current ones
            Effect.zipRight(
              RcMap.invalidate(connectionsRef.current!, serialized),
              PubSub.publish(hub, Take.failCause(cause))
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
      const queue = yield* PubSub.subscribe(hub)
      const events = Stream.fromQueue(queue).pipe(Stream.flattenTake)
      return options?.instance === undefined
        ? events
        : Stream.filter(events, isForInstance(options.instance, project === undefined ? {} : { project }))
    })

  const stream = (options?: StreamOptions): Stream.Stream<Event, TransportError> => {
    const once = Stream.unwrapScoped(subscribe(options))
    return options?.reconnect === undefined ? once : Stream.retry(once, options.reconnect)
  }

  const watchOperation = (id: string): Stream.Stream<Operation, TransportError | RequestError> =>
    Stream.unwrapScoped(Effect.gen(function*() {
      // listen first, then look: nothing can happen in between unseen
      const events = yield* subscribe({ types: ["operation"] })
      const current = yield* ops.get(id)
      if (current.isFinal) return Stream.make(current)
      const updates = events.pipe(
        Stream.filterMap((
          e
        ) => (e._tag === "OperationEvent" && e.metadata.id === id ? Option.some(e.metadata) : Option.none()))
      )
      return Stream.concat(Stream.make(current), updates).pipe(Stream.takeUntil((op) => op.isFinal))
    }))

  return Events.of(traced("Events", { stream, subscribe, watchOperation }))
})

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Events, never, LxdHttp | Operations> = Layer.scoped(Events, make)
