/**
 * Access management (`/1.0/auth`) as LXD 6.2+ answers it, for the dialects that advertise
 * `access_management` (only `lxd-6`; the others answer 404 like the real servers):
 * identities (the client's own TLS identity, fine-grained TLS identities, pending ones
 * with trust tokens, trust by token from an untrusted client), groups with permissions
 * (a subset of LXD's entitlements is checked), the permissions on offer, identity
 * provider groups; ETags with 412, 409 on an existing name, 404 on a missing one.
 *
 * The state lives beside the server (one per fake), made on first use.
 */
import * as Crypto from "node:crypto"
import * as H from "../http.js"
import { etagOf } from "../model.js"
import { type FakeServer, newSecret } from "../server.js"
import { enc, type Handler, recursion } from "./common.js"

interface Permission {
  readonly entity_type: string
  readonly url: string
  readonly entitlement: string
}

interface IdentityRecord {
  readonly method: "tls" | "oidc"
  type: string
  id: string
  name: string
  groups: Array<string>
  certificate: string
  /** Pending TLS identities: the secret of their token. */
  secret: string | undefined
}

interface GroupRecord {
  name: string
  description: string
  permissions: Array<Permission>
}

interface IdpGroupRecord {
  name: string
  groups: Array<string>
}

interface AuthState {
  readonly identities: Array<IdentityRecord>
  readonly groups: Map<string, GroupRecord>
  readonly idpGroups: Map<string, IdpGroupRecord>
  /** The identity the (single) client of the fake authenticates as. */
  current: IdentityRecord
}

const CLIENT_CERTIFICATE = "Client certificate"
const PENDING = "Client certificate (pending)"
const UNRESTRICTED = "Client certificate (unrestricted)"

const states = new WeakMap<FakeServer, AuthState>()

const fingerprint = (): string => newSecret()

const stateOf = (server: FakeServer): AuthState => {
  let state = states.get(server)
  if (state === undefined) {
    // the client the fake trusts from the start: a certificate of `/1.0/certificates`
    const client: IdentityRecord = {
      method: "tls",
      type: UNRESTRICTED,
      id: fingerprint(),
      name: "fake-client",
      groups: [],
      certificate: "",
      secret: undefined
    }
    state = { identities: [client], groups: new Map(), idpGroups: new Map(), current: client }
    states.set(server, state)
  }
  return state
}

/** Entitlements per entity type: the subset of LXD's list the fake checks. */
const entitlements: Readonly<Record<string, ReadonlyArray<string>>> = {
  server: [
    "admin",
    "viewer",
    "permission_manager",
    "can_view_permissions",
    "can_create_identities",
    "can_view_identities",
    "can_edit_identities",
    "can_delete_identities",
    "can_create_groups",
    "can_view_groups",
    "can_edit_groups",
    "can_delete_groups",
    "can_create_identity_provider_groups",
    "can_view_identity_provider_groups",
    "can_edit_identity_provider_groups",
    "can_delete_identity_provider_groups",
    "project_manager",
    "can_create_projects",
    "can_view_projects",
    "can_edit_projects",
    "can_delete_projects",
    "can_view_resources",
    "can_view_metrics"
  ],
  project: [
    "operator",
    "viewer",
    "can_view",
    "can_edit",
    "can_delete",
    "can_create_instances",
    "can_view_instances",
    "can_edit_instances",
    "can_delete_instances",
    "can_operate_instances",
    "can_create_profiles",
    "can_view_profiles",
    "can_edit_profiles",
    "can_delete_profiles",
    "can_view_operations",
    "can_view_events"
  ],
  instance: [
    "user",
    "operator",
    "can_view",
    "can_edit",
    "can_delete",
    "can_update_state",
    "can_manage_snapshots",
    "can_manage_backups",
    "can_connect_sftp",
    "can_access_files",
    "can_access_console",
    "can_exec"
  ],
  profile: ["can_view", "can_edit", "can_delete"],
  group: ["can_view", "can_edit", "can_delete"],
  identity: ["can_view", "can_edit", "can_delete"]
}

