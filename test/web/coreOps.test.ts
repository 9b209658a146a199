// The v2-core operations added for issue 5 behave as Airflow's do, on PGlite and PostgreSQL: tasks,
// XCom entries, the batch TI list, bulk TI update/delete, deleting a TI and a DAG, bulk DAG pause,
// GET /auth/token (all-admins mode off) and /api/v2/auth/refresh.
import request from "supertest";
import type { Express } from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backends, createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { dagsFolderWith, startEngine, waitFor, type TestEngine } from "../helpers/engine.js";
import { schemaProblems } from "./airflowSchema.js";
import { bearer, loginAs, testApp } from "./helpers.js";

const DAGS = {
  "ops_etl.ts": `
import { dag } from "updraft";
export default dag({ id: "ops_etl", tags: ["ops"], params: { n: { type: "integer", default: 3 } } }, (d) => {
  const a = d.task("extract", (ctx) => { ctx.xcom.push("rows", 3); return [1, 2, 3]; }, { retries: 2, retryDelay: "90s", timeout: "1d" });
  const b = d.task("transform", [a], (ctx, rows) => rows.map((r) => r * 2), { pool: "default_pool", priorityWeight: 5 });
  d.shell("load", "echo done", { triggerRule: "all_done" }).after(b);
});`,
  "ops_other.ts": `
import { dag } from "updraft";
export default dag({ id: "ops_other", tags: ["other"] }, (d) => { d.task("only", () => 1); });`,
};

