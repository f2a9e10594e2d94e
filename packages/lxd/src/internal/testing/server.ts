/**
 * The fake LXD server: its state, its background operations, its event bus, its
 * websockets and a router for the REST API. It speaks bytes (`FakeRequest` → `Answer`);
 * `transport.ts` puts it under an `HttpClient` and injects faults.
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Option from "effect/Option"
import * as PubSub from "effect/PubSub"
import * as Queue from "effect/Queue"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { TransportError } from "../../LxdError.js"
import { builtins, type CommandHandler, type ExecContext } from "./commands.js"
import * as Extensions from "./extensions.js"
import { normalize } from "./files.js"
import * as H from "./http.js"
import {
  type AliasRecord,
  expand,
  type ImageRecord,
  type InstanceRecord,
  type InstanceStatus,
  iso,
  type NetworkRecord,
  type ProfileRecord,
  type ProjectRecord,
  type SnapshotRecord,
  statusCode,
  type VolumeRecord
} from "./model.js"
import * as Pipe from "./pipe.js"

/** Which server the fake plays. */
export type FakeDialect = "lxd-5.0" | "lxd-6" | "incus-6.0"

/** An image the fake starts with. */
export interface SeedImage {
  readonly alias: string
  /** Default: a hash of the alias (64 hex digits). */
  readonly fingerprint?: string | undefined
  readonly description?: string | undefined
  readonly properties?: Readonly<Record<string, string>> | undefined
}

/** What the fake server is made from (the options of `Testing.make`, resolved). */
export interface ServerOptions {
  readonly dialect: FakeDialect
  readonly images?: ReadonlyArray<SeedImage> | undefined
  readonly commands?: CommandHandler | undefined
  readonly operationRetention?: Duration.DurationInput | undefined
  readonly operationDuration?: Duration.DurationInput | undefined
  readonly hostPaths?: ReadonlyArray<string> | undefined
  readonly serverName?: string | undefined
  readonly websocketConnectTimeout?: Duration.DurationInput | undefined
  readonly trusted?: boolean | undefined
  readonly clientCertificate?: string | undefined
}

/** A recorded operation. */
export interface OperationRecord {
  readonly id: string
  readonly class: "task" | "websocket" | "token"
  readonly description: string
  readonly project: string
  readonly createdAt: Date
  updatedAt: Date
  status: string
  statusCode: number
  resources: Record<string, Array<string>>
  metadata: Record<string, unknown> | null
  mayCancel: boolean
  err: string
  readonly done: Deferred.Deferred<void>
  fiber: Fiber.RuntimeFiber<unknown, unknown> | undefined
  /** Websocket operations: the ends the client attached, by fd name. */
  readonly sockets: Map<string, Pipe.PipeEnd>
  readonly secrets: Record<string, string>
  readonly attached: Map<string, Deferred.Deferred<Pipe.PipeEnd>>
  /** Completed when one of its websockets closes. */
  readonly socketClosed: Deferred.Deferred<void>
}

/** An event as the bus carries it. */
export interface FakeEvent {
  readonly type: string
  readonly project: string
  readonly metadata: unknown
  readonly timestamp: string
}

/** A test's request to make operations fail. */
export interface OperationFault {
  readonly description?: string | RegExp | undefined
  readonly message: string
  remaining: number
}

/** The origin of an operation, for fault matching. */
interface Origin {
  readonly method: string
  readonly path: string
}

const randomHex = (bytes: number): string => {
  const a = new Uint8Array(bytes)
  globalThis.crypto.getRandomValues(a)
  return Array.from(a, (b) => b.toString(16).padStart(2, "0")).join("")
}

const fingerprintOf = (alias: string): string =>
  (H.hash(`a:${alias}`) + H.hash(`b:${alias}`) + H.hash(`c:${alias}`) + H.hash(`d:${alias}`)).slice(0, 64)

const liveClock = Clock.make()

/** Run on the real clock, whatever clock the calling fiber has (tests under `TestClock`). */
export const live = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.withClock(effect, liveClock)

