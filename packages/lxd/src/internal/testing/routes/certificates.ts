/**
 * Certificates and trust tokens, and how an untrusted client adds itself.
 */
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as H from "../http.js"
import { zeroTime } from "../model.js"
import { newSecret } from "../server.js"
import { addCertificate, certificateItem, listCertificates } from "./certificate-store.js"
import { asyncOf, type Handler } from "./common.js"

export const certificates: Handler = (server, request) => {
  if (request.segments.length === 1 && request.method === "GET") {
    return listCertificates(server, request)
  }
  if (request.segments.length === 1 && request.method === "POST") {
    const body = H.jsonBody(request)
    if (!server.trusted) {
      // joining with a token: `trust_token` (LXD with explicit_trust_token, Incus) or `password`
      // (LXD 5.0 reads a token from `password` and knows no `trust_token`; with
      // explicit_trust_token, and on Incus, `password` is only the trust password, which they lack)
      const given = server.family === "incus" || server.extensions.includes("explicit_trust_token")
        ? body.trust_token
        : body.password
      // the join token is base64 JSON holding the secret (or the bare secret)
      let secret = given
      if (typeof given === "string") {
        try {
          const decoded: unknown = JSON.parse(Buffer.from(given, "base64").toString("utf8"))
          if (typeof decoded === "object" && decoded !== null && "secret" in decoded) secret = decoded.secret
        } catch {
          // not a join token: compare as it is
        }
      }
      const token = [...server.operations.values()].find((op) =>
        op.class === "token" && op.statusCode === 103 && typeof secret === "string" &&
        (op.metadata as { secret?: unknown } | null)?.secret === secret
      )
      if (token === undefined) return H.refuse(403, "No matching certificate add operation found")
      const fiber = token.fiber
      server.trusted = true
      return Effect.as(fiber === undefined ? Effect.void : Fiber.interrupt(fiber), H.sync(null, { status: 201 }))
    }
    if (body.token !== true) return addCertificate(server, request)
    const name = typeof body.name === "string" ? body.name : ""
    const secret = newSecret()
    return Effect.map(
      server.startOperation({
        project: "default",
        class: "token",
        description: "Executing operation",
        origin: { method: "POST", path: "/1.0/certificates" },
        metadata: {
          request: { name, type: "client", restricted: false, projects: [], certificate: "", token: true },
          fingerprint: newSecret(),
          addresses: [],
          secret,
          expires_at: zeroTime
        },
        mayCancel: true,
        run: () => Effect.never
      }),
      (op) => asyncOf(server, op)
    )
  }
  return certificateItem(server, request)
}
