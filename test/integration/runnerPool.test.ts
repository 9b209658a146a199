// The worker's pool of runner processes (worker/runnerPool.ts), on its own: real child processes
// running a real DAG bundle. A burst grows the pool to as many runners as tasks run at once; the
// idle ones beyond the warm count are stopped after the idle time, and what is left still runs
// tasks. What crosses the IPC channel (JSON) arrives as the task returned it. The idle time is
// UPDRAFT_RUNNER_IDLE_MS.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleDagFile } from "../../engine/dagfile/bundle.js";
import { ensureBundleFile } from "../../engine/dagfile/bundleCache.js";
import type { TaskRunRequest } from "../../engine/execution/context.js";
import { ConfigError, loadConfig } from "../../engine/config.js";
import { RUNNER_IDLE_RETIRE_MS, RunnerPool } from "../../worker/runnerPool.js";
import { dagsFolderWith } from "../helpers/engine.js";

const DAG = `
import { dag } from "updraft";
export default dag({ id: "pool_dag", schedule: null, start: "2024-01-01" }, (d) => {
  d.task("slow", async () => {
    await new Promise((r) => setTimeout(r, 300));
    return { pid: process.pid, text: "naïve → ✓", nested: [1, { at: new Date(Date.UTC(2024, 0, 2)) }] };
  });
});
`;

const IDLE_MS = 300;
let bundleFile: string;
let cacheDir: string;

beforeAll(async () => {
  const folder = dagsFolderWith({ "pool.ts": DAG });
  const bundled = await bundleDagFile(path.join(folder, "pool.ts"));
  cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), "updraft-pool-cache-"));
  bundleFile = ensureBundleFile(cacheDir, bundled.codeHash, bundled.bundle);
});

afterAll(() => {
  fs.rmSync(cacheDir, { recursive: true, force: true });
});

const request = (): TaskRunRequest => ({
  dagId: "pool_dag",
  taskId: "slow",
  runId: "manual__1",
  mapIndex: -1,
  tryNumber: 1,
  maxTries: 1,
  logicalDate: null,
  dataIntervalStart: null,
  dataIntervalEnd: null,
  runStartDate: "2024-01-02T00:00:00.000Z",
  conf: {},
  inputs: [],
});

let attempts = 0;
const run = (pool: RunnerPool) =>
  pool.run({ attempt: `a${++attempts}`, bundleFile, request: request(), timeoutMs: 10_000, onLog: () => {}, pullXcom: async () => null });

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(check: () => boolean, withinMs: number): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
  return check();
}

/** A pool with one warm runner and this idle time, closed after `body` whatever happens. */
async function withPool(idleMs: number, body: (pool: RunnerPool) => Promise<void>): Promise<void> {
  const pool = new RunnerPool(1_000, idleMs);
  try {
    await pool.warm(1);
    await body(pool);
  } finally {
    await pool.close();
  }
}

describe("RunnerPool", () => {
  it("grows to the tasks running at once and keeps idle runners until the idle time has passed", () =>
    withPool(60_000, async (pool) => {
      expect(pool.size).toBe(1);
      const outcomes = await Promise.all([run(pool), run(pool), run(pool)]);
      expect(outcomes.map((o) => o.result.outcome)).toEqual(["success", "success", "success"]);
      expect(new Set(outcomes.map((o) => (o.result.xcom.return_value as { pid: number }).pid)).size).toBe(3);
      // The pool checks its idle runners every second: after 1.5 s it has, and kept them all.
      await new Promise((r) => setTimeout(r, 1_500));
      expect(pool.size).toBe(3);
    }));

  it("stops idle runners beyond the warm ones after the idle time, and keeps running tasks", () =>
    withPool(IDLE_MS, async (pool) => {
      const outcomes = await Promise.all([run(pool), run(pool), run(pool), run(pool)]);
      const pids = outcomes.map((o) => {
        expect(o.result.outcome).toBe("success");
        return (o.result.xcom.return_value as { pid: number }).pid;
      });
      expect(new Set(pids).size).toBe(4);
      expect(await until(() => pool.size === 1, 10_000)).toBe(true);
      // The three stopped runners' processes are gone, the kept one is not.
      expect(await until(() => pids.filter(alive).length === 1, 5_000)).toBe(true);
      const after = await run(pool);
      expect(after.result.outcome).toBe("success");
    }));

  it("carries a task's return value over the IPC channel as JSON, as the task returned it", () =>
    withPool(IDLE_MS, async (pool) => {
      const outcome = await run(pool);
      expect(outcome.result.outcome).toBe("success");
      const value = outcome.result.xcom.return_value as Record<string, unknown>;
      expect(value.text).toBe("naïve → ✓");
      // A Date inside a return value is stored as JSON has it (toJson in the runner), not as a Date.
      expect(value.nested).toEqual([1, { at: "2024-01-02T00:00:00.000Z" }]);
      expect(typeof outcome.startedAt).toBe("number");
      expect(outcome.endedAt).toBeGreaterThanOrEqual(outcome.startedAt);
    }));

  it("takes its idle time from UPDRAFT_RUNNER_IDLE_MS (5 minutes by default); a bad value is a clear error", () => {
    expect(loadConfig({}).runnerIdleMs).toBe(RUNNER_IDLE_RETIRE_MS);
    expect(RUNNER_IDLE_RETIRE_MS).toBe(300_000);
    expect(loadConfig({ UPDRAFT_RUNNER_IDLE_MS: "30000" }).runnerIdleMs).toBe(30_000);
    expect(() => loadConfig({ UPDRAFT_RUNNER_IDLE_MS: "soon" })).toThrow(ConfigError);
    expect(() => loadConfig({ UPDRAFT_RUNNER_IDLE_MS: "0" })).toThrow(/UPDRAFT_RUNNER_IDLE_MS/);
  });
});