const OP_CODES = { Running: 103, Success: 200, Failure: 400, Cancelled: 401 } as const

const enc = encodeURIComponent

/** The fake server. */
export class FakeServer {
  readonly dialect: FakeDialect
  readonly family: "lxd" | "incus"
  readonly version: string
  readonly extensions: Array<string>
  readonly headerPrefix: "X-LXD" | "X-Incus"
  readonly projects = new Map<string, ProjectRecord>()
  readonly images = new Map<string, ImageRecord>()
  readonly aliases = new Map<string, AliasRecord>()
  readonly networks = new Map<string, NetworkRecord>()
  readonly operations = new Map<string, OperationRecord>()
  readonly operationFaults: Array<OperationFault> = []
  readonly pool = "default"
  serverConfig: Record<string, string> = {}
  /** Ends of every websocket the fake holds (closed when the daemon stops). */
  readonly pipes = new Set<Pipe.Pipe>()
  readonly retention: Duration.Duration
  operationDuration: Duration.Duration
  readonly hostPaths: ReadonlyArray<string>
  readonly serverName: string
  readonly connectTimeout: Duration.Duration
  readonly commands: CommandHandler
  /** Whether the server trusts the client (an untrusted one sees the short `GET /1.0` and 403 elsewhere). */
  trusted: boolean
  /** The PEM of the in-memory client's certificate: in the trust store when given. */
  readonly clientCertificate: string | undefined
  /** Set while the daemon is stopped. */
  stopped = false
  /** Completed when the daemon stops (renewed when it starts): cuts requests under way. */
  stopping: Deferred.Deferred<void> = Deferred.unsafeMake(FiberId.none)
  /** Closed while operations are held (`holdOperations`). */
  readonly gate: Effect.Latch

  constructor(
    options: ServerOptions,
    readonly scope: Scope.Scope,
    readonly events: PubSub.PubSub<FakeEvent>,
    gate: Effect.Latch
  ) {
    this.gate = gate
    this.trusted = options.trusted ?? true
    this.clientCertificate = options.clientCertificate
    this.dialect = options.dialect
    this.family = options.dialect === "incus-6.0" ? "incus" : "lxd"
    this.version = options.dialect === "lxd-5.0" ? "5.0.2" : options.dialect === "lxd-6" ? "6.2" : "6.0.4"
    this.extensions = [
      ...(options.dialect === "lxd-5.0"
        ? Extensions.lxd50
        : options.dialect === "lxd-6"
        ? Extensions.lxd6
        : Extensions.incus60)
    ]
    this.headerPrefix = this.family === "incus" ? "X-Incus" : "X-LXD"
    this.retention = Duration.decode(options.operationRetention ?? "5 seconds")
    this.operationDuration = Duration.decode(options.operationDuration ?? "0 millis")
    this.hostPaths = options.hostPaths ?? ["/tmp", "/srv", "/mnt", "/home"]
    this.serverName = options.serverName ?? "fake"
    this.connectTimeout = Duration.decode(
      options.websocketConnectTimeout ?? (options.dialect === "lxd-6" ? "10 seconds" : "5 seconds")
    )
    const user = options.commands
    this.commands = user === undefined ? builtins : (ctx) => user(ctx) ?? builtins(ctx)
    this.projects.set(
      "default",
      this.newProject("default", "Default LXD project", {
        "features.images": "true",
        "features.networks": "true",
        "features.profiles": "true",
        "features.storage.volumes": "true",
        "features.storage.buckets": "true"
      })
    )
    const now = new Date()
    for (const seed of options.images ?? [{ alias: "busybox" }]) {
      const fingerprint = seed.fingerprint ?? fingerprintOf(seed.alias)
      this.images.set(fingerprint, {
        fingerprint,
        architecture: "x86_64",
        description: seed.description ?? seed.alias,
        properties: { description: seed.description ?? seed.alias, os: "fake", ...seed.properties },
        public: false,
        autoUpdate: false,
        profiles: ["default"],
        size: 1024,
        type: "container",
        createdAt: now,
        uploadedAt: now
      })
      this.aliases.set(seed.alias, { name: seed.alias, target: fingerprint, description: "", type: "container" })
    }
    const bridge = this.family === "incus" ? "incusbr0" : "lxdbr0"
    this.networks.set(bridge, {
      name: bridge,
      description: "",
      config: { "ipv4.address": "198.51.100.1/24", "ipv4.nat": "false", "ipv6.address": "none" }
    })
  }

