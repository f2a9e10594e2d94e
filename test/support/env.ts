/**
 * The test daemons, as the set-up scripts describe them in their env files
 * (`/var/lib/lxd-test/lxd-test.env`, `/var/lib/incus-test/incus-test.env`). Variables
 * already in the environment win over the files.
 */
import * as Fs from "node:fs"

const ENV_FILES = {
  lxd: process.env.LXD_TEST_ENV_FILE ?? "/var/lib/lxd-test/lxd-test.env",
  incus: process.env.INCUS_TEST_ENV_FILE ?? "/var/lib/incus-test/incus-test.env"
} as const

const parseEnvFile = (file: string): Record<string, string> => {
  let text: string
  try {
    text = Fs.readFileSync(file, "utf8")
  } catch {
    return {}
  }
  const out: Record<string, string> = {}
  for (const line of text.split("\n")) {
    const m = /^\s*([A-Z0-9_]+)=(.*)$/.exec(line)
    if (m) out[m[1]!] = m[2]!.replace(/^"(.*)"$/, "$1")
  }
  return out
}

/** Everything a suite needs to know about one daemon. */
export interface DaemonEnv {
  readonly kind: "lxd" | "incus"
  readonly socket: string
  readonly httpsUrl: string
  readonly serverCert: string
  readonly clientCert: string
  readonly clientKey: string
  readonly clientFingerprint: string
  readonly untrustedCert: string | undefined
  readonly untrustedKey: string | undefined
  readonly trustPassword: string | undefined
  readonly imageAlias: string
  readonly imageFingerprint: string
  readonly imageUnified: string
  readonly imageSplitMetadata: string
  readonly imageSplitRootfs: string
  readonly storagePool: string
  readonly network: string
  readonly serverVersion: string
}

const read = (kind: "lxd" | "incus"): DaemonEnv | undefined => {
  const prefix = kind === "lxd" ? "LXD" : "INCUS"
  const file = parseEnvFile(ENV_FILES[kind])
  const get = (name: string): string | undefined => process.env[`${prefix}_${name}`] ?? file[`${prefix}_${name}`]
  const socket = get("SOCKET")
  const httpsUrl = get("HTTPS_URL")
  if (socket === undefined || httpsUrl === undefined) return undefined
  const need = (name: string): string => {
    const v = get(name)
    if (v === undefined) throw new Error(`${prefix}_${name} is not set (run scripts/${kind}-setup.sh)`)
    return v
  }
  return {
    kind,
    socket,
    httpsUrl,
    serverCert: need("SERVER_CERT"),
    clientCert: need("CLIENT_CERT"),
    clientKey: need("CLIENT_KEY"),
    clientFingerprint: need("CLIENT_FINGERPRINT"),
    untrustedCert: get("UNTRUSTED_CERT"),
    untrustedKey: get("UNTRUSTED_KEY"),
    trustPassword: get("TRUST_PASSWORD"),
    imageAlias: need("TEST_IMAGE_ALIAS"),
    imageFingerprint: need("TEST_IMAGE_FINGERPRINT"),
    imageUnified: need("TEST_IMAGE_UNIFIED"),
    imageSplitMetadata: need("TEST_IMAGE_SPLIT_METADATA"),
    imageSplitRootfs: need("TEST_IMAGE_SPLIT_ROOTFS"),
    storagePool: get("STORAGE_POOL") ?? "default",
    network: need("NETWORK"),
    serverVersion: get("SERVER_VERSION") ?? "unknown"
  }
}

/** `required` in CI: a missing daemon fails the run instead of skipping anything. */
const required = (kind: "lxd" | "incus"): boolean =>
  (kind === "lxd" ? process.env.LXD_INTEGRATION : process.env.INCUS_INTEGRATION) === "required"

/** The daemons to test against. LXD must always be there; Incus when set up (or required). */
export const daemons = (): ReadonlyArray<DaemonEnv> => {
  const out: Array<DaemonEnv> = []
  const lxd = read("lxd")
  if (lxd === undefined) {
    throw new Error(
      "No LXD test daemon: LXD_SOCKET/LXD_HTTPS_URL are unset and /var/lib/lxd-test/lxd-test.env is missing. " +
        "Run `bash scripts/test.sh` (or `bash scripts/lxd-setup.sh`) first."
    )
  }
  out.push(lxd)
  const incus = read("incus")
  if (incus !== undefined) out.push(incus)
  else if (required("incus")) {
    throw new Error("INCUS_INTEGRATION=required but no Incus test daemon is described (run scripts/incus-setup.sh)")
  }
  return out
}

export const readText = (file: string): string => Fs.readFileSync(file, "utf8")