/** The entity a permission's URL names, or a 400 (or 404 for a missing project or instance). */
const checkPermission = (server: FakeServer, state: AuthState, p: Permission): void => {
  const allowed = entitlements[p.entity_type]
  if (allowed === undefined) return H.refuse(400, `Failed validating entity type "${p.entity_type}"`)
  if (!allowed.includes(p.entitlement)) {
    return H.refuse(
      400,
      `Failed validating group permission with entity reference "${p.url}" and entitlement "${p.entitlement}": Entitlement "${p.entitlement}" not valid for entity type "${p.entity_type}"`
    )
  }
  let url: URL
  try {
    url = new URL(p.url, "http://fake")
  } catch {
    return H.refuse(400, `Failed parsing permission with entity reference "${p.url}"`)
  }
  const segments = url.pathname.split("/").slice(1).map(decodeURIComponent)
  const project = url.searchParams.get("project") ?? "default"
  const mismatch = () =>
    H.refuse(
      400,
      `Failed parsing permission with entity reference "${p.url}" and entitlement "${p.entitlement}": Entity type does not correspond to entity reference`
    )
  switch (p.entity_type) {
    case "server":
      if (url.pathname !== "/1.0") mismatch()
      return
    case "project":
      if (segments.length !== 3 || segments[1] !== "projects") mismatch()
      if (!server.projects.has(segments[2]!)) H.refuse(404, "Project not found")
      return
    case "instance":
    case "profile": {
      const kind = p.entity_type === "instance" ? "instances" : "profiles"
      if (segments.length !== 3 || segments[1] !== kind) mismatch()
      const home = server.projects.get(project)
      if (home === undefined) return H.refuse(404, "Project not found")
      const found = p.entity_type === "instance"
        ? home.instances.has(segments[2]!)
        : server.profileHome(home).profiles.has(segments[2]!)
      if (!found) H.refuse(404, `${p.entity_type === "instance" ? "Instance" : "Profile"} not found`)
      return
    }
    case "group":
      if (segments.length !== 4 || segments[1] !== "auth" || segments[2] !== "groups") mismatch()
      if (!state.groups.has(segments[3]!)) H.refuse(404, "Authorization group not found")
      return
    case "identity":
      if (segments.length !== 5 || segments[1] !== "auth" || segments[2] !== "identities") mismatch()
      if (findIdentity(state, segments[3]!, segments[4]!) === undefined) H.refuse(404, "Identity not found")
      return
  }
}

const permissionsOf = (value: unknown): Array<Permission> => {
  if (value === undefined || value === null) return []
  if (!Array.isArray(value)) return H.refuse(400, "Invalid permissions")
  return value.map((p: unknown) => {
    if (typeof p !== "object" || p === null) return H.refuse(400, "Invalid permission")
    const { entitlement, entity_type, url } = p as Record<string, unknown>
    if (typeof entity_type !== "string" || typeof url !== "string" || typeof entitlement !== "string") {
      return H.refuse(400, "Invalid permission: entity_type, url and entitlement must be strings")
    }
    return { entity_type, url, entitlement }
  })
}

const samePermission = (a: Permission, b: Permission) =>
  a.entity_type === b.entity_type && a.url === b.url && a.entitlement === b.entitlement

const unique = (permissions: ReadonlyArray<Permission>): Array<Permission> =>
  permissions.filter((p, i) => permissions.findIndex((q) => samePermission(p, q)) === i)

const groupNames = (state: AuthState, value: unknown): Array<string> => {
  const names = [...new Set(H.stringList(value, "groups"))]
  for (const name of names) {
    if (!state.groups.has(name)) H.refuse(400, `Authorization group "${name}" not found`)
  }
  return names
}

const validName = (name: unknown, what: string): string => {
  if (typeof name !== "string" || name === "" || name.includes("/") || name === "." || name === "..") {
    return H.refuse(400, `Invalid ${what} name`)
  }
  return name
}

