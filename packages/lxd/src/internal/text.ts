/**
 * Reading a raw (non-JSON) answer as text: log files, templates.
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type { RequestError } from "../LxdError.js"
import type { LxdRequest, Service as LxdHttpService } from "../LxdHttp.js"

/** The whole body of `request`'s answer, decoded as UTF-8. */
export const readText = (http: LxdHttpService, request: LxdRequest): Effect.Effect<string, RequestError> =>
  Effect.scoped(
    Effect.flatMap(http.raw(request), (response) => response.body.pipe(Stream.decodeText(), Stream.mkString))
  )
