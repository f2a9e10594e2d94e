/**
 * An instance's image metadata (`/1.0/instances/<name>/metadata`, its `metadata.yaml`)
 * and template files (`…/metadata/templates`): read, replace or update the metadata with
 * ETags, and list, read, write and delete templates.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { InstanceMetadata } from "effect-lxd"
 *
 * const program = Effect.gen(function* () {
 *   const metadata = yield* InstanceMetadata.InstanceMetadata
 *   yield* metadata.update("web1", (m) => ({ ...m, properties: { ...m.properties, description: "front end" } }))
 *   yield* metadata.putTemplate("web1", "motd.tpl", "hello {{ container.name }}\n")
 *   console.log(yield* metadata.listTemplates("web1"))
 * })
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { singleton } from "./internal/collection.js"
import { ImageMetadata } from "./internal/models/image.js"
import { path } from "./internal/path.js"
import { readText } from "./internal/text.js"
import { traced } from "./internal/tracing.js"
import type { UpdateOptions } from "./internal/update.js"
import type { RequestError } from "./LxdError.js"
import { LxdHttp } from "./LxdHttp.js"
import { Operations } from "./Operations.js"

export {
  /**
   * An image's `metadata.yaml`, as an instance carries it.
   *
   * @since 0.1.0
   * @category models
   */
  ImageMetadata
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** The instance's image metadata (`metadata.yaml`). */
  readonly get: (instance: string) => Effect.Effect<ImageMetadata, RequestError>
  /** Replace the metadata (optionally guarded by an ETag). */
  readonly put: (
    instance: string,
    metadata: typeof ImageMetadata.Encoded,
    options?: { readonly etag?: string | undefined }
  ) => Effect.Effect<void, RequestError>
  /** Read the metadata with its ETag, apply `f`, write back; retries on 412. */
  readonly update: (
    instance: string,
    f: (current: ImageMetadata) => typeof ImageMetadata.Encoded,
    options?: UpdateOptions
  ) => Effect.Effect<void, RequestError>
  /** Names of the instance's template files. */
  readonly listTemplates: (instance: string) => Effect.Effect<ReadonlyArray<string>, RequestError>
  /** One template file, as text. */
  readonly getTemplate: (instance: string, file: string) => Effect.Effect<string, RequestError>
  /** Create or replace a template file. */
  readonly putTemplate: (
    instance: string,
    file: string,
    content: string | Uint8Array
  ) => Effect.Effect<void, RequestError>
  readonly deleteTemplate: (instance: string, file: string) => Effect.Effect<void, RequestError>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class InstanceMetadata extends Context.Tag("effect-lxd/InstanceMetadata")<InstanceMetadata, Service>() {}

const metadataPath = (instance: string) => path`/1.0/instances/${instance}/metadata`
const templatesPath = (instance: string) => path`/1.0/instances/${instance}/metadata/templates`

/** The bytes of a template: a string is sent as UTF-8. */
const templateBytes = (content: string | Uint8Array): Uint8Array =>
  typeof content === "string" ? new TextEncoder().encode(content) : content

/**
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Service, never, LxdHttp | Operations> = Effect.gen(function*() {
  const http = yield* LxdHttp
  const ops = yield* Operations

  const metadata = singleton<typeof ImageMetadata.Encoded>()(http, ops, {
    path: metadataPath,
    schema: ImageMetadata,
    toPut: (current: ImageMetadata) => current
  })

  const listTemplates = (instance: string) =>
    http.sync({ method: "GET", path: templatesPath(instance) }, Schema.Array(Schema.String))

  const getTemplate = (instance: string, file: string) =>
    readText(http, { method: "GET", path: templatesPath(instance), query: { path: file } })

  const putTemplate = (instance: string, file: string, content: string | Uint8Array) =>
    Effect.asVoid(http.send({
      method: "POST",
      path: templatesPath(instance),
      query: { path: file },
      raw: { contentType: "application/octet-stream", data: templateBytes(content) }
    }))

  const deleteTemplate = (instance: string, file: string) =>
    Effect.asVoid(http.send({ method: "DELETE", path: templatesPath(instance), query: { path: file } }))

  return InstanceMetadata.of(traced("InstanceMetadata", {
    ...metadata,
    listTemplates,
    getTemplate,
    putTemplate,
    deleteTemplate
  }, { nameAttribute: "lxd.instance" }))
})

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<InstanceMetadata, never, LxdHttp | Operations> = Layer.effect(InstanceMetadata, make)