const findIdentity = (state: AuthState, method: string, nameOrId: string): IdentityRecord | undefined => {
  const ofMethod = state.identities.filter((i) => i.method === method)
  const byId = ofMethod.find((i) => i.id === nameOrId)
  if (byId !== undefined) return byId
  const byName = ofMethod.filter((i) => i.name === nameOrId)
  if (byName.length > 1) return H.refuse(400, `More than one identity is named "${nameOrId}"`)
  return byName[0]
}

const identityUrl = (i: IdentityRecord) => `/1.0/auth/identities/${i.method}/${enc(i.id)}`

const renderIdentity = (i: IdentityRecord) => ({
  authentication_method: i.method,
  type: i.type,
  id: i.id,
  name: i.name,
  groups: i.groups,
  ...(i.method === "tls" && i.certificate !== "" ? { tls_certificate: i.certificate } : {})
})

const identityPut = (i: IdentityRecord) => ({ groups: i.groups })

const fineGrained = (i: IdentityRecord) => i.type === CLIENT_CERTIFICATE || i.method === "oidc"

const renderGroup = (state: AuthState, g: GroupRecord) => {
  const members: Record<string, Array<string>> = {}
  for (const i of state.identities) {
    if (i.groups.includes(g.name)) (members[i.method] ??= []).push(i.id)
  }
  return {
    name: g.name,
    description: g.description,
    permissions: g.permissions,
    identities: members,
    identity_provider_groups: [...state.idpGroups.values()].filter((x) => x.groups.includes(g.name)).map((x) => x.name)
  }
}

const groupPut = (g: GroupRecord) => ({ description: g.description, permissions: g.permissions })

// ---- identities -------------------------------------------------------------

/** Whether an untrusted client may send this request (to trust itself with a token). */
export const untrustedAllowed = (server: FakeServer, request: H.FakeRequest): boolean =>
  server.extensions.includes("access_management_tls") && request.method === "POST" &&
  request.segments.length === 3 && request.segments[0] === "auth" && request.segments[1] === "identities" &&
  request.segments[2] === "tls"

const decodeSecret = (token: string): string | undefined => {
  try {
    const decoded: unknown = JSON.parse(Buffer.from(token, "base64").toString("utf8"))
    if (typeof decoded === "object" && decoded !== null && "secret" in decoded && typeof decoded.secret === "string") {
      return decoded.secret
    }
  } catch {
    // not a token
  }
  return undefined
}

const pemFingerprint = (pem: string): string => {
  try {
    return new Crypto.X509Certificate(pem).fingerprint256.replace(/:/g, "").toLowerCase()
  } catch {
    return H.refuse(400, "Failed parsing certificate")
  }
}