  newProject(name: string, description: string, config: Record<string, string>): ProjectRecord {
    const project: ProjectRecord = {
      name,
      description,
      config,
      instances: new Map(),
      profiles: new Map(),
      volumes: new Map()
    }
    if (name === "default" || config["features.profiles"] !== "false") {
      project.profiles.set("default", {
        name: "default",
        description: `Default ${this.family === "incus" ? "Incus" : "LXD"} profile`,
        config: {},
        devices: name === "default"
          ? {
            root: { type: "disk", path: "/", pool: this.pool },
            eth0: { type: "nic", name: "eth0", network: this.family === "incus" ? "incusbr0" : "lxdbr0" }
          }
          : {}
      })
    }
    return project
  }

  // ---------------------------------------------------------------------------
  // Events
  // ---------------------------------------------------------------------------

  publish(type: string, project: string, metadata: unknown): Effect.Effect<void> {
    return Effect.asVoid(
      PubSub.publish(this.events, { type, project, metadata, timestamp: new Date().toISOString() })
    )
  }

  lifecycle(project: string, action: string, source: string, context: Record<string, unknown> = {}) {
    return this.publish("lifecycle", project, {
      action,
      source,
      context,
      requestor: { username: "root", protocol: "unix", address: "@" },
      project
    })
  }

  // ---------------------------------------------------------------------------
  // Operations
  // ---------------------------------------------------------------------------

  renderOperation(op: OperationRecord): Record<string, unknown> {
    return {
      id: op.id,
      class: op.class,
      description: op.description,
      created_at: op.createdAt.toISOString(),
      updated_at: op.updatedAt.toISOString(),
      status: op.status,
      status_code: op.statusCode,
      resources: op.resources,
      metadata: op.metadata,
      may_cancel: op.mayCancel,
      err: op.err,
      location: "none"
    }
  }

  /** Whether operations may be cancelled by default (LXD 6.x: all of them). */
  get cancellableByDefault(): boolean {
    return this.dialect === "lxd-6"
  }

