/**
 * What runs when the fake executes a command: a handler the test supplies, falling back
 * to a few built-in commands (`echo`, `cat`, `true`, `false`, `sleep`, `printf`, `env`,
 * `pwd`, and `sh -c` with a tiny script language).
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as Crypto from "node:crypto"
import type { FileTree } from "./files.js"

/** What a command sees while it runs. */
export interface ExecContext {
  /** The instance and project it runs in. */
  readonly instance: string
  readonly project: string
  /** The command line (`command[0]` is the program). */
  readonly command: ReadonlyArray<string>
  readonly environment: Readonly<Record<string, string>>
  readonly cwd: string
  readonly user: number
  readonly group: number
  readonly interactive: boolean
  /** The bytes sent to the command's stdin, until the client ends it. */
  readonly stdin: Stream.Stream<Uint8Array>
  /** Write to stdout (in interactive mode, to the terminal). */
  readonly stdout: (data: string | Uint8Array) => Effect.Effect<void>
  /** Write to stderr (in interactive mode, to the terminal). */
  readonly stderr: (data: string | Uint8Array) => Effect.Effect<void>
  /** The instance's file tree (read it, or change it as the command would). */
  readonly files: FileTree
  /** The commands running in the instance now (this one included), for `ps`. */
  readonly processes: () => ReadonlyArray<{ readonly pid: number; readonly command: ReadonlyArray<string> }>
  /**
   * The terminal's size now (interactive only: the exec's `width`/`height`, then each
   * `window-resize`), for `stty size`.
   */
  readonly terminal?: (() => { readonly width: number; readonly height: number }) | undefined
}

/**
 * A command implementation: the exit code, or `undefined` when this handler does not know
 * the command (the next handler is asked; in the end it is "not found", 127). A signal
 * interrupts the effect and makes the exit code 128 + the signal's number.
 */
export type CommandHandler = (context: ExecContext) => Effect.Effect<number> | undefined

const decoder = new TextDecoder()

const encoder = new TextEncoder()

/**
 * `printf`'s output as bytes: `%s`, `%d`, `%%`, and the escapes `\n`, `\t`, `\\` and
 * `\NNN` (an octal byte, so `\377` is the single byte 0xff).
 */
export const formatPrintf = (format: string, args: ReadonlyArray<string>): Uint8Array => {
  let i = 0
  const out: Array<number> = []
  const text = (t: string) => out.push(...encoder.encode(t))
  for (let at = 0; at < format.length; at++) {
    const c = format[at]!
    if (c === "\\" && at + 1 < format.length) {
      const octal = /^[0-7]{1,3}/.exec(format.slice(at + 1))
      if (octal !== null) {
        out.push(parseInt(octal[0], 8) & 0xff)
        at += octal[0].length
        continue
      }
      const next = format[++at]!
      text(next === "n" ? "\n" : next === "t" ? "\t" : next === "\\" ? "\\" : `\\${next}`)
    } else if (c === "%" && at + 1 < format.length) {
      const next = format[++at]!
      if (next === "%") text("%")
      else if (next === "s") text(args[i++] ?? "")
      else if (next === "d") text(String(parseInt(args[i++] ?? "", 10) || 0))
      else text(`%${next}`)
    } else text(c)
  }
  return new Uint8Array(out)
}

/** `$NAME` and `${NAME}` from the environment. */
const expand = (word: string, env: Readonly<Record<string, string>>): string =>
  word.replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (_, name: string) => env[name] ?? "")

/**
 * Split a shell word list: whitespace-separated, with single quotes (literal) and double
 * quotes; variables expand outside single quotes.
 */
export const shellWords = (script: string, env: Readonly<Record<string, string>> = {}): Array<string> => {
  const out: Array<string> = []
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g
  let m: RegExpExecArray | null
  while ((m = re.exec(script)) !== null) {
    out.push(
      m[1] !== undefined ? expand(m[1].replace(/\\(.)/g, "$1"), env) : m[2] !== undefined ? m[2] : expand(m[3]!, env)
    )
  }
  return out
}

/** The program name: `/bin/echo` → `echo`. */
const programOf = (command: ReadonlyArray<string>): string => {
  const first = command[0] ?? ""
  const i = first.lastIndexOf("/")
  return i < 0 ? first : first.slice(i + 1)
}

/**
 * The built-in commands. `sh -c` runs `;`-separated simple commands, each of which may
 * end in `>&2` (its output goes to stderr); `exit N` ends the script.
 */
