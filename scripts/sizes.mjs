// Module sizes and the longest functions of the library's sources: the measure of
// readable size the core issue set (no function above about 150 lines, no module above
// about 600). Usage: node scripts/sizes.mjs [count]
import { readdirSync, readFileSync } from "node:fs"
import { join, relative } from "node:path"
import ts from "typescript"

const root = new URL("../packages/lxd/src/", import.meta.url).pathname
const files = (dir) =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : []
  )

const modules = []
const functions = []
for (const file of files(root)) {
  const text = readFileSync(file, "utf8")
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true)
  const name = relative(root, file)
  modules.push({ name, lines: source.getLineAndCharacterOfPosition(text.length).line })
  const visit = (node, owner) => {
    let label = owner
    if (ts.isVariableDeclaration(node) || ts.isPropertyAssignment(node) || ts.isFunctionDeclaration(node)) {
      label = node.name?.getText(source) ?? owner
    }
    if (ts.isFunctionLike(node) && "body" in node && node.body !== undefined) {
      const start = source.getLineAndCharacterOfPosition(node.getStart(source)).line
      const end = source.getLineAndCharacterOfPosition(node.getEnd()).line
      functions.push({ name: `${name} ${label}`, lines: end - start + 1 })
    }
    ts.forEachChild(node, (child) => visit(child, label))
  }
  visit(source, "(top)")
}
const count = Number(process.argv[2] ?? 10)
const byLines = (a, b) => b.lines - a.lines
console.log("largest modules")
for (const m of modules.sort(byLines).slice(0, count)) console.log(`  ${String(m.lines).padStart(5)}  ${m.name}`)
console.log("longest functions")
for (const f of functions.sort(byLines).slice(0, count)) console.log(`  ${String(f.lines).padStart(5)}  ${f.name}`)
