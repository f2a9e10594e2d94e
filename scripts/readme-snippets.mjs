#!/usr/bin/env node
// scripts/readme-snippets.mjs: turn the ```ts blocks of Markdown files into TypeScript
// files that can be type-checked, and map the compiler's messages back to the Markdown.
//
//   node scripts/readme-snippets.mjs extract <out-dir> [--root=<dir>] <file.md>...
//   tsc ... | node scripts/readme-snippets.mjs map <out-dir>
//
// The convention (CONTRIBUTING.md, "README code blocks"):
//   - a block whose first code line is an `import` is a complete module, written out as is;
//   - any other block is a fragment: the body of an `Effect.gen(function* () { ... })`,
//     compiled after a fixed preamble (PREAMBLE below) that imports the names the README
//     uses without importing them: Effect's modules, every effect-lxd module, FileSystem
//     and node:fs as Fs. A fragment uses no other free names: it defines what it uses.
// Each block becomes its own file, <out-dir>/<md name>-L<line>.ts, where <line> is the
// line of the opening fence and <md name> its path from --root (default: the current
// directory); `map` rewrites "file.ts(l,c)" in tsc's output to "file.md:l:c".
import * as Fs from "node:fs"
import * as Path from "node:path"

const PREAMBLE = [
  `import { Console, Data, Effect, Option, Redacted, Schedule, Schema, Stream } from "effect"`,
  `import { FileSystem } from "@effect/platform"`,
  `import * as Fs from "node:fs"`,
  `import { Certificates, Cluster, Events, Exec, Files, Images, InstanceBackups, InstanceConsole, InstanceMetadata, Instances, Lxd, LxdError, LxdHttp, Metrics, Migration, NetworkAcls, NetworkZones, Networks, Operations, Profiles, Projects, Server, Snapshots, StorageBuckets, StoragePools, StorageVolumes, Warnings } from "effect-lxd"`,
  `export {}`,
  `export const snippet = Effect.gen(function* () {`
]
const POSTAMBLE = [`})`]

const die = (message) => {
  process.stderr.write(`readme-snippets: ${message}\n`)
  process.exit(2)
}

/** The ```ts blocks of one Markdown text: [{ line (of the fence, 1-based), code }]. */
const blocks = (text) => {
  const found = []
  const lines = text.split("\n")
  let open = null
  lines.forEach((line, i) => {
    if (open === null) {
      const m = /^(\s*)```(ts|typescript)\s*$/.exec(line)
      if (m) open = { line: i + 1, indent: m[1].length, body: [] }
    } else if (/^\s*```\s*$/.test(line)) {
      found.push({ line: open.line, code: open.body.join("\n") })
      open = null
    } else {
      open.body.push(line.slice(Math.min(open.indent, line.length - line.trimStart().length)))
    }
  })
  if (open !== null) die(`a \`\`\`ts block opened at line ${open.line} is never closed`)
  return found
}

const isModule = (code) => {
  const first = code.split("\n").find((l) => l.trim() !== "" && !l.trim().startsWith("//"))
  return first !== undefined && /^import\s/.test(first.trim())
}

const extract = (outDir, args) => {
  const root = args[0]?.startsWith("--root=") ? Path.resolve(args.shift().slice("--root=".length)) : process.cwd()
  const files = args
  Fs.mkdirSync(outDir, { recursive: true })
  const map = {}
  let count = 0
  for (const file of files) {
    const text = Fs.readFileSync(file, "utf8")
    const label = Path.relative(root, Path.resolve(file))
    const base = label.replace(/[^A-Za-z0-9]+/g, "_").replace(/_md$/, "")
    for (const { line, code } of blocks(text)) {
      const name = `${base}-L${line}.ts`
      let content
      let offset // README line = ts line + offset
      if (isModule(code)) {
        content = `${code}\n`
        offset = line
      } else {
        content = [...PREAMBLE, code, ...POSTAMBLE, ""].join("\n")
        offset = line - PREAMBLE.length
      }
      Fs.writeFileSync(Path.join(outDir, name), content)
      map[name] = { file: label, offset }
      count++
    }
  }
  Fs.writeFileSync(Path.join(outDir, "snippets.map.json"), JSON.stringify(map, null, 2))
  process.stdout.write(`readme-snippets: ${count} block(s) from ${files.map((f) => Path.relative(root, Path.resolve(f))).join(", ")} into ${outDir}\n`)
  if (count === 0) die("no ```ts block found")
}

const mapOutput = (outDir) => {
  const map = JSON.parse(Fs.readFileSync(Path.join(outDir, "snippets.map.json"), "utf8"))
  const input = Fs.readFileSync(0, "utf8")
  const out = input.replace(/([^\s()]*?([A-Za-z0-9_]+-L\d+\.ts))\((\d+),(\d+)\)/g, (all, _path, name, l, c) => {
    const entry = map[name]
    if (entry === undefined) return all
    const mdLine = Number(l) + entry.offset
    return `${entry.file}:${mdLine}:${c} (${name} line ${l})`
  })
  process.stdout.write(out)
}

const [command, outDir, ...rest] = process.argv.slice(2)
if (command === "extract" && outDir !== undefined && rest.length > 0) extract(outDir, rest)
else if (command === "map" && outDir !== undefined) mapOutput(outDir)
else die("usage: readme-snippets.mjs extract <out-dir> <file.md>... | map <out-dir>")