  /**
   * Start a background operation running `run` (after the configured duration and the
   * hold gate). `run` fails with the operation's error message.
   */
  startOperation(spec: {
    readonly project: string
    readonly class?: OperationRecord["class"]
    readonly description: string
    readonly origin: Origin
    readonly resources?: Record<string, Array<string>>
    readonly metadata?: Record<string, unknown> | null
    readonly mayCancel?: boolean
    readonly secrets?: Record<string, string>
    readonly run: (op: OperationRecord) => Effect.Effect<Record<string, unknown> | void, string>
  }): Effect.Effect<OperationRecord> {
    return Effect.gen(this, function*() {
      const now = new Date()
      const op: OperationRecord = {
        id: globalThis.crypto.randomUUID(),
        class: spec.class ?? "task",
        description: spec.description,
        project: spec.project,
        createdAt: now,
        updatedAt: now,
        status: "Running",
        statusCode: OP_CODES.Running,
        resources: spec.resources ?? {},
        metadata: spec.metadata ?? null,
        mayCancel: spec.mayCancel ?? this.cancellableByDefault,
        err: "",
        done: yield* Deferred.make<void>(),
        fiber: undefined,
        sockets: new Map(),
        secrets: spec.secrets ?? {},
        attached: new Map(),
        socketClosed: yield* Deferred.make<void>()
      }
      for (const name of Object.keys(op.secrets)) op.attached.set(name, yield* Deferred.make<Pipe.PipeEnd>())
      this.operations.set(op.id, op)
      const fault = this.takeOperationFault(spec.description)
      const work: Effect.Effect<Record<string, unknown> | void, string> = fault !== undefined
        ? Effect.zipRight(Effect.sleep(this.operationDuration), Effect.fail(fault))
        : spec.class === "websocket" || spec.class === "token"
        ? spec.run(op)
        : Effect.zipRight(Effect.zipRight(this.gate.await, Effect.sleep(this.operationDuration)), spec.run(op))
      yield* this.publish("operation", op.project, this.renderOperation(op))
      const finish = (exit: Exit.Exit<Record<string, unknown> | void, string>) =>
        Effect.gen(this, function*() {
          op.updatedAt = new Date()
          if (Exit.isSuccess(exit)) {
            op.status = "Success"
            op.statusCode = OP_CODES.Success
            if (exit.value !== undefined) op.metadata = { ...op.metadata, ...exit.value }
          } else if (Exit.isInterrupted(exit)) {
            op.status = "Cancelled"
            op.statusCode = OP_CODES.Cancelled
            op.err = "Operation cancelled"
          } else {
            op.status = "Failure"
            op.statusCode = OP_CODES.Failure
            op.err = exitFailure(exit) ?? "Operation failed"
          }
          op.mayCancel = false
          if (op.class === "websocket" && op.status !== "Success") op.metadata = null
          for (const end of op.sockets.values()) yield* end.close
          yield* this.publish("operation", op.project, this.renderOperation(op))
          yield* Deferred.succeed(op.done, undefined)
          // reaped after a while, as LXD does (interruptible: this runs in an exit
          // handler, whose uninterruptibility the fork would inherit)
          yield* Effect.sleep(this.retention).pipe(
            Effect.zipRight(Effect.sync(() => this.operations.delete(op.id))),
            Effect.interruptible,
            Effect.forkIn(this.scope)
          )
        })
      op.fiber = yield* live(
        work.pipe(
          Effect.onExit(finish),
          Effect.forkIn(this.scope)
        )
      )
      return op
    })
  }

  takeOperationFault(description: string): string | undefined {
    const i = this.operationFaults.findIndex((f) =>
      f.remaining > 0 &&
      (f.description === undefined ||
        (typeof f.description === "string" ? f.description === description : f.description.test(description)))
    )
    if (i < 0) return undefined
    const fault = this.operationFaults[i]!
    fault.remaining--
    if (fault.remaining <= 0) this.operationFaults.splice(i, 1)
    return fault.message
  }

  // ---------------------------------------------------------------------------
  // Websockets
  // ---------------------------------------------------------------------------

  /** Open a websocket on `path` (with its query); the client's end lives in `scope`. */
  websocket(
    address: string,
    path: string
  ): Effect.Effect<Pipe.PipeEnd, TransportError, Scope.Scope> {
    return live(Effect.gen(this, function*() {
      const url = new URL(path, "http://fake")
      const refused = (status: number, message: string) =>
        new TransportError({
          address,
          method: "WEBSOCKET",
          path: url.pathname,
          reason: `websocket handshake refused with HTTP ${status}: ${message}`
        })
      if (this.stopped) {
        return yield* Effect.fail(
          new TransportError({ address, method: "WEBSOCKET", path: url.pathname, reason: "connect ECONNREFUSED" })
        )
      }
      const segments = url.pathname.split("/").slice(2).map(decodeURIComponent)
      if (!this.trusted && !(segments[0] === "operations" && url.searchParams.has("secret"))) {
        return yield* Effect.fail(refused(403, "Forbidden"))
      }
      if (segments.length === 1 && segments[0] === "events") {
        const pipe = yield* this.openPipe(address, url.pathname)
        const filter = this.eventFilter(url.searchParams)
        if (typeof filter === "string") {
          yield* pipe.closeBoth
          return yield* Effect.fail(refused(400, filter))
        }
        yield* this.serveEvents(pipe, filter)
        return pipe.client
      }
      if (segments.length === 3 && segments[0] === "operations" && segments[2] === "websocket") {
        const op = this.operations.get(segments[1]!)
        if (op === undefined) return yield* Effect.fail(refused(404, "Operation not found"))
        const secret = url.searchParams.get("secret") ?? ""
        const name = Object.keys(op.secrets).find((k) => op.secrets[k] === secret)
        if (name === undefined || op.sockets.has(name)) return yield* Effect.fail(refused(403, "Forbidden"))
        if (op.statusCode !== OP_CODES.Running) {
          return yield* Effect.fail(refused(400, "Only running operations can be connected"))
        }
        const pipe = yield* this.openPipe(address, url.pathname)
        op.sockets.set(name, pipe.server)
        yield* Deferred.succeed(op.attached.get(name)!, pipe.server)
        yield* Effect.forkIn(
          Effect.zipRight(pipe.server.closed, Deferred.succeed(op.socketClosed, undefined)),
          this.scope
        )
        return pipe.client
      }
      return yield* Effect.fail(refused(404, "not found"))
    }))
  }

