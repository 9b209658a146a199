import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts", "e2e/**/*.test.ts"],
    globalSetup: ["test/globalSetup.ts", "e2e/globalSetup.ts"],
    reporters: ["default", "./test/summaryReporter.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration tests start processes and databases; two cores, so keep the parallelism modest.
    pool: "forks",
    maxWorkers: 2,
    teardownTimeout: 20_000,
  },
});
