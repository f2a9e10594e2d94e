/** The library version, sent in the User-Agent (kept in step with package.json by a unit test). */
export const version = "0.1.0"

/**
 * The `User-Agent` effect-lxd sends unless told otherwise (never `Mozilla`-like, which
 * would switch LXD to its browser rules).
 */
export const userAgent = `effect-lxd/${version}`
