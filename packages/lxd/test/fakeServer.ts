/**
 * A tiny scripted HTTP server on a temporary unix socket, for unit tests that need
 * exact control over what "LXD" answers (envelopes, failures, dropped connections).
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Os from "node:os"
import * as Path from "node:path"
import type * as Stream from "node:stream"

export interface Recorded {
  readonly method: string
  readonly url: string
  readonly headers: Http.IncomingHttpHeaders
  readonly body: string
}

export type Handler = (req: Recorded, res: Http.ServerResponse) => void

/** Answers a websocket upgrade request (see the `ws` package's `handleUpgrade`). */
export type UpgradeHandler = (req: Http.IncomingMessage, socket: Stream.Duplex, head: Buffer) => void

/** The part of a response a scripted handler writes to (a Node `ServerResponse` is one). */
export interface Writer {
  writeHead(status: number, headers?: Record<string, string>): unknown
  end(chunk?: string): unknown
}

export const json = (res: Writer, status: number, body: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { "content-type": "application/json", ...headers })
  res.end(JSON.stringify(body))
}

export const sync = (metadata: unknown) => ({ type: "sync", status: "Success", status_code: 200, metadata })
export const error = (code: number, message: string) => ({
  type: "error",
  error: message,
  error_code: code,
  metadata: null
})

export const serverInfo = (extensions: ReadonlyArray<string> = ["instances"], server = "lxd") =>
  sync({
    api_extensions: extensions,
    api_status: "stable",
    api_version: "1.0",
    auth: "trusted",
    public: false,
    auth_methods: ["tls"],
    config: {},
    environment: { server, server_version: "5.0.2", addresses: [], architectures: ["x86_64"] }
  })

export const operation = (id: string, fields: Record<string, unknown> = {}) => ({
  id,
  class: "task",
  description: "test",
  created_at: "2026-01-01T00:00:00Z",
  updated_at: "2026-01-01T00:00:00Z",
  status: "Running",
  status_code: 103,
  resources: null,
  metadata: null,
  may_cancel: false,
  err: "",
  location: "none",
  ...fields
})

/**
 * Start a server; `route` answers every request except `GET /1.0`, which answers `info`.
 * `upgrade`, when given, receives websocket upgrade requests (otherwise they hang).
 */
export const fakeServer = (
  route: Handler,
  info: unknown = serverInfo(),
  upgrade?: UpgradeHandler
): Effect.Effect<{ readonly socketPath: string; readonly requests: Array<Recorded> }, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<{ socketPath: string; requests: Array<Recorded>; server: Http.Server; dir: string }>((resume) => {
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-lxd-fake-"))
      const socketPath = Path.join(dir, "unix.socket")
      const requests: Array<Recorded> = []
      const server = Http.createServer((req, res) => {
        let body = ""
        req.setEncoding("utf8")
        req.on("data", (d: string) => (body += d))
        req.on("end", () => {
          const recorded: Recorded = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body }
          requests.push(recorded)
          if (req.method === "GET" && req.url === "/1.0") return json(res, 200, info)
          route(recorded, res)
        })
      })
      if (upgrade !== undefined) server.on("upgrade", upgrade)
      server.listen(socketPath, () => resume(Effect.succeed({ socketPath, requests, server, dir })))
    }),
    ({ dir, server }) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => {
          Fs.rmSync(dir, { recursive: true, force: true })
          resume(Effect.void)
        })
      })
  )

/** The `202` answer of a call that starts a websocket operation (exec, console) with these fds secrets. */
export const websocketOperationStarted = (id: string, fds: Readonly<Record<string, string>>) => ({
  type: "async",
  status: "Operation created",
  status_code: 100,
  operation: `/1.0/operations/${id}`,
  metadata: operation(id, { class: "websocket", metadata: { fds } })
})
