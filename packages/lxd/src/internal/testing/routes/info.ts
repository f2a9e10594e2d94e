/**
 * `GET /1.0`: the server's description, as a trusted and an untrusted client see it.
 */
import { type FakeServer } from "../server.js"

export const serverInfo = (server: FakeServer, trusted: boolean) => {
  const base = {
    api_extensions: server.extensions,
    api_status: "stable",
    api_version: "1.0",
    auth: trusted ? "trusted" : "untrusted",
    public: false,
    auth_methods: ["tls"]
  }
  if (!trusted) return base
  return {
    ...base,
    config: server.serverConfig,
    environment: {
      addresses: [],
      architectures: ["x86_64", "i686"],
      certificate: "",
      certificate_fingerprint: "",
      driver: "lxc",
      driver_version: "5.0.2",
      firewall: "nftables",
      kernel: "Linux",
      kernel_architecture: "x86_64",
      kernel_version: "6.1.0-fake",
      os_name: "effect-lxd fake",
      os_version: "1",
      project: "default",
      server: server.family,
      server_clustered: false,
      server_event_mode: "full-mesh",
      server_name: server.serverName,
      server_pid: 1,
      server_version: server.version,
      storage: "dir",
      storage_version: "1",
      storage_supported_drivers: [{ Name: "dir", Version: "1", Remote: false }]
    }
  }
}
