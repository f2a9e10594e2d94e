/**
 * Throwaway certificates for trust and cluster tests (EC P-384, made with the openssl CLI), in
 * a fresh temporary directory (`dir`: the caller removes it when it is done).
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

export interface TestCert {
  readonly cert: string
  readonly key: string
  readonly certFile: string
  readonly keyFile: string
  readonly dir: string
}

export interface CertOptions {
  /** Validity in days (2 when absent). */
  readonly days?: number | undefined
  /** A `subjectAltName` extension, in openssl's syntax (`DNS:name,IP:127.0.0.1`). */
  readonly subjectAltName?: string | undefined
}

export const makeCert = (cn: string, options: CertOptions = {}): TestCert => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-lxd-cert-"))
  const certFile = Path.join(dir, "client.crt")
  const keyFile = Path.join(dir, "client.key")
  ChildProcess.execFileSync("openssl", [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:secp384r1",
    "-sha384",
    "-nodes",
    "-keyout",
    keyFile,
    "-out",
    certFile,
    "-days",
    String(options.days ?? 2),
    "-subj",
    `/CN=${cn}`,
    ...(options.subjectAltName === undefined ? [] : ["-addext", `subjectAltName=${options.subjectAltName}`])
  ], { stdio: "ignore" })
  return { cert: Fs.readFileSync(certFile, "utf8"), key: Fs.readFileSync(keyFile, "utf8"), certFile, keyFile, dir }
}
