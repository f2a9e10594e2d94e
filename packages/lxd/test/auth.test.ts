/**
 * `Auth` against the test kit's LXD 6.x dialect (the only one with `access_management`
 * and `access_management_tls`): identities, groups with permissions, the permissions on
 * offer, identity provider groups, TLS identity tokens and trust through
 * `Server.authenticate`; and, on the LXD 5.0 and Incus 6.0 dialects, `ExtensionNotAvailable`
 * before anything is sent.
 */
import { assert, describe, it, layer } from "@effect/vitest"
import { Auth, Certificates, Instances, Lxd, LxdHttp, LxdTransport, Server } from "effect-lxd"
import * as Testing from "effect-lxd/testing"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as ChildProcess from "node:child_process"
import { recordingTracer } from "./recordingTracer.js"

/** A throwaway self-signed certificate (PEM), made with the openssl CLI; the key is discarded. */
const makeCert = (cn: string): { readonly cert: string } => ({
  cert: ChildProcess.execFileSync("openssl", [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    "/dev/null",
    "-subj",
    `/CN=${cn}`,
    "-days",
    "1"
  ], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] })
})

const failureOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  const failure = exit.cause._tag === "Fail" ? exit.cause.error : undefined
  if (failure === undefined) throw new Error(`expected a typed failure, got ${String(exit.cause)}`)
  return failure
}

/** Generous: these tests make dozens of calls, and CI machines are shared (not a timing assertion). */
const TIMEOUT = 30_000

const viewer = { entity_type: "project", url: "/1.0/projects/default", entitlement: "viewer" } as const
const serverAdmin = { entity_type: "server", url: "/1.0", entitlement: "admin" } as const

/**
 * Every service over a fake whose transport says it is HTTPS (as a client with a
 * certificate would see it), so `Server.authenticate` takes the trust path.
 */
const overHttps = (options: Testing.Options) =>
  Lxd.layerServices.pipe(
    Layer.provideMerge(LxdHttp.layer()),
    Layer.provideMerge(
      Layer.scopedContext(
        Effect.map(Testing.make(options), (fake) =>
          Context.make(Testing.FakeLxd, fake).pipe(
            Context.add(
              LxdTransport.LxdTransport,
              LxdTransport.make({ ...fake.transport, address: "https://127.0.0.1:8443" })
            )
          ))
      )
    )
  )

