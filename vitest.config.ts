import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    // one daemon per server, two cores: test files run one at a time
    fileParallelism: false,
    projects: [
      {
        test: {
          name: "unit",
          include: ["packages/lxd/test/**/*.test.ts"],
          fakeTimers: { toFake: undefined }
        }
      },
      {
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
