import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import { decodeJoinToken, encodeToken, joinBody, joinTokenOf } from "../src/internal/clusterTokens.js"

const origin = { method: "POST", path: "/1.0/cluster/members" } as const
const SECRET = "s3cr3t-join-value"

describe("cluster join tokens", () => {
  it.effect("a token made from the operation metadata decodes back to the same fields", () =>
    Effect.gen(function*() {
      const made = yield* joinTokenOf(origin, "op-1", {
        serverName: "m2",
        fingerprint: "ABCDEF",
        addresses: ["127.0.0.1:8443"],
        secret: SECRET
      }, "ignored")
      assert.strictEqual(made.serverName, "m2")
      assert.strictEqual(made.operationId, "op-1")
      assert.deepStrictEqual(made.addresses, ["127.0.0.1:8443"])
      const decoded = yield* decodeJoinToken(made.token)
      assert.strictEqual(decoded.fingerprint, "ABCDEF")
      assert.strictEqual(Redacted.value(decoded.secret), SECRET)
      // the server name falls back to the one asked for; null addresses read as none
      const fallback = yield* joinTokenOf(origin, "op-2", { fingerprint: "ab", secret: SECRET, addresses: null }, "m3")
      assert.strictEqual(fallback.serverName, "m3")
      assert.deepStrictEqual(fallback.addresses, [])
    }))

  it("malformed metadata or tokens fail without quoting the secret", () => {
    const bad = joinTokenOf(origin, "op", { fingerprint: 1, secret: SECRET }, "m")
    assert.isTrue(Either.isLeft(bad))
    if (Either.isLeft(bad)) assert.notInclude(bad.left.message, SECRET)
    const notToken = Effect.runSync(Effect.flip(decodeJoinToken(`not-a-token-${SECRET}`)))
    assert.strictEqual(notToken._tag, "InvalidArgument")
    assert.notInclude(notToken.message, SECRET)
  })

  it("the join body: the token in cluster_token, and in cluster_password for servers without explicit_trust_token", () => {
    const token = encodeToken({
      serverName: "m2",
      fingerprint: "AB12",
      addresses: ["127.0.0.1:8443"],
      secret: SECRET,
      expiresAt: undefined
    })
    const decoded = Effect.runSync(decodeJoinToken(token))
    const options = { token: Redacted.make(token), clusterCertificate: "pem", serverAddress: "127.0.0.2:8443" }
    const explicit = joinBody(options, decoded, "ab12", true)
    assert.deepStrictEqual(
      Either.map(explicit, (b) => [b.cluster_token, b.cluster_password, b.cluster_address]),
      Either.right([token, undefined, "127.0.0.1:8443"])
    )
    const legacy = joinBody(options, decoded, "ab12", false)
    assert.deepStrictEqual(Either.map(legacy, (b) => b.cluster_password), Either.right(token))
    // a certificate whose fingerprint is not the token's is refused
    const mismatch = joinBody(options, decoded, "ffff", true)
    assert.isTrue(Either.isLeft(mismatch) && mismatch.left.argument === "clusterCertificate")
    // no address to join through
    const none = joinBody(options, { ...decoded, addresses: [] }, "ab12", true)
    assert.isTrue(Either.isLeft(none) && none.left.argument === "clusterAddress")
  })
})
