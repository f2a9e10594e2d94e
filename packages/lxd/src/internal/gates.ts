/**
 * Query parameters that an older server does not refuse but ignores: `all-projects` on a
 * server without the listing's extension answers for one project, silently. Every request
 * is checked here (in the protocol, after the project and target of the scope are
 * applied), so no service can forget it.
 */
import type { QueryValue } from "./path.js"

/** `all-projects` listings and the extension each needs, by the collection's path. */
const allProjectsGates: ReadonlyArray<readonly [RegExp, string]> = [
  [/^\/1\.0\/instances$/, "instance_all_projects"],
  [/^\/1\.0\/images$/, "images_all_projects"],
  [/^\/1\.0\/operations$/, "operations_get_query_all_projects"],
  [/^\/1\.0\/profiles$/, "profiles_all_projects"],
  [/^\/1\.0\/networks$/, "networks_all_projects"],
  [/^\/1\.0\/network-acls$/, "network_acls_all_projects"],
  [/^\/1\.0\/network-zones$/, "network_zones_all_projects"],
  [/^\/1\.0\/storage-pools\/[^/]+\/volumes(\/[^/]+)?$/, "storage_volumes_all_projects"],
  [/^\/1\.0\/storage-volumes(\/[^/]+)?$/, "storage_volumes_all_projects"],
  [/^\/1\.0\/storage-pools\/[^/]+\/buckets$/, "storage_buckets_all_projects"]
]

const truthy = (value: QueryValue | undefined): boolean =>
  value !== undefined && value !== false && value !== "false" && value !== "0"

/**
 * The API extensions a request needs because of its query: `all-projects` on a listing
 * (each listing has its own extension), `target` (clustering). `/1.0/events` takes
 * `all-projects` on every server we know and has no extension for it.
 */
export const requiredExtensions = (
  path: string,
  query: Readonly<Record<string, QueryValue>>
): ReadonlyArray<string> => {
  const needed: Array<string> = []
  const bare = path.split("?")[0]!
  if (truthy(query["all-projects"])) {
    for (const [pattern, extension] of allProjectsGates) {
      if (pattern.test(bare)) needed.push(extension)
    }
  }
  if (query.target !== undefined) needed.push("clustering")
  return needed
}
