// POST /api/v2/dags/{dag_id}/clearTaskInstances across runs, as Airflow's post_clear_task_instances
// chooses them, on PGlite and PostgreSQL with a real engine: a dry run lists exactly the TIs (and
// changes nothing) for dag_run_id, include_past / include_future (runs by logical date), the
// start_date / end_date range, task_ids with include_upstream / include_downstream, only_failed and
// only_running; a real clear re-runs them with a new try number; reset_dag_runs: false leaves a
// finished run alone; a running TI becomes restarting. PATCH …/taskInstances/{task_id} with
// include_past / include_future marks the task in the earlier / later runs.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import request from "supertest";
import type { Express } from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRun } from "../../engine/store/runs/createRun.js";
import { backends, createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { dagsFolderWith, startEngine, waitFor, waitForRunEnd, type TestEngine } from "../helpers/engine.js";
import { schemaProblems } from "./airflowSchema.js";
import { bearer, loginAs, testApp } from "./helpers.js";

const flags = fs.mkdtempSync(path.join(os.tmpdir(), "updraft-clear-flags-"));
const flag = (name: string) => path.join(flags, name);

/** The DAG files; `release` is per backend (the PGlite suite releases its hold at its end). */
const dags = (release: string) => ({
  "daily.ts": `
import fs from "node:fs";
import { dag } from "updraft";
export default dag({ id: "daily" }, (d) => {
  const a = d.task("a", () => 1);
  const b = d.task("b", [a], () => { if (fs.existsSync(${JSON.stringify(flag("fail_b"))})) throw new Error("b fails"); return 2; });
  d.task("c", [b], () => 3);
});`,
  "hold.ts": `
import fs from "node:fs";
import { dag } from "updraft";
export default dag({ id: "hold" }, (d) => {
  d.task("first", () => 1);
  d.task("hold", async (ctx) => {
    // The first try waits (bounded) until released or killed; later tries return at once.
    const end = Date.now() + 30_000;
    while (ctx.tryNumber === 1 && !fs.existsSync(${JSON.stringify(flag(release))}) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    return ctx.tryNumber;
  });
});`,
});

const DAY = 86_400_000;
const D1 = new Date("2026-01-01T00:00:00Z");
const D2 = new Date(D1.getTime() + DAY);
const D3 = new Date(D1.getTime() + 2 * DAY);

type Ti = { dag_run_id: string; task_id: string; state: string | null; try_number: number };

describe.each(backends())("clearTaskInstances across runs on %s", (backend) => {
  let db: TestDatabase;
  let engine: TestEngine;
  let app: Express;
  let operator: string;
  let viewer: string;

  beforeAll(async () => {
    db = await createTestDatabase(backend);
    engine = await startEngine(db.store, { dagsFolder: dagsFolderWith(dags(`release-${backend}`)), slots: 3, heartbeatIntervalMs: 200 });
    app = testApp(db.store);
    operator = await loginAs(app, db.store, "operator");
    viewer = await loginAs(app, db.store, "viewer");
    // Three daily runs where b fails (so c is upstream_failed), and a manual one without a logical date.
    fs.writeFileSync(flag("fail_b"), "");
    for (const [runId, logicalDate] of [["r1", D1], ["r2", D2], ["r3", D3], ["manual", null]] as const) {
      const run = await createRun(db.store.db, { dagId: "daily", runId, runType: "manual", logicalDate });
      expect(await waitForRunEnd(db.store, run.id)).toBe("failed");
    }
    fs.rmSync(flag("fail_b"));
  }, 60_000);
  afterAll(async () => {
    fs.writeFileSync(flag(`release-${backend}`), "");
    await engine?.stop();
    await db?.drop();
  });

  const clear = (body: Record<string, unknown>, dagId = "daily") => request(app).post(`/api/v2/dags/${dagId}/clearTaskInstances`).set(bearer(operator)).send(body);
  /** What a dry run lists, as "run/task" strings. */
  const listed = async (body: Record<string, unknown>) => {
    const res = await clear(body);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(schemaProblems(res.body, "TaskInstanceCollectionResponse")).toEqual([]);
    return (res.body.task_instances as Ti[]).map((t) => `${t.dag_run_id}/${t.task_id}`).sort();
  };
  const snapshot = async () => ({
    tis: await db.store.db.selectFrom("task_instances").select(["id", "state", "try_number"]).orderBy("id").execute(),
    runs: await db.store.db.selectFrom("dag_runs").select(["id", "state", "unfinished_tis"]).orderBy("id").execute(),
  });
  const tis = async (dagId: string, runId: string) => {
    const res = await request(app).get(`/api/v2/dags/${dagId}/dagRuns/${runId}/taskInstances`).set(bearer(viewer));
    return Object.fromEntries((res.body.task_instances as Ti[]).map((t) => [t.task_id, t]));
  };
  const runState = async (dagId: string, runId: string) => (await request(app).get(`/api/v2/dags/${dagId}/dagRuns/${runId}`).set(bearer(viewer))).body.state as string;

  it("dry runs list exactly the TIs of the chosen runs and tasks, and change nothing", async () => {
    const before = await snapshot();
    const b = { task_ids: ["b"] };
    // One run; the body's dates are unused with a dag_run_id (Airflow replaces them by the run's).
    expect(await listed({ ...b, dag_run_id: "r2" })).toEqual(["r2/b"]);
    expect(await listed({ ...b, dag_run_id: "r2", start_date: D3.toISOString() })).toEqual(["r2/b"]);
    // include_past / include_future: the runs at or before / after r2's logical date. The manual
    // run has none, so only "every run" (both, no dates) reaches it — as in Airflow.
    expect(await listed({ ...b, dag_run_id: "r2", include_past: true })).toEqual(["r1/b", "r2/b"]);
    expect(await listed({ ...b, dag_run_id: "r2", include_future: true })).toEqual(["r2/b", "r3/b"]);
    expect(await listed({ ...b, dag_run_id: "r2", include_past: true, include_future: true })).toEqual(["manual/b", "r1/b", "r2/b", "r3/b"]);
    expect(await listed({ ...b, dag_run_id: "r1", include_past: true, include_downstream: true })).toEqual(["r1/b", "r1/c"]);
    // only_failed (the default) leaves a out even with include_upstream; without it a is listed.
    expect(await listed({ ...b, dag_run_id: "r3", include_future: true, include_upstream: true })).toEqual(["r3/b"]);
    expect(await listed({ ...b, dag_run_id: "r3", include_future: true, include_upstream: true, only_failed: false })).toEqual(["r3/a", "r3/b"]);
    // A date range on the runs' logical dates, inclusive at both ends.
    expect(await listed({ ...b, start_date: D2.toISOString(), end_date: D3.toISOString() })).toEqual(["r2/b", "r3/b"]);
    expect(await listed({ ...b, start_date: D2.toISOString() })).toEqual(["r2/b", "r3/b"]);
    expect(await listed({ ...b, end_date: D1.toISOString() })).toEqual(["r1/b"]);
    // Without a dag_run_id, include_past / include_future drop the range's lower / upper end.
    expect(await listed({ ...b, start_date: D3.toISOString(), end_date: D3.toISOString(), include_past: true })).toEqual(["r1/b", "r2/b", "r3/b"]);
    expect(await listed({ ...b, start_date: D1.toISOString(), end_date: D1.toISOString(), include_future: true })).toEqual(["r1/b", "r2/b", "r3/b"]);
    // No task_ids: every task; no dates and no run: every run.
    expect(await listed({ dag_run_id: "r1" })).toEqual(["r1/b", "r1/c"]);
    expect(await listed({ only_failed: false, end_date: D1.toISOString() })).toEqual(["r1/a", "r1/b", "r1/c"]);
    expect((await listed({})).length).toBe(8);
    // Nothing is running: only_running lists nothing.
    expect(await listed({ dag_run_id: "r1", only_failed: false, only_running: true })).toEqual([]);
    expect(await snapshot()).toEqual(before);
  });

  it("include_past / include_future on a run without a logical date: 400, nothing stored", async () => {
    const before = await snapshot();
    for (const extra of [{ include_past: true }, { include_future: true }]) {
      const res = await clear({ dry_run: false, dag_run_id: "manual", task_ids: ["b"], ...extra });
      expect(res.status, JSON.stringify(res.body)).toBe(400);
      expect(JSON.stringify(res.body)).toContain("include_past or include_future");
    }
    expect((await clear({ dry_run: false, include_past: "yes" })).status).toBe(422);
    expect(await snapshot()).toEqual(before);
  });

  it("a real clear with include_past and include_downstream re-runs those TIs with a new try number; later runs are untouched", async () => {
    const res = await clear({ dry_run: false, dag_run_id: "r2", task_ids: ["b"], include_past: true, include_downstream: true });
    expect(res.status).toBe(200);
    expect((res.body.task_instances as Ti[]).map((t) => `${t.dag_run_id}/${t.task_id}`).sort()).toEqual(["r1/b", "r1/c", "r2/b", "r2/c"]);
    for (const runId of ["r1", "r2"]) {
      await waitFor(`${runId} to succeed`, async () => (await runState("daily", runId)) === "success");
      const t = await tis("daily", runId);
      expect([t.a!.state, t.b!.state, t.c!.state]).toEqual(["success", "success", "success"]);
      expect([t.a!.try_number, t.b!.try_number, t.c!.try_number]).toEqual([1, 2, 1]);
    }
    const r3 = await tis("daily", "r3");
    expect([r3.b!.state, r3.b!.try_number, await runState("daily", "r3")]).toEqual(["failed", 1, "failed"]);
  });

  it("reset_dag_runs: false leaves a finished run's state alone and its cleared TIs waiting", async () => {
    const res = await clear({ dry_run: false, dag_run_id: "r3", task_ids: ["b"], include_downstream: true, reset_dag_runs: false });
    expect((res.body.task_instances as Ti[]).map((t) => t.task_id)).toEqual(["b", "c"]);
    // Had the clear queued them, it would have in its own transaction: they would not be none now.
    expect(await runState("daily", "r3")).toBe("failed");
    const t = await tis("daily", "r3");
    expect([t.b!.state, t.b!.try_number, t.c!.state]).toEqual([null, 1, null]);
    // Setting the run to queued (Airflow's way to run it again) runs them.
    const patched = await request(app).patch("/api/v2/dags/daily/dagRuns/r3").set(bearer(operator)).send({ state: "queued" });
    expect(patched.status).toBe(200);
    await waitFor("r3 to succeed", async () => (await runState("daily", "r3")) === "success");
    expect((await tis("daily", "r3")).b!.try_number).toBe(2);
  });

  it("only_running lists the running TI alone; clearing it sets it restarting and it runs again", async () => {
    const run = await createRun(db.store.db, { dagId: "hold", runId: "h1", runType: "manual", logicalDate: D1 });
    await waitFor("hold to run", async () => (await tis("hold", "h1")).hold?.state === "running");
    await waitFor("first to succeed", async () => (await tis("hold", "h1")).first?.state === "success");
    const dry = await clear({ dag_run_id: "h1", only_failed: false, only_running: true }, "hold");
    expect((dry.body.task_instances as Ti[]).map((t) => [t.task_id, t.state])).toEqual([["hold", "running"]]);
    const real = await clear({ dry_run: false, dag_run_id: "h1", only_failed: false, only_running: true }, "hold");
    expect((real.body.task_instances as Ti[]).map((t) => [t.task_id, t.state])).toEqual([["hold", "restarting"]]);
    expect(await waitForRunEnd(db.store, run.id, 15_000)).toBe("success");
    const t = await tis("hold", "h1");
    expect([t.first!.try_number, t.hold!.try_number]).toEqual([1, 2]);
    const tries = await request(app).get("/api/v2/dags/hold/dagRuns/h1/taskInstances/hold/tries").set(bearer(viewer));
    expect((tries.body.task_instances as Ti[]).map((x) => [x.try_number, x.state])).toEqual([
      [1, "restarting"],
      [2, "success"],
    ]);
  });

  it("PATCH new_state with include_past / include_future marks the task in the earlier / later runs", async () => {
    const mark = (runId: string, body: Record<string, unknown>) => request(app).patch(`/api/v2/dags/daily/dagRuns/${runId}/taskInstances/c`).set(bearer(operator)).send(body);
    const past = await mark("r2", { new_state: "failed", include_past: true });
    expect(past.status, JSON.stringify(past.body)).toBe(200);
    expect(schemaProblems(past.body, "TaskInstanceCollectionResponse")).toEqual([]);
    expect((past.body.task_instances as Ti[]).map((t) => `${t.dag_run_id}/${t.task_id}/${t.state}`).sort()).toEqual(["r1/c/failed", "r2/c/failed"]);
    expect((await tis("daily", "r3")).c!.state).toBe("success");
    expect([await runState("daily", "r1"), await runState("daily", "r2"), await runState("daily", "r3")]).toEqual(["failed", "failed", "success"]);
    const future = await mark("r2", { new_state: "success", include_future: true });
    expect((future.body.task_instances as Ti[]).map((t) => `${t.dag_run_id}/${t.task_id}/${t.state}`).sort()).toEqual(["r2/c/success", "r3/c/success"]);
    expect([(await tis("daily", "r1")).c!.state, await runState("daily", "r2")]).toEqual(["failed", "success"]);
  });
});
