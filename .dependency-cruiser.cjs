// Import rules for packages/lxd/src, checked by `pnpm check` (alone: `pnpm run check:deps`).
//
// "Value import" below means an import that loads the other module at run time. With
// `tsPreCompilationDeps: true` dependency-cruiser also records the imports TypeScript
// erases, and labels them:
//   - "type-only":            `import type { A } from "./X.js"`, `import { type A } from ...`
//                             (every name marked `type`), `export type { A } from ...`
//   - "type-import":          `type T = import("./X.js").A`
//   - "pre-compilation-only": an import that is gone from the compiled JavaScript
// Those never load a module, so they are what the rules exempt. An import of a value
// name used only as a type (`import { Images } from ...` for `Images` in a type) counts
// as a value import here, although tsc would drop it: write `import type` for those.
const erased = ["type-only", "type-import", "pre-compilation-only"]
// modules built on several services, which they take from the context
const COMPOSITES = "^packages/lxd/src/(Launch|Progress|testing)\\.ts$"

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "no-value-cycle",
      comment:
        "A cycle of value imports makes one module of the cycle run before the module it " +
        "imports has finished evaluating: a Schema class or Context.Tag it reads at top level " +
        "is not initialised yet (a ReferenceError at load time, or `undefined` once bundled), " +
        "and which module is hit depends on which one a user imports first. Cycles made only of " +
        "type-only imports are allowed: they are erased at compile time, so nothing is " +
        "evaluated out of order, and they are the intended shape of an implementation in " +
        "internal/ that names its public module's types (as @effect/platform's internal/ " +
        "modules do) while the public module imports the implementation by value. A cycle " +
        "counts when every import along it is a value import.",
      severity: "error",
      from: { path: "^packages/lxd/src/" },
      to: {
        circular: true,
        dependencyTypesNot: erased,
        viaOnly: { dependencyTypesNot: erased }
      }
    },
    {
      name: "internal-imports-only-internal-and-LxdError",
      comment:
        "internal/ sits below the public modules: public modules build on it, never the " +
        "reverse. A value import from internal/ into a public module (other than LxdError, " +
        "which every layer needs for its error classes and which itself depends only on " +
        "internal/) turns internal/ into a second entry into that module's implementation: " +
        "it can build a second copy of a service (a second Operations) or take a schema that " +
        "is meant to be shared, and it makes cycles one edit away. Shared schemas and helpers " +
        "live in internal/ and public modules re-export them. Type-only imports of public " +
        "modules (a Service interface, an options type) are allowed: they describe the " +
        "contract internal/ implements and cost nothing at run time.",
      severity: "error",
      from: { path: "^packages/lxd/src/internal/" },
      to: {
        path: "^packages/lxd/src/",
        pathNot: ["^packages/lxd/src/internal/", "^packages/lxd/src/LxdError\\.ts$"],
        dependencyTypesNot: erased
      }
    },
    {
      name: "LxdError-imports-only-internal",
      comment:
        "internal/ may import LxdError by value only because LxdError stays at the bottom " +
        "with it: if LxdError took values from another public module, internal/ would reach " +
        "that module through LxdError, and the rule above would mean nothing.",
      severity: "error",
      from: { path: "^packages/lxd/src/LxdError\\.ts$" },
      to: {
        path: "^packages/lxd/src/",
        pathNot: "^packages/lxd/src/internal/",
        dependencyTypesNot: erased
      }
    },
    {
      name: "public-modules-share-through-internal",
      comment:
        "A public service module (Instances, Images, Snapshots, Profiles, ...) takes values only " +
        "from the core it is built on (LxdError, LxdTransport, LxdHttp, Operations) and from " +
        "internal/, never from another service module. What two services share (a schema such " +
        "as Snapshot or Image, a request helper such as publishing an image) lives in internal/ " +
        "and each owner re-exports it, so a service's module can change without breaking its " +
        "siblings and no service is half-loaded through another. The core obeys the same rule, " +
        "so it never reaches up into a service. Lxd.ts and index.ts assemble the services and " +
        "may import them all, and so may the composite tier (Launch, Progress, and testing.ts, the " +
        "test kit's entry point that builds every service over its fake server), which is " +
        "built on services (next rule). Type-only imports between services are allowed.",
      severity: "error",
      from: {
        path: "^packages/lxd/src/[^/]+\\.ts$",
        pathNot: ["^packages/lxd/src/Lxd\\.ts$", "^packages/lxd/src/index\\.ts$", COMPOSITES]
      },
      to: {
        path: "^packages/lxd/src/[^/]+\\.ts$",
        pathNot: "^packages/lxd/src/(LxdError|LxdTransport|LxdHttp|Operations)\\.ts$",
        dependencyTypesNot: erased
      }
    },
    {
      name: "services-never-import-composites",
      comment:
        "The composite tier (functions built on several services, taking them from the " +
        "context: Launch, Progress) sits above the services; no service or core module imports it, " +
        "so it can be dropped or replaced without touching them.",
      severity: "error",
      from: {
        path: "^packages/lxd/src/[^/]+\\.ts$",
        pathNot: ["^packages/lxd/src/Lxd\\.ts$", "^packages/lxd/src/index\\.ts$", COMPOSITES]
      },
      to: { path: COMPOSITES, dependencyTypesNot: erased }
    },
    {
      name: "resolvable",
      comment:
        "An import the cruiser cannot resolve is an edge it cannot check: the rules above " +
        "would pass by not seeing it. Every relative import in src must resolve to a file " +
        "(and tsc would reject it anyway).",
      severity: "error",
      from: { path: "^packages/lxd/src/" },
      to: { couldNotResolve: true }
    }
  ],
  options: {
    // The rules are about the library's own modules (tests and examples may import what
    // they like); packages are recorded as leaves, not cruised. No `includeOnly`: it would
    // also drop imports that do not resolve, and the "resolvable" rule could not see them.
    doNotFollow: { path: "node_modules" },
    // Record type-only imports (labelled as above) instead of dropping them, so the rules
    // can tell them from value imports.
    tsPreCompilationDeps: true,
    // Resolve as tsc does (NodeNext: "./X.js" in a source file means "./X.ts").
    tsConfig: { fileName: "tsconfig.json" }
  }
}
