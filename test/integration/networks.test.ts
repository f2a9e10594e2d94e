import { assert } from "@effect/vitest"
import { LxdError, LxdHttp, NetworkAcls, Networks, NetworkZones } from "effect-lxd"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import { forEachServer, quietly, uniqueName } from "../support/servers.js"

/** No addresses at all: the safest bridge. */
const NO_ADDRESSES = { "ipv4.address": "none", "ipv6.address": "none" } as const

/** A random /28 of the documentation range 203.0.113.0/24, without NAT. */
const documentationSubnet = () => {
  const base = 16 * (1 + Math.floor(Math.random() * 14))
  return {
    gateway: `203.0.113.${base + 1}`,
    host: `203.0.113.${base + 2}`,
    config: { "ipv4.address": `203.0.113.${base + 1}/28`, "ipv4.nat": "false", "ipv6.address": "none" }
  }
}

/**
 * Delete a network, retrying a transient server failure: Incus lists every host link to
 * find a bridge's children, and fails when a veth of some other container disappears
 * meanwhile ("Failed to delete bridge children interfaces ... does not exist").
 */
const deleteNetwork = (name: string) =>
  Effect.flatMap(Networks.Networks, (networks) =>
    networks.delete(name).pipe(
      Effect.retry({
        times: 5,
        schedule: Schedule.spaced("300 millis"),
        while: (e) => e._tag === "LXDAPIException" && /does not exist/.test(e.serverMessage)
      })
    ))

/** A bridge deleted when the test's scope closes (under whatever name it has then). */
const scopedNetwork = (options: Omit<Networks.CreateOptions, "name"> = {}) =>
  Effect.gen(function*() {
    const networks = yield* Networks.Networks
    // bridge names are kernel interface names: at most 15 characters
    const current = { name: uniqueName("n") }
    assert.isAtMost(current.name.length, 15)
    const network = yield* Effect.acquireRelease(
      networks.create({ name: current.name, config: NO_ADDRESSES, ...options }),
      () => quietly(deleteNetwork(current.name))
    )
    return { current, network }
  })

