/**
 * The rules for what callers give us (names, paths, ids, modes), in one place: one rule
 * per kind, each an `Either` a call can `yield*`, failing with `InvalidArgument`.
 *
 * Kinds: a name that goes into a path (`checkName`), a name the server will store
 * (`checkNewName`: also no `/`), a fingerprint (`checkFingerprint`), a query value
 * (`checkQueryValue`), an absolute path inside an instance (`checkAbsolutePath`), a user
 * or group id (`checkId`), permission bits (`checkMode`), a command (`checkCommand`).
 *
 * Names that go into request paths and queries are checked again for every request:
 *
 * Every request passes `checkRequestTarget` at the protocol boundary (`LxdHttp`), whatever
 * service built it, so no name can reach an endpoint other than the one the call names:
 *
 * - a path segment may not be empty, `.` or `..` (URL parsers remove dot segments even
 *   when percent-encoded: `/1.0/instances/%2E%2E/x` is sent as `/1.0/x`);
 * - no path segment or query value may hold a control character (U+0000 to U+001F,
 *   U+007F): LXD and Incus cut names at NUL, so `victim\0-x` would reach `victim`.
 *
 * - the member of `/1.0/images` and `/1.0/certificates` is a fingerprint or a prefix of
 *   one: hexadecimal digits only (the servers match fingerprints with SQL `LIKE`, so `%`
 *   or `_` would reach some other image).
 */
import * as Either from "effect/Either"
import { InvalidArgument } from "../LxdError.js"
import { printable } from "./printable.js"

const CONTROL = /[\u0000-\u001f\u007f]/

const refuse = (argument: string, reason: string) => Either.left(new InvalidArgument({ argument, reason }))

/**
 * The rule for one name that becomes one path segment: not empty, not `.` or `..`, no
 * control characters.
 */
export const checkName = (value: string, argument = "name"): Either.Either<string, InvalidArgument> => {
  if (value.length === 0) return refuse(argument, "the name is empty")
  if (value === "." || value === "..") return refuse(argument, `"${value}" is not a usable name`)
  if (CONTROL.test(value)) return refuse(argument, `"${printable(value)}" contains a control character`)
  return Either.right(value)
}

/**
 * The rule for a name the server will store (a new instance, snapshot, or any object's
 * new name): the path-segment rule, and no `/` (LXD would read `a/b` as a snapshot path).
 */
export const checkNewName = (value: string, argument = "name"): Either.Either<string, InvalidArgument> =>
  Either.flatMap(
    checkName(value, argument),
    (name) => name.includes("/") ? refuse(argument, `"${printable(name)}" contains "/"`) : Either.right(name)
  )

/** A path inside an instance: absolute, no control characters. */
export const checkAbsolutePath = (value: string, argument = "path"): Either.Either<string, InvalidArgument> =>
  !value.startsWith("/")
    ? refuse(argument, `"${printable(value)}" is not an absolute path`)
    : checkQueryValue(value, argument)

/** A user or group id: a non-negative integer (absent is fine). */
export const checkId = (
  value: number | undefined,
  argument: string
): Either.Either<number | undefined, InvalidArgument> =>
  value === undefined || (Number.isInteger(value) && value >= 0)
    ? Either.right(value)
    : refuse(argument, "must be a non-negative integer")

/** Permission bits: an integer from 0 to 0o7777 (absent is fine). */
export const checkMode = (
  value: number | undefined,
  argument = "mode"
): Either.Either<number | undefined, InvalidArgument> =>
  value === undefined || (Number.isInteger(value) && value >= 0 && value <= 0o7777)
    ? Either.right(value)
    : refuse(argument, "must be permission bits (0 to 0o7777)")

