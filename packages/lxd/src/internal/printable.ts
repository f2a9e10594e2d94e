/**
 * Control characters made visible (`"a\u0000b"` → `"a\\u0000b"`), for anything that goes
 * into an error message or a log line: a name or a server's message must never carry a
 * raw NUL, escape sequence or line break into a terminal or a log.
 */

const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/g

export const printable = (value: string): string =>
  value.replace(CONTROL_CHARACTERS, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)

const CONTROL_BUT_NEWLINE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/g

/** The same, keeping line breaks: for multi-line text of our own (a schema failure tree). */
export const printableLines = (value: string): string =>
  value.replace(CONTROL_BUT_NEWLINE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)
