/**
 * Access management (`Auth`) on every server of the matrix. LXD 5.0.2 and Incus 6.0.4
 * have neither `access_management` nor `access_management_tls`: every call must fail
 * with `ExtensionNotAvailable` before a request leaves the client (counted by the HTTP
 * client's spans, which every request makes). A server with the extensions (the fake's
 * LXD 6.x dialect, with `EFFECT_LXD_SERVERS=all`) gets a round trip instead.
 */
import { assert } from "@effect/vitest"
import { Auth, Lxd, LxdHttp, Server } from "effect-lxd"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Tracer from "effect/Tracer"
import { makeCert } from "../support/certs.js"
import { forEachServer, uniqueName } from "../support/servers.js"

/** A tracer that only counts the spans of requests sent (`http.client GET`, ...). */
const requestCounter = () => {
  const sent: Array<string> = []
  const tracer = Tracer.make({
    context: (f) => f(),
    span: (name, parent, context, links, startTime, kind) => {
      if (name.startsWith("http.client")) sent.push(name)
      const span: Tracer.Span = {
        _tag: "Span",
        name,
        spanId: String(sent.length),
        traceId: "t",
        parent,
        context,
        status: { _tag: "Started", startTime },
        attributes: new Map(),
        links,
        sampled: true,
        kind,
        end: () => {},
        attribute: () => {},
        event: () => {},
        addLinks: () => {}
      }
      return span
    }
  })
  return { sent, tracer }
}

const failureOf = <A, E>(exit: Exit.Exit<A, E>): E | undefined =>
  Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : undefined

forEachServer("auth", (it, server) => {
  it.effect("every Auth call is gated by its extension", () =>
    Effect.gen(function*() {
      const http = yield* LxdHttp.LxdHttp
      const auth = yield* Auth.Auth
      const managed = yield* http.hasExtension("access_management")
      const tls = yield* http.hasExtension("access_management_tls")
      if (server.env.serverVersion.startsWith("5.0") || server.env.kind === "incus") {
        // what these servers are known to lack: the test must not pass by finding the extension
        assert.isFalse(managed, `${server.name} advertises access_management`)
        assert.isFalse(tls, `${server.name} advertises access_management_tls`)
      }
      const { sent, tracer } = requestCounter()
      if (!managed) {
        const group = uniqueName("grp")
        const calls = [
          auth.identities.current,
          auth.identities.list(),
          auth.identities.list("tls"),
          auth.identities.get("tls", server.env.clientFingerprint),
          auth.identities.update("tls", server.env.clientFingerprint, (i) => i),
          auth.identities.delete("tls", uniqueName("id")),
          auth.identities.createTlsToken({ name: uniqueName("tok") }),
          auth.groups.list(),
          auth.groups.listNames(),
          auth.groups.create({ name: group }),
          auth.groups.patch(group, { description: "x" }),
          auth.groups.rename(group, `${group}-2`),
          auth.groups.delete(group),
          auth.permissions.list({ entityType: "server" }),
          auth.identityProviderGroups.list(),
          auth.identityProviderGroups.create({ name: group })
        ] as const
        for (const call of calls) {
          const failure = failureOf(yield* Effect.exit(Effect.withTracer(call, tracer)))
          assert.strictEqual(failure?._tag, "ExtensionNotAvailable")
          if (failure?._tag === "ExtensionNotAvailable") assert.strictEqual(failure.extension, "access_management")
        }
        assert.deepStrictEqual(sent, [], "a request was sent")
        // the counter does see requests: one call that is sent
        yield* Effect.withTracer((yield* Server.Server).info, tracer)
        assert.deepStrictEqual(sent, ["http.client GET"])
        // why the gate: sent anyway, the server's answer would read as "this group does not exist"
        const raw = failureOf(
          yield* Effect.exit(http.sync({ method: "GET", path: "/1.0/auth/groups", project: null }, Schema.Unknown))
        )
        assert.strictEqual(raw?._tag, "NotFound")
      } else {
        const me = yield* auth.identities.current
        assert.isString(me.authentication_method)
        const name = uniqueName("grp")
        yield* Effect.acquireUseRelease(
          auth.groups.create({ name }),
          (group) =>
            Effect.gen(function*() {
              assert.strictEqual(group.name, name)
              assert.include(yield* auth.groups.listNames(), name)
            }),
          () => Effect.ignore(auth.groups.delete(name))
        )
        assert.isFalse(yield* auth.groups.exists(name))
      }
    }))

  it.effect("an untrusted client's identity token is refused unsent where the identities API is missing", () =>
    Effect.gen(function*() {
      const http = yield* LxdHttp.LxdHttp
      if (yield* http.hasExtension("access_management_tls")) return
      // a token of the identities API (it carries `type`); its secret is made up
      const token = Buffer.from(JSON.stringify({
        client_name: "nobody",
        fingerprint: "0".repeat(64),
        addresses: ["127.0.0.1:8443"],
        secret: "f".repeat(64),
        expires_at: "0001-01-01T00:00:00Z",
        type: "Client certificate"
      })).toString("base64")
      const { cert, key } = makeCert(uniqueName("untrusted"))
      const { sent, tracer } = requestCounter()
      const failure = yield* Effect.gen(function*() {
        const untrusted = yield* Server.Server
        assert.isFalse((yield* (yield* LxdHttp.LxdHttp).serverInfo).trusted)
        return failureOf(
          yield* Effect.exit(Effect.withTracer(untrusted.authenticate({ token: Redacted.make(token) }), tracer))
        )
      }).pipe(Effect.provide(Lxd.layer(LxdHttp.layerHttps(server.httpsAs(cert, key)))))
      assert.strictEqual(failure?._tag, "ExtensionNotAvailable")
      if (failure?._tag === "ExtensionNotAvailable") {
        assert.strictEqual(failure.extension, "access_management_tls")
        assert.notInclude(failure.message, token)
      }
      assert.deepStrictEqual(sent, [], "a request was sent")
    }))
})
