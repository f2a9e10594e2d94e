/**
 * Images (`/1.0/images`): list, get, upload from a stream (unified tarball, or metadata
 * plus rootfs), export as a stream, properties and flags with ETags, aliases, downloads
 * from a remote image server, refresh and secrets. Copies to another server are in
 * `Migration`.
 *
 * Uploads never hold the image in memory: the body is streamed to the server (split
 * images as a streamed `multipart/form-data` body) and its SHA-256 is computed on the way,
 * then checked against the fingerprint the server reports.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { NodeFileSystem } from "@effect/platform-node"
 * import { FileSystem } from "@effect/platform"
 * import { Images } from "effect-lxd"
 *
 * const importTarball = (file: string) =>
 *   Effect.gen(function* () {
 *     const fs = yield* FileSystem.FileSystem
 *     const images = yield* Images.Images
 *     const image = yield* images.upload(Images.unified(fs.stream(file)), { aliases: ["my-image"] })
 *     return image.fingerprint
 *   }).pipe(Effect.provide(NodeFileSystem.layer))
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as Fs from "node:fs"
import { collection } from "./internal/collection.js"
import { boundaryOf, makeSha256 } from "./internal/images-multipart.js"
import { aliasBody, fingerprintOf } from "./internal/images-publish.js"
import { finishImageOn, imageSecret, remoteImageBody, startImageOn } from "./internal/images-remote.js"
import { exportChunks, uploadBody, uploadHeaders } from "./internal/images-upload.js"
import { type Filter, filterExpression } from "./internal/instances-query.js"
import { fileBody, hashFile, saveAnswer } from "./internal/localFiles.js"
import { Image, ImageAliasEntry, ImageMetadata, ImageSource, ImageTemplate } from "./internal/models/image.js"
import { path } from "./internal/path.js"
import { traced } from "./internal/tracing.js"
import type { UpdateOptions } from "./internal/update.js"
import { DecodeError, InvalidArgument, type RequestError } from "./LxdError.js"
import { LxdHttp } from "./LxdHttp.js"
import { type Operation, Operations } from "./Operations.js"
import type * as Resource from "./Resource.js"

export type {
  /**
   * A server-side filter: LXD's expression, or field/value pairs joined with `and`.
   *
   * @since 0.1.0
   * @category models
   */
  Filter
}

export {
  /**
   * The fingerprint an image creation produced (`metadata.fingerprint` of its operation).
   *
   * @since 0.1.0
   * @category utils
   */
  fingerprintOf,
  /**
   * An image (`GET /1.0/images/<fingerprint>`).
   *
   * @since 0.1.0
   * @category models
   */
  Image,
  /**
   * An alias as listed inside an image.
   *
   * @since 0.1.0
   * @category models
   */
  ImageAliasEntry,
  /**
   * An image's `metadata.yaml` (also what `InstanceMetadata.get` reads and `InstanceMetadata.put` writes).
   *
   * @since 0.1.0
   * @category models
   */
  ImageMetadata,
  /**
   * Where a cached or auto-updating image comes from.
   *
   * @since 0.1.0
   * @category models
   */
  ImageSource,
  /**
   * A template of an image (or of an instance's image metadata).
   *
   * @since 0.1.0
   * @category models
   */
  ImageTemplate
}

// -----------------------------------------------------------------------------
// Models
// -----------------------------------------------------------------------------

/**
 * The writable fields of an image (`PUT /1.0/images/<fingerprint>`).
 *
 * @since 0.1.0
 * @category models
 */
export interface ImagePut {
  readonly auto_update: boolean
  readonly properties: Readonly<Record<string, string>>
  readonly public: boolean
  readonly expires_at?: string | undefined
  readonly profiles?: ReadonlyArray<string> | undefined
}

/**
 * An image alias (`GET /1.0/images/aliases/<name>`).
 *
 * @since 0.1.0
 * @category models
 */
export class ImageAlias extends Schema.Class<ImageAlias>("effect-lxd/ImageAlias")({
  name: Schema.String,
  description: Schema.optionalWith(Schema.String, { default: () => "" }),
  /** The fingerprint the alias points at. */
  target: Schema.String,
  type: Schema.optional(Schema.String)
}) {}

