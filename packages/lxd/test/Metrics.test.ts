import { assert, describe, it } from "@effect/vitest"
import { Metrics } from "effect-lxd"
import * as Either from "effect/Either"

const sample = `# HELP lxd_cpu_seconds_total The total number of CPU time used in seconds.
# TYPE lxd_cpu_seconds_total counter
lxd_cpu_seconds_total{cpu="0",mode="system",name="c1",project="default",type="container"} 0.5
lxd_cpu_seconds_total{cpu="0",mode="user",name="c1",project="default",type="container"} 1.25
# HELP lxd_memory_MemAvailable_bytes The amount of available memory.
# TYPE lxd_memory_MemAvailable_bytes gauge
lxd_memory_MemAvailable_bytes{name="c1",project="default",type="container"} 2.68435456e+08
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{le="0.1"} 3
http_request_duration_seconds_bucket{le="+Inf"} 5
http_request_duration_seconds_sum 0.75
http_request_duration_seconds_count 5
# a plain comment
lxd_weird{path="C:\\\\dir",quote="say \\"hi\\"",nl="a\\nb",} NaN 1700000000000
lxd_no_labels -Inf
# EOF
ignored_after_eof 1
`

describe("Metrics.parse", () => {
  it("parses names, labels, values, timestamps", () => {
    const samples = Either.getOrThrow(Metrics.parse(sample))
    assert.strictEqual(samples.length, 9)
    assert.deepStrictEqual(samples[0], {
      name: "lxd_cpu_seconds_total",
      labels: { cpu: "0", mode: "system", name: "c1", project: "default", type: "container" },
      value: 0.5
    })
    assert.strictEqual(samples[1]!.value, 1.25)
    assert.strictEqual(samples[2]!.value, 268435456)
    const weird = samples.find((s) => s.name === "lxd_weird")!
    assert.deepStrictEqual(weird.labels, { path: "C:\\dir", quote: "say \"hi\"", nl: "a\nb" })
    assert.isTrue(Number.isNaN(weird.value))
    assert.strictEqual(weird.timestamp, 1700000000000)
    const noLabels = samples.find((s) => s.name === "lxd_no_labels")!
    assert.deepStrictEqual(noLabels.labels, {})
    assert.strictEqual(noLabels.value, -Infinity)
    assert.isUndefined(samples.find((s) => s.name === "ignored_after_eof"))
  })

  it("groups samples into families with type and help", () => {
    const families = Either.getOrThrow(Metrics.parseFamilies(sample))
    const cpu = families.find((f) => f.name === "lxd_cpu_seconds_total")!
    assert.strictEqual(cpu.type, "counter")
    assert.strictEqual(cpu.help, "The total number of CPU time used in seconds.")
    assert.strictEqual(cpu.samples.length, 2)
    const histogram = families.find((f) => f.name === "http_request_duration_seconds")!
    assert.strictEqual(histogram.type, "histogram")
    assert.deepStrictEqual(histogram.samples.map((s) => s.name), [
      "http_request_duration_seconds_bucket",
      "http_request_duration_seconds_bucket",
      "http_request_duration_seconds_sum",
      "http_request_duration_seconds_count"
    ])
    assert.strictEqual(histogram.samples[1]!.labels.le, "+Inf")
    const undeclared = families.find((f) => f.name === "lxd_no_labels")!
    assert.strictEqual(undeclared.type, "unknown")
  })

  it("an empty exposition (no instances) has no samples", () => {
    assert.deepStrictEqual(Either.getOrThrow(Metrics.parse("# EOF\n")), [])
    assert.deepStrictEqual(Either.getOrThrow(Metrics.parse("")), [])
  })

  it("fails with DecodeError naming the line", () => {
    const cases = [
      "ok 1\n{bad} 2\n",
      "ok 1\nm{a=\"x\" 2\n",
      "ok 1\nm{a=x} 2\n",
      "ok 1\nm not-a-number\n",
      "ok 1\nm 1 2 3\n",
      "ok 1\nm\n"
    ]
    for (const text of cases) {
      const result = Metrics.parse(text)
      assert.isTrue(Either.isLeft(result), text)
      if (Either.isLeft(result)) {
        assert.strictEqual(result.left._tag, "DecodeError")
        assert.match(result.left.message, /line 2:/)
        assert.strictEqual(result.left.path, "/1.0/metrics")
      }
    }
  })
})
