/**
 * effect-lxd: an Effect client for the LXD and Incus REST API.
 *
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 */
export * as Lxd from "./Lxd.js"

/**
 * @since 0.1.0
 */
export * as LxdHttp from "./LxdHttp.js"

/**
 * @since 0.1.0
 */
export * as LxdError from "./LxdError.js"

/**
 * @since 0.1.0
 */
export * as Operations from "./Operations.js"

/**
 * @since 0.1.0
 */
export * as Server from "./Server.js"

/**
 * @since 0.1.0
 */
export * as Certificates from "./Certificates.js"
