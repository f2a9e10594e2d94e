/**
 * `POST /1.0/images` with a JSON source of type `instance`, `container`,
 * `virtual-machine` or `snapshot` (`c1` or `c1/snap0`): publishing as an image, a
 * background operation whose metadata names the new image's `fingerprint` and `size`.
 * The fingerprint is the SHA-256 of the published content (the configuration and the file
 * tree), so publishing the same thing twice gives the same image, as on LXD.
 */
import * as Effect from "effect/Effect"
import * as Crypto from "node:crypto"
import * as H from "../http.js"
import { type FakeServer } from "../server.js"
import { asyncOf, enc, type Handler } from "./common.js"
import { uploadImage } from "./image-files.js"

const publishTypes = ["instance", "container", "virtual-machine", "snapshot"]

const contentHash = (
  from: {
    readonly config: Record<string, string>
    readonly files: {
      readonly nodes: ReadonlyMap<string, { readonly data: Uint8Array; readonly mode: number; readonly type: string }>
    }
  },
  properties: Record<string, string>
): { fingerprint: string; size: number } => {
  const hash = Crypto.createHash("sha256")
  hash.update(JSON.stringify({ config: from.config, properties }))
  let size = 0
  for (const [path, node] of [...from.files.nodes.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    hash.update(`${path}\0${node.type}\0${node.mode}\0`)
    hash.update(node.data)
    size += node.data.length + 512
  }
  return { fingerprint: hash.digest("hex"), size }
}

/** Publish an instance or a snapshot (the other image creations are refused as not modelled). */
export const createImage: Handler = (server: FakeServer, request: H.FakeRequest) => {
  const project = server.projectOf(request)
  if (!(request.headers["content-type"] ?? "application/json").startsWith("application/json")) {
    return uploadImage(server, request)
  }
  const body = H.jsonBody(request)
  const source = (typeof body.source === "object" && body.source !== null ? body.source : {}) as Record<
    string,
    unknown
  >
  const type = String(source.type ?? "")
  if (!publishTypes.includes(type)) {
    return H.refuse(501, `Image creation from a "${type}" source is not modelled by the fake`)
  }
  const sourceName = typeof source.name === "string" ? source.name : ""
  const [instanceName, snapshotName] = sourceName.split("/")
  if (type === "snapshot" && snapshotName === undefined) return H.refuse(400, "Invalid snapshot name")
  const i = server.instanceOf(project, instanceName ?? "")
  const snapshot = snapshotName === undefined ? undefined : i.snapshots.get(snapshotName)
  if (snapshotName !== undefined && snapshot === undefined) return H.refuse(404, "Snapshot not found")
  if (snapshot === undefined && i.status !== "Stopped") {
    return H.refuse(400, "The instance is running; stop it before publishing it")
  }
  const properties = H.stringMap(body.properties, "properties")
  const aliases = Array.isArray(body.aliases)
    ? (body.aliases as Array<unknown>).map((a) => {
      const alias = (typeof a === "object" && a !== null ? a : {}) as Record<string, unknown>
      if (typeof alias.name !== "string" || alias.name === "") return H.refuse(400, "Alias name missing")
      return { name: alias.name, description: typeof alias.description === "string" ? alias.description : "" }
    })
    : []
  for (const a of aliases) if (server.aliases.has(a.name)) return H.refuse(409, "Alias already exists")
  const from = snapshot ?? i
  return Effect.map(
    server.startOperation({
      project: project.name,
      description: "Creating image",
      origin: { method: "POST", path: "/1.0/images" },
      resources: { instances: [`/1.0/instances/${enc(i.name)}`] },
      run: () =>
        Effect.suspend(() => {
          const { fingerprint, size } = contentHash(from, properties)
          if (server.images.has(fingerprint)) return Effect.fail("Image with same fingerprint already exists")
          for (const a of aliases) if (server.aliases.has(a.name)) return Effect.fail("Alias already exists")
          const now = new Date()
          server.images.set(fingerprint, {
            fingerprint,
            architecture: i.architecture,
            description: properties.description ?? "",
            properties,
            public: body.public === true,
            autoUpdate: false,
            profiles: ["default"],
            size,
            type: i.type,
            createdAt: now,
            uploadedAt: now
          })
          for (const a of aliases) {
            server.aliases.set(a.name, { name: a.name, target: fingerprint, description: a.description, type: i.type })
          }
          return Effect.as(
            server.lifecycle(project.name, "image-created", `/1.0/images/${fingerprint}`),
            { fingerprint, size }
          )
        })
    }),
    (op) => asyncOf(server, op)
  )
}
