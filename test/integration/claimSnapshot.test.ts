// Regression (found by the throughput benchmark with several worker processes): a claim waiting
// on the claim lock (migrations/0006_pools.sql) picks TIs with a snapshot taken after the wait,
// so it may pick a TI of a run created meanwhile. Its run's columns must come from the same
// snapshot: read with the calling statement's older snapshot, the run was missing, the TI was
// dropped from the result — marked running under the worker, yet never run (then reaped).
// PostgreSQL only: PGlite has one connection, so nothing waits on the lock there.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import { createRun } from "../../engine/store/runs/createRun.js";
import { claimTasks } from "../../engine/store/tasks/claimTasks.js";
import { backends, createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { dagsFolderWith, startEngine, waitFor, type TestEngine } from "../helpers/engine.js";

const DAGS = {
  "solo.ts": `
import { dag } from "updraft";
export default dag({ id: "solo" }, (d) => {
  d.task("only", () => 1);
});`,
};

describe.skipIf(!backends().includes("postgres"))("claim under the lock on postgres", () => {
  let db: TestDatabase;
  let engine: TestEngine;

  beforeAll(async () => {
    db = await createTestDatabase("postgres");
    engine = await startEngine(db.store, { dagsFolder: dagsFolderWith(DAGS), worker: false });
  });
  afterAll(async () => {
    await engine?.stop();
    await db?.drop();
  });

  it("returns a TI of a run created while the claim waited for the lock, with its run's columns", async () => {
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      // Another claimer holds the claim lock.
      await holder.query("begin");
      await holder.query("select pg_advisory_xact_lock(7461928374651)");
      // This claim starts now (its statement snapshot is taken) and waits for the lock.
      const claiming = claimTasks(db.store.db, { workerId: "w", hostname: "h", queues: ["default"], limit: 5 });
      await waitFor("the claim to wait on the lock", async () => {
        const { rows } = await holder.query("select count(*)::int as n from pg_locks where locktype = 'advisory' and not granted");
        return rows[0].n > 0;
      });
      // Meanwhile a run is created and committed: its root TI is queued.
      const run = await createRun(db.store.db, { dagId: "solo", runId: "late", runType: "manual", logicalDate: new Date("2024-03-01T00:00:00Z"), conf: { k: 1 } });
      await holder.query("commit");
      const claimed = await claiming;
      expect(claimed.map((t) => [t.taskId, t.runId])).toEqual([["only", "late"]]);
      expect(claimed[0]).toMatchObject({ runPk: run.id, conf: { k: 1 } });
      expect(claimed[0]!.logicalDate?.toISOString()).toBe("2024-03-01T00:00:00.000Z");
      // Nothing is running that the claim did not hand out.
      const running = await db.store.db.selectFrom("task_instances").select("id").where("state", "=", "running").execute();
      expect(running.map((r) => r.id)).toEqual(claimed.map((t) => t.tiId));
    } finally {
      await holder.query("rollback").catch(() => {});
      await holder.end();
    }
  });

  it("a worker stopping while its claim waits for the lock runs or hands back what that claim brings", async () => {
    const worker = await startEngine(db.store, { dagsFolder: engine.dagsFolder, slots: 2 });
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query("begin");
      await holder.query("select pg_advisory_xact_lock(7461928374651)");
      // The run's NOTIFY wakes the worker; its claim waits for the lock.
      const run = await createRun(db.store.db, { dagId: "solo", runId: "stopping", runType: "manual", logicalDate: null });
      await waitFor("the worker's claim to wait on the lock", async () => {
        const { rows } = await holder.query("select count(*)::int as n from pg_locks where locktype = 'advisory' and not granted");
        return rows[0].n > 0;
      });
      const stopping = worker.worker!.stop(2_000).then(() => Date.now());
      await new Promise((r) => setTimeout(r, 200));
      await holder.query("commit");
      const stoppedAt = await stopping;
      await new Promise((r) => setTimeout(r, 1_000));
      // Claimed during the stop: finished within the grace or handed back, before stop() returned —
      // a stopped worker starts nothing afterwards (its runners and store may be gone by then).
      const ti = await db.store.db.selectFrom("task_instances").select(["state", "start_date", "end_date"]).where("run_pk", "=", run.id).executeTakeFirstOrThrow();
      expect(["success", "queued"]).toContain(ti.state);
      if (ti.state === "success") expect(ti.end_date!.getTime()).toBeLessThanOrEqual(stoppedAt);
    } finally {
      await holder.query("rollback").catch(() => {});
      await holder.end();
      await worker.stop();
    }
  });
});