const createTls = (server: FakeServer, state: AuthState, request: H.FakeRequest): H.Answer => {
  const body = H.jsonBody(request)
  const trustToken = typeof body.trust_token === "string" ? body.trust_token : ""
  if (!server.trusted) {
    if (trustToken === "") return H.refuse(403, "Trust token required")
    if (body.token === true || body.certificate !== undefined || body.name !== undefined || body.groups !== undefined) {
      return H.refuse(403, "Only trust token must be provided")
    }
    const secret = decodeSecret(trustToken)
    const pending = secret === undefined
      ? undefined
      : state.identities.find((i) => i.type === PENDING && i.secret === secret)
    if (pending === undefined) return H.refuse(403, "Forbidden")
    // the certificate of the handshake: the fake's client, under a new fingerprint
    pending.type = CLIENT_CERTIFICATE
    pending.id = fingerprint()
    pending.secret = undefined
    state.current = pending
    server.trusted = true
    return H.sync(null, { status: 201, location: identityUrl(pending) })
  }
  if (!server.extensions.includes("access_management_tls")) return H.refuse(400, "Unknown request")
  const name = validName(body.name, "identity")
  if (trustToken !== "") return H.refuse(409, "Client already trusted")
  const certificate = typeof body.certificate === "string" ? body.certificate : ""
  if (body.token === true && certificate !== "") return H.refuse(400, "Cannot use certificate if token is requested")
  const groups = groupNames(state, body.groups)
  if (state.identities.some((i) => i.method === "tls" && i.name === name)) {
    return H.refuse(409, `An identity with name "${name}" already exists`)
  }
  if (body.token === true) {
    const secret = newSecret()
    const identity: IdentityRecord = {
      method: "tls",
      type: PENDING,
      id: Crypto.randomUUID(),
      name,
      groups,
      certificate: "",
      secret
    }
    state.identities.push(identity)
    return H.sync({
      client_name: name,
      fingerprint: fakeServerFingerprint(server),
      addresses: ["127.0.0.1:8443"],
      secret,
      expires_at: "0001-01-01T00:00:00Z",
      type: CLIENT_CERTIFICATE
    }, { status: 201, location: identityUrl(identity) })
  }
  if (certificate === "") return H.refuse(400, "Must provide a certificate")
  const id = pemFingerprint(certificate)
  if (state.identities.some((i) => i.method === "tls" && i.id === id)) {
    return H.refuse(409, "Identity already exists")
  }
  const identity: IdentityRecord = {
    method: "tls",
    type: CLIENT_CERTIFICATE,
    id,
    name,
    groups,
    certificate,
    secret: undefined
  }
  state.identities.push(identity)
  return H.sync(null, { status: 201, location: identityUrl(identity) })
}

const fakeServerFingerprint = (server: FakeServer) => H.hash(`server:${server.serverName}`).repeat(4)

const identitiesRoute = (server: FakeServer, state: AuthState, request: H.FakeRequest): H.Answer => {
  const s = request.segments
  const m = request.method
  if (s.length === 2) {
    if (m !== "GET") return H.refuse(405, "Method not allowed")
    return H.sync(
      recursion(request) >= 1 ? state.identities.map(renderIdentity) : state.identities.map(identityUrl)
    )
  }
  const method = s[2]!
  if (s.length === 3 && method === "current") {
    if (m !== "GET") return H.refuse(405, "Method not allowed")
    const me = state.current
    const effective = me.groups.flatMap((g) => state.groups.get(g)?.permissions ?? [])
    return H.sync({
      ...renderIdentity(me),
      effective_groups: me.groups,
      effective_permissions: unique(effective),
      fine_grained: fineGrained(me)
    })
  }
  if (method !== "tls" && method !== "oidc") return H.refuse(404, "Authentication method not found")
  if (s.length === 3) {
    if (m === "POST" && method === "tls") return createTls(server, state, request)
    if (m !== "GET") return H.refuse(405, "Method not allowed")
    const ofMethod = state.identities.filter((i) => i.method === method)
    return H.sync(recursion(request) >= 1 ? ofMethod.map(renderIdentity) : ofMethod.map(identityUrl))
  }
  if (s.length !== 4) return H.refuse(404, "not found")
  const identity = findIdentity(state, method, s[3]!)
  if (identity === undefined) return H.refuse(404, "Identity not found")
  switch (m) {
    case "GET":
      return H.sync(renderIdentity(identity), { etag: etagOf(identityPut(identity)) })
    case "PUT":
    case "PATCH": {
      server.checkEtag(request, etagOf(identityPut(identity)))
      const body = H.jsonBody(request)
      const groups = groupNames(state, body.groups)
      if (!fineGrained(identity) && (groups.length > 0 || identity.groups.length > 0)) {
        return H.refuse(400, `Cannot add groups to identity of type "${identity.type}"`)
      }
      // LXD's PATCH adds the groups it is given
      identity.groups = m === "PATCH" ? [...new Set([...identity.groups, ...groups])] : groups
      return H.sync(null)
    }
    case "DELETE": {
      if (!server.extensions.includes("access_management_tls")) return H.refuse(405, "Method not allowed")
      const at = state.identities.indexOf(identity)
      state.identities.splice(at, 1)
      // deleting your own identity revokes your trust
      if (identity === state.current) server.trusted = false
      return H.sync(null)
    }
    default:
      return H.refuse(405, "Method not allowed")
  }
}

