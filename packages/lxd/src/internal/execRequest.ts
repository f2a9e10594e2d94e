/**
 * The `POST /1.0/instances/<name>/exec` request of every way to run a command (`Exec`,
 * `DetachedExec`, the `CommandExecutor`): its checks and its body.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type { InvalidArgument } from "../LxdError.js"
import { checkAbsolutePath, checkCommand, checkId, checkName } from "./validation.js"

/** The options every exec request shares. */
export interface ExecFields {
  readonly environment?: Readonly<Record<string, string>> | undefined
  readonly cwd?: string | undefined
  readonly user?: number | undefined
  readonly group?: number | undefined
  readonly interactive?: boolean | undefined
  readonly width?: number | undefined
  readonly height?: number | undefined
}

/** The instance, the command, the working directory and the ids, each by its rule. */
export const checkExec = (
  instance: string,
  command: ReadonlyArray<string>,
  options: ExecFields | undefined
): Effect.Effect<void, InvalidArgument> =>
  Effect.all([
    checkName(instance, "instance"),
    checkCommand(command),
    options?.cwd === undefined ? Either.void : checkAbsolutePath(options.cwd, "cwd"),
    checkId(options?.user, "user"),
    checkId(options?.group, "group")
  ], { discard: true })

/** The body's common fields (the caller adds `wait-for-websocket` and `record-output`). */
export const execBody = (command: ReadonlyArray<string>, options: ExecFields | undefined): Record<string, unknown> => {
  const body: Record<string, unknown> = {
    command,
    environment: options?.environment ?? {},
    interactive: options?.interactive === true
  }
  if (options?.width !== undefined) body.width = options.width
  if (options?.height !== undefined) body.height = options.height
  if (options?.cwd !== undefined) body.cwd = options.cwd
  if (options?.user !== undefined) body.user = options.user
  if (options?.group !== undefined) body.group = options.group
  return body
}