layer(Testing.layer({ dialect: "lxd-6" }), { excludeTestServices: true })("Auth on the lxd-6 dialect", (it) => {
  it.effect("groups: create, get, list, update, patch, grant, revoke, rename, delete", () =>
    Effect.gen(function*() {
      const auth = yield* Auth.Auth
      const created = yield* auth.groups.create({ name: "viewers", description: "see", permissions: [viewer] })
      assert.strictEqual(created.name, "viewers")
      assert.strictEqual(created.description, "see")
      assert.deepStrictEqual(created.permissions.map((p) => p.entitlement), ["viewer"])
      assert.include(yield* auth.groups.listNames(), "viewers")
      assert.isTrue((yield* auth.groups.list()).some((g) => g.name === "viewers"))
      assert.isTrue(yield* auth.groups.exists("viewers"))

      // patch keeps the permissions when only the description is given ...
      yield* auth.groups.patch("viewers", { description: "looks" })
      let got = yield* auth.groups.get("viewers")
      assert.strictEqual(got.description, "looks")
      assert.strictEqual(got.permissions.length, 1)
      // ... and replaces them when they are given (LXD's own PATCH would only add)
      yield* auth.groups.patch("viewers", { permissions: [serverAdmin] })
      got = yield* auth.groups.get("viewers")
      assert.deepStrictEqual(got.permissions.map((p) => p.entitlement), ["admin"])

      yield* auth.groups.grant("viewers", viewer)
      yield* auth.groups.grant("viewers", viewer) // no duplicate
      got = yield* auth.groups.get("viewers")
      assert.deepStrictEqual(got.permissions.map((p) => p.entitlement).sort(), ["admin", "viewer"])
      yield* auth.groups.revoke("viewers", serverAdmin)
      got = yield* auth.groups.get("viewers")
      assert.deepStrictEqual(got.permissions.map((p) => p.entitlement), ["viewer"])

      yield* auth.groups.update("viewers", (g) => ({ ...g, description: "updated" }))
      assert.strictEqual((yield* auth.groups.get("viewers")).description, "updated")

      yield* auth.groups.rename("viewers", "watchers")
      assert.isFalse(yield* auth.groups.exists("viewers"))
      assert.strictEqual((yield* auth.groups.get("watchers")).description, "updated")
      yield* auth.groups.delete("watchers")
      assert.isFalse(yield* auth.groups.exists("watchers"))
    }), TIMEOUT)

  it.effect(
    "groups: NotFound, Conflict, PreconditionFailed, and entitlements the server refuses",
    () =>
      Effect.gen(function*() {
        const auth = yield* Auth.Auth
        const http = yield* LxdHttp.LxdHttp
        yield* auth.groups.create({ name: "g1" })
        const missing = failureOf(yield* Effect.exit(auth.groups.get("nope")))
        assert.strictEqual(missing._tag, "NotFound")
        const again = failureOf(yield* Effect.exit(auth.groups.create({ name: "g1" })))
        assert.strictEqual(again._tag, "Conflict")
        yield* auth.groups.create({ name: "g2" })
        const taken = failureOf(yield* Effect.exit(auth.groups.rename("g1", "g2")))
        assert.strictEqual(taken._tag, "Conflict")
        const stale = failureOf(
          yield* Effect.exit(auth.groups.put("g1", { description: "x", permissions: [] }, { etag: "stale" }))
        )
        assert.strictEqual(stale._tag, "PreconditionFailed")
        // update reads a fresh ETag and writes through the same If-Match check
        const { etag } = yield* http.syncWithEtag(
          { method: "GET", path: "/1.0/auth/groups/g1", project: null },
          Auth.AuthGroup
        )
        assert.isString(etag)
        yield* auth.groups.put("g1", { description: "fresh", permissions: [] }, { etag })
        assert.strictEqual((yield* auth.groups.get("g1")).description, "fresh")
        // entitlements are checked against the entity type, URLs against existing entities
        const badEntitlement = failureOf(
          yield* Effect.exit(auth.groups.grant("g1", { entity_type: "instance", url: "/1.0", entitlement: "admin" }))
        )
        assert.strictEqual(badEntitlement._tag, "LXDAPIException")
        if (badEntitlement._tag === "LXDAPIException") assert.strictEqual(badEntitlement.status, 400)
        const noProject = failureOf(
          yield* Effect.exit(
            auth.groups.grant("g1", { entity_type: "project", url: "/1.0/projects/absent", entitlement: "viewer" })
          )
        )
        assert.strictEqual(noProject._tag, "NotFound")
        assert.deepStrictEqual((yield* auth.groups.get("g1")).permissions, [])
        const invalid = failureOf(yield* Effect.exit(auth.groups.get("")))
        assert.strictEqual(invalid._tag, "InvalidArgument")
        yield* auth.groups.delete("g1")
        yield* auth.groups.delete("g2")
      }),
    TIMEOUT
  )

  it.effect(
    "identities: the current one, fine-grained TLS identities, groups, ETags, delete",
    () =>
      Effect.gen(function*() {
        const auth = yield* Auth.Auth
        const me = yield* auth.identities.current
        assert.strictEqual(me.authentication_method, "tls")
        assert.strictEqual(me.type, "Client certificate (unrestricted)")
        assert.isFalse(me.fine_grained)
        const listed = yield* auth.identities.list("tls")
        assert.isTrue(listed.some((i) => i.id === me.id))

        yield* auth.groups.create({ name: "ops", permissions: [serverAdmin] })
        const { cert } = makeCert("ci-client")
        const ci = yield* auth.identities.createTls({ name: "ci", certificate: cert, groups: ["ops"] })
        assert.strictEqual(ci.type, "Client certificate")
        assert.strictEqual(ci.id, LxdHttp.certificateFingerprint(cert))
        assert.deepStrictEqual(ci.groups, ["ops"])
        assert.strictEqual(ci.tls_certificate, cert)
        // by name or by fingerprint
        assert.strictEqual((yield* auth.identities.get("tls", ci.id)).name, "ci")
        assert.isTrue((yield* auth.identities.list()).some((i) => i.name === "ci"))
        assert.include(yield* auth.identities.listNames(), ci.id)
        assert.include((yield* auth.groups.get("ops")).identities.tls ?? [], ci.id)

        yield* auth.groups.create({ name: "devs" })
        yield* auth.identities.patch("tls", "ci", { groups: ["devs"] })
        assert.deepStrictEqual((yield* auth.identities.get("tls", "ci")).groups, ["devs"])
        yield* auth.identities.update("tls", "ci", (i) => ({ groups: [...i.groups, "ops"] }))
        assert.deepStrictEqual((yield* auth.identities.get("tls", "ci")).groups, ["devs", "ops"])
        const stale = failureOf(yield* Effect.exit(auth.identities.put("tls", "ci", { groups: [] }, { etag: "old" })))
        assert.strictEqual(stale._tag, "PreconditionFailed")
        // a group that does not exist is refused
        const noGroup = failureOf(yield* Effect.exit(auth.identities.patch("tls", "ci", { groups: ["ghost"] })))
        assert.strictEqual(noGroup._tag, "LXDAPIException")
        // the same certificate or name twice
        const twice = failureOf(yield* Effect.exit(auth.identities.createTls({ name: "ci2", certificate: cert })))
        assert.strictEqual(twice._tag, "Conflict")
        const notPem = failureOf(yield* Effect.exit(auth.identities.createTls({ name: "x", certificate: "garbage" })))
        assert.strictEqual(notPem._tag, "InvalidArgument")

        yield* auth.identities.delete("tls", "ci")
        const gone = failureOf(yield* Effect.exit(auth.identities.get("tls", "ci")))
        assert.strictEqual(gone._tag, "NotFound")
        assert.isFalse(yield* auth.identities.exists("tls", ci.id))
        const badMethod = failureOf(yield* Effect.exit(auth.identities.get("x509" as Auth.AuthenticationMethod, "a")))
        assert.strictEqual(badMethod._tag, "InvalidArgument")
        // bearer identities need `auth_bearer`, which this dialect lacks
        const bearer = failureOf(yield* Effect.exit(auth.identities.list("bearer")))
        assert.strictEqual(bearer._tag, "ExtensionNotAvailable")
        yield* auth.groups.delete("ops")
        yield* auth.groups.delete("devs")
      }),
    TIMEOUT
  )

  it.effect("permissions: by entity type and project, with the groups holding them", () =>
    Effect.gen(function*() {
      const auth = yield* Auth.Auth
      const fake = yield* Testing.FakeLxd
      yield* (yield* Instances.Instances).create({ name: "c1", source: { type: "image", alias: "busybox" } })
      const onC1 = { entity_type: "instance", url: "/1.0/instances/c1?project=default", entitlement: "can_exec" }
      yield* auth.groups.create({ name: "execers", permissions: [onC1] })
      const instances = yield* auth.permissions.list({ entityType: "instance", project: "default" })
      assert.isAbove(instances.length, 0)
      assert.isTrue(instances.every((p) => p.entity_type === "instance"))
      const exec = instances.find((p) => p.url === onC1.url && p.entitlement === "can_exec")
      assert.deepStrictEqual(exec?.groups, ["execers"])
      const server = yield* auth.permissions.list({ entityType: "server" })
      assert.isTrue(server.some((p) => p.entitlement === "admin" && p.url === "/1.0"))
      // sent as LXD's `entity-type`, never with the scope's project
      const sent = (yield* fake.requests).filter((r) => r.path === "/1.0/auth/permissions")
      assert.strictEqual(sent.at(-1)?.query["entity-type"], "server")
      assert.isUndefined(sent.at(-1)?.query.project)
      const bad = failureOf(yield* Effect.exit(auth.permissions.list({ entityType: "spaceship" })))
      assert.strictEqual(bad._tag, "LXDAPIException")
      yield* auth.groups.delete("execers")
    }), TIMEOUT)

  it.effect(
    "identity provider groups: CRUD, Conflict, NotFound, and the groups they map to",
    () =>
      Effect.gen(function*() {
        const auth = yield* Auth.Auth
        yield* auth.groups.create({ name: "staff" })
        yield* auth.groups.create({ name: "admins2" })
        const sales = yield* auth.identityProviderGroups.create({ name: "sales", groups: ["staff"] })
        assert.deepStrictEqual(sales.groups, ["staff"])
        assert.deepStrictEqual((yield* auth.groups.get("staff")).identity_provider_groups, ["sales"])
        const again = failureOf(yield* Effect.exit(auth.identityProviderGroups.create({ name: "sales" })))
        assert.strictEqual(again._tag, "Conflict")
        yield* auth.identityProviderGroups.patch("sales", { groups: ["admins2"] })
        assert.deepStrictEqual((yield* auth.identityProviderGroups.get("sales")).groups, ["admins2"])
        yield* auth.identityProviderGroups.update("sales", (g) => ({ groups: [...g.groups, "staff"] }))
        assert.deepStrictEqual((yield* auth.identityProviderGroups.get("sales")).groups, ["admins2", "staff"])
        const stale = failureOf(
          yield* Effect.exit(auth.identityProviderGroups.put("sales", { groups: [] }, { etag: "stale" }))
        )
        assert.strictEqual(stale._tag, "PreconditionFailed")
        yield* auth.identityProviderGroups.rename("sales", "marketing")
        assert.deepStrictEqual(yield* auth.identityProviderGroups.listNames(), ["marketing"])
        assert.strictEqual((yield* auth.identityProviderGroups.list())[0]?.name, "marketing")
        // a group deleted on the LXD side leaves the mapping
        yield* auth.groups.delete("staff")
        assert.deepStrictEqual((yield* auth.identityProviderGroups.get("marketing")).groups, ["admins2"])
        yield* auth.identityProviderGroups.delete("marketing")
        const gone = failureOf(yield* Effect.exit(auth.identityProviderGroups.get("marketing")))
        assert.strictEqual(gone._tag, "NotFound")
        yield* auth.groups.delete("admins2")
      }),
    TIMEOUT
  )
})

