// The UI's explanations and grid extras on PGlite and PostgreSQL: GET /ui/waiting names each limit
// that holds a TI back (upstream, missing/full pool, maxActiveTasks, maxActiveTisPerDag, busy or
// absent workers, retry and reschedule times, paused DAG and maxActiveRuns), and GET /ui/grid
// gives each task's group and a mapped task's TI counts per state.
import request from "supertest";
import type { Express } from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRun } from "../../engine/store/runs/createRun.js";
import { insertPool } from "../../engine/store/pools/pools.js";
import { registerWorker } from "../../engine/store/workers.js";
import { backends, createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { dagsFolderWith, startEngine, waitForRunEnd, type TestEngine } from "../helpers/engine.js";
import { bearer, loginAs, testApp } from "./helpers.js";

// Every task of `why` is on queue "nowhere": the test's real worker (queue "default") never claims
// them, so their states are the ones the test sets.
const DAGS = {
  "why.ts": `
import { dag } from "updraft";
export default dag({ id: "why", maxActiveRuns: 1, maxActiveTasks: 8 }, (d) => {
  const a = d.task("a", () => 1, { queue: "nowhere", pool: "tight", maxActiveTisPerDag: 1 });
  d.task("b", [a], () => 1, { queue: "nowhere" });
  d.task("c", () => 1, { queue: "nowhere" });
});`,
  "grouped_map.ts": `
import { dag } from "updraft";
export default dag({ id: "grouped_map" }, (d) => {
  const list = d.task("list", () => [1, 2, 3, 4]);
  d.group("work", (g) => {
    const each = g.map("each", list, (ctx, x) => {
      if (x === 3) throw new Error("three fails");
      return x;
    });
    g.task("after", [each], () => 1, { triggerRule: "all_done" });
  });
});`,
};

describe.each(backends())("waiting reasons and grid groups on %s", (backend) => {
  let db: TestDatabase;
  let engine: TestEngine;
  let app: Express;
  let token: string;

  beforeAll(async () => {
    db = await createTestDatabase(backend);
    engine = await startEngine(db.store, { dagsFolder: dagsFolderWith(DAGS) });
    app = testApp(db.store);
    token = await loginAs(app, db.store, "viewer");
  });
  afterAll(async () => {
    await engine?.stop();
    await db?.drop();
  });

  const reason = async (runId: string, taskId: string) => {
    const res = await request(app).get(`/ui/waiting/why/${encodeURIComponent(runId)}/${taskId}`).set(bearer(token));
    expect(res.status).toBe(200);
    return res.body.reason as string | null;
  };
  const setTi = (runPk: number, taskId: string, values: Record<string, unknown>) =>
    db.store.db.updateTable("task_instances").set(values).where("run_pk", "=", runPk).where("task_id", "=", taskId).execute();

  it("names the limit that holds each TI back, in the order the engine applies them", async () => {
    await db.store.db.updateTable("dags").set({ max_active_runs: 5 }).where("dag_id", "=", "why").execute();
    const run1 = await createRun(db.store.db, { dagId: "why", runType: "manual", logicalDate: null });
    const run2 = await createRun(db.store.db, { dagId: "why", runType: "manual", logicalDate: null });
    expect([run1.state, run2.state]).toEqual(["running", "running"]);

    expect(await reason(run1.run_id, "b")).toBe("Waiting for upstream tasks to finish: a (queued).");
    expect(await reason(run1.run_id, "a")).toBe('Queued on queue "nowhere", but no live worker listens on it.');

    await registerWorker(db.store.db, { workerId: "w-nowhere", hostname: "test", pid: 1, queues: ["nowhere"], slots: 10 });
    expect(await reason(run1.run_id, "a")).toMatch(/pool "tight" does not exist/);

    await insertPool(db.store.db, { name: "tight", slots: 1, description: null, include_deferred: false });
    await setTi(run2.id, "a", { state: "running" });
    expect(await reason(run1.run_id, "a")).toBe('Queued: pool "tight" is full (1 of 1 slots used; this task needs 1).');

    await db.store.db.updateTable("pools").set({ slots: 5 }).where("name", "=", "tight").execute();
    expect(await reason(run1.run_id, "a")).toBe('Queued: task "a" is at maxActiveTisPerDag (1 of 1 running across the DAG\'s runs).');

    await db.store.db.updateTable("dags").set({ max_active_tasks: 1 }).where("dag_id", "=", "why").execute();
    expect(await reason(run1.run_id, "a")).toBe("Queued: the DAG is at maxActiveTasks (1 of 1 running).");
    await db.store.db.updateTable("dags").set({ max_active_tasks: 8 }).where("dag_id", "=", "why").execute();

    // c is not limited per task: only the workers' slots are left.
    await db.store.db.updateTable("workers").set({ slots: 1 }).where("worker_id", "=", "w-nowhere").execute();
    await setTi(run2.id, "a", { state: "running", worker_id: "w-nowhere" });
    expect(await reason(run1.run_id, "c")).toBe('Queued: all 1 slots of the workers on queue "nowhere" are busy.');
    await db.store.db.updateTable("workers").set({ slots: 10 }).where("worker_id", "=", "w-nowhere").execute();
    expect(await reason(run1.run_id, "c")).toBe('Queued on queue "nowhere" (pool "default_pool"): waiting for a worker to claim it.');

    // A worker whose heartbeat stopped does not count.
    await db.store.db.updateTable("workers").set({ last_heartbeat: new Date(Date.now() - 120_000) }).where("worker_id", "=", "w-nowhere").execute();
    expect(await reason(run1.run_id, "c")).toMatch(/no live worker listens/);

    await setTi(run1.id, "c", { state: "up_for_retry", next_retry_at: new Date("2030-01-02T03:04:05Z"), try_number: 1, max_tries: 2 });
    expect(await reason(run1.run_id, "c")).toBe("Up for retry: try 2 of 3 at 03:04:05 UTC.");
    await setTi(run1.id, "c", { state: "up_for_reschedule", reschedule_date: new Date("2030-01-02T13:14:15Z") });
    expect(await reason(run1.run_id, "c")).toBe("Sensor rescheduled: it pokes again at 13:14:15 UTC.");
    await setTi(run1.id, "c", { state: "success" });
    expect(await reason(run1.run_id, "c")).toBeNull();

    // run1 back in the queue behind run2 (maxActiveRuns 1), then the DAG paused.
    await db.store.db.updateTable("dags").set({ max_active_runs: 1 }).where("dag_id", "=", "why").execute();
    await db.store.db.updateTable("dag_runs").set({ state: "queued" }).where("id", "=", run1.id).execute();
    expect(await reason(run1.run_id, "b")).toBe("The run is queued: the DAG is at maxActiveRuns (1 of 1 running).");
    await db.store.db.updateTable("dags").set({ is_paused: true }).where("dag_id", "=", "why").execute();
    expect(await reason(run1.run_id, "b")).toMatch(/DAG is paused/);

    expect((await request(app).get(`/ui/waiting/why/${encodeURIComponent(run1.run_id)}/nope`).set(bearer(token))).status).toBe(404);
    expect((await request(app).get(`/ui/waiting/why/${encodeURIComponent(run1.run_id)}/a?map_index=x`).set(bearer(token))).status).toBe(422);
  });

  it("grid: groups parallel to task_ids, a mapped task's TIs counted by state per run", async () => {
    const run = await createRun(db.store.db, { dagId: "grouped_map", runType: "manual", logicalDate: null });
    // The leaf runs all_done and succeeds, so the run does too (Airflow decides by the leaves).
    expect(await waitForRunEnd(db.store, run.id, 30_000)).toBe("success");
    const res = await request(app).get("/ui/grid/grouped_map").set(bearer(token));
    expect(res.status).toBe(200);
    const g = res.body as { task_ids: string[]; groups: (string | null)[]; cells: string[]; legend: Record<string, string>; mapped_counts: Record<string, (Record<string, number> | null)[]> };
    expect(Object.fromEntries(g.task_ids.map((t, i) => [t, g.groups[i]]))).toEqual({ list: null, "work.each": "work", "work.after": "work" });
    expect(Object.keys(g.mapped_counts)).toEqual(["work.each"]);
    expect(g.mapped_counts["work.each"]).toEqual([{ [g.legend.success!]: 3, [g.legend.failed!]: 1 }]);
    expect(g.cells[0]![g.task_ids.indexOf("work.each")]).toBe(g.legend.failed);

    // A DAG without groups or mapped tasks pays nothing for them.
    const plain = await request(app).get("/ui/grid/why").set(bearer(token));
    expect(plain.body.groups).toBeUndefined();
    expect(plain.body.mapped_counts).toEqual({});
  });
});
