/**
 * Commands tagged by a number (`sleep <n>`, `yes <n>`), found again with `ps`: proof that
 * an interrupted command did not survive.
 */
import { assert } from "@effect/vitest"
import { Exec } from "effect-lxd"
import * as Effect from "effect/Effect"

/** The tagged processes in the container whose marker lies in [from, to). */
export const taggedProcesses = (box: string, from: number, to: number) =>
  Effect.gen(function*() {
    const exec = yield* Exec.Exec
    const ps = yield* exec.run(box, ["ps", "-o", "pid,args"])
    assert.strictEqual(ps.exitCode, 0)
    return ps.stdout.split("\n").filter((line) => {
      const m = /\b(?:sleep|yes) (\d+)\s*$/.exec(line)
      return m !== null && Number(m[1]) >= from && Number(m[1]) < to
    })
  })
