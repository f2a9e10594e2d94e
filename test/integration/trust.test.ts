import { assert } from "@effect/vitest"
import { Certificates, Lxd, LxdHttp, LxdTransport, Operations, Server } from "effect-lxd"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { makeCert } from "../support/certs.js"
import { readText } from "../support/env.js"
import { forEachServer, uniqueName } from "../support/servers.js"

forEachServer("certificates and trust", (it, server) => {
  it.effect("the trust store lists the test client", () =>
    Effect.gen(function*() {
      const certs = yield* Certificates.Certificates
      const list = yield* certs.list()
      const mine = list.find((c) => c.fingerprint === server.env.clientFingerprint)
      assert.isDefined(mine)
      assert.strictEqual(mine!.type, "client")
      const one = yield* certs.get(server.env.clientFingerprint)
      assert.strictEqual(one.fingerprint, server.env.clientFingerprint)
    }))

  it.scoped("add, get, update, patch and delete a certificate", () =>
    Effect.gen(function*() {
      const certs = yield* Certificates.Certificates
      const { cert } = makeCert(uniqueName("cn"))
      const name = uniqueName("cert")
      const fingerprint = yield* Effect.acquireRelease(
        certs.add({ certificate: cert, name }),
        (fp) => Effect.ignore(certs.delete(fp))
      )
      assert.strictEqual(fingerprint, LxdHttp.certificateFingerprint(cert))
      const got = yield* certs.get(fingerprint)
      assert.strictEqual(got.name, name)
      assert.isTrue((yield* certs.list()).some((c) => c.fingerprint === fingerprint))
      yield* certs.update(fingerprint, (c) => ({ ...c, name: `${name}-2` }))
      assert.strictEqual((yield* certs.get(fingerprint)).name, `${name}-2`)
      yield* certs.patch(fingerprint, { name: `${name}-3` })
      assert.strictEqual((yield* certs.get(fingerprint)).name, `${name}-3`)
      yield* certs.delete(fingerprint)
      const gone = yield* Effect.flip(certs.get(fingerprint))
      assert.strictEqual(gone._tag, "NotFound")
      assert.include(gone.message, `Certificate "${fingerprint}"`)
    }))

  it.effect("adding garbage is refused before any request", () =>
    Effect.gen(function*() {
      const certs = yield* Certificates.Certificates
      const failure = yield* Effect.flip(certs.add({ certificate: "not a certificate" }))
      assert.strictEqual(failure._tag, "InvalidArgument")
      const bad = yield* Effect.flip(certs.get("../../1.0"))
      assert.strictEqual(bad._tag, "InvalidArgument")
    }))

  it.scoped.skipIf(server.lacks("https"))(
    "an untrusted client sees the short view and is refused elsewhere (needs https)",
    () =>
      Effect.gen(function*() {
        const { cert, key } = makeCert(uniqueName("untrusted"))
        const http = yield* LxdHttp.connect({ _tag: "Https", ...server.httpsAs(cert, key) })
        const info = yield* http.serverInfo
        assert.strictEqual(info.auth, "untrusted")
        // without `environment`, the dialect comes from the extension names
        assert.strictEqual(http.dialect, server.env.kind)
        assert.isFalse(info.trusted)
        assert.isUndefined(info.environment)
        assert.isAbove(info.api_extensions.length, 0)
        const refused = yield* Effect.flip(http.sync({ method: "GET", path: "/1.0/instances" }, Schema.Unknown))
        assert.strictEqual(refused._tag, "Forbidden")
        if (refused._tag === "Forbidden") assert.strictEqual(refused.status, 403)
      })
  )

  it.scoped.skipIf(server.lacks("https"))(
    "authenticate with a trust token (and the token is never in errors) (needs https)",
    () =>
      Effect.gen(function*() {
        const certs = yield* Certificates.Certificates
        const name = uniqueName("tok")
        const token = yield* certs.createToken({ name })
        const { cert, key } = makeCert(name)
        const fingerprint = LxdHttp.certificateFingerprint(cert)
        yield* Effect.addFinalizer(() => Effect.ignore(certs.delete(fingerprint)))
        const layer = Lxd.layerHttps(server.httpsAs(cert, key))
        const info = yield* Effect.gen(function*() {
          const s = yield* Server.Server
          assert.isFalse((yield* s.info).trusted)
          return yield* s.authenticate({ token: token.token })
        }).pipe(Effect.provide(layer))
        assert.isTrue(info.trusted)
        assert.strictEqual((yield* certs.get(fingerprint)).fingerprint, fingerprint)
        assert.notInclude(String(token.token), Redacted.value(token.token))
        // a used token cannot be used twice
        const { cert: cert2, key: key2 } = makeCert(`${name}-again`)
        const again = yield* Effect.flip(
          Effect.flatMap(Server.Server, (s) => s.authenticate({ token: token.token })).pipe(
            Effect.provide(Lxd.layerHttps(server.httpsAs(cert2, key2)))
          )
        )
        assert.oneOf(again._tag, ["Forbidden", "LXDAPIException", "NotFound"])
        assert.notInclude(again.message, Redacted.value(token.token))
      })
  )

  it.scoped.skipIf(server.lacks("https"))(
    "authenticate with the trust password (LXD 5.x only) (needs https)",
    () =>
      Effect.gen(function*() {
        const http = yield* LxdHttp.LxdHttp
        const info = yield* http.serverInfo
        const { cert, key } = makeCert(uniqueName("pw"))
        const layer = Lxd.layerHttps(server.httpsAs(cert, key))
        const authenticate = (password: string) =>
          Effect.flatMap(Server.Server, (s) => s.authenticate({ password: Redacted.make(password) })).pipe(
            Effect.provide(layer)
          )
        if (server.env.trustPassword === undefined || info.config["core.trust_password"] === undefined) {
          // Incus (and LXD 6) have no trust password: the server refuses the attempt
          yield* Effect.log(`${server.name}: no trust password on this server; checking the refusal instead`)
          const refused = yield* Effect.flip(authenticate("anything"))
          assert.strictEqual(refused._tag, "Forbidden")
          assert.notInclude(refused.message, "anything")
          return
        }
        const certs = yield* Certificates.Certificates
        const fingerprint = LxdHttp.certificateFingerprint(cert)
        yield* Effect.addFinalizer(() => Effect.ignore(certs.delete(fingerprint)))
        const wrong = yield* Effect.flip(authenticate("wrong-password-xyz"))
        assert.strictEqual(wrong._tag, "Forbidden")
        assert.notInclude(wrong.message, "wrong-password-xyz")
        const trusted = yield* authenticate(server.env.trustPassword)
        assert.isTrue(trusted.trusted)
        assert.isTrue((yield* certs.list()).some((c) => c.fingerprint === fingerprint))
      })
  )

  it.scoped.skipIf(server.lacks("https"))(
    "a token is a cancellable operation; cancelling it revokes the token (needs https)",
    () =>
      Effect.gen(function*() {
        const certs = yield* Certificates.Certificates
        const ops = yield* Operations.Operations
        const token = yield* certs.createToken({ name: uniqueName("revoke") })
        const op = yield* ops.get(token.operationId)
        assert.strictEqual(op.class, "token")
        assert.isTrue(op.may_cancel)
        yield* ops.cancel(token.operationId)
        const after = yield* Effect.either(ops.get(token.operationId))
        if (after._tag === "Right") assert.notStrictEqual(after.right.status, "Running")
        const { cert, key } = makeCert(uniqueName("late"))
        const refused = yield* Effect.flip(
          Effect.flatMap(Server.Server, (s) => s.authenticate({ token: token.token })).pipe(
            Effect.provide(Lxd.layerHttps(server.httpsAs(cert, key)))
          )
        )
        assert.oneOf(refused._tag, ["Forbidden", "LXDAPIException", "NotFound"])
      })
  )
})

