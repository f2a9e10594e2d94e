/**
 * Connections dialled before the websockets that will use them are known. An exec knows
 * how many sockets it will attach before it sends its request, so over TLS their TCP and
 * TLS handshakes can run while the request is in flight; each websocket then takes one
 * of them instead of dialling (and waiting for) its own.
 *
 * A connection that broke before it was taken (refused, reset, closed by the peer, or
 * failed the TLS verification) is dropped, and the taker dials afresh, so that a failure
 * surfaces exactly as it would have without the pool. Connections still untaken when the
 * scope closes are destroyed.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as Net from "node:net"

/** Pre-dialled connections not yet taken nor closed, across the process (for leak checks). */
let openCount = 0
export const openPreconnectedSocketCount = (): number => openCount

/** The connections of one pool. */
export interface Pool<S extends Net.Socket> {
  /**
   * The next pre-dialled connection that is still usable, now owned by the caller (its
   * handshakes may still be under way); `undefined` when none is left.
   */
  readonly take: () => S | undefined
  /** How many connections are waiting to be taken. */
  readonly size: () => number
}

interface Entry<S extends Net.Socket> {
  readonly socket: S
  readonly detach: () => void
}

/** Count a pre-dialled socket and watch it until it is taken: if it breaks first, it is dropped. */
const track = <S extends Net.Socket>(socket: S, drop: (entry: Entry<S>) => void): Entry<S> => {
  openCount++
  let counted = true
  // without an `error` listener, a failure before the connection is taken would be an
  // uncaught exception; the taker dials again and meets it for itself
  const onBroken = () => {
    drop(entry)
    if (!socket.destroyed) socket.destroy()
  }
  const entry: Entry<S> = {
    socket,
    detach: () => {
      socket.off("error", onBroken)
      socket.off("close", onBroken)
      if (counted) {
        counted = false
        openCount--
      }
    }
  }
  socket.once("error", onBroken)
  socket.once("close", onBroken)
  return entry
}

/**
 * Dial `count` connections now (with `dial`, which must not throw for a bad peer: the
 * failure arrives as the socket's `error`). They belong to the scope until taken.
 */
export const pool = <S extends Net.Socket>(
  dial: () => S,
  count: number
): Effect.Effect<Pool<S>, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const waiting: Array<Entry<S>> = []
      const drop = (entry: Entry<S>) => {
        const at = waiting.indexOf(entry)
        if (at >= 0) waiting.splice(at, 1)
        entry.detach()
      }
      for (let i = 0; i < count; i++) {
        let socket: S
        try {
          socket = dial()
        } catch {
          // the takers dial for themselves and meet the same failure
          break
        }
        waiting.push(track(socket, drop))
      }
      const take = (): S | undefined => {
        while (waiting.length > 0) {
          const entry = waiting.shift()!
          entry.detach()
          if (!entry.socket.destroyed) return entry.socket
        }
        return undefined
      }
      const destroyAll = () => {
        for (const entry of waiting.splice(0)) {
          entry.detach()
          entry.socket.destroy()
        }
      }
      return { take, size: () => waiting.length, destroyAll }
    }),
    (p) => Effect.sync(p.destroyAll)
  ).pipe(Effect.map(({ size, take }): Pool<S> => ({ take, size })))
