/**
 * Connection settings read from `Config` (environment variables by default).
 */
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { pipe } from "effect/Function"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Fs from "node:fs"
import type { HttpsOptions, UnixOptions } from "../LxdHttp.js"
import type { Dialect } from "../LxdTransport.js"

/** The connection settings `layerConfig` reads. */
export type ConnectionConfig =
  | ({ readonly _tag: "Unix" } & UnixOptions)
  | ({ readonly _tag: "Https" } & HttpsOptions)

const readPem = (name: string): Config.Config<string> =>
  pipe(
    Config.string(name),
    Config.mapOrFail((file) => {
      try {
        return Either.right(Fs.readFileSync(file, "utf8"))
      } catch (cause) {
        // the error names the variable and the file; the file's contents never appear
        return Either.left(ConfigError.InvalidData([name], `cannot read ${file}: ${String(cause)}`))
      }
    })
  )

/** `<P>_HTTPS_URL` + certificates, or `<P>_SOCKET`, or discovery. */
export const read = (prefix: "LXD" | "INCUS"): Effect.Effect<ConnectionConfig, ConfigError.ConfigError> =>
  Effect.gen(function*() {
    const v = (s: string) => `${prefix}_${s}`
    const dialect: Dialect = prefix === "INCUS" ? "incus" : "lxd"
    const url = yield* Config.option(Config.string(v("HTTPS_URL")))
    if (Option.isNone(url)) {
      const socketPath = yield* Config.option(Config.string(v("SOCKET")))
      return { _tag: "Unix", dialect, ...(Option.isSome(socketPath) ? { socketPath: socketPath.value } : {}) }
    }
    const c = yield* Config.all({
      cert: readPem(v("CLIENT_CERT")),
      key: Config.map(readPem(v("CLIENT_KEY")), Redacted.make),
      serverCert: Config.option(readPem(v("SERVER_CERT"))),
      ca: Config.option(readPem(v("CA"))),
      insecure: Config.withDefault(Config.boolean(v("INSECURE_SKIP_VERIFY")), false)
    })
    return {
      _tag: "Https",
      url: url.value,
      cert: c.cert,
      key: c.key,
      ...(Option.isSome(c.serverCert) ? { serverCert: c.serverCert.value } : {}),
      ...(Option.isSome(c.ca) ? { ca: c.ca.value } : {}),
      ...(c.insecure ? { insecureSkipVerify: true as const } : {})
    }
  })
