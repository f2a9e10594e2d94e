import { describe, expect, it } from "@effect/vitest"
import { describeAddresses, matchingAddresses } from "../src/internal/readiness.js"

const network = {
  eth0: {
    addresses: [
      { family: "inet6", address: "fe80::216:3eff:fef9:8bbe", netmask: "64", scope: "link" },
      { family: "inet", address: "198.51.100.10", netmask: "24", scope: "global" }
    ],
    hwaddr: "",
    host_name: "",
    mtu: 1500,
    state: "up",
    type: "broadcast"
  }
}

describe("readiness helpers", () => {
  it("picks the addresses of one interface by family and scope", () => {
    expect(matchingAddresses(network, "eth0", "inet", ["global"])).toEqual(["198.51.100.10"])
    expect(matchingAddresses(network, "eth0", "inet6", ["global"])).toEqual([])
    expect(matchingAddresses(network, "eth0", "inet6", ["global", "link"])).toEqual(["fe80::216:3eff:fef9:8bbe"])
    expect(matchingAddresses(network, "eth1", "inet", ["global"])).toEqual([])
  })

  it("says what it saw", () => {
    expect(describeAddresses("Running", network, "eth0")).toBe(
      "eth0 (up): fe80::216:3eff:fef9:8bbe/64 (link), 198.51.100.10/24 (global)"
    )
    expect(describeAddresses("Stopped", {}, "eth0")).toBe("status Stopped; no interface eth0 (interfaces: none)")
  })
})