/** A command line: at least the program, no NUL (the kernel would cut the argument there). */
export const checkCommand = (
  command: ReadonlyArray<string>,
  argument = "command"
): Either.Either<ReadonlyArray<string>, InvalidArgument> =>
  command.length === 0
    ? refuse(argument, "the command is empty")
    : command.some((word) => word.includes("\u0000"))
    ? refuse(argument, "an argument contains a NUL character")
    : Either.right(command)

/** A query value (a file path, a filter, a project): no control characters. */
export const checkQueryValue = (value: string, argument: string): Either.Either<string, InvalidArgument> =>
  CONTROL.test(value)
    ? refuse(argument, `"${printable(value)}" contains a control character`)
    : Either.right(value)

const HEX = /^[0-9a-f]+$/i

/**
 * An image or certificate fingerprint, or a prefix of one: hexadecimal digits only, at
 * most 64. (The servers look fingerprints up with SQL `LIKE`, so `%` or `_` would match
 * some other image.)
 */
export const checkFingerprint = (value: string, argument = "fingerprint"): Either.Either<string, InvalidArgument> =>
  value.length === 0
    ? refuse(argument, "the fingerprint is empty")
    : value.length > 64 || !HEX.test(value)
    ? refuse(argument, `"${printable(value.slice(0, 80))}" is not a fingerprint (hexadecimal digits, at most 64)`)
    : Either.right(value)

// collections whose members are named by fingerprint: `/1.0/images/<fp>`, `/1.0/certificates/<fp>`
const FINGERPRINTED = new Set(["images", "certificates"])

const decodeSegment = (segment: string): string | undefined => {
  try {
    return decodeURIComponent(segment)
  } catch {
    return undefined
  }
}

/**
 * Check a request's path (as sent, percent-encoded) and its query values. The first
 * segment that breaks a rule fails the request before it is sent.
 */
export const checkRequestTarget = (
  path: string,
  query: Readonly<Record<string, unknown>> | undefined
): Either.Either<void, InvalidArgument> => {
  if (!path.startsWith("/")) return refuse("path", `"${printable(path)}" does not start with "/"`)
  const bare = path.split("?")[0]!
  if (bare === "/") return checkQuery(query)
  const segments = bare.split("/").slice(1)
  for (let i = 0; i < segments.length; i++) {
    const raw = segments[i]!
    // `/1.0` alone ends without a slash; a trailing empty segment is an empty name
    const decoded = decodeSegment(raw)
    if (decoded === undefined) return refuse("path", `segment "${printable(raw)}" is not valid percent-encoding`)
    const checked = checkName(decoded, nameArgument(segments, i))
    if (Either.isLeft(checked)) return checked
    const fingerprinted = i === 2 && FINGERPRINTED.has(segments[1]!) && decoded !== "aliases"
    if (fingerprinted) {
      const fingerprint = checkFingerprint(decoded, `${segments[1]!.slice(0, -1)} fingerprint`)
      if (Either.isLeft(fingerprint)) return fingerprint
    }
  }
  return checkQuery(query)
}

const checkQuery = (query: Readonly<Record<string, unknown>> | undefined): Either.Either<void, InvalidArgument> => {
  if (query === undefined) return Either.void
  for (const [key, value] of Object.entries(query)) {
    const values = typeof value === "string" ? [value] : Array.isArray(value) ? value : []
    for (const v of values) {
      if (typeof v !== "string") continue
      const checked = checkQueryValue(v, key)
      if (Either.isLeft(checked)) return checked
    }
  }
  return Either.void
}

// name the argument after the collection it sits in: `/1.0/instances/<x>` → "instance name"
const nameArgument = (segments: ReadonlyArray<string>, index: number): string => {
  const collection = index > 0 ? segments[index - 1] : undefined
  if (collection === undefined) return "path"
  const singular = collection.endsWith("ies")
    ? collection.slice(0, -3) + "y"
    : collection.endsWith("s")
    ? collection.slice(0, -1)
    : collection
  return /^[a-z-]+$/.test(singular) ? `${singular.replace(/-/g, " ")} name` : "path"
}