// ---- groups -----------------------------------------------------------------

const groupsRoute = (server: FakeServer, state: AuthState, request: H.FakeRequest): H.Answer => {
  const name = request.segments[2]
  const m = request.method
  if (name === undefined) {
    if (m === "POST") {
      const body = H.jsonBody(request)
      const groupName = validName(body.name, "group")
      if (state.groups.has(groupName)) return H.refuse(409, `Authorization group "${groupName}" already exists`)
      const permissions = unique(permissionsOf(body.permissions))
      for (const p of permissions) checkPermission(server, state, p)
      state.groups.set(groupName, {
        name: groupName,
        description: typeof body.description === "string" ? body.description : "",
        permissions
      })
      return H.sync(null, { status: 201, location: `/1.0/auth/groups/${enc(groupName)}` })
    }
    if (m !== "GET") return H.refuse(405, "Method not allowed")
    const all = [...state.groups.values()]
    return H.sync(
      recursion(request) >= 1
        ? all.map((g) => renderGroup(state, g))
        : all.map((g) => `/1.0/auth/groups/${enc(g.name)}`)
    )
  }
  if (request.segments.length !== 3) return H.refuse(404, "not found")
  const group = state.groups.get(name)
  if (group === undefined) return H.refuse(404, "Authorization group not found")
  switch (m) {
    case "GET":
      return H.sync(renderGroup(state, group), { etag: etagOf(groupPut(group)) })
    case "PUT":
    case "PATCH": {
      server.checkEtag(request, etagOf(groupPut(group)))
      const body = H.jsonBody(request)
      const permissions = unique(permissionsOf(body.permissions))
      for (const p of permissions) checkPermission(server, state, p)
      if (m === "PUT") {
        group.description = typeof body.description === "string" ? body.description : ""
        group.permissions = permissions
      } else {
        // LXD's PATCH sets a non-empty description and adds the permissions it is given
        if (typeof body.description === "string" && body.description !== "") group.description = body.description
        group.permissions = unique([...group.permissions, ...permissions])
      }
      return H.sync(null)
    }
    case "POST": {
      const body = H.jsonBody(request)
      const newName = validName(body.name, "group")
      if (state.groups.has(newName)) return H.refuse(409, `Authorization group "${newName}" already exists`)
      state.groups.delete(name)
      group.name = newName
      state.groups.set(newName, group)
      for (const i of state.identities) i.groups = i.groups.map((g) => (g === name ? newName : g))
      for (const x of state.idpGroups.values()) x.groups = x.groups.map((g) => (g === name ? newName : g))
      return H.sync(null, { status: 201, location: `/1.0/auth/groups/${enc(newName)}` })
    }
    case "DELETE":
      state.groups.delete(name)
      for (const i of state.identities) i.groups = i.groups.filter((g) => g !== name)
      for (const x of state.idpGroups.values()) x.groups = x.groups.filter((g) => g !== name)
      return H.sync(null)
    default:
      return H.refuse(405, "Method not allowed")
  }
}

// ---- identity provider groups -----------------------------------------------

