/**
 * The fake server's view of HTTP: a decoded request, an answer, LXD's envelopes, and the
 * refusal a handler raises to answer with an error envelope.
 */

/** A request as the fake sees it. */
export interface FakeRequest {
  readonly method: string
  /** The path as sent (percent-encoded), without the query. */
  readonly path: string
  /** The decoded segments after `/1.0` (`/1.0/instances/a%2Fb` → `["instances", "a/b"]`). */
  readonly segments: ReadonlyArray<string>
  readonly query: URLSearchParams
  /** Header names in lower case. */
  readonly headers: Readonly<Record<string, string>>
  readonly body: Uint8Array
}

/** An answer: status, headers and the whole body. */
export interface Answer {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: Uint8Array
}

const encoder = new TextEncoder()

/** A JSON answer. */
export const json = (status: number, value: unknown, headers: Record<string, string> = {}): Answer => ({
  status,
  headers: { "content-type": "application/json", ...headers },
  body: encoder.encode(JSON.stringify(value) + "\n")
})

/** A `sync` envelope (HTTP 200, or 201 with a `Location`). */
export const sync = (
  metadata: unknown,
  options: { readonly status?: number; readonly etag?: string; readonly location?: string } = {}
): Answer =>
  json(
    options.status ?? 200,
    { type: "sync", status: "Success", status_code: 200, operation: "", error_code: 0, error: "", metadata },
    {
      ...(options.etag === undefined ? {} : { etag: options.etag }),
      ...(options.location === undefined ? {} : { location: options.location })
    }
  )

/** An `async` envelope for a background operation. */
export const async = (operation: { readonly id: string }): Answer =>
  json(202, {
    type: "async",
    status: "Operation created",
    status_code: 100,
    operation: `/1.0/operations/${operation.id}`,
    error_code: 0,
    error: "",
    metadata: operation
  }, { location: `/1.0/operations/${operation.id}` })

/** An `error` envelope. */
export const error = (status: number, message: string): Answer =>
  json(status, {
    type: "error",
    status: "",
    status_code: 0,
    operation: "",
    error_code: status,
    error: message,
    metadata: null
  })

/** Raw bytes with headers. */
export const raw = (status: number, body: Uint8Array, headers: Record<string, string>): Answer => ({
  status,
  headers,
  body
})

/**
 * Raised inside a request handler to answer with LXD's error envelope; the router turns it
 * into the answer. It never leaves the fake.
 */
export class Refusal {
  constructor(readonly status: number, readonly message: string) {}
}

/** Answer with an error envelope (see `Refusal`). */
export const refuse = (status: number, message: string): never => {
  throw new Refusal(status, message)
}

/** The request body as JSON (an object), or a 400. */
export const jsonBody = (request: FakeRequest): Record<string, unknown> => {
  if (request.body.length === 0) return {}
  let value: unknown
  try {
    value = JSON.parse(new TextDecoder().decode(request.body))
  } catch {
    return refuse(400, "Invalid request body: not JSON")
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return refuse(400, "Invalid request body: not an object")
  }
  return value as Record<string, unknown>
}

/** A string map (config) from a body field; anything else is a 400. */
export const stringMap = (value: unknown, field: string): Record<string, string> => {
  if (value === undefined || value === null) return {}
  if (typeof value !== "object" || Array.isArray(value)) return refuse(400, `Invalid ${field}`)
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== "string") return refuse(400, `Invalid value for ${field} key "${k}": not a string`)
    out[k] = v
  }
  return out
}

/** A device map from a body field. */
export const deviceMap = (value: unknown): Record<string, Record<string, string>> => {
  if (value === undefined || value === null) return {}
  if (typeof value !== "object" || Array.isArray(value)) return refuse(400, "Invalid devices")
  const out: Record<string, Record<string, string>> = {}
  for (const [k, v] of Object.entries(value)) out[k] = stringMap(v, `device ${k}`)
  return out
}

/** A list of strings from a body field. */
export const stringList = (value: unknown, field: string): Array<string> => {
  if (value === undefined || value === null) return []
  if (!Array.isArray(value) || value.some((v) => typeof v !== "string")) return refuse(400, `Invalid ${field}`)
  return value as Array<string>
}

/** A short stable hash (FNV-1a, 64 bits as hex) for ETags and made-up fingerprints. */
export const hash = (text: string): string => {
  let h1 = 0x811c9dc5
  let h2 = 0x01000193
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    h1 = Math.imul(h1 ^ c, 0x01000193) >>> 0
    h2 = Math.imul(h2 ^ c, 0x811c9dc5) >>> 0
  }
  return h1.toString(16).padStart(8, "0") + h2.toString(16).padStart(8, "0")
}