/**
 * The writable fields of an alias.
 *
 * @since 0.1.0
 * @category models
 */
export interface ImageAliasPut {
  readonly description: string
  readonly target: string
}

/**
 * A piece of an exported image. A unified image comes as part `image`; a split image as
 * part `metadata` first, then `rootfs` (`rootfs.img` for a VM). The SHA-256 of every
 * `data` in order is the image's fingerprint.
 *
 * @since 0.1.0
 * @category models
 */
export interface ImageExportChunk {
  readonly part: string
  readonly filename: string | undefined
  readonly data: Uint8Array
}

/**
 * What to upload: one tarball, or a metadata tarball plus a rootfs.
 *
 * @since 0.1.0
 * @category models
 */
export type UploadSource<E = never> =
  | {
    readonly _tag: "Unified"
    readonly data: Stream.Stream<Uint8Array, E> | Uint8Array
    /** The size in bytes, when known (sent as `Content-Length`; otherwise chunked). */
    readonly contentLength?: number | undefined
  }
  | {
    readonly _tag: "Split"
    readonly metadata: Stream.Stream<Uint8Array, E> | Uint8Array
    readonly rootfs: Stream.Stream<Uint8Array, E> | Uint8Array
    /** A VM image (the rootfs part is then named `rootfs.img`). */
    readonly virtualMachine?: boolean | undefined
  }
  | {
    /** A unified tarball in a local file. */
    readonly _tag: "UnifiedFile"
    readonly path: string
  }

/**
 * A unified image: one tarball holding `metadata.yaml`, `templates/` and `rootfs/`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const unified = <E = never>(
  data: Stream.Stream<Uint8Array, E> | Uint8Array,
  options?: { readonly contentLength?: number | undefined }
): UploadSource<E> => ({ _tag: "Unified", data, contentLength: options?.contentLength })

/**
 * A unified image tarball in a local file. The Node transports send it straight from the
 * file with a few reused buffers (the fastest way to upload, see the README's benchmark
 * summary); a failed read of the file is an `InvalidArgument`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Images } from "effect-lxd"
 *
 * const importTarball = Effect.gen(function* () {
 *   const images = yield* Images.Images
 *   return yield* images.upload(Images.unifiedFile("./alpine.tar.gz"), { aliases: ["alpine"] })
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const unifiedFile = (path: string): UploadSource<InvalidArgument> => ({ _tag: "UnifiedFile", path })

/**
 * A split image: the metadata tarball and the rootfs (squashfs or tarball; qcow2 for VMs).
 *
 * @since 0.1.0
 * @category constructors
 */
export const split = <E = never>(
  metadata: Stream.Stream<Uint8Array, E> | Uint8Array,
  rootfs: Stream.Stream<Uint8Array, E> | Uint8Array,
  options?: { readonly virtualMachine?: boolean | undefined }
): UploadSource<E> => ({ _tag: "Split", metadata, rootfs, virtualMachine: options?.virtualMachine })

/**
 * An alias to create with an image: a name, or a name and a description.
 *
 * @since 0.1.0
 * @category models
 */
export type AliasSpec = string | { readonly name: string; readonly description?: string | undefined }

/**
 * @since 0.1.0
 * @category options
 */
export interface UploadOptions {
  readonly public?: boolean | undefined
  readonly properties?: Readonly<Record<string, string>> | undefined
  /** The original file name, recorded by the server. */
  readonly filename?: string | undefined
  /** Profiles applied to instances made from the image (`image_profiles`). */
  readonly profiles?: ReadonlyArray<string> | undefined
  /** Aliases created once the image is in. */
  readonly aliases?: ReadonlyArray<AliasSpec> | undefined
  /** The expected fingerprint: the server refuses the upload if the bytes do not match. */
  readonly fingerprint?: string | undefined
}

/**
 * @since 0.1.0
 * @category options
 */
export interface ListOptions {
  readonly filter?: Filter | undefined
  /** Images of every project (`images_all_projects`). */
  readonly allProjects?: boolean | undefined
  /** Only public images (what untrusted clients see anyway). */
  readonly publicOnly?: boolean | undefined
}

/**
 * @since 0.1.0
 * @category options
 */