describe("TLS identity tokens", () => {
  it.effect(
    "a pending identity's token makes an untrusted client trusted through Server.authenticate",
    () =>
      Effect.gen(function*() {
        const { spans, tracer, texts } = recordingTracer()
        const program = Effect.gen(function*() {
          const fake = yield* Testing.FakeLxd
          const auth = yield* Auth.Auth
          const server = yield* Server.Server
          assert.isFalse((yield* (yield* LxdHttp.LxdHttp).serverInfo).trusted)
          // untrusted: refused
          const refused = failureOf(yield* Effect.exit(auth.groups.list()))
          assert.strictEqual(refused._tag, "Forbidden")

          // an administrator makes a pending identity with a token
          yield* fake.setTrusted(true)
          yield* auth.groups.create({ name: "ci-group", permissions: [viewer] })
          const token = yield* auth.identities.createTlsToken({ name: "runner", groups: ["ci-group"] })
          assert.isTrue(Redacted.isRedacted(token.token))
          assert.notInclude(String(token.token), Redacted.value(token.token))
          assert.strictEqual(token.clientName, "runner")
          assert.deepStrictEqual(token.addresses, ["127.0.0.1:8443"])
          const pending = yield* auth.identities.get("tls", "runner")
          assert.strictEqual(pending.type, "Client certificate (pending)")
          const duplicate = failureOf(yield* Effect.exit(auth.identities.createTlsToken({ name: "runner" })))
          assert.strictEqual(duplicate._tag, "Conflict")
          // a trusted client that sends a token is told it is trusted already
          const already = failureOf(
            yield* Effect.exit(
              (yield* LxdHttp.LxdHttp).send({
                method: "POST",
                path: "/1.0/auth/identities/tls",
                body: { name: "x", trust_token: Redacted.value(token.token) },
                project: null
              })
            )
          )
          assert.strictEqual(already._tag, "Conflict")

          // the new client: untrusted, presents the token
          yield* fake.setTrusted(false)
          const wrong = failureOf(
            yield* Effect.exit(server.authenticate({ token: Redacted.make(forged(Redacted.value(token.token))) }))
          )
          assert.strictEqual(wrong._tag, "Forbidden")
          const info = yield* server.authenticate({ token: token.token })
          assert.isTrue(info.trusted)
          // it went to the identities API, and it is now the fine-grained identity "runner"
          const sent = (yield* fake.requests).filter((r) => r.method === "POST")
          assert.isTrue(sent.some((r) => r.path === "/1.0/auth/identities/tls"))
          assert.isFalse(sent.some((r) => r.path === "/1.0/certificates"))
          const me = yield* auth.identities.current
          assert.strictEqual(me.name, "runner")
          assert.strictEqual(me.type, "Client certificate")
          assert.isTrue(me.fine_grained)
          assert.deepStrictEqual(me.effective_groups, ["ci-group"])
          assert.deepStrictEqual(me.effective_permissions.map((p) => p.entitlement), ["viewer"])
          // a token works once
          yield* fake.setTrusted(false)
          yield* (yield* LxdHttp.LxdHttp).refreshServerInfo
          const reused = failureOf(yield* Effect.exit(server.authenticate({ token: token.token })))
          assert.strictEqual(reused._tag, "Forbidden")
          assert.notInclude(reused.message, Redacted.value(token.token))
          return Redacted.value(token.token)
        })
        const secret = yield* program.pipe(
          Effect.provide(overHttps({ dialect: "lxd-6", trusted: false })),
          Effect.withTracer(tracer)
        )
        const secretInside = JSON.parse(Buffer.from(secret, "base64").toString("utf8")).secret as string
        assert.isFalse(
          texts().some((t) => t.includes(secret) || t.includes(secretInside)),
          "the token leaked into a span"
        )
        // the calls are traced all the same
        const names = spans.map((s) => s.name)
        for (const name of ["Auth.identities.createTlsToken", "Auth.identities.current", "Server.authenticate"]) {
          assert.include(names, name)
        }
      }),
    TIMEOUT
  )

  it.effect("a certificates token still goes to /1.0/certificates on the lxd-6 dialect", () =>
    Effect.gen(function*() {
      const fake = yield* Testing.FakeLxd
      const server = yield* Server.Server
      yield* fake.setTrusted(true)
      const token = yield* (yield* Certificates.Certificates).createToken({ name: "legacy" })
      yield* fake.setTrusted(false)
      const info = yield* server.authenticate({ token: token.token })
      assert.isTrue(info.trusted)
      const posts = (yield* fake.requests).filter((r) => r.method === "POST").map((r) => r.path)
      assert.include(posts, "/1.0/certificates")
      assert.notInclude(posts, "/1.0/auth/identities/tls")
    }).pipe(Effect.provide(overHttps({ dialect: "lxd-6", trusted: false }))), TIMEOUT)
})

