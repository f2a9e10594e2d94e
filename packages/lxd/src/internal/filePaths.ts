/**
 * Pure helpers of `Files`: where a symlink leads, the directories `mkdir -p` makes, and
 * the decoding of a directory listing.
 */
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as NodePath from "node:path"
import { DecodeError } from "../LxdError.js"
import { decodeEnvelope } from "./envelope.js"

const Listing = Schema.NullOr(Schema.Array(Schema.String))

/** Where a symlink at `at` pointing at `target` leads (a relative target is read from the link's directory). */
export const resolveLink = (at: string, target: string): string =>
  target.startsWith("/") ? target : NodePath.posix.resolve(NodePath.posix.dirname(at), target)

/** `/a/b/c` → `["/a", "/a/b", "/a/b/c"]`: the directories `mkdir` with `parents` makes, in order. */
export const directoriesTo = (p: string): ReadonlyArray<string> => {
  const out: Array<string> = []
  let at = ""
  for (const segment of p.split("/").filter((s) => s.length > 0)) {
    at += "/" + segment
    out.push(at)
  }
  return out
}

/**
 * The names in a directory listing: the body of `GET .../files?path=<dir>` is a sync
 * envelope whose metadata is a list of names (or `null`).
 */
export const decodeListing = (text: string, path: string): Either.Either<ReadonlyArray<string>, DecodeError> => {
  const bad = (reason: string) => Either.left(new DecodeError({ method: "GET", path, reason }))
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return bad("the directory listing is not JSON")
  }
  const envelope = decodeEnvelope(json)
  if (Either.isLeft(envelope) || envelope.right.type !== "sync") {
    return bad("the directory listing is not a sync answer")
  }
  const names = Schema.decodeUnknownEither(Listing)(envelope.right.metadata)
  return Either.isLeft(names) ? bad("the directory listing is not a list of names") : Either.right(names.right ?? [])
}