export const builtins: CommandHandler = (ctx) => {
  const args = ctx.command.slice(1)
  switch (programOf(ctx.command)) {
    case "true":
      return Effect.succeed(0)
    case "false":
      return Effect.succeed(1)
    case "echo": {
      const noNewline = args[0] === "-n"
      const words = noNewline ? args.slice(1) : args
      return Effect.as(ctx.stdout(words.join(" ") + (noNewline ? "" : "\n")), 0)
    }
    case "printf":
      return Effect.as(ctx.stdout(formatPrintf(args[0] ?? "", args.slice(1))), 0)
    case "pwd":
      return Effect.as(ctx.stdout(ctx.cwd + "\n"), 0)
    case "env":
      return Effect.as(
        ctx.stdout(Object.entries(ctx.environment).map(([k, v]) => `${k}=${v}\n`).join("")),
        0
      )
    case "sleep": {
      const seconds = Number(args[0] ?? "0")
      if (!Number.isFinite(seconds) || seconds < 0) {
        return Effect.as(ctx.stderr(`sleep: invalid time interval '${args[0]}'\n`), 1)
      }
      return Effect.as(Effect.sleep(seconds * 1000), 0)
    }
    case "seq": {
      const nums = args.map(Number)
      const [from, to] = nums.length >= 2 ? [nums[0]!, nums[1]!] : [1, nums[0] ?? 0]
      return Effect.gen(function*() {
        // in chunks, so that a long sequence streams
        let line = ""
        for (let n = from; n <= to; n++) {
          line += `${n}\n`
          if (line.length >= 65536) {
            yield* ctx.stdout(line)
            line = ""
          }
        }
        if (line.length > 0) yield* ctx.stdout(line)
        return 0
      })
    }
    case "sha256sum":
      return Effect.gen(function*() {
        if (args.length === 0) {
          const hash = Crypto.createHash("sha256")
          yield* Stream.runForEach(ctx.stdin, (chunk) => Effect.sync(() => hash.update(chunk)))
          yield* ctx.stdout(`${hash.digest("hex")}  -\n`)
          return 0
        }
        let code = 0
        for (const name of args) {
          const node = ctx.files.get(name)
          if (node === undefined || node.type !== "file") {
            yield* ctx.stderr(`sha256sum: ${name}: No such file or directory\n`)
            code = 1
          } else yield* ctx.stdout(`${Crypto.createHash("sha256").update(node.data).digest("hex")}  ${name}\n`)
        }
        return code
      })
    case "ps":
      return Effect.as(
        ctx.stdout(
          ["PID   COMMAND", ...ctx.processes().map((p) => `${String(p.pid).padStart(5)} ${p.command.join(" ")}`)]
            .join("\n") + "\n"
        ),
        0
      )
    case "grep": {
      // `grep [-c] PATTERN` on stdin (a JavaScript regular expression)
      const count = args[0] === "-c"
      const pattern = count ? args[1] : args[0]
      if (pattern === undefined) return Effect.as(ctx.stderr("grep: no pattern\n"), 2)
      return Effect.gen(function*() {
        const input = yield* Stream.runCollect(ctx.stdin)
        const text = Array.from(input, (c) => decoder.decode(c)).join("")
        const re = new RegExp(pattern)
        const lines = text.split("\n").filter((line, i, all) => (i < all.length - 1 || line !== "") && re.test(line))
        yield* ctx.stdout(count ? `${lines.length}\n` : lines.map((l) => l + "\n").join(""))
        return lines.length > 0 ? 0 : 1
      })
    }
    case "id": {
      const flag = args[0]
      if (flag === "-u") return Effect.as(ctx.stdout(`${ctx.user}\n`), 0)
      if (flag === "-g") return Effect.as(ctx.stdout(`${ctx.group}\n`), 0)
      return Effect.as(ctx.stdout(`uid=${ctx.user} gid=${ctx.group}\n`), 0)
    }
    case "cat": {
      if (args.length === 0 || (args.length === 1 && args[0] === "-")) {
        return Effect.as(Stream.runForEach(ctx.stdin, ctx.stdout), 0)
      }
      return Effect.gen(function*() {
        let code = 0
        for (const name of args) {
          const path = name.startsWith("/") ? name : `${ctx.cwd.replace(/\/$/, "")}/${name}`
          const node = ctx.files.get(path)
          if (node === undefined || node.type !== "file") {
            yield* ctx.stderr(`cat: ${name}: ${node === undefined ? "No such file or directory" : "Is a directory"}\n`)
            code = 1
          } else yield* ctx.stdout(node.data)
        }
        return code
      })
    }
    case "stat": {
      // `stat -c FORMAT PATH...`: %a (octal mode), %u, %g, %s (size), %n (name), %F (type)
      if (args[0] !== "-c" || args[1] === undefined || args.length < 3) return undefined
      const format = args[1]
      return Effect.gen(function*() {
        let code = 0
        for (const name of args.slice(2)) {
          const node = ctx.files.get(name)
          if (node === undefined) {
            yield* ctx.stderr(`stat: cannot statx '${name}': No such file or directory\n`)
            code = 1
            continue
          }
          const kinds = { file: "regular file", directory: "directory", symlink: "symbolic link" } as const
          const line = format.replace(/%([augsnF%])/g, (_, c: string) => {
            switch (c) {
              case "a":
                return (node.mode & 0o7777).toString(8)
              case "u":
                return String(node.uid)
              case "g":
                return String(node.gid)
              case "s":
                return String(node.data.length)
              case "n":
                return name
              case "F":
                return kinds[node.type]
              default:
                return "%"
            }
          })
          yield* ctx.stdout(line + "\n")
        }
        return code
      })
    }
    case "sh": {
      // no arguments on a terminal: an interactive shell reading lines from stdin
      if (args.length === 0 && ctx.interactive) return interactiveShell(ctx)
      if (args[0] !== "-c" || args[1] === undefined) return undefined
      return runScript(ctx, args[1])
    }
    case "stty": {
      if (args.length !== 1 || args[0] !== "size") return undefined
      const size = ctx.terminal?.()
      if (size === undefined) return Effect.as(ctx.stderr("stty: standard input: Inappropriate ioctl for device\n"), 1)
      return Effect.as(ctx.stdout(`${size.height} ${size.width}\n`), 0)
    }
    default:
      return undefined
  }
}

