/**
 * Images and aliases.
 */
import * as Effect from "effect/Effect"
import * as H from "../http.js"
import { etagOf } from "../model.js"
import { type FakeServer } from "../server.js"
import { asyncOf, enc, type Handler, recursion } from "./common.js"
import { exportImage } from "./image-files.js"
import { createImage } from "./publish.js"

const imageOf = (server: FakeServer, fingerprint: string) => {
  const matches = [...server.images.keys()].filter((f) => f.startsWith(fingerprint))
  if (matches.length !== 1 || fingerprint === "") return H.refuse(404, "Image not found")
  return server.images.get(matches[0]!)!
}

const imagePut = (image: { autoUpdate: boolean; properties: object; public: boolean; profiles: Array<string> }) => ({
  auto_update: image.autoUpdate,
  properties: image.properties,
  public: image.public,
  profiles: image.profiles
})

export const images: Handler = (server, request) => {
  const project = server.projectOf(request)
  const rest = request.segments.slice(1)
  if (rest.length === 0) {
    if (request.method === "POST") return createImage(server, request)
    const all = [...server.images.values()]
    return H.sync(
      recursion(request) >= 1
        ? all.map((img) => server.renderImage(img, project.name))
        : all.map((img) => `/1.0/images/${img.fingerprint}`)
    )
  }
  if (rest[0] === "aliases") return aliases(server, request)
  const image = imageOf(server, rest[0]!)
  const path = `/1.0/images/${image.fingerprint}`
  if (rest[1] === "export") return exportImage(image, request)
  switch (request.method) {
    case "GET":
      return H.sync(server.renderImage(image, project.name), { etag: etagOf(imagePut(image)) })
    case "PUT":
    case "PATCH": {
      server.checkEtag(request, etagOf(imagePut(image)))
      const body = H.jsonBody(request)
      const patch = request.method === "PATCH"
      if (typeof body.auto_update === "boolean") image.autoUpdate = body.auto_update
      else if (!patch) image.autoUpdate = false
      if (typeof body.public === "boolean") image.public = body.public
      else if (!patch) image.public = false
      if (body.properties !== undefined) {
        const props = H.stringMap(body.properties, "properties")
        image.properties = patch ? { ...image.properties, ...props } : props
      } else if (!patch) image.properties = {}
      if (body.profiles !== undefined) image.profiles = H.stringList(body.profiles, "profiles")
      return Effect.as(server.lifecycle(project.name, "image-updated", path), H.sync(null))
    }
    case "DELETE":
      return Effect.map(
        server.startOperation({
          project: project.name,
          description: "Deleting image",
          origin: { method: "DELETE", path },
          resources: { images: [path] },
          run: () =>
            Effect.suspend(() => {
              server.images.delete(image.fingerprint)
              for (const [name, alias] of server.aliases) {
                if (alias.target === image.fingerprint) server.aliases.delete(name)
              }
              return server.lifecycle(project.name, "image-deleted", path)
            })
        }),
        (op) => asyncOf(server, op)
      )
    default:
      return H.refuse(405, "Method not allowed")
  }
}

const aliasView = (a: { name: string; target: string; description: string; type: string }) => ({
  name: a.name,
  target: a.target,
  description: a.description,
  type: a.type
})

const aliases = (server: FakeServer, request: H.FakeRequest): H.Answer | Effect.Effect<H.Answer> => {
  const project = server.projectOf(request)
  const name = request.segments[2]
  if (name === undefined) {
    if (request.method === "POST") {
      const body = H.jsonBody(request)
      if (typeof body.name !== "string" || body.name === "") return H.refuse(400, "Alias name missing")
      if (server.aliases.has(body.name)) return H.refuse(409, "Alias already exists")
      const image = imageOf(server, typeof body.target === "string" ? body.target : "")
      server.aliases.set(body.name, {
        name: body.name,
        target: image.fingerprint,
        description: typeof body.description === "string" ? body.description : "",
        type: "container"
      })
      const location = `/1.0/images/aliases/${enc(body.name)}`
      return Effect.as(
        server.lifecycle(project.name, "image-alias-created", location),
        H.sync(null, { status: 201, location })
      )
    }
    const all = [...server.aliases.values()]
    return H.sync(
      recursion(request) >= 1 ? all.map(aliasView) : all.map((a) => `/1.0/images/aliases/${enc(a.name)}`)
    )
  }
  const alias = server.aliases.get(name)
  if (alias === undefined) return H.refuse(404, "Image alias not found")
  const put = { target: alias.target, description: alias.description }
  switch (request.method) {
    case "GET":
      return H.sync(aliasView(alias), { etag: etagOf(put) })
    case "PUT":
    case "PATCH": {
      server.checkEtag(request, etagOf(put))
      const body = H.jsonBody(request)
      if (typeof body.target === "string") alias.target = imageOf(server, body.target).fingerprint
      if (typeof body.description === "string") alias.description = body.description
      return H.sync(null)
    }
    case "POST": {
      const body = H.jsonBody(request)
      if (typeof body.name !== "string" || body.name === "") return H.refuse(400, "Alias name missing")
      if (server.aliases.has(body.name)) return H.refuse(409, "Alias already exists")
      server.aliases.delete(name)
      alias.name = body.name
      server.aliases.set(body.name, alias)
      return H.sync(null, { status: 201, location: `/1.0/images/aliases/${enc(body.name)}` })
    }
    case "DELETE":
      server.aliases.delete(name)
      return H.sync(null)
    default:
      return H.refuse(405, "Method not allowed")
  }
}