  openPipe(address: string, path: string): Effect.Effect<Pipe.Pipe, never, Scope.Scope> {
    return Effect.gen(this, function*() {
      const pipe = yield* Pipe.make(address, path)
      this.pipes.add(pipe)
      yield* Effect.addFinalizer(() => pipe.closeBoth)
      yield* Effect.forkIn(
        Effect.zipRight(pipe.server.closed, Effect.sync(() => this.pipes.delete(pipe))),
        this.scope
      )
      return pipe
    })
  }

  eventFilter(
    query: URLSearchParams
  ): { readonly types: ReadonlyArray<string>; readonly project: string | undefined } | string {
    const known = this.dialect === "lxd-5.0"
      ? ["logging", "operation", "lifecycle"]
      : ["logging", "operation", "lifecycle", "ovn", "security", "network-acl"]
    const types = query.getAll("type").flatMap((t) => t.split(",")).filter((t) => t.length > 0)
    for (const t of types) if (!known.includes(t)) return `"${t}" isn't a supported event type`
    const all = query.get("all-projects") === "true"
    const project = all ? undefined : query.get("project") ?? "default"
    if (project !== undefined && !this.projects.has(project)) return "Project not found"
    return { types: types.length === 0 ? known : types, project }
  }

  serveEvents(
    pipe: Pipe.Pipe,
    filter: { readonly types: ReadonlyArray<string>; readonly project: string | undefined }
  ): Effect.Effect<void, never, Scope.Scope> {
    return Effect.gen(this, function*() {
      // subscribed before the client gets its end: nothing published after the
      // handshake is missed
      const subscribed = yield* Deferred.make<void>()
      yield* Effect.forkIn(
        Effect.scoped(Effect.gen(this, function*() {
          const queue = yield* PubSub.subscribe(this.events)
          yield* Deferred.succeed(subscribed, undefined)
          const forward = Effect.forever(Effect.flatMap(Queue.take(queue), (event) => {
            if (!filter.types.includes(event.type)) return Effect.void
            if (filter.project !== undefined && event.project !== filter.project) return Effect.void
            return pipe.server.send(JSON.stringify({ ...event, location: "none" })).pipe(Effect.ignore)
          }))
          yield* Effect.raceFirst(forward, pipe.server.closed)
        })),
        this.scope
      )
      yield* Deferred.await(subscribed)
    })
  }

  /** Stop the daemon: every websocket closes, new requests fail. */
  stop(): Effect.Effect<void> {
    return Effect.gen(this, function*() {
      this.stopped = true
      yield* Deferred.succeed(this.stopping, undefined)
      for (const pipe of [...this.pipes]) yield* pipe.closeBoth
      this.pipes.clear()
    })
  }

  /** Start the daemon again, with its state. */
  start(): Effect.Effect<void> {
    return Effect.sync(() => {
      if (!this.stopped) return
      this.stopped = false
      this.stopping = Deferred.unsafeMake(FiberId.none)
    })
  }

  // ---------------------------------------------------------------------------
  // Helpers for the router
  // ---------------------------------------------------------------------------

  projectOf(request: H.FakeRequest): ProjectRecord {
    const name = request.query.get("project") ?? "default"
    const project = this.projects.get(name)
    if (project === undefined) return H.refuse(404, "Project not found")
    return project
  }

