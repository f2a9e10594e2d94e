import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { type CliConfiguration, directoryCandidates, parseConfig, remoteConnection } from "../src/internal/cliConfig.js"
import { parse } from "../src/internal/yamlSubset.js"

// what `lxc` 5.0 writes (~/.config/lxc/config.yml)
const LXC_CONFIG = `default-remote: local
remotes:
  images:
    addr: https://images.linuxcontainers.org
    protocol: simplestreams
    public: true
  local:
    addr: unix://
    public: false
aliases: {}
`

const right = <A, E>(e: Either.Either<A, E>): A => {
  if (Either.isLeft(e)) throw new Error(`expected Right, got ${JSON.stringify(e.left)}`)
  return e.right
}

describe("the YAML subset of config.yml", () => {
  it("reads what lxc writes", () => {
    assert.deepStrictEqual(right(parse(LXC_CONFIG)), {
      "default-remote": "local",
      remotes: {
        images: { addr: "https://images.linuxcontainers.org", protocol: "simplestreams", public: true },
        local: { addr: "unix://", public: false }
      },
      aliases: {}
    })
  })

  it("quoted scalars, comments, null, sequences and a document marker", () => {
    const doc = `---
# a comment
a: "x: \\"y\\" # not a comment" # a comment
b: 'it''s'
c: ~
d:
e: plain value # trailing
list:
  - one
  - "two"
f:
- 3
`
    assert.deepStrictEqual(right(parse(doc)), {
      a: "x: \"y\" # not a comment",
      b: "it's",
      c: null,
      d: null,
      e: "plain value",
      list: ["one", "two"],
      f: ["3"]
    })
    assert.deepStrictEqual(right(parse("")), null)
  })

  it("refuses what it does not understand, naming the line", () => {
    const refused = (doc: string, line: number, re: RegExp) => {
      const e = parse(doc)
      assert.isTrue(Either.isLeft(e), doc)
      if (Either.isLeft(e)) {
        assert.strictEqual(e.left.line, line, doc)
        assert.match(e.left.reason, re)
      }
    }
    refused("a: &anchor x\n", 1, /anchors/)
    refused("a: |\n  text\n", 1, /block scalars/)
    refused("a: {b: c}\n", 1, /flow collections/)
    refused("a: x\nb: \"open\n", 2, /unterminated/)
    refused("a:\n  b: 1\n c: 2\n", 3, /indentation/)
    refused("a: 1\na: 2\n", 2, /duplicate key/)
    refused("just text\n", 1, /key: value/)
  })
})

describe("lxc's configuration as connection settings", () => {
  const dir = "/home/u/.config/lxc"
  const files: Record<string, string> = {
    [`${dir}/client.crt`]: "CERT",
    [`${dir}/client.key`]: "KEY",
    [`${dir}/servercerts/prod.crt`]: "SERVER"
  }
  const readFile = (file: string) => Option.fromNullable(files[file])
  const config: CliConfiguration = right(parseConfig(
    `default-remote: prod
remotes:
  prod:
    addr: https://10.0.0.5:8443
    protocol: lxd
    project: staging
  other:
    addr: https://10.0.0.6:8443
  sock:
    addr: unix:///run/custom.socket
  images:
    addr: https://images.example
    protocol: simplestreams
  sso:
    addr: https://10.0.0.7:8443
    auth_type: oidc
`,
    dir,
    "lxd"
  ))

  it("the default remote over HTTPS: client certificate, pinned server certificate, project", () => {
    const r = right(remoteConnection(config, "lxd", undefined, readFile))
    assert.strictEqual(r.remote, "prod")
    assert.strictEqual(r.project, "staging")
    assert.strictEqual(r.connection._tag, "Https")
    if (r.connection._tag === "Https") {
      assert.strictEqual(r.connection.url, "https://10.0.0.5:8443")
      assert.strictEqual(r.connection.cert, "CERT")
      assert.isTrue(Redacted.isRedacted(r.connection.key))
      assert.strictEqual(r.connection.serverCert, "SERVER")
    }
  })

  it("a remote without servercerts/<name>.crt is verified by the system's CAs", () => {
    const r = right(remoteConnection(config, "lxd", "other", readFile))
    assert.isTrue(r.connection._tag === "Https" && r.connection.serverCert === undefined)
    assert.isUndefined(r.project)
  })

  it("unix remotes: unix:// discovers, unix:///path names the socket", () => {
    const local = right(remoteConnection(config, "lxd", "local", readFile))
    assert.deepStrictEqual(local.connection, { _tag: "Unix", dialect: "lxd" })
    const sock = right(remoteConnection(config, "lxd", "sock", readFile))
    assert.deepStrictEqual(sock.connection, { _tag: "Unix", dialect: "lxd", socketPath: "/run/custom.socket" })
  })

  it("refuses image servers, OIDC, unknown remotes and missing client certificates", () => {
    const reason = (name: string, read = readFile) => {
      const e = remoteConnection(config, "lxd", name, read)
      return Either.isLeft(e) ? String(e.left) : "accepted"
    }
    assert.match(reason("images"), /simplestreams.*image server/)
    assert.match(reason("sso"), /oidc/)
    assert.match(reason("nope"), /no remote "nope".*known: images, local, other, prod, sock, sso/)
    assert.match(reason("prod", () => Option.none()), /needs a client certificate/)
  })

  it("without config.yml entries, local is the built-in unix remote; incus remotes say incus", () => {
    const empty = right(parseConfig("", "/x", "incus"))
    assert.strictEqual(empty.defaultRemote, "local")
    const r = right(remoteConnection(empty, "incus", undefined, readFile))
    assert.deepStrictEqual(r.connection, { _tag: "Unix", dialect: "incus" })
  })

  it("a file that is not a client configuration is a ConfigError naming it", () => {
    const e = parseConfig("remotes:\n  a:\n    public: true\n", "/x", "lxd")
    assert.isTrue(Either.isLeft(e))
    if (Either.isLeft(e)) assert.match(String(e.left), /\/x\/config\.yml/)
  })

  it("looks where each client looks", () => {
    assert.deepStrictEqual(directoryCandidates("lxd", { LXD_CONF: "/etc/lxc-conf" }, "/home/u"), [
      "/etc/lxc-conf",
      "/home/u/.config/lxc",
      "/home/u/snap/lxd/common/config"
    ])
    assert.deepStrictEqual(directoryCandidates("incus", { XDG_CONFIG_HOME: "/xdg" }, "/home/u"), [
      "/xdg/incus",
      "/home/u/.config/incus"
    ])
    assert.deepStrictEqual(directoryCandidates("incus", { INCUS_CONF: "/c" }, "/h")[0], "/c")
  })
})
