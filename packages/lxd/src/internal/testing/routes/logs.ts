/**
 * Instance log files and the console log.
 */
import * as H from "../http.js"
import { enc, encoder, type Handler } from "./common.js"

export const concat = (chunks: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0))
  let at = 0
  for (const c of chunks) {
    out.set(c, at)
    at += c.length
  }
  return out
}

export const logs: Handler = (server, request) => {
  const project = server.projectOf(request)
  const i = server.instanceOf(project, request.segments[1]!)
  const file = request.segments.slice(3).join("/")
  if (file === "") {
    return H.sync([...i.logs.keys()].map((k) => `/1.0/instances/${enc(i.name)}/logs/${k}`))
  }
  const data = i.logs.get(file)
  if (data === undefined) return H.refuse(404, "Log file not found")
  if (request.method === "DELETE") {
    i.logs.delete(file)
    return H.sync(null)
  }
  return H.raw(200, data, { "content-type": "application/octet-stream" })
}

/** The console log (`GET`, raw) and clearing it (`DELETE`); attaching is not modelled. */
export const consoleLog: Handler = (server, request) => {
  const project = server.projectOf(request)
  const i = server.instanceOf(project, request.segments[1]!)
  switch (request.method) {
    case "GET":
      return H.raw(200, encoder.encode(i.console), { "content-type": "application/octet-stream" })
    case "DELETE":
      i.console = ""
      return H.sync(null)
    default:
      return H.refuse(501, "Attaching to the console is not modelled by the fake")
  }
}
