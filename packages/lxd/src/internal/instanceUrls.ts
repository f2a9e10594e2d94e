/**
 * Which instance a URL of the server is about: lifecycle events name their resource by
 * URL (`/1.0/instances/web1/snapshots/s0?project=p`), operations list the URLs they touch.
 * Shared by `Events` (filters for one instance) and `Launch` (which operations to wait
 * out before deleting).
 */

/** The instance (and the rest of the path, and the project) a URL is about. */
export interface InstanceUrl {
  readonly instance: string
  /** The path segments after the instance's (`["snapshots", "s0"]`), decoded. */
  readonly rest: ReadonlyArray<string>
  /** `?project=` of the URL, when present. */
  readonly project: string | undefined
}

const COLLECTIONS = new Set(["instances", "containers", "virtual-machines"])

const decode = (segment: string): string | undefined => {
  try {
    return decodeURIComponent(segment)
  } catch {
    return undefined
  }
}

/** `/1.0/instances/<name>...` parsed, or `undefined` for a URL about something else. */
export const parseInstanceUrl = (url: string): InstanceUrl | undefined => {
  const queryAt = url.indexOf("?")
  const path = queryAt === -1 ? url : url.slice(0, queryAt)
  const query = queryAt === -1 ? "" : url.slice(queryAt + 1)
  const segments = path.split("/")
  // "", "1.0", collection, name, ...rest
  if (segments.length < 4 || segments[0] !== "" || segments[1] !== "1.0" || !COLLECTIONS.has(segments[2]!)) {
    return undefined
  }
  const decoded = segments.slice(3).map(decode)
  if (decoded.some((s) => s === undefined) || decoded[0] === "") return undefined
  const project = new URLSearchParams(query).get("project") ?? undefined
  const [instance, ...rest] = decoded as Array<string>
  return { instance: instance!, rest, project }
}

/** Whether a URL is about this instance (itself or something under it) in this project. */
export const isAboutInstance = (url: string, instance: string, project: string | undefined): boolean => {
  const parsed = parseInstanceUrl(url)
  return parsed !== undefined && parsed.instance === instance && projectMatches(parsed.project, project)
}

/** A URL without `?project=` is in the default project (the servers add it for any other). */
const projectMatches = (fromUrl: string | undefined, wanted: string | undefined): boolean =>
  wanted === undefined || (fromUrl ?? "default") === wanted

/** Whether an operation's `resources` name this instance. */
export const resourcesMention = (
  resources: Readonly<Record<string, ReadonlyArray<string> | null>> | null,
  instance: string,
  project: string | undefined
): boolean =>
  resources !== null &&
  Object.values(resources).some((urls) => (urls ?? []).some((url) => isAboutInstance(url, instance, project)))