forEachServer("networks", (it, server) => {
  it.scoped("get", () =>
    Effect.gen(function*() {
      const networks = yield* Networks.Networks
      const { current } = yield* scopedNetwork({ description: "got" })
      const n = yield* networks.get(current.name)
      assert.strictEqual(n.name, current.name)
      assert.strictEqual(n.type, "bridge")
      assert.isTrue(n.managed)
      assert.strictEqual(n.description, "got")
      assert.strictEqual(n.status, "Created")
      assert.isTrue(yield* networks.exists(current.name))
      // the test daemon's own bridge
      assert.strictEqual((yield* networks.get(server.env.network)).managed, true)
    }))

  it.scoped("all: list and listNames include a new network", () =>
    Effect.gen(function*() {
      const networks = yield* Networks.Networks
      const { current } = yield* scopedNetwork()
      assert.include(yield* networks.listNames(), current.name)
      const all = yield* networks.list()
      assert.strictEqual(all.find((n) => n.name === current.name)?.managed, true)
      assert.isTrue(all.some((n) => n.name === "lo" && !n.managed))
    }))

  it.scoped("create with default arguments: a managed bridge with an empty description", () =>
    Effect.gen(function*() {
      const { network } = yield* scopedNetwork()
      assert.strictEqual(network.type, "bridge")
      assert.isTrue(network.managed)
      assert.strictEqual(network.description, "")
      assert.strictEqual(network.config["ipv4.address"], "none")
    }))

  it.scoped("create with parameters: type, description and config (bridge.hwaddr) round-trip", () =>
    Effect.gen(function*() {
      const networks = yield* Networks.Networks
      const http = yield* LxdHttp.LxdHttp
      const hwaddr = yield* http.hasExtension("network_hwaddr")
      const { current } = yield* scopedNetwork({
        type: "bridge",
        description: "with parameters",
        config: {
          ...NO_ADDRESSES,
          "bridge.mtu": "1400",
          "user.purpose": "test",
          ...(hwaddr ? { "bridge.hwaddr": "00:16:3e:aa:bb:cc" } : {})
        }
      })
      const n = yield* networks.get(current.name)
      assert.strictEqual(n.description, "with parameters")
      assert.strictEqual(n.config["bridge.mtu"], "1400")
      assert.strictEqual(n.config["user.purpose"], "test")
      if (hwaddr) assert.strictEqual(n.config["bridge.hwaddr"], "00:16:3e:aa:bb:cc")
    }))

  it.effect("create: invalid config is refused by the server", () =>
    Effect.gen(function*() {
      const networks = yield* Networks.Networks
      const name = uniqueName("n")
      const failure = yield* Effect.flip(
        networks.create({ name, config: { ...NO_ADDRESSES, "bridge.mtu": "not-a-number" } })
      )
      assert.strictEqual(failure._tag, "LXDAPIException")
      assert.isFalse(yield* networks.exists(name))
    }))

  it.scoped("save: update ipv4.address (documentation range, no NAT), patch the description", () =>
    Effect.gen(function*() {
      const networks = yield* Networks.Networks
      const { current } = yield* scopedNetwork()
      const subnet = documentationSubnet()
      yield* networks.update(current.name, (n) => ({ ...n, config: { ...n.config, ...subnet.config } }))
      const n = yield* networks.get(current.name)
      assert.strictEqual(n.config["ipv4.address"], subnet.config["ipv4.address"])
      assert.strictEqual(n.config["ipv4.nat"], "false")
      yield* networks.patch(current.name, { description: "patched" })
      const p = yield* networks.get(current.name)
      assert.strictEqual(p.description, "patched")
      // a patch of config alone keeps the description (the server's PATCH would clear it)
      yield* networks.patch(current.name, { config: { "user.note": "x" } })
      const q = yield* networks.get(current.name)
      assert.strictEqual(q.description, "patched")
      assert.strictEqual(q.config["user.note"], "x")
      assert.strictEqual(p.config["ipv4.address"], subnet.config["ipv4.address"])
    }))

  it.scoped("rename", () =>
    Effect.gen(function*() {
      const networks = yield* Networks.Networks
      const { current } = yield* scopedNetwork({ description: "rename me" })
      const old = current.name
      const newName = uniqueName("nr")
      yield* networks.rename(old, newName)
      current.name = newName
      assert.strictEqual((yield* networks.get(newName)).description, "rename me")
      assert.isFalse(yield* networks.exists(old))
    }))

  it.effect("delete: then get fails with NotFound", () =>
    Effect.gen(function*() {
      const networks = yield* Networks.Networks
      const name = uniqueName("n")
      yield* networks.create({ name, config: NO_ADDRESSES })
      yield* deleteNetwork(name)
      const failure = yield* Effect.flip(networks.get(name))
      assert.strictEqual(failure._tag, "NotFound")
      assert.include(failure.message, `Network "${name}"`)
      assert.isFalse(yield* networks.exists(name))
    }))

  it.scoped("state and leases of a bridge with an address", () =>
    Effect.gen(function*() {
      const networks = yield* Networks.Networks
      const subnet = documentationSubnet()
      const { current } = yield* scopedNetwork({ config: subnet.config })
      const state = yield* networks.state(current.name)
      assert.strictEqual(state.state, "up")
      assert.strictEqual(state.type, "broadcast")
      assert.isAbove(state.mtu, 0)
      assert.match(state.hwaddr, /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/)
      assert.isTrue((state.addresses ?? []).some((a) => a.address === subnet.gateway && a.netmask === "28"))
      const leases = yield* networks.leases(current.name)
      const gateway = leases.find((l) => l.type === "gateway")
      assert.strictEqual(gateway?.address, subnet.gateway)
      // a bridge without addresses has no gateway lease
      const { current: bare } = yield* scopedNetwork()
      assert.isFalse((yield* networks.leases(bare.name)).some((l) => l.type === "gateway"))
      assert.strictEqual((yield* Effect.flip(networks.state(uniqueName("n"))))._tag, "NotFound")
    }))

  it.scoped("forwards: create, list, get, update, patch, delete", () =>
    Effect.gen(function*() {
      const networks = yield* Networks.Networks
      const subnet = documentationSubnet()
      const { current } = yield* scopedNetwork({ config: subnet.config })
      const listen = "198.51.100.77"
      const created = yield* Effect.acquireRelease(
        networks.forwards.create(current.name, {
          listen_address: listen,
          description: "web",
          ports: [{ protocol: "tcp", listen_port: "80", target_address: subnet.host, target_port: "8080" }]
        }),
        () => quietly(networks.forwards.delete(current.name, listen))
      )
      assert.strictEqual(created.listen_address, listen)
      assert.strictEqual(created.description, "web")
      assert.deepStrictEqual(created.ports?.map((p) => [p.protocol, p.listen_port, p.target_address, p.target_port]), [
        ["tcp", "80", subnet.host, "8080"]
      ])
      assert.deepStrictEqual(yield* networks.forwards.listNames(current.name), [listen])
      assert.strictEqual((yield* networks.forwards.list(current.name))[0]?.description, "web")
      yield* networks.forwards.update(current.name, listen, (f) => ({
        ...f,
        ports: [...f.ports, { protocol: "udp", listen_port: "53", target_address: subnet.host }]
      }))
      assert.strictEqual((yield* networks.forwards.get(current.name, listen)).ports?.length, 2)
      yield* networks.forwards.patch(current.name, listen, { description: "patched" })
      assert.strictEqual((yield* networks.forwards.get(current.name, listen)).description, "patched")
      yield* networks.forwards.delete(current.name, listen)
      assert.isFalse(yield* networks.forwards.exists(current.name, listen))
      assert.strictEqual((yield* Effect.flip(networks.forwards.get(current.name, listen)))._tag, "NotFound")
    }))

  it.scoped("ACLs: create, list, get, update, rename, delete; log refused on a bridge", () =>
    Effect.gen(function*() {
      const acls = yield* NetworkAcls.NetworkAcls
      const current = { name: uniqueName("acl") }
      yield* Effect.acquireRelease(
        acls.create({
          name: current.name,
          description: "ssh in",
          ingress: [{ action: "allow", source: "198.51.100.0/24", protocol: "tcp", destination_port: "22" }]
        }),
        () => quietly(acls.delete(current.name))
      )
      const acl = yield* acls.get(current.name)
      assert.strictEqual(acl.description, "ssh in")
      assert.strictEqual(acl.ingress?.[0]?.state, "enabled")
      assert.strictEqual(acl.ingress?.[0]?.destination_port, "22")
      assert.deepStrictEqual(acl.egress, [])
      assert.include(yield* acls.listNames(), current.name)
      assert.isTrue((yield* acls.list()).some((a) => a.name === current.name))
      yield* acls.update(current.name, (a) => ({
        ...a,
        egress: [{ action: "reject", destination: "203.0.113.0/24", state: "logged" }]
      }))
      const updated = yield* acls.get(current.name)
      assert.strictEqual(updated.egress?.[0]?.action, "reject")
      assert.strictEqual(updated.egress?.[0]?.state, "logged")
      assert.strictEqual(updated.ingress?.length, 1)
      yield* acls.patch(current.name, { description: "patched" })
      assert.strictEqual((yield* acls.get(current.name)).description, "patched")
      // the rules survive a patch that does not mention them
      yield* acls.patch(current.name, { config: { "user.note": "x" } })
      const afterPatch = yield* acls.get(current.name)
      assert.strictEqual(afterPatch.ingress?.length, 1)
      assert.strictEqual(afterPatch.egress?.length, 1)
      assert.strictEqual(afterPatch.description, "patched")
      // the log exists for OVN networks only: a bridge-only server refuses
      const log = yield* Effect.either(acls.log(current.name))
      if (log._tag === "Left") assert.strictEqual(log.left._tag, "LXDAPIException")
      else assert.isString(log.right)
      const old = current.name
      const newName = uniqueName("acl-new")
      yield* acls.rename(old, newName)
      current.name = newName
      assert.isFalse(yield* acls.exists(old))
      assert.strictEqual((yield* acls.get(newName)).description, "patched")
      yield* acls.delete(newName)
      assert.strictEqual((yield* Effect.flip(acls.get(newName)))._tag, "NotFound")
    }))

  it.scoped("an ACL attached to a network: used_by names it, and it cannot be deleted while in use", () =>
    Effect.gen(function*() {
      const acls = yield* NetworkAcls.NetworkAcls
      const networks = yield* Networks.Networks
      const aclName = uniqueName("acl")
      yield* Effect.acquireRelease(
        acls.create({ name: aclName, ingress: [{ action: "allow", protocol: "icmp4" }] }),
        () => quietly(acls.delete(aclName))
      )
      const { current } = yield* scopedNetwork({ config: { ...NO_ADDRESSES, "security.acls": aclName } })
      assert.strictEqual((yield* networks.get(current.name)).config["security.acls"], aclName)
      const usedBy = (yield* acls.get(aclName)).used_by
      assert.isTrue(usedBy.some((u) => u.split("?")[0] === `/1.0/networks/${current.name}`), usedBy.join(","))
      const refused = yield* Effect.flip(acls.delete(aclName))
      assert.strictEqual(refused._tag, "LXDAPIException")
      assert.isTrue(yield* acls.exists(aclName))
      // detach: the ACL is free again
      yield* networks.update(current.name, (n) => {
        const { ["security.acls"]: _, ...config } = n.config
        return { ...n, config }
      })
      assert.deepStrictEqual((yield* acls.get(aclName)).used_by, [])
      yield* acls.delete(aclName)
      assert.isFalse(yield* acls.exists(aclName))
    }))

  it.scoped("zones and records: create, get, update, delete", () =>
    Effect.gen(function*() {
      const zones = yield* NetworkZones.NetworkZones
      const zone = `${uniqueName("z")}.example.net`
      yield* Effect.acquireRelease(
        zones.create({ name: zone, description: "lab" }),
        () => quietly(zones.delete(zone))
      )
      assert.strictEqual((yield* zones.get(zone)).description, "lab")
      assert.include(yield* zones.listNames(), zone)
      assert.isTrue((yield* zones.list()).some((z) => z.name === zone))
      yield* zones.update(zone, (z) => ({ ...z, config: { ...z.config, "user.owner": "qa" } }))
      assert.strictEqual((yield* zones.get(zone)).config["user.owner"], "qa")
      // patch keeps the other keys (the servers' own PATCH handler is broken for zones)
      yield* zones.patch(zone, { description: "patched zone", config: { "user.extra": "1" } })
      const patchedZone = yield* zones.get(zone)
      assert.strictEqual(patchedZone.description, "patched zone")
      assert.deepStrictEqual(patchedZone.config, { "user.owner": "qa", "user.extra": "1" })

      const record = yield* zones.records.create(zone, {
        name: "www",
        description: "web",
        entries: [{ type: "A", value: "198.51.100.5", ttl: 300 }]
      })
      assert.deepStrictEqual(record.entries, [{ type: "A", value: "198.51.100.5", ttl: 300 }])
      assert.deepStrictEqual(yield* zones.records.listNames(zone), ["www"])
      yield* zones.records.update(zone, "www", (r) => ({
        ...r,
        entries: [...r.entries, { type: "AAAA", value: "2001:db8::5" }]
      }))
      const updated = yield* zones.records.get(zone, "www")
      assert.deepStrictEqual(updated.entries?.map((e) => e.type), ["A", "AAAA"])
      yield* zones.records.patch(zone, "www", { description: "patched" })
      const patched = (yield* zones.records.list(zone))[0]
      assert.strictEqual(patched?.description, "patched")
      // the entries and the record's own (empty) config survive the patch
      assert.deepStrictEqual(patched?.entries?.map((e) => e.type), ["A", "AAAA"])
      assert.deepStrictEqual(patched?.config, {})
      yield* zones.records.delete(zone, "www")
      assert.isFalse(yield* zones.records.exists(zone, "www"))

      yield* zones.delete(zone)
      assert.strictEqual((yield* Effect.flip(zones.get(zone)))._tag, "NotFound")
    }))

  it.scoped("load balancers and peers: ExtensionNotAvailable without the extension, refused on a bridge with it", () =>
    Effect.gen(function*() {
      const networks = yield* Networks.Networks
      const http = yield* LxdHttp.LxdHttp
      const { current } = yield* scopedNetwork()
      const cases: ReadonlyArray<{ extension: string; call: Effect.Effect<unknown, LxdError.LxdError> }> = [
        { extension: "network_load_balancer", call: networks.loadBalancers.list(current.name) },
        { extension: "network_peer", call: networks.peers.list(current.name) },
        {
          extension: "network_peer",
          call: networks.peers.create(current.name, { name: "p", target_network: server.env.network })
        }
      ]
      for (const c of cases) {
        const failure = yield* Effect.flip(c.call)
        if (yield* http.hasExtension(c.extension)) {
          // the server routes the call; the bridge driver has no load balancers or peers (OVN only)
          assert.strictEqual(failure._tag, "LXDAPIException", c.extension)
          if (failure._tag === "LXDAPIException") assert.match(failure.serverMessage, /not support/i)
        } else {
          yield* Effect.log(`${c.extension} skipped on ${server.name}: no extension ${c.extension}`)
          assert.strictEqual(failure._tag, "ExtensionNotAvailable", c.extension)
          if (failure._tag === "ExtensionNotAvailable") assert.strictEqual(failure.extension, c.extension)
        }
      }
    }))
})
