/**
 * `/1.0/instances/<name>/files`: read, write, append, stat, list, mkdir, symlink, delete, with mode, uid and gid headers.
 */
import { type FileNode, normalize } from "../files.js"
import * as H from "../http.js"
import { type FakeServer } from "../server.js"
import { encoder, type Handler } from "./common.js"
import { decoder } from "./exec.js"
import { concat } from "./logs.js"

const fileHeaders = (server: FakeServer, node: FileNode): Record<string, string> => {
  // LXD sends X-Lxd-*, Incus X-Incus-* (Go's canonical case)
  const prefix = server.family === "incus" ? "X-Incus" : "X-Lxd"
  return {
    [`${prefix}-Type`]: node.type,
    [`${prefix}-Mode`]: "0" + (node.mode & 0o7777).toString(8).padStart(3, "0"),
    [`${prefix}-Uid`]: String(node.uid),
    [`${prefix}-Gid`]: String(node.gid),
    [`${prefix}-Modified`]: node.modified.toUTCString()
  }
}

/** A header under the server's prefix, or (Incus 6.0's legacy fallback) the LXD one. */
const fileHeader = (server: FakeServer, request: H.FakeRequest, name: string): string | undefined => {
  const own = request.headers[`${server.headerPrefix}-${name}`.toLowerCase()]
  if (own !== undefined) return own
  return server.family === "incus" ? request.headers[`x-lxd-${name}`] : undefined
}

export const files: Handler = (server, request) => {
  const project = server.projectOf(request)
  const i = server.instanceOf(project, request.segments[1]!)
  const given = request.query.get("path")
  if (given === null) return H.refuse(400, "Missing path argument")
  // a relative path is taken from the root, as LXD does (`lxc file pull c1/root/x` sends `root/x`)
  const path = normalize(given.startsWith("/") ? given : `/${given}`)
  if (path === undefined || given === "") return H.refuse(400, "Missing path argument")
  const tree = i.files
  switch (request.method) {
    case "GET":
    case "HEAD": {
      const node = tree.get(path)
      if (node === undefined) return H.refuse(404, "Not found")
      const headers = fileHeaders(server, node)
      if (request.method === "HEAD") return H.raw(200, new Uint8Array(0), headers)
      if (node.type === "directory") {
        const listing = H.sync(tree.children(path))
        return { ...listing, headers: { ...listing.headers, ...headers } }
      }
      if (node.type === "symlink") {
        return H.raw(200, encoder.encode(node.target), { ...headers, "content-type": "application/octet-stream" })
      }
      return H.raw(200, node.data, { ...headers, "content-type": "application/octet-stream" })
    }
    case "POST": {
      const type = fileHeader(server, request, "type") ?? "file"
      const uid = parseInt(fileHeader(server, request, "uid") ?? "-1", 10)
      const gid = parseInt(fileHeader(server, request, "gid") ?? "-1", 10)
      const modeText = fileHeader(server, request, "mode")
      const mode = modeText === undefined
        ? undefined
        : modeText.startsWith("0")
        ? parseInt(modeText, 8)
        : parseInt(modeText, 10)
      const existing = tree.get(path)
      const owner = {
        uid: uid >= 0 ? uid : existing?.uid ?? 0,
        gid: gid >= 0 ? gid : existing?.gid ?? 0
      }
      const now = new Date()
      let node: FileNode
      switch (type) {
        case "directory":
          if (existing !== undefined && existing.type === "directory") return H.sync(null)
          node = { type, mode: (mode ?? 0o755) & 0o7777, ...owner, data: new Uint8Array(0), target: "", modified: now }
          break
        case "symlink": {
          const target = decoder.decode(request.body)
          node = { type, mode: 0o777, ...owner, data: new Uint8Array(0), target, modified: now }
          break
        }
        case "file": {
          const append = fileHeader(server, request, "write") === "append"
          const before = append && existing?.type === "file" ? existing.data : new Uint8Array(0)
          // as LXD 5.0 and Incus 6.0 do: mode, uid and gid apply to a new file only; an
          // existing one keeps its own (measured: test/integration/files.test.ts)
          const kept = existing?.type === "file" ? existing : undefined
          node = {
            type,
            mode: (kept?.mode ?? mode ?? 0o644) & 0o7777,
            uid: kept?.uid ?? owner.uid,
            gid: kept?.gid ?? owner.gid,
            data: concat([before, request.body]),
            target: "",
            modified: now
          }
          break
        }
        default:
          return H.refuse(400, `Bad file type: ${type}`)
      }
      const refused = tree.put(path, node)
      if (refused !== undefined) return H.refuse(refused.status, refused.message)
      return H.sync(null)
    }
    case "DELETE": {
      const refused = tree.remove(path)
      if (refused !== undefined) return H.refuse(refused.status, refused.message)
      return H.sync(null)
    }
    default:
      return H.refuse(405, "Method not allowed")
  }
}