describe.each(backends())("v2-core operations on %s", (backend) => {
  let db: TestDatabase;
  let engine: TestEngine;
  let app: Express;
  let viewer: string;
  let operator: string;

  beforeAll(async () => {
    db = await createTestDatabase(backend);
    engine = await startEngine(db.store, { dagsFolder: dagsFolderWith(DAGS) });
    app = testApp(db.store);
    viewer = await loginAs(app, db.store, "viewer");
    operator = await loginAs(app, db.store, "operator");
  });
  afterAll(async () => {
    await engine?.stop();
    await db?.drop();
  });

  const get = (path: string, token = viewer) => request(app).get(path).set(bearer(token));

  async function runToEnd(dagId: string, runId: string): Promise<void> {
    const res = await request(app).post(`/api/v2/dags/${dagId}/dagRuns`).set(bearer(operator)).send({ dag_run_id: runId, logical_date: null });
    expect(res.status).toBe(200);
    await waitFor(`run ${runId}`, async () => ["success", "failed"].includes((await get(`/api/v2/dags/${dagId}/dagRuns/${runId}`)).body.state));
  }

  it("lists and gets tasks in TaskResponse's shape, ordered by any attribute", async () => {
    const list = await get("/api/v2/dags/ops_etl/tasks");
    expect(list.status).toBe(200);
    expect(schemaProblems(list.body, "TaskCollectionResponse")).toEqual([]);
    expect(list.body.tasks.map((t: { task_id: string }) => t.task_id)).toEqual(["extract", "load", "transform"]);
    const byWeight = await get("/api/v2/dags/ops_etl/tasks?order_by=-priority_weight");
    expect(byWeight.body.tasks[0].task_id).toBe("transform"); // the only one with priorityWeight 5
    const bad = await get("/api/v2/dags/ops_etl/tasks?order_by=nope");
    expect(bad.status).toBe(400);

    const extract = await get("/api/v2/dags/ops_etl/tasks/extract");
    expect(extract.status).toBe(200);
    expect(schemaProblems(extract.body, "TaskResponse")).toEqual([]);
    expect(extract.body).toMatchObject({
      retries: 2,
      retry_delay: { __type: "TimeDelta", days: 0, seconds: 90, microseconds: 0 },
      execution_timeout: { days: 1, seconds: 0, microseconds: 0 },
      downstream_task_ids: ["transform"],
      operator_name: "PythonOperator",
      trigger_rule: "all_success",
    });
    expect(extract.body.params.n.value).toBe(3);
    expect((await get("/api/v2/dags/ops_etl/tasks/load")).body.trigger_rule).toBe("all_done");
    expect((await get("/api/v2/dags/ops_etl/tasks/missing")).status).toBe(404);
    expect((await get("/api/v2/dags/missing/tasks")).status).toBe(404);
  });

  it("lists, creates, reads and updates XCom entries", async () => {
    await runToEnd("ops_etl", "xcom_run");
    const base = "/api/v2/dags/ops_etl/dagRuns/xcom_run/taskInstances";
    const list = await get(`${base}/extract/xcomEntries`);
    expect(list.status).toBe(200);
    expect(schemaProblems(list.body, "XComCollectionResponse")).toEqual([]);
    expect(list.body.xcom_entries.map((x: { key: string }) => x.key)).toEqual(["return_value", "rows"]);
    const everywhere = await get("/api/v2/dags/~/dagRuns/~/taskInstances/~/xcomEntries?xcom_key=return_value");
    expect(everywhere.body.total_entries).toBe(3);
    expect((await get("/api/v2/dags/~/dagRuns/~/taskInstances/~/xcomEntries?task_id_pattern=trans%25")).body.total_entries).toBe(1);

    const native = await get(`${base}/transform/xcomEntries/return_value`);
    expect(native.status).toBe(200);
    expect(schemaProblems(native.body, "XComResponseNative")).toEqual([]);
    expect(native.body.value).toEqual([2, 4, 6]);
    const text = await get(`${base}/transform/xcomEntries/return_value?stringify=true`);
    expect(schemaProblems(text.body, "XComResponseString")).toEqual([]);
    expect(text.body.value).toBe("[2,4,6]");

    const created = await request(app).post(`${base}/load/xcomEntries`).set(bearer(operator)).send({ key: "manual", value: { ok: true } });
    expect(created.status).toBe(201);
    expect(schemaProblems(created.body, "XComResponseNative")).toEqual([]);
    expect(created.body).toMatchObject({ key: "manual", value: { ok: true }, task_id: "load", run_id: "xcom_run", map_index: -1 });
    const again = await request(app).post(`${base}/load/xcomEntries`).set(bearer(operator)).send({ key: "manual", value: 1 });
    expect(again.status).toBe(409);
    const byViewer = await request(app).post(`${base}/load/xcomEntries`).set(bearer(viewer)).send({ key: "v", value: 1 });
    expect(byViewer.status).toBe(403);
    const noValue = await request(app).post(`${base}/load/xcomEntries`).set(bearer(operator)).send({ key: "x" });
    expect(noValue.status).toBe(422);
    const badTask = await request(app).post(`${base}/nope/xcomEntries`).set(bearer(operator)).send({ key: "x", value: 1 });
    expect(badTask.status).toBe(404);

    const updated = await request(app).patch(`${base}/load/xcomEntries/manual`).set(bearer(operator)).send({ value: [1] });
    expect(updated.status).toBe(200);
    expect(updated.body.value).toEqual([1]);
    expect((await get(`${base}/load/xcomEntries/manual`)).body.value).toEqual([1]);
    const missing = await request(app).patch(`${base}/load/xcomEntries/nothing`).set(bearer(operator)).send({ value: 1 });
    expect(missing.status).toBe(404);
    expect((await get(`${base}/load/xcomEntries/nothing`)).status).toBe(404);
  });

  it("lists task instances across DAGs and runs with a batch body", async () => {
    await runToEnd("ops_other", "other_run");
    const res = await request(app).post("/api/v2/dags/~/dagRuns/~/taskInstances/list").set(bearer(viewer)).send({ dag_ids: ["ops_etl", "ops_other"], state: ["success"], order_by: "-task_id", page_limit: 2 });
    expect(res.status).toBe(200);
    expect(schemaProblems(res.body, "TaskInstanceCollectionResponse")).toEqual([]);
    expect(res.body.task_instances.map((t: { task_id: string }) => t.task_id)).toEqual(["transform", "only"]);
    expect(res.body.total_entries).toBe(4);
    const runs = await request(app).post("/api/v2/dags/~/dagRuns/list").set(bearer(viewer)).send({ dag_ids: ["ops_other"], states: ["success"] });
    expect(runs.status).toBe(200);
    expect(schemaProblems(runs.body, "DAGRunCollectionResponse")).toEqual([]);
    expect(runs.body.dag_runs.map((r: { dag_run_id: string }) => r.dag_run_id)).toEqual(["other_run"]);
    const runsDesc = await request(app).post("/api/v2/dags/~/dagRuns/list").set(bearer(viewer)).send({ order_by: "-dag_run_id", page_limit: 1 });
    expect(runsDesc.body.dag_runs.map((r: { dag_run_id: string }) => r.dag_run_id)).toEqual(["xcom_run"]);
    expect(runsDesc.body.total_entries).toBe(2);
    expect((await request(app).post("/api/v2/dags/ops_etl/dagRuns/list").set(bearer(viewer)).send({})).status).toBe(422);
    expect((await request(app).post("/api/v2/dags/~/dagRuns/list").set(bearer(viewer)).send({ page_limit: -1 })).status).toBe(422);
    const onlyOther = await request(app).post("/api/v2/dags/~/dagRuns/~/taskInstances/list").set(bearer(viewer)).send({ dag_run_ids: ["other_run"] });
    expect(onlyOther.body.total_entries).toBe(1);
    const notWildcard = await request(app).post("/api/v2/dags/ops_etl/dagRuns/~/taskInstances/list").set(bearer(viewer)).send({});
    expect(notWildcard.status).toBe(422);
    const extra = await request(app).post("/api/v2/dags/~/dagRuns/~/taskInstances/list").set(bearer(viewer)).send({ dag: 1 });
    expect(extra.status).toBe(422);
    expect(extra.body.detail[0]).toMatchObject({ type: "extra_forbidden", loc: ["body", "dag"] });
  });

  it("updates and deletes task instances in bulk, reporting each entity", async () => {
    await runToEnd("ops_etl", "bulk_run");
    const path = "/api/v2/dags/ops_etl/dagRuns/bulk_run/taskInstances";
    const res = await request(app)
      .patch(path)
      .set(bearer(operator))
      .send({
        actions: [
          { action: "update", entities: [{ task_id: "load", new_state: "failed", note: "bad load" }, { task_id: "ghost", new_state: "failed" }] },
          { action: "delete", entities: ["transform", "ghost"], action_on_non_existence: "skip" },
        ],
      });
    expect(res.status).toBe(200);
    expect(schemaProblems(res.body, "BulkResponse")).toEqual([]);
    expect(res.body.update.success).toEqual(["load"]);
    expect(res.body.update.errors).toHaveLength(1);
    expect(res.body.update.errors[0].status_code).toBe(404);
    expect(res.body.delete).toEqual({ success: ["transform", "ghost"], errors: [] });
    const load = await get(`${path}/load`);
    expect(load.body).toMatchObject({ state: "failed", note: "bad load" });
    expect((await get(`${path}/transform`)).status).toBe(404);
    expect((await get("/api/v2/dags/ops_etl/dagRuns/bulk_run")).body.state).toBe("failed");

    const bad = await request(app).patch(path).set(bearer(operator)).send({ actions: [{ action: "rename", entities: [] }] });
    expect(bad.status).toBe(422);
    const byViewer = await request(app).patch(path).set(bearer(viewer)).send({ actions: [] });
    expect(byViewer.status).toBe(403);
  });

  it("deletes one task instance", async () => {
    await runToEnd("ops_etl", "del_run");
    const path = "/api/v2/dags/ops_etl/dagRuns/del_run/taskInstances/extract";
    const res = await request(app).delete(path).set(bearer(operator));
    expect(res.status).toBe(200);
    expect(res.body).toBeNull();
    expect((await get(path)).status).toBe(404);
    expect((await get(`${path}/xcomEntries`)).body.total_entries).toBe(0);
    expect((await request(app).delete(path).set(bearer(operator))).status).toBe(404);
    expect((await request(app).delete(`${path}?map_index=abc`).set(bearer(operator))).status).toBe(422);
  });

  it("filters DAGs by their runs, as Airflow's GET /dags does", async () => {
    const ids = async (query: string) => (await get(`/api/v2/dags?${query}`)).body.dags.map((d: { dag_id: string }) => d.dag_id);
    // By now both DAGs have successful runs; ops_etl's newest (bulk/del runs) ended failed or success.
    expect(await ids("dag_run_state=success")).toEqual(["ops_etl", "ops_other"]);
    expect(await ids("dag_run_state=queued")).toEqual([]);
    expect(await ids("last_dag_run_state=success&dag_id_pattern=ops_other")).toEqual(["ops_other"]);
    expect(await ids("dag_run_start_date_gte=2999-01-01")).toEqual([]);
    expect(await ids("dag_run_end_date_lte=2999-01-01&dag_id_pattern=ops_%25")).toEqual(["ops_etl", "ops_other"]);
    expect(await ids("bundle_name=dags-folder")).toEqual(["ops_etl", "ops_other"]);
    expect(await ids("bundle_name=other")).toEqual([]);
    expect(await ids("has_asset_schedule=true")).toEqual([]);
    expect((await get("/api/v2/dags?last_dag_run_state=bogus")).status).toBe(422);
    expect((await get("/api/v2/dags?dag_run_start_date_gte=yesterday")).status).toBe(422);
  });

  it("pauses every DAG a filter selects, and deletes a DAG with its runs", async () => {
    const res = await request(app).patch("/api/v2/dags?dag_id_pattern=ops_%25").set(bearer(operator)).send({ is_paused: true });
    expect(res.status).toBe(200);
    expect(schemaProblems(res.body, "DAGCollectionResponse")).toEqual([]);
    expect(res.body.dags.map((d: { dag_id: string; is_paused: boolean }) => [d.dag_id, d.is_paused])).toEqual([
      ["ops_etl", true],
      ["ops_other", true],
    ]);
    expect((await get("/api/v2/dags?paused=true")).body.total_entries).toBe(2);
    const tagged = await request(app).patch("/api/v2/dags?tags=other").set(bearer(operator)).send({ is_paused: false });
    expect(tagged.body.dags.map((d: { dag_id: string }) => d.dag_id)).toEqual(["ops_other"]);
    expect((await get("/api/v2/dags/ops_etl")).body.is_paused).toBe(true);
    const badMask = await request(app).patch("/api/v2/dags?update_mask=owners").set(bearer(operator)).send({ is_paused: true });
    expect(badMask.status).toBe(400);
    const badBody = await request(app).patch("/api/v2/dags").set(bearer(operator)).send({ is_paused: "yes" });
    expect(badBody.status).toBe(422);

    expect((await request(app).delete("/api/v2/dags/ops_other").set(bearer(viewer))).status).toBe(403);
    const deleted = await request(app).delete("/api/v2/dags/ops_other").set(bearer(operator));
    expect(deleted.status).toBe(200);
    expect((await get("/api/v2/dags/ops_other")).status).toBe(404);
    const runs = await db.store.db.selectFrom("dag_runs").select("run_id").where("dag_id", "=", "ops_other").execute();
    expect(runs).toEqual([]);
    expect((await request(app).delete("/api/v2/dags/ops_other").set(bearer(operator))).status).toBe(404);
  });

  it("answers GET /auth/token as Airflow without all-admins mode, and refreshes a valid token", async () => {
    const allAdmins = await request(app).get("/auth/token");
    expect(allAdmins.status).toBe(403);
    expect(allAdmins.body.detail).toMatch(/simple_auth_manager_all_admins/);

    const refreshed = await request(app).get("/api/v2/auth/refresh").set(bearer(viewer));
    expect(refreshed.status).toBe(200);
    expect((await get("/api/v2/dags", refreshed.body.access_token)).status).toBe(200);
    const anonymous = await request(app).get("/api/v2/auth/refresh?next=/dags/ops_etl");
    expect(anonymous.status).toBe(307);
    expect(anonymous.headers.location).toBe("/dags/ops_etl");
    const offsite = await request(app).get("/api/v2/auth/refresh?next=//evil.example");
    expect(offsite.headers.location).toBe("/login");
    const tampered = await request(app).get("/api/v2/auth/refresh").set(bearer(`${viewer}x`));
    expect(tampered.status).toBe(307);
  });
});
