/**
 * Background operations: list, get, wait (with its timeout) and cancel.
 */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as H from "../http.js"
import { type FakeServer, type OperationRecord } from "../server.js"
import { type Handler, recursion } from "./common.js"

const operationOf = (server: FakeServer, id: string): OperationRecord => {
  const op = server.operations.get(id)
  if (op === undefined) return H.refuse(404, "Operation not found")
  return op
}

export const listOperations: Handler = (server, request) => {
  const all = request.query.get("all-projects") === "true"
  const project = all ? undefined : server.projectOf(request).name
  const byStatus: Record<string, Array<unknown>> = {}
  for (const op of server.operations.values()) {
    if (project !== undefined && op.project !== project) continue
    const key = op.status.toLowerCase()
    ;(byStatus[key] ??= []).push(
      recursion(request) >= 1 ? server.renderOperation(op) : `/1.0/operations/${op.id}`
    )
  }
  return H.sync(byStatus)
}

export const getOperation: Handler = (server, request) =>
  H.sync(server.renderOperation(operationOf(server, request.segments[1]!)))

export const waitOperation: Handler = (server, request) => {
  const op = operationOf(server, request.segments[1]!)
  const timeout = Number(request.query.get("timeout") ?? "-1")
  const wait = timeout < 0
    ? Deferred.await(op.done)
    : Effect.timeout(Deferred.await(op.done), Duration.seconds(timeout))
  // rendered once the wait is over, not when the answer is built
  return Effect.map(Effect.ignore(wait), () => H.sync(server.renderOperation(op)))
}

export const cancelOperation: Handler = (server, request) => {
  const op = operationOf(server, request.segments[1]!)
  if (op.statusCode >= 200) return H.refuse(400, "Only running operations can be cancelled")
  if (!op.mayCancel) return H.refuse(403, "This operation can't be cancelled")
  const fiber = op.fiber
  return Effect.gen(function*() {
    if (fiber !== undefined) yield* Fiber.interrupt(fiber)
    yield* Deferred.await(op.done)
    return H.sync(null)
  })
}
