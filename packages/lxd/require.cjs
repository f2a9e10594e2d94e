// effect-lxd is an ES module only. This file is what `require("effect-lxd")` loads
// (the "require" condition in package.json), so that the failure says what to do
// instead of Node's bare "No exports main defined".
"use strict"
const error = new Error(
  "effect-lxd is published as an ES module only and cannot be loaded with require(). " +
    "Use `import { Lxd } from \"effect-lxd\"` in an ES module (\"type\": \"module\" or a .mjs/.mts file), " +
    "or `const { Lxd } = await import(\"effect-lxd\")` from CommonJS."
)
error.code = "ERR_REQUIRE_ESM"
throw error