  /** Where a project's profiles live (the default project's without `features.profiles`). */
  profileHome(project: ProjectRecord): ProjectRecord {
    return project.config["features.profiles"] === "true" || project.name === "default"
      ? project
      : this.projects.get("default")!
  }

  instanceOf(project: ProjectRecord, name: string): InstanceRecord {
    const instance = project.instances.get(name)
    if (instance === undefined) {
      return H.refuse(
        404,
        this.family === "incus"
          ? `Failed to fetch instance "${name}" in project "${project.name}": Instance not found`
          : "Instance not found"
      )
    }
    return instance
  }

  checkEtag(request: H.FakeRequest, current: string): void {
    const given = request.headers["if-match"]
    if (given !== undefined && given !== "" && given !== current) {
      H.refuse(412, `ETag doesn't match: ${given} vs ${current}`)
    }
  }

  instancePut(i: InstanceRecord) {
    return {
      architecture: i.architecture,
      config: i.config,
      devices: i.devices,
      ephemeral: i.ephemeral,
      profiles: i.profiles,
      stateful: false,
      description: i.description
    }
  }

  renderInstance(project: ProjectRecord, i: InstanceRecord): Record<string, unknown> {
    const expanded = expand(project, this.profileHome(project), i)
    return {
      name: i.name,
      type: i.type,
      status: i.status,
      status_code: statusCode(i.status),
      architecture: i.architecture,
      config: i.config,
      devices: i.devices,
      ephemeral: i.ephemeral,
      profiles: i.profiles,
      stateful: false,
      description: i.description,
      created_at: i.createdAt.toISOString(),
      last_used_at: iso(i.lastUsedAt),
      location: "none",
      project: project.name,
      expanded_config: expanded.config,
      expanded_devices: expanded.devices
    }
  }

  renderState(i: InstanceRecord, project?: ProjectRecord): Record<string, unknown> {
    const running = i.status !== "Stopped"
    // as LXD 5.0.2 reports them: every interface with its counters, and one per nic
    // device (a veth with a link-local IPv6 address; no IPv4 address is made up)
    const counters = {
      bytes_received: 0,
      bytes_sent: 0,
      packets_received: 0,
      packets_sent: 0,
      errors_received: 0,
      errors_sent: 0,
      packets_dropped_outbound: 0,
      packets_dropped_inbound: 0
    }
    const nics: Record<string, unknown> = {}
    if (running && project !== undefined) {
      const devices = expand(project, this.profileHome(project), i).devices
      for (const [key, d] of Object.entries(devices)) {
        if (d.type !== "nic") continue
        const name = d.name ?? key
        const h = H.hash(`${project.name}/${i.name}/${key}`)
        const mac = `00:16:3e:${h.slice(0, 2)}:${h.slice(2, 4)}:${h.slice(4, 6)}`
        nics[name] = {
          addresses: [{ family: "inet6", address: linkLocal(mac), netmask: "64", scope: "link" }],
          counters,
          hwaddr: mac,
          host_name: `veth${h.slice(6, 14)}`,
          mtu: 1500,
          state: "up",
          type: "broadcast"
        }
      }
    }
    return {
      status: i.status,
      status_code: statusCode(i.status),
      disk: { root: { usage: 4096 } },
      memory: { usage: running ? 8 * 1024 * 1024 : 0, usage_peak: 0, swap_usage: 0, swap_usage_peak: 0 },
      network: running
        ? {
          lo: {
            addresses: [
              { family: "inet", address: "127.0.0.1", netmask: "8", scope: "local" },
              { family: "inet6", address: "::1", netmask: "128", scope: "local" }
            ],
            counters,
            hwaddr: "",
            host_name: "",
            mtu: 65536,
            state: "up",
            type: "loopback"
          },
          ...nics
        }
        : null,
      pid: running ? i.pid : 0,
      processes: running ? 1 + i.processTable.size : 0,
      // nanoseconds of CPU time: some while running
      cpu: {
        usage: running && i.startedAt !== undefined ? 1_000_000 + (Date.now() - i.startedAt.getTime()) * 1000 : 0
      },
      ...(i.startedAt === undefined ? {} : { started_at: i.startedAt.toISOString() })
    }
  }

