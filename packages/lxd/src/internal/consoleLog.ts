/**
 * The console log of an instance (`/1.0/instances/<name>/console`), read and cleared.
 * `InstanceConsole` alone offers it (`log`, `clearLog`); `Instances` no longer does.
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type { RequestError } from "../LxdError.js"
import type { Service as Http } from "../LxdHttp.js"
import { path } from "./path.js"

const consolePath = (instance: string) => path`/1.0/instances/${instance}/console`

// LXD 5.0.2 answers 500 "open : no such file or directory" while the console ring buffer
// is empty (after a boot without output, or after a clear): that is an empty log
const isEmptyLogAnswer = (e: RequestError): boolean =>
  e._tag === "LXDAPIException" && e.status === 500 && /^open\s*: no such file or directory$/.test(e.serverMessage)

/** The console ring buffer, as text (empty when the server has none yet). */
export const readConsoleLog = (http: Http, instance: string): Effect.Effect<string, RequestError> =>
  Effect.scoped(
    Effect.flatMap(http.raw({ method: "GET", path: consolePath(instance) }), (response) =>
      response.body.pipe(Stream.decodeText(), Stream.mkString))
  ).pipe(Effect.catchIf(isEmptyLogAnswer, () =>
    Effect.succeed("")))

/** Empty the console ring buffer. */
export const clearConsoleLog = (http: Http, instance: string): Effect.Effect<void, RequestError> =>
  Effect.asVoid(http.send({ method: "DELETE", path: consolePath(instance) }))
