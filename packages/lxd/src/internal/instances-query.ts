/**
 * Query helpers shared by instance and image listings.
 */

/**
 * A server-side filter (`api_filtering`): LXD's own expression (`status eq Running and
 * config.image.os eq busybox`), or field/value pairs joined with `and`.
 */
export type Filter = string | Readonly<Record<string, string | number | boolean>>

const quoteValue = (value: string): string => /[\s"]/.test(value) || value.length === 0 ? JSON.stringify(value) : value

/** The `filter=` expression for a `Filter` (undefined when there is nothing to filter on). */
export const filterExpression = (
  filter: Filter | undefined,
  extra: ReadonlyArray<string> = []
): string | undefined => {
  const clauses: Array<string> = []
  if (typeof filter === "string") {
    if (filter.trim().length > 0) clauses.push(filter.trim())
  } else if (filter !== undefined) {
    for (const [key, value] of Object.entries(filter)) clauses.push(`${key} eq ${quoteValue(String(value))}`)
  }
  clauses.push(...extra)
  return clauses.length === 0 ? undefined : clauses.join(" and ")
}