  renderSnapshot(project: ProjectRecord, s: SnapshotRecord): Record<string, unknown> {
    const expanded = expand(project, this.profileHome(project), s)
    return {
      name: s.name,
      created_at: s.createdAt.toISOString(),
      expires_at: s.expiresAt,
      last_used_at: iso(undefined),
      stateful: s.stateful,
      architecture: "x86_64",
      config: s.config,
      devices: s.devices,
      ephemeral: s.ephemeral,
      expanded_config: expanded.config,
      expanded_devices: expanded.devices,
      profiles: s.profiles,
      size: 0,
      description: s.description
    }
  }

  renderImage(image: ImageRecord, project: string): Record<string, unknown> {
    return {
      fingerprint: image.fingerprint,
      architecture: image.architecture,
      aliases: [...this.aliases.values()]
        .filter((a) => a.target === image.fingerprint)
        .map((a) => ({ name: a.name, description: a.description })),
      auto_update: image.autoUpdate,
      cached: false,
      created_at: image.createdAt.toISOString(),
      expires_at: iso(undefined),
      last_used_at: iso(undefined),
      uploaded_at: image.uploadedAt.toISOString(),
      filename: `${image.fingerprint}.tar.xz`,
      properties: image.properties,
      public: image.public,
      size: image.size,
      type: image.type,
      profiles: image.profiles,
      project
    }
  }

  profileUsers(project: ProjectRecord, name: string): Array<string> {
    const out: Array<string> = []
    for (const p of this.projects.values()) {
      if (this.profileHome(p) !== project) continue
      for (const i of p.instances.values()) {
        if (i.profiles.includes(name)) {
          out.push(`/1.0/instances/${enc(i.name)}${p.name === "default" ? "" : `?project=${enc(p.name)}`}`)
        }
      }
    }
    return out
  }

  renderProfile(project: ProjectRecord, p: ProfileRecord): Record<string, unknown> {
    return {
      name: p.name,
      description: p.description,
      config: p.config,
      devices: p.devices,
      used_by: this.profileUsers(project, p.name),
      project: project.name
    }
  }

  projectUsers(p: ProjectRecord): Array<string> {
    const q = p.name === "default" ? "" : `?project=${enc(p.name)}`
    return [
      ...[...p.instances.keys()].map((n) => `/1.0/instances/${enc(n)}${q}`),
      ...[...p.profiles.keys()].map((n) => `/1.0/profiles/${enc(n)}${q}`),
      ...[...p.volumes.keys()].map((n) => `/1.0/storage-pools/${this.pool}/volumes/custom/${enc(n)}${q}`)
    ]
  }

  renderProject(p: ProjectRecord): Record<string, unknown> {
    return { name: p.name, description: p.description, config: p.config, used_by: this.projectUsers(p) }
  }

  renderVolume(project: ProjectRecord, v: VolumeRecord): Record<string, unknown> {
    const users: Array<string> = []
    for (const i of project.instances.values()) {
      if (Object.values(i.devices).some((d) => d.type === "disk" && d.source === v.name && d.pool === this.pool)) {
        users.push(`/1.0/instances/${enc(i.name)}`)
      }
    }
    return {
      name: v.name,
      type: "custom",
      description: v.description,
      config: v.config,
      content_type: v.contentType,
      used_by: users,
      location: "none",
      project: project.name,
      created_at: v.createdAt.toISOString()
    }
  }

  /** Does a disk device's host source exist (in the modelled host paths)? */
  missingDiskSource(devices: Record<string, Record<string, string>>): string | undefined {
    for (const [name, d] of Object.entries(devices)) {
      if (d.type !== "disk" || d.source === undefined || !d.source.startsWith("/")) continue
      const ok = this.hostPaths.some((p) => d.source === p || d.source!.startsWith(p.endsWith("/") ? p : p + "/"))
      if (!ok) return `Failed to start device "${name}": Missing source path "${d.source}" for disk "${name}"`
    }
    return undefined
  }

