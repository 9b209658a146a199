// The fault-injection suite (`npm run chaos`): one scenario per file, run one at a time — each
// starts its own PostgreSQL and processes, and the machine has two cores.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["chaos/**/*.chaos.ts"],
    globalSetup: ["chaos/globalSetup.ts"],
    testTimeout: 600_000,
    hookTimeout: 120_000,
    teardownTimeout: 60_000,
    pool: "forks",
    fileParallelism: false,
    maxWorkers: 1,
  },
});