/** Run one simple command of a script: builtins only. */
const simple = (ctx: ExecContext, words: ReadonlyArray<string>): Effect.Effect<number> => {
  const toStderr = words[words.length - 1] === ">&2"
  const command = toStderr ? words.slice(0, -1) : words
  const run = builtins({ ...ctx, command, stdout: toStderr ? ctx.stderr : ctx.stdout })
  return run ?? Effect.as(ctx.stderr(`sh: ${command[0]}: not found\n`), 127)
}

/** `a | b | c`: each stage's output, collected, is the next one's input; the last one's code counts. */
const pipeline = (ctx: ExecContext, stages: ReadonlyArray<ReadonlyArray<string>>): Effect.Effect<number> =>
  Effect.gen(function*() {
    let input: Stream.Stream<Uint8Array> = ctx.stdin
    let code = 0
    for (let i = 0; i < stages.length; i++) {
      const last = i === stages.length - 1
      if (last) return yield* simple({ ...ctx, stdin: input }, stages[i]!)
      const out: Array<Uint8Array> = []
      code = yield* simple({
        ...ctx,
        stdin: input,
        stdout: (data) => Effect.sync(() => out.push(typeof data === "string" ? encoder.encode(data) : data))
      }, stages[i]!)
      input = Stream.fromIterable(out)
    }
    return code
  })

/**
 * A `sh -c` script: commands separated by `;` or newlines, pipelines with `|`, `$VAR`
 * expansion, `exit N`, and `>&2` sending a command's output to stderr.
 */
const runScript = (ctx: ExecContext, script: string): Effect.Effect<number> =>
  Effect.map(runScriptUntilExit(ctx, script), (r) => r.code)

/** A script's exit code, and whether it ended with `exit`. */
const runScriptUntilExit = (
  ctx: ExecContext,
  script: string
): Effect.Effect<{ readonly code: number; readonly exited: boolean }> =>
  Effect.gen(function*() {
    let last = 0
    for (const part of script.split(/;|\n/)) {
      // `a || b`: b only when a failed
      const alternatives = part.split("||")
      for (let k = 0; k < alternatives.length; k++) {
        if (k > 0 && last === 0) break
        const stages = alternatives[k]!.split("|").map((stage) => shellWords(stage, ctx.environment)).filter((
          words
        ) => words.length > 0)
        if (stages.length === 0) continue
        const first = stages[0]!
        if (stages.length === 1 && first[0] === "exit") return { code: Number(first[1] ?? last) & 0xff, exited: true }
        last = yield* pipeline(ctx, stages)
      }
    }
    return { code: last, exited: false }
  })

/**
 * `sh` on a terminal: each line typed is run as a script (its commands do not read the
 * terminal), until `exit N` or the end of input; the last exit code counts. No prompt, no
 * echo of what is typed.
 */
const interactiveShell = (ctx: ExecContext): Effect.Effect<number> =>
  ctx.stdin.pipe(
    Stream.decodeText(),
    Stream.splitLines,
    Stream.mapEffect((line) => runScriptUntilExit({ ...ctx, stdin: Stream.empty }, line)),
    Stream.takeUntil((r) => r.exited),
    Stream.runLast,
    Effect.map((last) => (last._tag === "Some" ? last.value.code : 0))
  )

/** Text of a chunk, for handlers that want strings. */
export const text = (data: Uint8Array): string => decoder.decode(data)
