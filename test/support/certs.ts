/** Throwaway client certificates for trust tests (EC P-384, made with the openssl CLI). */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

export interface TestCert {
  readonly cert: string
  readonly key: string
  readonly certFile: string
  readonly keyFile: string
}

export const makeCert = (cn: string): TestCert => {
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
    "2",
    "-subj",
    `/CN=${cn}`
  ], { stdio: "ignore" })
  return { cert: Fs.readFileSync(certFile, "utf8"), key: Fs.readFileSync(keyFile, "utf8"), certFile, keyFile }
}
