/**
 * The in-process fakes of `effect-lxd/testing` as servers of the integration matrix
 * (`EFFECT_LXD_SERVERS=fake` or `all`): one per dialect, each suite file with a fresh
 * fake. What a fake cannot offer (a socket path, HTTPS, image files on disk, a second
 * client certificate) is described by values that make those tests fail rather than
 * pass by accident.
 */
import * as Testing from "effect-lxd/testing"
import * as Crypto from "node:crypto"
import type { DaemonEnv } from "./env.js"
import type { TestServer } from "./servers.js"

const fingerprint = Crypto.createHash("sha256").update("effect-lxd fake busybox").digest("hex")

const unavailable = "/nonexistent/effect-lxd-fake"

const fakeEnv = (dialect: Testing.Dialect): DaemonEnv => ({
  kind: dialect === "incus-6.0" ? "incus" : "lxd",
  socket: `${unavailable}/unix.socket`,
  httpsUrl: "https://127.0.0.1:1",
  serverCert: `${unavailable}/server.crt`,
  clientCert: `${unavailable}/client.crt`,
  clientKey: `${unavailable}/client.key`,
  clientFingerprint: "0".repeat(64),
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
  serverVersion: dialect === "lxd-5.0" ? "5.0.2" : dialect === "lxd-6" ? "6.1" : "6.0.4"
})

export const fakeServers = (): ReadonlyArray<TestServer> =>
  (["lxd-5.0", "lxd-6", "incus-6.0"] as const).map((dialect) => {
    const options: Testing.Options = { dialect, images: [{ alias: "busybox", fingerprint }] }
    const env = fakeEnv(dialect)
    const https = () => ({ url: env.httpsUrl, cert: "", key: "" })
    return {
      name: `fake ${dialect} memory`,
      env,
      transport: "unix",
      connection: Testing.layerConnection(options),
      layer: Testing.layer(options),
      httpsWith: https,
      httpsAs: https
    }
  })