forEachServer("connection failures", (it, server) => {
  it.effect("a wrong socket path fails at layer build with TransportError", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(
        Effect.scoped(LxdHttp.connect({ _tag: "Unix", socketPath: "/tmp/no-such-lxd.socket" }))
      )
      assert.isTrue(Exit.isFailure(exit))
      const failure = yield* Effect.flip(
        Effect.scoped(LxdHttp.connect({ _tag: "Unix", socketPath: "/tmp/no-such-lxd.socket" }))
      )
      assert.strictEqual(failure._tag, "TransportError")
      assert.include(failure.message, "/tmp/no-such-lxd.socket")
    }))

  it.effect.skipIf(server.lacks("https"))(
    "a wrong pinned server certificate fails at layer build with TransportError (needs https)",
    () =>
      Effect.gen(function*() {
        const options = server.httpsWith(server.env.clientCert, server.env.clientKey)
        const wrongPin = { ...options, serverCert: readText(server.env.clientCert) }
        const failure = yield* Effect.flip(Effect.scoped(LxdHttp.connect({ _tag: "Https", ...wrongPin })))
        assert.strictEqual(failure._tag, "TransportError")
        assert.include(failure.message, server.env.httpsUrl)
        // it says why, rather than "self-signed certificate"
        assert.include(failure.message, "does not match the pinned certificate")
      })
  )

  it.scoped.skipIf(server.lacks("https"))(
    "the pin guards websockets too: a wrong pin refuses the websocket before any request (needs https)",
    () =>
      Effect.gen(function*() {
        const options = server.httpsWith(server.env.clientCert, server.env.clientKey)
        const wrongPin = { ...options, serverCert: readText(server.env.clientCert) }
        const context = yield* Layer.build(LxdTransport.layerHttps(wrongPin))
        const transport = Context.get(context, LxdTransport.LxdTransport)
        const failure = yield* Effect.flip(transport.websocket({ path: "/1.0/events", headers: {} }))
        assert.strictEqual(failure._tag, "TransportError")
        assert.include(failure.message, "does not match the pinned certificate")
      })
  )

  it.effect.skipIf(server.lacks("https"))(
    "without a pin or CA, the self-signed server is not trusted (verification is on) (needs https)",
    () =>
      Effect.gen(function*() {
        const { serverCert: _pin, ...noPin } = server.httpsWith(server.env.clientCert, server.env.clientKey)
        const failure = yield* Effect.flip(Effect.scoped(LxdHttp.connect({ _tag: "Https", ...noPin })))
        assert.strictEqual(failure._tag, "TransportError")
      })
  )

  // over unix it reads the socket path from the settings, over HTTPS the URL and files
  const listener = server.transport === "unix" ? "unix-socket" : "https"
  it.effect.skipIf(server.lacks(listener))(
    `layerConfig connects from environment-style settings (needs ${listener})`,
    () =>
      Effect.gen(function*() {
        const prefix = server.env.kind === "incus" ? "INCUS" : "LXD"
        const settings = new Map(
          server.transport === "unix"
            ? [[`${prefix}_SOCKET`, server.env.socket]]
            : [
              [`${prefix}_HTTPS_URL`, server.env.httpsUrl],
              [`${prefix}_CLIENT_CERT`, server.env.clientCert],
              [`${prefix}_CLIENT_KEY`, server.env.clientKey],
              [`${prefix}_SERVER_CERT`, server.env.serverCert]
            ]
        )
        const info = yield* Effect.flatMap(LxdHttp.LxdHttp, (h) => h.serverInfo).pipe(
          Effect.provide(LxdHttp.layerConfig(LxdHttp.config(prefix))),
          Effect.withConfigProvider(ConfigProvider.fromMap(settings))
        )
        assert.isTrue(info.trusted)
        assert.strictEqual(info.environment?.server, server.env.kind)
      })
  )
})
