/**
 * Recursive delete (`Files.delete` with `recursive`), over whichever backend lists and
 * deletes: children first, depth first. Entries are judged by their own type (lstat):
 * a symlink is a leaf and is deleted as a link, so the walk never leaves the tree.
 */
import * as Effect from "effect/Effect"
import { joinRemote, safeName } from "./fileTrees.js"

/** What the walk needs from a backend. */
export interface TreeOps<E> {
  /** Whether the path itself (not followed) is a directory. */
  readonly isDirectory: (path: string) => Effect.Effect<boolean, E>
  /** A directory's entries, with whether each (not followed) is a directory. */
  readonly entries: (
    path: string
  ) => Effect.Effect<ReadonlyArray<{ readonly name: string; readonly directory: boolean }>, E>
  /** Delete a file, a symlink or anything else that is not a directory. */
  readonly removeFile: (path: string) => Effect.Effect<void, E>
  /** Delete an empty directory. */
  readonly removeDirectory: (path: string) => Effect.Effect<void, E>
}

/** Delete `root` and, if it is a directory, everything in it. */
export const removeTree = <E>(ops: TreeOps<E>, root: string): Effect.Effect<void, E> => {
  const emptyAndRemove = (dir: string): Effect.Effect<void, E> =>
    Effect.gen(function*() {
      // names that could step out of the directory are never joined
      const children = (yield* ops.entries(dir)).filter((e) => safeName(e.name))
      for (const child of children) {
        const at = joinRemote(dir, child.name)
        if (child.directory) yield* emptyAndRemove(at)
        else yield* ops.removeFile(at)
      }
      yield* ops.removeDirectory(dir)
    })
  return Effect.flatMap(ops.isDirectory(root), (directory) => directory ? emptyAndRemove(root) : ops.removeFile(root))
}