export interface RemoteSource {
  /** The image server, e.g. `https://images.example.org` or another LXD's HTTPS URL. */
  readonly server: string
  /** `simplestreams` (image servers) or `lxd` (another LXD/Incus server). */
  readonly protocol: "simplestreams" | "lxd"
  readonly alias?: string | undefined
  readonly fingerprint?: string | undefined
  /** A secret from the source server's `secret`, for a private image on an LXD source. */
  readonly secret?: Redacted.Redacted<string> | undefined
  /** The source server's certificate (PEM), pinned by the downloading server. */
  readonly certificate?: string | undefined
  /** `container` or `virtual-machine` (when an alias names both). */
  readonly imageType?: string | undefined
  /** The project on the source server. */
  readonly project?: string | undefined
}

/**
 * @since 0.1.0
 * @category options
 */
export interface DownloadOptions {
  readonly public?: boolean | undefined
  /** Keep the image updated from its source. */
  readonly autoUpdate?: boolean | undefined
  readonly aliases?: ReadonlyArray<AliasSpec> | undefined
}

/**
 * A secret that lets an untrusted client (or another server) read a private image.
 *
 * @since 0.1.0
 * @category models
 */
export interface ImageSecret {
  readonly secret: Redacted.Redacted<string>
  readonly fingerprint: string
  /** The token operation; cancelling it revokes the secret. */
  readonly operationId: string
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Service
  extends
    Resource.Readable<Image, [], never, [fingerprint: string]>,
    Resource.Writable<ImagePut, [], never, [fingerprint: string]>,
    Resource.Deletable<[], never, [fingerprint: string]>
{
  /** Fingerprints of the images. */
  readonly listNames: (options?: ListOptions) => Effect.Effect<ReadonlyArray<string>, RequestError>
  /** Every image, as objects (`recursion=1`). */
  readonly list: (options?: ListOptions) => Effect.Effect<ReadonlyArray<Image>, RequestError>
  /** An image by fingerprint (or a unique prefix of it); `secret` for untrusted access to a private image. */
  readonly get: (
    fingerprint: string,
    options?: { readonly secret?: Redacted.Redacted<string> | undefined }
  ) => Effect.Effect<Image, RequestError>
  /** The image an alias points at. */
  readonly getByAlias: (alias: string) => Effect.Effect<Image, RequestError>
  readonly exists: (fingerprint: string) => Effect.Effect<boolean, RequestError>
  readonly aliasExists: (alias: string) => Effect.Effect<boolean, RequestError>
  /**
   * Upload an image from a stream (or bytes), waiting until the server has it. Fails with
   * `DecodeError` if the server reports another fingerprint than the SHA-256 of the bytes
   * sent (for `unifiedFile`, of the file: hashed again as its sending ends, while the
   * server works on it).
   */
  readonly upload: <E = never>(
    source: UploadSource<E>,
    options?: UploadOptions
  ) => Effect.Effect<Image, RequestError | E>
  /**
   * Export a unified image into the local file at `path` (created or truncated, mode 0600),
   * checking that the bytes hash to the fingerprint asked for (a prefix is fine). The Node
   * transports write it with a few reused buffers. A split image fails with
   * `InvalidArgument` before anything is written (use `export`); a transfer that fails or
   * is interrupted leaves no file behind.
   */
  readonly exportTo: (
    fingerprint: string,
    path: string,
    options?: { readonly secret?: Redacted.Redacted<string> | undefined }
  ) => Effect.Effect<void, RequestError>
  /** The image's bytes as they stream from the server (split images: metadata, then rootfs). */
  readonly export: (
    fingerprint: string,
    options?: { readonly secret?: Redacted.Redacted<string> | undefined }
  ) => Stream.Stream<ImageExportChunk, RequestError>
  /** `POST /1.0/images/<fp>/refresh`: check the image's source for a newer version. */
  readonly refresh: (fingerprint: string) => Effect.Effect<void, RequestError>
  /** Make a secret for untrusted access to a private image. */
  readonly secret: (fingerprint: string) => Effect.Effect<ImageSecret, RequestError>
  readonly aliases: Effect.Effect<ReadonlyArray<ImageAlias>, RequestError>
  readonly getAlias: (name: string) => Effect.Effect<ImageAlias, RequestError>
  readonly addAlias: (
    name: string,
    target: string,
    options?: { readonly description?: string | undefined; readonly type?: string | undefined }
  ) => Effect.Effect<void, RequestError>
  readonly renameAlias: (name: string, newName: string) => Effect.Effect<void, RequestError>
  /** Read the alias with its ETag, apply `f`, write back; retries on 412. */
  readonly updateAlias: (
    name: string,
    f: (current: ImageAliasPut) => ImageAliasPut,
    options?: UpdateOptions
  ) => Effect.Effect<void, RequestError>
  readonly deleteAlias: (name: string) => Effect.Effect<void, RequestError>
  /** Download an image from an image server (simplestreams) or another LXD. */
  readonly createFromRemote: (
    source: RemoteSource,
    options?: DownloadOptions
  ) => Effect.Effect<Image, RequestError | InvalidArgument>
  /**
   * Download an image from a URL (LXD 5.x and Incus: the URL answers with
   * `LXD-Image-URL`/`LXD-Image-Hash` headers, `Incus-Image-*` for Incus; LXD 6.9 and later
   * refuse this source).
   */
  readonly createFromUrl: (url: string, options?: DownloadOptions) => Effect.Effect<Image, RequestError>
  /**
   * Start the download of `createFromRemote` and return its operation without waiting:
   * for `Progress.track`, or to wait, watch or cancel yourself. The image's fingerprint is
   * in the finished operation's `metadata.fingerprint` (`Images.fingerprintOf`). Aliases
   * are not part of the request (the waiting call adds them once the image is in): add
   * them with `addAlias` after the wait.
   *
   * Both LXD 5.0 and Incus 6.0 report the download as `download_progress` (`45% (12.34MB/s)`:
   * stage `download`, percent and speed).
   *
   * @example
   * ```ts
   * import { Console, Effect } from "effect"
   * import { Images, Progress } from "effect-lxd"
   *
   * const pull = (server: string, certificate: string, fingerprint: string) =>
   *   Effect.gen(function* () {
   *     const images = yield* Images.Images
   *     const done = yield* Progress.track(
   *       images.createFromRemoteOperation({ server, protocol: "lxd", fingerprint, certificate }),
   *       (p) => Console.log(Progress.format(p)) // download: 45% (12.34MB/s)
   *     )
   *     return done.metadata?.["fingerprint"]
   *   })
   * ```
   */
  readonly createFromRemoteOperation: (
    source: RemoteSource,
    options?: Omit<DownloadOptions, "aliases">
  ) => Effect.Effect<Operation, RequestError | InvalidArgument>
  /**
   * Start the download of `createFromUrl` and return its operation without waiting (see
   * `createFromRemoteOperation`; progress is `download_progress` on both servers, once the
   * image file itself is being fetched).
   */
  readonly createFromUrlOperation: (
    url: string,
    options?: Omit<DownloadOptions, "aliases">
  ) => Effect.Effect<Operation, RequestError>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class Images extends Context.Tag("effect-lxd/Images")<Images, Service>() {}

// -----------------------------------------------------------------------------
// Helpers
// -----------------------------------------------------------------------------

const imagePath = (fp: string) => path`/1.0/images/${fp}`
const aliasPath = (name: string) => path`/1.0/images/aliases/${name}`

const listQuery = (options: ListOptions | undefined) => ({
  filter: filterExpression(options?.filter),
  ...(options?.allProjects ? { "all-projects": true } : {})
})

/** The writable fields of an image as read. */
const toPut = (image: Image): ImagePut => ({
  auto_update: image.auto_update,
  properties: image.properties,
  public: image.public,
  ...(image.expires_at === undefined ? {} : { expires_at: image.expires_at }),
  profiles: image.profiles
})

// -----------------------------------------------------------------------------
// Constructor
// -----------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Service, never, LxdHttp | Operations> = Effect.gen(function*() {
  const http = yield* LxdHttp
  const ops = yield* Operations

  const { calls: crud, listNamesWhere, listWhere } = collection(http, ops, {
    collection: () => "/1.0/images",
    item: imagePath,
    schema: Image,
    toPut,
    // LXD's image PATCH merges the keys of `properties`
    patch: { merged: ["properties"] }
  })

  // `publicOnly` is applied here: LXD 5.0's filter cannot compare booleans (`public eq true` matches nothing)
  const list = (options?: ListOptions) =>
    listWhere([], listQuery(options)).pipe(
      Effect.map((images) => options?.publicOnly ? images.filter((i) => i.public) : images)
    )

  const listNames = (options?: ListOptions) =>
    options?.publicOnly
      ? Effect.map(list(options), (images) => images.map((i) => i.fingerprint))
      : listNamesWhere([], listQuery(options))

  const get = (fp: string, options?: { readonly secret?: Redacted.Redacted<string> | undefined }) =>
    http.sync(
      {
        method: "GET",
        path: imagePath(fp),
        ...(options?.secret === undefined ? {} : { query: { secret: Redacted.value(options.secret) } })
      },
      Image
    )

  const { calls: aliasCalls, write: aliasWrite } = collection(http, ops, {
    collection: () => "/1.0/images/aliases",
    item: aliasPath,
    schema: ImageAlias,
    toPut: (a: ImageAlias): ImageAliasPut => ({ description: a.description, target: a.target })
  })
  const getAlias = aliasCalls.get

  const getByAlias = (alias: string) => Effect.flatMap(getAlias(alias), (a) => get(a.target))

  const addAlias = (
    name: string,
    target: string,
    options?: { readonly description?: string | undefined; readonly type?: string | undefined }
  ) =>
    aliasWrite({
      method: "POST",
      path: "/1.0/images/aliases",
      body: {
        name,
        target,
        description: options?.description ?? "",
        ...(options?.type === undefined ? {} : { type: options.type })
      }
    })

  const addAliases = (fp: string, aliases: ReadonlyArray<AliasSpec> | undefined) =>
    Effect.forEach(aliases ?? [], (a) => {
      const { description, name } = aliasBody(a)
      return addAlias(name, fp, { description })
    }, { discard: true })

  const checkFingerprint = (fingerprint: string, computed: string, what: string) =>
    computed === fingerprint
      ? Effect.void
      : Effect.fail(
        new DecodeError({
          method: "POST",
          path: "/1.0/images",
          reason: `the server reports fingerprint ${fingerprint}, but ${what} hash to ${computed}`
        })
      )

  /**
   * A local unified tarball: sent by the bulk path as it is read, and hashed again from
   * the file once the last of it has been read for sending (the few MiB in flight then
   * are the last of the send), while the server works on it (it hashes and unpacks the
   * tarball before the operation ends). Hashing it as it was sent cost the
   * upload 40–60 ms of its 0.38 s: on two cores, that CPU was taken from the daemon
   * receiving it (bench/README.md, *Image upload: the hash*).
   */
  const uploadFile = (file: string, headers: Record<string, string>) =>
    Effect.scoped(Effect.gen(function*() {
      const sent = yield* Deferred.make<void>()
      let expected = Infinity
      let seen = 0
      const raw = yield* fileBody(file, "application/octet-stream", (piece) => {
        seen += piece.length
        if (seen >= expected) Deferred.unsafeDone(sent, Exit.void)
      })
      expected = raw.contentLength ?? Infinity
      const hashed = yield* Effect.forkScoped(Effect.zipRight(Deferred.await(sent), hashFile(file)))
      const origin = { method: "POST", path: "/1.0/images" } as const
      const outcome = yield* ops.run({ ...origin, headers, raw })
      const fingerprint = yield* fingerprintOf(outcome, origin)
      // (an empty file, or a transport that read none of it: the hash starts now)
      yield* Deferred.succeed(sent, undefined)
      yield* checkFingerprint(fingerprint, yield* Fiber.join(hashed), `the bytes of ${file}`)
      return fingerprint
    }))

  const upload = <E = never>(source: UploadSource<E>, options?: UploadOptions) =>
    Effect.gen(function*() {
      const headers = uploadHeaders(http.headerPrefix, options)
      let fingerprint: string
      if (source._tag === "UnifiedFile") {
        // a `UnifiedFile` source is an `UploadSource<InvalidArgument>`: its `E` is the read failure
        fingerprint = yield* (uploadFile(source.path, headers) as Effect.Effect<string, RequestError | E>)
      } else {
        const sha = makeSha256()
        const origin = { method: "POST", path: "/1.0/images" } as const
        const outcome = yield* ops.run<E>({ ...origin, headers, raw: uploadBody(source, sha) })
        fingerprint = yield* fingerprintOf(outcome, origin)
        yield* checkFingerprint(fingerprint, sha.digest(), "the bytes sent")
      }
      yield* addAliases(fingerprint, options?.aliases)
      return yield* get(fingerprint)
    })

  const exportImage = (fp: string, options?: { readonly secret?: Redacted.Redacted<string> | undefined }) =>
    Stream.unwrapScoped(Effect.gen(function*() {
      const p = `${imagePath(fp)}/export`
      const response = yield* http.raw({
        method: "GET",
        path: p,
        ...(options?.secret === undefined ? {} : { query: { secret: Redacted.value(options.secret) } })
      })
      return exportChunks(response, p)
    }))

  const exportTo = (fp: string, local: string, options?: { readonly secret?: Redacted.Redacted<string> | undefined }) =>
    Effect.scoped(Effect.gen(function*() {
      const p = `${imagePath(fp)}/export`
      const origin = { method: "GET", path: p } as const
      const response = yield* http.raw({
        method: "GET",
        path: p,
        bulk: true,
        ...(options?.secret === undefined ? {} : { query: { secret: Redacted.value(options.secret) } })
      })
      if (boundaryOf(response.headers["content-type"]) !== undefined) {
        return yield* Effect.fail(
          new InvalidArgument({ argument: "fingerprint", reason: `${fp} is a split image: use export` })
        )
      }
      const sha = makeSha256()
      yield* saveAnswer(response, local, { observe: sha.update })
      const computed = sha.digest()
      if (!computed.startsWith(fp.toLowerCase())) {
        yield* Effect.promise(() => Fs.promises.rm(local, { force: true }))
        return yield* Effect.fail(
          new DecodeError({ ...origin, reason: `the exported bytes hash to ${computed}, not to the fingerprint ${fp}` })
        )
      }
    }))

  const refresh = (fp: string) => Effect.asVoid(ops.run({ method: "POST", path: `${imagePath(fp)}/refresh`, body: {} }))

  const createFromRemoteOperation = (source: RemoteSource, options?: Omit<DownloadOptions, "aliases">) =>
    source.alias === undefined && source.fingerprint === undefined
      ? Effect.fail(new InvalidArgument({ argument: "source", reason: "give an alias or a fingerprint" }))
      : startImageOn(ops, remoteImageBody(source, options))

  const createFromUrlOperation = (url: string, options?: Omit<DownloadOptions, "aliases">) =>
    startImageOn(ops, {
      public: options?.public ?? false,
      auto_update: options?.autoUpdate ?? false,
      source: { type: "url", mode: "pull", url }
    })

  const createFromRemote = (source: RemoteSource, options?: DownloadOptions) =>
    Effect.flatMap(
      createFromRemoteOperation(source, options),
      (op) => finishImageOn(http, ops, op, options?.aliases ?? [])
    )

  const createFromUrl = (url: string, options?: DownloadOptions) =>
    Effect.flatMap(createFromUrlOperation(url, options), (op) => finishImageOn(http, ops, op, options?.aliases ?? []))

  return Images.of(traced("Images", {
    listNames,
    list,
    get,
    getByAlias,
    exists: crud.exists,
    aliasExists: aliasCalls.exists,
    upload,
    put: crud.put,
    patch: crud.patch,
    update: crud.update,
    delete: crud.delete,
    export: exportImage,
    exportTo,
    refresh,
    secret: (fp) => imageSecret(http, fp),
    aliases: aliasCalls.list(),
    getAlias,
    addAlias,
    renameAlias: aliasCalls.rename,
    updateAlias: aliasCalls.update,
    deleteAlias: aliasCalls.delete,
    createFromRemote,
    createFromUrl,
    createFromRemoteOperation,
    createFromUrlOperation
  }, { nameAttribute: "lxd.image" }))
})

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Images, never, LxdHttp | Operations> = Layer.effect(Images, make)
