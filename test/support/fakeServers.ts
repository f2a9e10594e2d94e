/**
 * The in-process fakes of `effect-lxd/testing` as servers of the integration matrix
 * (`EFFECT_LXD_SERVERS=fake` or `all`): one per dialect, each suite file with a fresh
 * fake. The in-memory client stands for a real certificate (made once per file), which the
 * fake's trust store lists. What a fake cannot offer (a real HTTPS listener, a unix socket
 * path) is declared by `lacks`: the tests that need it are gated with `skipIf`, naming the
 * capability; the other values that point nowhere (image files on disk) make a test that
 * uses them fail rather than pass by accident.
 */
import { LxdHttp } from "effect-lxd"
import * as Testing from "effect-lxd/testing"
import * as Crypto from "node:crypto"
import { makeCert, type TestCert } from "./certs.js"
import type { DaemonEnv } from "./env.js"
import type { Capability, TestServer } from "./servers.js"

const fingerprint = Crypto.createHash("sha256").update("effect-lxd fake busybox").digest("hex")

const unavailable = "/nonexistent/effect-lxd-fake"

/** What the fakes lack, for every dialect (see `Capability`). */
const lacking: ReadonlyArray<Capability> = ["https", "unix-socket", "bulk-path"]

const fakeEnv = (dialect: Testing.Dialect, client: TestCert): DaemonEnv => ({
  kind: dialect === "incus-6.0" ? "incus" : "lxd",
  socket: `${unavailable}/unix.socket`,
  httpsUrl: "https://127.0.0.1:1",
  serverCert: `${unavailable}/server.crt`,
  clientCert: client.certFile,
  clientKey: client.keyFile,
  clientFingerprint: LxdHttp.certificateFingerprint(client.cert),
  untrustedCert: undefined,
  untrustedKey: undefined,
  trustPassword: undefined,
  imageAlias: "busybox",
  imageFingerprint: fingerprint,
  imageUnified: `${unavailable}/busybox.tar.gz`,
  imageSplitMetadata: `${unavailable}/busybox-meta.tar.gz`,
  imageSplitRootfs: `${unavailable}/busybox-rootfs.squashfs`,
  storagePool: "default",
  network: dialect === "incus-6.0" ? "incusbr0" : "lxdbr0",
  serverVersion: dialect === "lxd-5.0" ? "5.0.2" : dialect === "lxd-6" ? "6.2" : "6.0.4"
})

export const fakeServers = (): ReadonlyArray<TestServer> => {
  const client = makeCert("effect-lxd-fake-client")
  return (["lxd-5.0", "lxd-6", "incus-6.0"] as const).map((dialect) => {
    const options: Testing.Options = {
      dialect,
      images: [{ alias: "busybox", fingerprint }],
      clientCertificate: client.cert
    }
    const env = fakeEnv(dialect, client)
    const https = () => ({ url: env.httpsUrl, cert: "", key: "" })
    return {
      name: `fake ${dialect} memory`,
      env,
      transport: "unix",
      connection: Testing.layerConnection(options),
      layer: Testing.layer(options),
      httpsWith: https,
      httpsAs: https,
      lacks: (capability) => lacking.includes(capability)
    }
  })
}
