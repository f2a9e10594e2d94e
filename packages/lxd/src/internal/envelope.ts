/**
 * LXD's response envelope: `sync`, `async` or `error`, decided by the `type` field (not by
 * the HTTP status: `/wait` answers 200 with an error envelope inside).
 */
import * as Schema from "effect/Schema"
import { decodeUnknownEither } from "./models/compiled.js"

/** The operation object (`api.Operation`), shared by LXD and Incus. */
export class Operation extends Schema.Class<Operation>("effect-lxd/Operation")({
  id: Schema.String,
  class: Schema.String,
  description: Schema.String,
  created_at: Schema.String,
  updated_at: Schema.String,
  status: Schema.String,
  status_code: Schema.Number,
  // LXD lists a touched collection with no URLs as `null`, e.g. `{"cluster": null}`
  resources: Schema.optionalWith(
    Schema.NullOr(Schema.Record({ key: Schema.String, value: Schema.NullOr(Schema.Array(Schema.String)) })),
    {
      default: () => null
    }
  ),
  metadata: Schema.optionalWith(Schema.NullOr(Schema.Record({ key: Schema.String, value: Schema.Unknown })), {
    default: () => null
  }),
  may_cancel: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  err: Schema.optionalWith(Schema.String, { default: () => "" }),
  location: Schema.optional(Schema.String),
  requestor: Schema.optional(Schema.NullOr(Schema.Unknown))
}) {
  /** The operation reached a final state (status code 200 or more). */
  get isFinal(): boolean {
    return this.status_code >= 200
  }
  /** The operation finished successfully. */
  get isSuccess(): boolean {
    return this.status_code === 200
  }
}

export const SyncEnvelope = Schema.Struct({
  type: Schema.Literal("sync"),
  status: Schema.optional(Schema.String),
  status_code: Schema.optional(Schema.Number),
  metadata: Schema.optionalWith(Schema.Unknown, { default: () => null })
})

export const AsyncEnvelope = Schema.Struct({
  type: Schema.Literal("async"),
  status: Schema.optional(Schema.String),
  status_code: Schema.optional(Schema.Number),
  operation: Schema.String,
  metadata: Operation
})

export const ErrorEnvelope = Schema.Struct({
  type: Schema.Literal("error"),
  error: Schema.String,
  error_code: Schema.Number,
  metadata: Schema.optional(Schema.Unknown)
})

export const Envelope = Schema.Union(SyncEnvelope, AsyncEnvelope, ErrorEnvelope)
export type Envelope = typeof Envelope.Type

// the compiled check first (`models/compiled.ts`); a malformed envelope fails as the schema says
export const decodeEnvelope = decodeUnknownEither(Envelope, { errors: "first" })
