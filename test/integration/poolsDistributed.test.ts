// Pools across worker processes on PostgreSQL: 50 tasks in a 3-slot pool, two `updraft worker`
// processes of 4 slots each racing to claim. A sampler on its own connection reads the pool's
// running slots every few ms: the maximum is exactly 3 — never more, and reached. The workers are
// started with `--queues`, one of them also taking "gpu": the gpu task runs only there.
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sql } from "kysely";
import { createRun } from "../../engine/store/runs/createRun.js";
import { backends, createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { dagsFolderWith, waitFor, waitForRunEnd } from "../helpers/engine.js";
import { ROOT } from "../helpers/paths.js";

const CLI = path.join(ROOT, "bin", "updraft.js");

describe.runIf(backends().includes("postgres"))("pools across worker processes on PostgreSQL", () => {
  let db: TestDatabase;
  const children: ChildProcess[] = [];
  const dagsFolder = dagsFolderWith({
    "pool50.ts": `
import { dag } from "updraft";
export default dag({ id: "pool50", maxActiveTasks: 64 }, (d) => {
  for (let i = 0; i < 50; i++) d.task("t" + i, () => new Promise((r) => setTimeout(r, 100)), { pool: "three" });
  d.task("on_gpu", () => process.pid, { queue: "gpu" });
});`,
  });

  const start = (args: string[]) => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), "updraft-home-"));
    // Polling once a minute: claims after a slot frees are woken by NOTIFY.
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, DATABASE_URL: db.url, UPDRAFT_HOME: home, UPDRAFT_DAGS_FOLDER: dagsFolder, UPDRAFT_LOG_LEVEL: "warn", UPDRAFT_POLL_INTERVAL_MS: "60000" },
      stdio: ["ignore", "inherit", "inherit"],
    });
    children.push(child);
    return child;
  };

  beforeAll(async () => {
    db = await createTestDatabase("postgres");
    await db.store.db.insertInto("pools").values({ name: "three", slots: 3, description: null }).execute();
  });
  afterAll(async () => {
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            c.once("exit", () => resolve());
            c.kill("SIGTERM");
            setTimeout(() => c.kill("SIGKILL"), 10_000).unref();
          }),
      ),
    );
    await db?.drop();
  });

  it("never runs more than 3 of 50 tasks in a 3-slot pool across two workers, and fills the 3 slots", async () => {
    start(["scheduler"]);
    await waitFor("the scheduler to parse the DAG", () => db.store.db.selectFrom("dags").select("dag_id").where("dag_id", "=", "pool50").executeTakeFirst(), 30_000);
    const plain = start(["worker", "--slots", "4", "--queues", "default"]);
    const gpu = start(["worker", "--slots", "4", "--queues", "default,gpu"]);
    await waitFor("two workers to register", async () => (await db.store.db.selectFrom("workers").selectAll().execute()).length === 2, 30_000);

    let max = 0;
    let samples = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const row = await sql<{ n: number }>`select coalesce(sum(pool_slots), 0)::int as n from task_instances where pool = 'three' and state = 'running'`.execute(db.store.db);
        max = Math.max(max, row.rows[0]!.n);
        samples++;
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    const run = await createRun(db.store.db, { dagId: "pool50", runType: "manual", logicalDate: new Date() });
    const state = await waitForRunEnd(db.store, run.id, 120_000);
    sampling = false;
    await sampler;
    expect(state).toBe("success");
    expect(samples).toBeGreaterThan(50);
    expect(max).toBe(3);

    const tis = await db.store.db.selectFrom("task_instances").select(["task_id", "state", "try_number", "worker_id", "start_date", "end_date"]).where("run_pk", "=", run.id).execute();
    expect(tis).toHaveLength(51);
    expect(tis.every((t) => t.state === "success" && t.try_number === 1)).toBe(true);
    // The pool tasks ran on the two workers (which of them is a race: a worker that ends one keeps
    // its pool slot for the run's next queued one — the leaf swap of finishLeaf.ts — so whoever
    // won the first claims may run them all); the gpu task ran only on the worker that takes "gpu".
    const pooled = tis.filter((t) => t.task_id !== "on_gpu");
    expect(pooled.every((t) => t.worker_id!.includes(`:${plain.pid}:`) || t.worker_id!.includes(`:${gpu.pid}:`))).toBe(true);
    expect(tis.find((t) => t.task_id === "on_gpu")!.worker_id).toContain(`:${gpu.pid}:`);
    // The stored start/end of the pooled TIs never overlap more than 3 either.
    const events = pooled.flatMap((t) => [[t.start_date!.getTime(), 1], [t.end_date!.getTime(), -1]] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    let now = 0;
    let most = 0;
    for (const [, d] of events) most = Math.max(most, (now += d));
    expect(most).toBeLessThanOrEqual(3);
  });
});
