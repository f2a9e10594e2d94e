import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import {
  Certificates,
  Cluster,
  Images,
  Instances,
  Launch,
  Lxd,
  LxdHttp,
  LxdTransport,
  Operations,
  Readiness,
  Server
} from "../src/index.js"
import { json, operation, sync } from "./fakeServer.js"
import { memoryTransport } from "./memoryTransport.js"
import { recordingTracer } from "./recordingTracer.js"

const SECRETS = ["hunter2-trust-password", "tok-3f9a-join-secret", "img-secret-77", "ws-secret-abc"]

// a server that answers whatever the calls below need
const { transport } = memoryTransport((req, res) => {
  if (req.url.startsWith("/1.0/instances/web1/state")) {
    return json(res, 202, {
      type: "async",
      status: "Operation created",
      status_code: 100,
      operation: "/1.0/operations/op-42",
      metadata: operation("op-42", { metadata: { fds: { "0": SECRETS[3] } } })
    })
  }
  if (req.url.startsWith("/1.0/operations/op-42/wait")) {
    return json(res, 200, sync(operation("op-42", { status: "Success", status_code: 200 })))
  }
  if (req.url.startsWith("/1.0/operations/op-42")) return json(res, 200, sync(operation("op-42")))
  if (req.url.startsWith("/1.0/instances?")) return json(res, 200, sync([]))
  if (req.url.startsWith("/1.0/certificates")) return json(res, 201, sync({}), { location: "/1.0/certificates/ab12" })
  if (req.url.startsWith("/1.0/images/ab12")) {
    return json(res, 403, { type: "error", error: "not allowed", error_code: 403 })
  }
  json(res, 200, sync({}))
})

const services = Lxd.layerServices.pipe(
  Layer.provideMerge(LxdHttp.layer()),
  Layer.provide(Layer.succeed(LxdTransport.LxdTransport, transport))
)

describe("spans", () => {
  it.effect("every public call runs in a span named after it, with its name, project and operation", () =>
    Effect.gen(function*() {
      const { spans, texts, tracer } = recordingTracer()
      const program = Effect.gen(function*() {
        const instances = yield* Instances.Instances
        yield* Lxd.withProject("staging")(instances.start("web1"))
        yield* instances.list()
        const certificates = yield* Certificates.Certificates
        yield* Effect.either(certificates.createToken({ name: "ci" }))
        yield* Effect.either((yield* Server.Server).authenticate({ password: Redacted.make(SECRETS[0]!) }))
        yield* Effect.either((yield* Cluster.Cluster).members.revokeToken(SECRETS[1]!))
        yield* Effect.either((yield* Images.Images).get("ab12", { secret: Redacted.make(SECRETS[2]!) }))
        yield* Stream.runDrain(Stream.take((yield* Operations.Operations).watch("op-42"), 1))
      })
      yield* program.pipe(Effect.provide(services), Effect.withTracer(tracer))

      const byName = (name: string) => spans.find((s) => s.name === name)
      const start = byName("Instances.start")
      assert.isDefined(start)
      assert.strictEqual(start!.attributes.get("lxd.instance"), "web1")
      assert.strictEqual(start!.attributes.get("lxd.project"), "staging")
      // the operation it started is named on the span of the call that started it
      const run = spans.find((s) => s.name === "Operations.run" && s.parent === "Instances.start")
      assert.isDefined(run, spans.map((s) => `${s.parent} > ${s.name}`).join(", "))
      assert.strictEqual(run!.attributes.get("lxd.operation.id"), "op-42")
      assert.isDefined(byName("Instances.list"))
      assert.isDefined(byName("Certificates.createToken"))
      assert.isDefined(byName("Server.authenticate"))
      assert.isDefined(byName("Cluster.members.revokeToken"))
      assert.strictEqual(byName("Images.get")!.attributes.get("lxd.image"), "ab12")
      assert.strictEqual(byName("Operations.watch")!.attributes.get("lxd.operation.id"), "op-42")

      // no secret in any span name or attribute (HTTP client spans included)
      const everything = texts()
      for (const secret of SECRETS) {
        assert.isFalse(everything.some((text) => text.includes(secret)), `${secret} leaked into a span`)
      }
    }))
  it.live("Launch calls run in spans named after them; a check that keeps failing ends in NotReady", () =>
    Effect.gen(function*() {
      const { spans, tracer } = recordingTracer()
      const launch = yield* Effect.provide(Launch.Launch, services)
      // this fake answers the state with an operation: the check cannot decode it
      const error = yield* Effect.flip(
        launch.waitReady("web1", Readiness.running, { timeout: "300 millis" }).pipe(
          Effect.provide(services),
          Effect.withTracer(tracer)
        )
      )
      assert.strictEqual(error._tag, "NotReady")
      if (error._tag !== "NotReady") return
      assert.strictEqual(error.condition, "running")
      assert.match(error.observed, /^DecodeError: /)
      assert.match(error.reason, /^timeout after/)
      const span = spans.find((s) => s.name === "Launch.waitReady")
      assert.isDefined(span)
      assert.strictEqual(span!.attributes.get("lxd.instance"), "web1")
    }))
})
