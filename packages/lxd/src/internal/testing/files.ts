/**
 * The file tree of a fake instance: absolute POSIX paths to files, directories and
 * symlinks, each with a mode, an owner and a modification time. Nodes are replaced, never
 * mutated, so a snapshot is a copy of the map.
 */

/** One entry of the tree. */
export interface FileNode {
  readonly type: "file" | "directory" | "symlink"
  /** Permission bits (`0o644`). */
  readonly mode: number
  readonly uid: number
  readonly gid: number
  /** File contents (empty for directories). */
  readonly data: Uint8Array
  /** A symlink's target. */
  readonly target: string
  readonly modified: Date
}

/** Why a file operation was refused: the HTTP status and LXD's words. */
export interface FileRefusal {
  readonly status: number
  readonly message: string
}

const empty = new Uint8Array(0)

/** `/a/./b/../c/` → `/a/c`; `undefined` for a relative path. */
export const normalize = (path: string): string | undefined => {
  if (!path.startsWith("/")) return undefined
  const out: Array<string> = []
  for (const segment of path.split("/")) {
    if (segment === "" || segment === ".") continue
    if (segment === "..") out.pop()
    else out.push(segment)
  }
  return "/" + out.join("/")
}

const parentOf = (path: string): string => {
  const i = path.lastIndexOf("/")
  return i <= 0 ? "/" : path.slice(0, i)
}

const dir = (mode: number, now: Date): FileNode => ({
  type: "directory",
  mode,
  uid: 0,
  gid: 0,
  data: empty,
  target: "",
  modified: now
})

const file = (text: string, mode: number, now: Date): FileNode => ({
  type: "file",
  mode,
  uid: 0,
  gid: 0,
  data: new TextEncoder().encode(text),
  target: "",
  modified: now
})

/** A mutable tree, keyed by normalized path. */
export class FileTree {
  constructor(readonly nodes: Map<string, FileNode>) {}

  /** The tree a new instance starts with: a small root file system. */
  static initial(hostname: string): FileTree {
    const now = new Date()
    const nodes = new Map<string, FileNode>()
    for (
      const d of [
        "/",
        "/bin",
        "/dev",
        "/etc",
        "/home",
        "/proc",
        "/root",
        "/sbin",
        "/srv",
        "/sys",
        "/tmp",
        "/usr",
        "/var"
      ]
    ) {
      nodes.set(d, dir(d === "/tmp" ? 0o1777 : d === "/root" ? 0o700 : 0o755, now))
    }
    nodes.set("/etc/hostname", file(`${hostname}\n`, 0o644, now))
    nodes.set("/etc/passwd", file("root:x:0:0:root:/root:/bin/sh\n", 0o644, now))
    nodes.set("/etc/os-release", file("NAME=\"effect-lxd fake\"\nID=fake\n", 0o644, now))
    for (
      const command of ["cat", "echo", "env", "false", "id", "printf", "pwd", "seq", "sh", "sleep", "stat", "true"]
    ) {
      nodes.set(`/bin/${command}`, file("", 0o755, now))
    }
    return new FileTree(nodes)
  }

  copy(): FileTree {
    return new FileTree(new Map(this.nodes))
  }

  get(path: string): FileNode | undefined {
    return this.nodes.get(path)
  }

  /** Names directly inside a directory, sorted. */
  children(path: string): ReadonlyArray<string> {
    const prefix = path === "/" ? "/" : path + "/"
    const out: Array<string> = []
    for (const key of this.nodes.keys()) {
      if (key !== path && key.startsWith(prefix) && !key.slice(prefix.length).includes("/")) {
        out.push(key.slice(prefix.length))
      }
    }
    return out.sort()
  }

  /** Create or replace a node; the parent directory must exist. */
  put(path: string, node: FileNode): FileRefusal | undefined {
    if (path === "/") return { status: 400, message: "Cannot replace the root directory" }
    const parent = this.nodes.get(parentOf(path))
    if (parent === undefined || parent.type !== "directory") {
      return { status: 404, message: `Parent directory of "${path}" not found` }
    }
    const existing = this.nodes.get(path)
    if (existing !== undefined && existing.type === "directory" && node.type !== "directory") {
      return { status: 400, message: `"${path}" is a directory` }
    }
    this.nodes.set(path, node)
    return undefined
  }

  /** Remove a file, a symlink or an empty directory. */
  remove(path: string): FileRefusal | undefined {
    const node = this.nodes.get(path)
    if (node === undefined) return { status: 404, message: "No such file or directory" }
    if (node.type === "directory" && this.children(path).length > 0) {
      return { status: 400, message: `Directory "${path}" is not empty` }
    }
    this.nodes.delete(path)
    return undefined
  }
}