  /** Writes that answer with operations on LXD 6.x only. */
  get asyncWrites(): boolean {
    return this.dialect === "lxd-6"
  }

  /** Answer a write: sync on LXD 5.0 and Incus, a finished-at-once operation on LXD 6.x. */
  write(
    project: string,
    description: string,
    origin: Origin,
    resources: Record<string, Array<string>>,
    apply: () => void,
    created?: string
  ): Effect.Effect<H.Answer> {
    if (!this.asyncWrites) {
      apply()
      return Effect.succeed(created === undefined ? H.sync(null) : H.sync(null, { status: 201, location: created }))
    }
    // the change is visible when the answer arrives (LXD 6.x does this work at once); the
    // operation reports it (and fails instead when the test asked for that)
    const failure = this.takeOperationFault(description)
    if (failure === undefined) apply()
    return Effect.map(
      this.startOperation({
        project,
        description,
        origin,
        resources,
        run: () => (failure === undefined ? Effect.void : Effect.fail(failure))
      }),
      (op) => H.async(this.renderOperation(op) as { id: string })
    )
  }

  // ---------------------------------------------------------------------------
  // Exec
  // ---------------------------------------------------------------------------

  /** Run a command with the given streams; the exit code (128+n when signal n ends it). */
  runCommand(
    context: Omit<ExecContext, "stdin"> & { readonly stdin: Stream.Stream<Uint8Array> },
    signals: Queue.Queue<number>
  ): Effect.Effect<number> {
    return Effect.gen(this, function*() {
      const binary = context.command[0] ?? ""
      if (binary.includes("/")) {
        const node = context.files.get(normalize(binary) ?? "")
        if (node === undefined) {
          yield* context.stderr(`exec: "${binary}": stat ${binary}: no such file or directory\n`)
          return 127
        }
        if (node.type === "directory" || (node.mode & 0o111) === 0) {
          yield* context.stderr(`exec: "${binary}": permission denied\n`)
          return 126
        }
        // a shell script from the tree runs as `sh -c` (its first line is the #! line)
        const text = new TextDecoder().decode(node.data)
        if (node.type === "file" && text.startsWith("#!") && /sh\b/.test(text.split("\n")[0]!)) {
          const script = text.split("\n").slice(1).join("\n")
          return yield* this.runCommand(
            { ...context, command: ["sh", "-c", script, ...context.command.slice(1)] },
            signals
          )
        }
      }
      const run = this.commands(context)
      if (run === undefined) {
        yield* context.stderr(`exec: "${binary}": executable file not found in $PATH\n`)
        return 127
      }
      // a signal (other than SIGWINCH and 0) ends the command
      const killed = Effect.gen(function*() {
        while (true) {
          const n = yield* Queue.take(signals)
          if (n !== 0 && n !== 28) return 128 + n
        }
      })
      return yield* Effect.raceFirst(run, killed)
    })
  }
}

const exitFailure = (exit: Exit.Exit<unknown, string>): string | undefined =>
  Exit.isSuccess(exit) ? undefined : Option.getOrElse(Cause.failureOption(exit.cause), () => Cause.pretty(exit.cause))

/** The EUI-64 link-local IPv6 address of a MAC address (`fe80::216:3eff:fe3d:6584`). */
const linkLocal = (mac: string): string => {
  const b = mac.split(":").map((x) => parseInt(x, 16))
  const bytes = [b[0]! ^ 0x02, b[1]!, b[2]!, 0xff, 0xfe, b[3]!, b[4]!, b[5]!]
  const groups: Array<string> = []
  for (let k = 0; k < 8; k += 2) groups.push(((bytes[k]! << 8) | bytes[k + 1]!).toString(16))
  return `fe80::${groups.join(":")}`
}

/** A random secret for an operation websocket. */
export const newSecret = (): string => randomHex(32)

export type { InstanceStatus }
