/**
 * Building request paths and query strings safely.
 *
 * Every interpolated value is percent-encoded as one path segment, so a name such as
 * `a/../../1.0/certificates` or `x?recursion=1` stays inside its own segment and can never
 * reach another endpoint.
 */

/** Encode one path segment: everything but unreserved characters is escaped. */
export const encodeSegment = (segment: string): string =>
  // encodeURIComponent leaves . ! ' ( ) * ~ alone; "." and ".." are dangerous as whole
  // segments, so escape dots when the segment consists only of dots.
  /^\.+$/.test(segment)
    ? segment.replace(/\./g, "%2E")
    : encodeURIComponent(segment).replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase())

/**
 * Tagged template for API paths: `path\`/1.0/instances/${name}/state\``. Literal parts are
 * kept as written; every interpolation is one encoded segment.
 */
export const path = (strings: TemplateStringsArray, ...values: ReadonlyArray<string>): string => {
  let out = strings[0]!
  for (let i = 0; i < values.length; i++) {
    out += encodeSegment(values[i]!) + strings[i + 1]!
  }
  return out
}

/** A query value: `undefined` drops the key, arrays repeat it. */
export type QueryValue = string | number | boolean | undefined | ReadonlyArray<string>

/** Serialise a query object (stable order, every key and value encoded). */
export const queryString = (query: Readonly<Record<string, QueryValue>> | undefined): string => {
  if (query === undefined) return ""
  const parts: Array<string> = []
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined) continue
    const values = typeof value === "object" ? value : [String(value)]
    for (const v of values) parts.push(`${encodeURIComponent(key)}=${encodeURIComponent(v)}`)
  }
  return parts.length === 0 ? "" : "?" + parts.join("&")
}

/** The last segment of an LXD URL (`/1.0/instances/c%201?project=x` → `c 1`). */
export const nameFromUrl = (url: string): string => {
  const noQuery = url.split("?")[0]!
  const segments = noQuery.split("/")
  return decodeURIComponent(segments[segments.length - 1] ?? "")
}

const labels: Record<string, string> = {
  instances: "Instance",
  containers: "Container",
  "virtual-machines": "Virtual machine",
  snapshots: "Snapshot",
  backups: "Backup",
  images: "Image",
  aliases: "Image alias",
  profiles: "Profile",
  projects: "Project",
  networks: "Network",
  forwards: "Network forward",
  "load-balancers": "Network load balancer",
  peers: "Network peer",
  "network-acls": "Network ACL",
  "network-zones": "Network zone",
  records: "Network zone record",
  "storage-pools": "Storage pool",
  volumes: "Storage volume",
  buckets: "Storage bucket",
  keys: "Storage bucket key",
  certificates: "Certificate",
  operations: "Operation",
  members: "Cluster member",
  groups: "Cluster group",
  warnings: "Warning",
  logs: "Log file",
  templates: "Template"
}

/** Volume types appear between `volumes` and the name: skip them. */
const volumeTypes = new Set(["custom", "container", "virtual-machine", "image"])

/**
 * A human label for the resource a path points at, e.g.
 * `/1.0/instances/web1/snapshots/s0` → `Snapshot "s0" of instance "web1"`.
 * Returns `undefined` for collections and unknown shapes.
 */
export const resourceLabel = (p: string): string | undefined => {
  const segments = p.split("?")[0]!.split("/").filter((s) => s.length > 0)
  if (segments[0] !== "1.0") return undefined
  const found: Array<{ readonly label: string; readonly name: string }> = []
  for (let i = 1; i < segments.length; i++) {
    const collection = segments[i]!
    const label = labels[collection]
    if (label === undefined) continue
    let next = i + 1
    if (collection === "volumes" && volumeTypes.has(segments[next] ?? "")) next++
    if (collection === "images" && segments[next] === "aliases") continue
    const name = segments[next]
    if (name === undefined) continue
    let decoded: string
    try {
      decoded = decodeURIComponent(name)
    } catch {
      decoded = name
    }
    found.push({ label, name: decoded })
    i = next
  }
  if (found.length === 0) return undefined
  const last = found[found.length - 1]!
  const parent = found.length > 1 ? found[found.length - 2] : undefined
  const main = `${last.label} "${last.name}"`
  return parent === undefined ? main : `${main} of ${parent.label.toLowerCase()} "${parent.name}"`
}

/** Strip the query string: error values never carry one (it can hold secrets). */
export const withoutQuery = (p: string): string => p.split("?")[0]!
