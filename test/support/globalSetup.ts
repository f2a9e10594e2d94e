/**
 * Fails the integration run at once, with a clear message, when the test daemon is not
 * reachable: CI must never report green on a suite that did not run.
 */
import * as Http from "node:http"
import { daemons } from "./env.js"

const ping = (socketPath: string) =>
  new Promise<void>((resolve, reject) => {
    const req = Http.request({ socketPath, path: "/1.0", method: "GET", timeout: 5000 }, (res) => {
      res.resume()
      res.on("end", () => (res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))))
    })
    req.on("timeout", () => req.destroy(new Error("timeout")))
    req.on("error", reject)
    req.end()
  })

export default async function setup(): Promise<void> {
  // only the in-process fakes (EFFECT_LXD_SERVERS=fake, see servers.ts): no daemon to reach
  if (process.env.EFFECT_LXD_SERVERS === "fake") return
  for (const d of daemons()) {
    try {
      await ping(d.socket)
    } catch (e) {
      throw new Error(
        `The ${d.kind} test daemon does not answer on ${d.socket}: ${String(e)}. Run scripts/${d.kind}-setup.sh.`
      )
    }
  }
}
