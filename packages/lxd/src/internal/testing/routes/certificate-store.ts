/**
 * The trust store: `GET /1.0/certificates` (the list), `POST` of a certificate (base64 DER
 * or PEM; its fingerprint is the SHA-256 of the DER), and `GET`/`PUT`/`PATCH`/`DELETE
 * /1.0/certificates/<fingerprint>` (a fingerprint prefix names one too, as on LXD), with an
 * ETag. The client of the in-memory transport is in it when the fake was given its
 * certificate (`Options.clientCertificate`).
 */
import * as Crypto from "node:crypto"
import * as H from "../http.js"
import { etagOf } from "../model.js"
import { type FakeServer } from "../server.js"
import { enc, type Handler, recursion } from "./common.js"

interface CertificateRecord {
  readonly fingerprint: string
  readonly der: Uint8Array
  name: string
  type: string
  restricted: boolean
  projects: Array<string>
  description: string
}

const stores = new WeakMap<FakeServer, Map<string, CertificateRecord>>()

/** The DER bytes of a certificate given as PEM or as base64 DER; `undefined` when it is not one. */
const derOf = (text: string): Uint8Array | undefined => {
  const base64 = text.replace(/-----(BEGIN|END) CERTIFICATE-----/g, "").replace(/\s+/g, "")
  if (!/^[A-Za-z0-9+/]+=*$/.test(base64)) return undefined
  const der = new Uint8Array(Buffer.from(base64, "base64"))
  try {
    new Crypto.X509Certificate(der)
  } catch {
    return undefined
  }
  return der
}

const pem = (der: Uint8Array): string =>
  `-----BEGIN CERTIFICATE-----\n${
    (Buffer.from(der).toString("base64").match(/.{1,64}/g) ?? []).join("\n")
  }\n-----END CERTIFICATE-----\n`

const record = (der: Uint8Array, fields: Partial<CertificateRecord>): CertificateRecord => ({
  fingerprint: Crypto.createHash("sha256").update(der).digest("hex"),
  der,
  name: fields.name ?? "",
  type: fields.type ?? "client",
  restricted: fields.restricted ?? false,
  projects: fields.projects ?? [],
  description: fields.description ?? ""
})

/** The server's trust store (seeded with the in-memory client's certificate, if it has one). */
export const trustStore = (server: FakeServer): Map<string, CertificateRecord> => {
  let store = stores.get(server)
  if (store === undefined) {
    store = new Map()
    const own = server.clientCertificate === undefined ? undefined : derOf(server.clientCertificate)
    if (own !== undefined) {
      const c = record(own, { name: "effect-lxd-fake-client" })
      store.set(c.fingerprint, c)
    }
    stores.set(server, store)
  }
  return store
}

const render = (c: CertificateRecord) => ({
  name: c.name,
  type: c.type,
  restricted: c.restricted,
  projects: c.projects,
  certificate: pem(c.der),
  fingerprint: c.fingerprint,
  description: c.description
})

const put = (c: CertificateRecord) => ({
  name: c.name,
  type: c.type,
  restricted: c.restricted,
  projects: c.projects,
  description: c.description
})

const certificateTypes = ["client", "metrics"]

/** `GET /1.0/certificates`. */
export const listCertificates: Handler = (server, request) => {
  const all = [...trustStore(server).values()]
  return H.sync(recursion(request) >= 1 ? all.map(render) : all.map((c) => `/1.0/certificates/${c.fingerprint}`))
}

/** `POST /1.0/certificates` with a certificate (a trusted client adding another one). */
export const addCertificate: Handler = (server, request) => {
  const body = H.jsonBody(request)
  const der = typeof body.certificate === "string" ? derOf(body.certificate) : undefined
  if (der === undefined) return H.refuse(400, "Invalid certificate material")
  const type = typeof body.type === "string" ? body.type : "client"
  if (!certificateTypes.includes(type)) return H.refuse(400, `Unknown certificate type "${type}"`)
  const c = record(der, {
    name: typeof body.name === "string" ? body.name : "",
    type,
    restricted: body.restricted === true,
    projects: H.stringList(body.projects, "projects"),
    description: typeof body.description === "string" ? body.description : ""
  })
  const store = trustStore(server)
  if (store.has(c.fingerprint)) return H.refuse(409, "Certificate already in trust store")
  store.set(c.fingerprint, c)
  return H.sync(null, { status: 201, location: `/1.0/certificates/${enc(c.fingerprint)}` })
}

/** `/1.0/certificates/<fingerprint>`. */
export const certificateItem: Handler = (server, request) => {
  const store = trustStore(server)
  const given = request.segments[1] ?? ""
  const matches = given === "" ? [] : [...store.keys()].filter((f) => f.startsWith(given))
  if (matches.length !== 1 || request.segments.length > 2) return H.refuse(404, "Certificate not found")
  const c = store.get(matches[0]!)!
  switch (request.method) {
    case "GET":
      return H.sync(render(c), { etag: etagOf(put(c)) })
    case "PUT":
    case "PATCH": {
      server.checkEtag(request, etagOf(put(c)))
      const body = H.jsonBody(request)
      const patch = request.method === "PATCH"
      if (typeof body.type === "string") {
        if (!certificateTypes.includes(body.type)) return H.refuse(400, `Unknown certificate type "${body.type}"`)
        c.type = body.type
      }
      if (typeof body.name === "string") c.name = body.name
      else if (!patch) c.name = ""
      if (typeof body.restricted === "boolean") c.restricted = body.restricted
      else if (!patch) c.restricted = false
      if (body.projects !== undefined || !patch) c.projects = H.stringList(body.projects, "projects")
      if (typeof body.description === "string") c.description = body.description
      else if (!patch) c.description = ""
      return H.sync(null)
    }
    case "DELETE":
      store.delete(c.fingerprint)
      return H.sync(null)
    default:
      return H.refuse(405, "Method not allowed")
  }
}