const idpGroupsRoute = (server: FakeServer, state: AuthState, request: H.FakeRequest): H.Answer => {
  const name = request.segments[2]
  const m = request.method
  const url = (n: string) => `/1.0/auth/identity-provider-groups/${enc(n)}`
  const render = (x: IdpGroupRecord) => ({ name: x.name, groups: x.groups })
  if (name === undefined) {
    if (m === "POST") {
      const body = H.jsonBody(request)
      const groupName = validName(body.name, "identity provider group")
      if (state.idpGroups.has(groupName)) {
        return H.refuse(409, `Identity provider group "${groupName}" already exists`)
      }
      state.idpGroups.set(groupName, { name: groupName, groups: groupNames(state, body.groups) })
      return H.sync(null, { status: 201, location: url(groupName) })
    }
    if (m !== "GET") return H.refuse(405, "Method not allowed")
    const all = [...state.idpGroups.values()]
    return H.sync(recursion(request) >= 1 ? all.map(render) : all.map((x) => url(x.name)))
  }
  if (request.segments.length !== 3) return H.refuse(404, "not found")
  const idp = state.idpGroups.get(name)
  if (idp === undefined) return H.refuse(404, "Identity provider group not found")
  switch (m) {
    case "GET":
      return H.sync(render(idp), { etag: etagOf({ groups: idp.groups }) })
    case "PUT":
    case "PATCH": {
      server.checkEtag(request, etagOf({ groups: idp.groups }))
      const groups = groupNames(state, H.jsonBody(request).groups)
      idp.groups = m === "PATCH" ? [...new Set([...idp.groups, ...groups])] : groups
      return H.sync(null)
    }
    case "POST": {
      const newName = validName(H.jsonBody(request).name, "identity provider group")
      if (state.idpGroups.has(newName)) return H.refuse(409, `Identity provider group "${newName}" already exists`)
      state.idpGroups.delete(name)
      idp.name = newName
      state.idpGroups.set(newName, idp)
      return H.sync(null, { status: 201, location: url(newName) })
    }
    case "DELETE":
      state.idpGroups.delete(name)
      return H.sync(null)
    default:
      return H.refuse(405, "Method not allowed")
  }
}

// ---- permissions ------------------------------------------------------------

const permissionsRoute = (server: FakeServer, state: AuthState, request: H.FakeRequest): H.Answer => {
  if (request.method !== "GET") return H.refuse(405, "Method not allowed")
  const entityType = request.query.get("entity-type")
  const project = request.query.get("project")
  if (entityType !== null && entityType !== "" && entitlements[entityType] === undefined) {
    return H.refuse(400, `Failed to parse entity type "${entityType}"`)
  }
  const entities: Array<{ readonly type: string; readonly url: string; readonly project: string | undefined }> = [
    { type: "server", url: "/1.0", project: undefined }
  ]
  for (const p of server.projects.values()) {
    entities.push({ type: "project", url: `/1.0/projects/${enc(p.name)}`, project: p.name })
    for (const i of p.instances.values()) {
      entities.push({ type: "instance", url: `/1.0/instances/${enc(i.name)}?project=${enc(p.name)}`, project: p.name })
    }
  }
  for (const g of state.groups.values()) {
    entities.push({ type: "group", url: `/1.0/auth/groups/${enc(g.name)}`, project: undefined })
  }
  const chosen = entities.filter((e) =>
    (entityType === null || entityType === "" || e.type === entityType) &&
    (project === null || project === "" || e.project === project)
  )
  const all = chosen.flatMap((e) =>
    (entitlements[e.type] ?? []).map((entitlement) => ({ entity_type: e.type, url: e.url, entitlement }))
  )
  if (recursion(request) < 1) return H.sync(all)
  return H.sync(all.map((p) => ({
    ...p,
    groups: [...state.groups.values()].filter((g) => g.permissions.some((q) => samePermission(p, q))).map((g) => g.name)
  })))
}

/** `/1.0/auth/...`. */
export const auth: Handler = (server, request) => {
  if (!server.extensions.includes("access_management")) return H.refuse(404, "not found")
  const state = stateOf(server)
  switch (request.segments[1]) {
    case "identities":
      return identitiesRoute(server, state, request)
    case "groups":
      return groupsRoute(server, state, request)
    case "identity-provider-groups":
      return idpGroupsRoute(server, state, request)
    case "permissions":
      return permissionsRoute(server, state, request)
  }
  return H.refuse(404, "not found")
}