/** The same token with another secret. */
const forged = (token: string): string => {
  const decoded = JSON.parse(Buffer.from(token, "base64").toString("utf8")) as Record<string, unknown>
  return Buffer.from(JSON.stringify({ ...decoded, secret: "0".repeat(64) })).toString("base64")
}

for (const dialect of ["lxd-5.0", "incus-6.0"] as const) {
  layer(Testing.layer({ dialect }), { excludeTestServices: true })(`Auth on the ${dialect} dialect`, (it) => {
    it.effect("every call fails with ExtensionNotAvailable and sends nothing", () =>
      Effect.gen(function*() {
        const auth = yield* Auth.Auth
        const fake = yield* Testing.FakeLxd
        const before = (yield* fake.requests).length
        const { cert } = makeCert("never-sent")
        const calls = [
          auth.identities.list(),
          auth.identities.list("tls"),
          auth.identities.listNames(),
          auth.identities.current,
          auth.identities.get("tls", "a"),
          auth.identities.patch("tls", "a", { groups: [] }),
          auth.identities.delete("oidc", "a@example.com"),
          auth.identities.createTls({ name: "a", certificate: cert }),
          auth.identities.createTlsToken({ name: "a" }),
          auth.groups.list(),
          auth.groups.create({ name: "g" }),
          auth.groups.update("g", (g) => g),
          auth.groups.grant("g", viewer),
          auth.groups.rename("g", "h"),
          auth.groups.delete("g"),
          auth.permissions.list({ entityType: "server" }),
          auth.identityProviderGroups.list(),
          auth.identityProviderGroups.create({ name: "x" }),
          auth.identityProviderGroups.delete("x")
        ] as const
        for (const call of calls) {
          const failure = failureOf(yield* Effect.exit(call))
          assert.strictEqual(failure._tag, "ExtensionNotAvailable")
          if (failure._tag === "ExtensionNotAvailable") {
            assert.include(["access_management", "access_management_tls"], failure.extension)
          }
        }
        assert.strictEqual((yield* fake.requests).length, before, "a request was sent")
      }), TIMEOUT)
  })
}

describe("Auth models", () => {
  it("withPermission and withoutPermission keep one copy of each permission", () => {
    const once = Auth.withPermission([viewer], { ...viewer })
    assert.strictEqual(once.length, 1)
    const twice = Auth.withPermission(once, serverAdmin)
    assert.strictEqual(twice.length, 2)
    assert.deepStrictEqual(Auth.withoutPermission(twice, viewer), [serverAdmin])
  })
})
