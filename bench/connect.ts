/**
 * The effect-lxd connection the benchmark drivers use: the unix socket, or HTTPS with the
 * test client certificate and the pinned server certificate (from the env file
 * `scripts/lxd-setup.sh` writes).
 */
import { Lxd } from "effect-lxd"
import * as Redacted from "effect/Redacted"
import * as Fs from "node:fs"
import { readEnvFile } from "./common.js"

export const layerFor = (transport: string) => {
  const env = readEnvFile()
  if (transport === "https") {
    const url = env.LXD_HTTPS_URL
    const cert = env.LXD_CLIENT_CERT
    const key = env.LXD_CLIENT_KEY
    const serverCert = env.LXD_SERVER_CERT
    if (!url || !cert || !key || !serverCert) throw new Error("the env file lacks the HTTPS settings")
    return Lxd.layerHttps({
      url,
      cert: Fs.readFileSync(cert, "utf8"),
      key: Redacted.make(Fs.readFileSync(key, "utf8")),
      serverCert: Fs.readFileSync(serverCert, "utf8")
    })
  }
  if (transport !== "unix") throw new Error(`unknown transport ${transport}`)
  return Lxd.layerUnix({ socketPath: env.LXD_SOCKET ?? "/var/lib/lxd/unix.socket" })
}
