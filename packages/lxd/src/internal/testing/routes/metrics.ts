/**
 * `GET /1.0/metrics`: the running instances' metrics as OpenMetrics text (`lxd_…` or
 * `incus_…`), labelled with the instance's name, project and type; `?project=` narrows
 * it to one project. The values follow the fake's state (processes, memory, CPU time).
 */
import * as H from "../http.js"
import { encoder, type Handler } from "./common.js"

interface Family {
  readonly name: string
  readonly type: "counter" | "gauge"
  readonly help: string
  readonly samples: Array<string>
}

const quote = (v: string): string => v.replace(/\\/g, "\\\\").replace(/"/g, "\\\"").replace(/\n/g, "\\n")

const labels = (all: Record<string, string>): string =>
  `{${Object.entries(all).map(([k, v]) => `${k}="${quote(v)}"`).join(",")}}`

export const metrics: Handler = (server, request) => {
  if (request.method !== "GET") return H.refuse(405, "Method not allowed")
  const only = request.query.get("project")
  const projects = [...server.projects.values()].filter((p) => only === null || p.name === only)
  if (only !== null && projects.length === 0) return H.refuse(404, "Project not found")
  const prefix = server.family === "incus" ? "incus_" : "lxd_"
  const family = (name: string, type: Family["type"], help: string): Family => ({
    name: prefix + name,
    type,
    help,
    samples: []
  })
  const cpu = family("cpu_seconds_total", "counter", "The total number of CPU time used in seconds.")
  const memTotal = family("memory_MemTotal_bytes", "gauge", "The amount of used and free memory.")
  const memFree = family("memory_MemFree_bytes", "gauge", "The amount of free memory.")
  const procs = family("procs_total", "gauge", "The number of running processes.")
  const received = family(
    "network_receive_bytes_total",
    "counter",
    "The amount of received bytes on a given interface."
  )
  const sent = family(
    "network_transmit_bytes_total",
    "counter",
    "The amount of transmitted bytes on a given interface."
  )
  for (const p of projects) {
    for (const i of p.instances.values()) {
      if (i.status === "Stopped") continue
      const base = {
        name: i.name,
        project: p.name,
        type: i.type === "virtual-machine" ? "virtual-machine" : "container"
      }
      const state = server.renderState(i) as { cpu: { usage: number }; processes: number; memory: { usage: number } }
      const seconds = state.cpu.usage / 1e9
      cpu.samples.push(`${cpu.name}${labels({ cpu: "0", mode: "system", ...base })} ${(seconds / 3).toFixed(6)}`)
      cpu.samples.push(`${cpu.name}${labels({ cpu: "0", mode: "user", ...base })} ${((2 * seconds) / 3).toFixed(6)}`)
      const total = 256 * 1024 * 1024
      memTotal.samples.push(`${memTotal.name}${labels(base)} ${total}`)
      memFree.samples.push(`${memFree.name}${labels(base)} ${total - state.memory.usage}`)
      procs.samples.push(`${procs.name}${labels(base)} ${state.processes}`)
      received.samples.push(`${received.name}${labels({ device: "lo", ...base })} 0`)
      sent.samples.push(`${sent.name}${labels({ device: "lo", ...base })} 0`)
    }
  }
  const text = [cpu, memTotal, memFree, procs, received, sent]
    .map((f) => [`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`, ...f.samples].join("\n"))
    .join("\n") + "\n# EOF\n"
  return H.raw(200, encoder.encode(text), { "content-type": "text/plain; version=0.0.4" })
}
