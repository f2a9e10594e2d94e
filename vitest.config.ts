import { defineConfig } from "vitest/config"

// "effect-lxd" resolves to packages/lxd/src, not to its build (see the exports in
// packages/lxd/package.json); the other conditions are Vite's defaults for the server side
const conditions = ["effect-lxd-source", "module", "node", "development|production"]

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    // one daemon per server, two cores: test files run one at a time
    fileParallelism: false,
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: ["packages/lxd/test/**/*.test.ts"],
          fakeTimers: { toFake: undefined }
        }
      },
      {
        extends: true,
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          globalSetup: ["test/support/globalSetup.ts"],
          fakeTimers: { toFake: undefined },
          testTimeout: 120_000,
          hookTimeout: 120_000
        }
      }
    ]
  }
})
