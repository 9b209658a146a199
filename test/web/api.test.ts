// The REST API over a running engine, on PGlite and PostgreSQL: a DAG triggered over REST runs to
// success, and its run, task instances and logs read back in Airflow's shapes.
import request from "supertest";
import type { Express } from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { recordImportError } from "../../engine/store/dags/syncDagFile.js";
import { backends, createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { dagsFolderWith, startEngine, waitFor, type TestEngine } from "../helpers/engine.js";
import { schemaProblems } from "./airflowSchema.js";
import { bearer, loginAs, testApp } from "./helpers.js";

const DAGS = {
  "api_etl.ts": `
import { dag } from "updraft";
export default dag({ id: "api_etl", tags: ["etl", "api"], description: "ETL over REST" }, (d) => {
  const extract = d.task("extract", (ctx) => {
    ctx.log.info("extracting for " + ctx.conf.city);
    ctx.log.warn("careful with " + ctx.conf.city);
    return [1, 2, 3];
  });
  const load = d.task("load", [extract], (ctx, rows) => {
    console.log("loaded " + rows.length + " rows for " + ctx.conf.city);
    return { city: ctx.conf.city, rows: rows.length };
  });
  d.shell("report", "echo report-done").after(load);
});`,
  // Scheduled, but starting far in the future: no run is ever created during the test.
  "nightly.ts": `
import { dag } from "updraft";
export default dag({ id: "nightly", schedule: "@daily", start: "2999-01-01", tags: ["nightly"] }, (d) => {
  d.task("only", () => 1);
});`,
  "broken.ts": `
import { dag } from "updraft";
export default dag({ id: "broken" }, (d) => {
  d.task("twice", () => 1);
  d.task("twice", () => 2);
});`,
};

const enc = encodeURIComponent;

describe.each(backends())("REST API on %s", (backend) => {
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

  async function waitForRunState(dagId: string, runId: string, states: string[]): Promise<Record<string, unknown>> {
    return waitFor(`run ${runId} in ${states.join("/")}`, async () => {
      const res = await get(`/api/v2/dags/${dagId}/dagRuns/${enc(runId)}`);
      return states.includes(res.body.state) ? (res.body as Record<string, unknown>) : null;
    });
  }

  it("checks shapes with a checker that does catch a wrong one", () => {
    expect(schemaProblems({}, "DAGResponse")).toContain("DAGResponse.dag_id: required field missing (DAGResponse)");
    expect(schemaProblems({ version: "1", git_version: null, extra: 1 }, "VersionInfo")).toEqual(["VersionInfo.extra: not a field of VersionInfo"]);
    expect(schemaProblems({ version: 1, git_version: null }, "VersionInfo")).toHaveLength(1);
  });

  it("answers health and version without a token", async () => {
    const health = await request(app).get("/api/v2/monitor/health");
    expect(health.status).toBe(200);
    expect(schemaProblems(health.body, "HealthInfoResponse")).toEqual([]);
    expect(health.body.metadatabase).toEqual({ status: "healthy" });
    expect(health.body.scheduler.status).toBe("healthy");
    expect(Date.now() - Date.parse(health.body.scheduler.latest_scheduler_heartbeat)).toBeLessThan(30_000);
    expect(health.body.dag_processor.status).toBe("healthy");
    expect(health.body.triggerer).toEqual({ status: null, latest_triggerer_heartbeat: null });

    const version = await request(app).get("/api/v2/version");
    expect(version.status).toBe(200);
    expect(version.body).toEqual({ version: "9.9.9-test", git_version: null });
  });

  it("lists DAGs with Airflow's filters, paging and ordering", async () => {
    const all = await get("/api/v2/dags");
    expect(all.status).toBe(200);
    expect(schemaProblems(all.body, "DAGCollectionResponse")).toEqual([]);
    expect(all.body.dags.map((d: { dag_id: string }) => d.dag_id)).toEqual(["api_etl", "nightly"]);
    expect(all.body.total_entries).toBe(2);

    const ids = async (query: string) => (await get(`/api/v2/dags?${query}`)).body.dags.map((d: { dag_id: string }) => d.dag_id);
    expect(await ids("order_by=-dag_id")).toEqual(["nightly", "api_etl"]);
    expect(await ids("tags=etl")).toEqual(["api_etl"]);
    expect(await ids("tags=etl&tags=nightly")).toEqual(["api_etl", "nightly"]);
    expect(await ids("tags=etl&tags=nightly&tags_match_mode=all")).toEqual([]);
    expect(await ids("dag_id_pattern=NIGHT%25")).toEqual(["nightly"]);
    expect(await ids("paused=true")).toEqual([]);

    const page = await get("/api/v2/dags?limit=1&offset=1");
    expect(page.body.dags.map((d: { dag_id: string }) => d.dag_id)).toEqual(["nightly"]);
    expect(page.body.total_entries).toBe(2);

    const badOrder = await get("/api/v2/dags?order_by=password");
    expect(badOrder.status).toBe(400);
    expect(badOrder.body.detail).toBe("Ordering with 'password' is disallowed or the attribute does not exist on the model");
    const badLimit = await get("/api/v2/dags?limit=-1");
    expect(badLimit.status).toBe(422);
    expect(badLimit.body.detail[0]).toMatchObject({ loc: ["query", "limit"], type: "greater_than_equal" });
  });

  it("gets one DAG with every DAGResponse field", async () => {
    const res = await get("/api/v2/dags/api_etl");
    expect(res.status).toBe(200);
    expect(schemaProblems(res.body, "DAGResponse")).toEqual([]);
    expect(res.body).toMatchObject({
      dag_id: "api_etl",
      dag_display_name: "api_etl",
      is_paused: false,
      is_stale: false,
      description: "ETL over REST",
      bundle_name: "dags-folder",
      relative_fileloc: "api_etl.ts",
      has_import_errors: false,
      tags: [
        { name: "api", dag_id: "api_etl", dag_display_name: "api_etl" },
        { name: "etl", dag_id: "api_etl", dag_display_name: "api_etl" },
      ],
    });
    expect(Buffer.from(res.body.file_token, "base64url").toString()).toBe(res.body.fileloc);

    const nightly = await get("/api/v2/dags/nightly");
    expect(nightly.body.timetable_summary).toBe("@daily");
    expect(nightly.body.next_dagrun_logical_date).toBe("2999-01-01T00:00:00.000Z");
  });

  it("lists import errors and gets one", async () => {
    const list = await get("/api/v2/importErrors");
    expect(list.status).toBe(200);
    expect(schemaProblems(list.body, "ImportErrorCollectionResponse")).toEqual([]);
    expect(list.body.total_entries).toBe(1);
    const [error] = list.body.import_errors;
    expect(error.filename).toMatch(/broken\.ts$/);
    expect(error.stack_trace).toContain("twice");
    expect(error.bundle_name).toBe("dags-folder");

    const one = await get(`/api/v2/importErrors/${error.import_error_id}`);
    expect(one.status).toBe(200);
    expect(schemaProblems(one.body, "ImportErrorResponse")).toEqual([]);
    expect(one.body).toEqual(error);

    const missing = await get(`/api/v2/importErrors/${error.import_error_id + 1000}`);
    expect(missing.status).toBe(404);
    expect(missing.body.detail).toBe(`The ImportError with import_error_id: \`${error.import_error_id + 1000}\` was not found`);
    const notANumber = await get("/api/v2/importErrors/abc");
    expect(notANumber.status).toBe(422);
    expect(notANumber.body.detail[0]).toMatchObject({ loc: ["path", "import_error_id"], type: "int_parsing", input: "abc" });
  });

  it("runs a DAG triggered over REST with conf to success, and serves its run, task instances and logs", async () => {
    const trigger = await request(app)
      .post("/api/v2/dags/api_etl/dagRuns")
      .set(bearer(operator))
      .send({ dag_run_id: "rest_run_1", logical_date: "2024-03-01T00:00:00Z", conf: { city: "Oslo" }, note: "from the test" });
    expect(trigger.status).toBe(200);
    expect(schemaProblems(trigger.body, "DAGRunResponse")).toEqual([]);
    expect(trigger.body).toMatchObject({
      dag_run_id: "rest_run_1",
      dag_id: "api_etl",
      logical_date: "2024-03-01T00:00:00.000Z",
      data_interval_start: "2024-03-01T00:00:00.000Z",
      data_interval_end: "2024-03-01T00:00:00.000Z",
      run_after: "2024-03-01T00:00:00.000Z",
      run_type: "manual",
      triggered_by: "rest_api",
      triggering_user_name: "operator_user",
      conf: { city: "Oslo" },
      note: "from the test",
      dag_display_name: "api_etl",
    });
    expect(trigger.body.dag_versions).toHaveLength(1);
    expect(trigger.body.dag_versions[0]).toMatchObject({ version_number: 1, dag_id: "api_etl", bundle_name: "dags-folder" });

    const run = await waitForRunState("api_etl", "rest_run_1", ["success", "failed"]);
    expect(run.state).toBe("success");
    expect(schemaProblems(run, "DAGRunResponse")).toEqual([]);
    expect(run.duration).toBeGreaterThanOrEqual(0);
    expect(Date.parse(run.end_date as string)).toBeGreaterThanOrEqual(Date.parse(run.start_date as string));

    const tis = await get("/api/v2/dags/api_etl/dagRuns/rest_run_1/taskInstances");
    expect(tis.status).toBe(200);
    expect(schemaProblems(tis.body, "TaskInstanceCollectionResponse")).toEqual([]);
    expect(tis.body.total_entries).toBe(3);
    const byTask = Object.fromEntries(tis.body.task_instances.map((t: { task_id: string }) => [t.task_id, t]));
    expect(Object.keys(byTask).sort()).toEqual(["extract", "load", "report"]);
    for (const ti of Object.values(byTask) as Record<string, unknown>[]) {
      expect(ti).toMatchObject({ state: "success", try_number: 1, map_index: -1, dag_run_id: "rest_run_1", logical_date: "2024-03-01T00:00:00.000Z", executor: null, executor_config: "{}", rendered_map_index: null, trigger: null, triggerer_job: null });
      expect(ti.dag_version).toEqual(trigger.body.dag_versions[0]);
    }
    expect(byTask.report.operator).toBe("BashOperator");

    const one = await get("/api/v2/dags/api_etl/dagRuns/rest_run_1/taskInstances/extract");
    expect(one.status).toBe(200);
    expect(schemaProblems(one.body, "TaskInstanceResponse")).toEqual([]);
    expect(one.body).toEqual(byTask.extract);

    const filtered = await get("/api/v2/dags/api_etl/dagRuns/rest_run_1/taskInstances?task_id=load");
    expect(filtered.body.task_instances.map((t: { task_id: string }) => t.task_id)).toEqual(["load"]);
    const none = await get("/api/v2/dags/api_etl/dagRuns/rest_run_1/taskInstances?state=failed&state=none");
    expect(none.body).toEqual({ task_instances: [], total_entries: 0 });

    const logs = await get("/api/v2/dags/api_etl/dagRuns/rest_run_1/taskInstances/extract/logs/1");
    expect(logs.status).toBe(200);
    expect(schemaProblems(logs.body, "TaskInstancesLogResponse")).toEqual([]);
    expect(logs.body.continuation_token).toBeNull();
    expect(logs.body.content).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ event: "extracting for Oslo", level: "info" }),
        expect.objectContaining({ event: "careful with Oslo", level: "warning" }),
      ]),
    );
    const loadLogs = await get("/api/v2/dags/api_etl/dagRuns/rest_run_1/taskInstances/load/logs/1");
    expect(loadLogs.body.content.map((m: { event: string }) => m.event)).toContain("loaded 3 rows for Oslo");

    const ndjson = await get("/api/v2/dags/api_etl/dagRuns/rest_run_1/taskInstances/extract/logs/1").set("Accept", "application/x-ndjson");
    expect(ndjson.status).toBe(200);
    expect(ndjson.headers["content-type"]).toMatch(/^application\/x-ndjson/);
    const lines = ndjson.text.trimEnd().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toEqual(logs.body.content);

    for (const badTry of ["2", "0"]) {
      const res = await get(`/api/v2/dags/api_etl/dagRuns/rest_run_1/taskInstances/extract/logs/${badTry}`);
      expect(res.status).toBe(404);
      expect(typeof res.body.detail).toBe("string");
    }
    const notATry = await get("/api/v2/dags/api_etl/dagRuns/rest_run_1/taskInstances/extract/logs/first");
    expect(notATry.status).toBe(422);
    expect(notATry.body.detail[0].loc).toEqual(["path", "try_number"]);
    const noTask = await get("/api/v2/dags/api_etl/dagRuns/rest_run_1/taskInstances/nope");
    expect(noTask.status).toBe(404);
    expect(noTask.body.detail).toBe("The Task Instance with dag_id: `api_etl`, run_id: `rest_run_1` and task_id: `nope` was not found");
  });

  it("lists runs per DAG and across DAGs with `~`, with filters", async () => {
    const second = await request(app).post("/api/v2/dags/api_etl/dagRuns").set(bearer(operator)).send({ logical_date: null, conf: { city: "Lima" } });
    expect(second.status).toBe(200);
    expect(second.body.logical_date).toBeNull();
    expect(second.body.data_interval_start).toBeNull();
    expect(second.body.dag_run_id).toMatch(/^manual__/);
    await waitForRunState("api_etl", second.body.dag_run_id, ["success"]);

    const list = await get("/api/v2/dags/api_etl/dagRuns");
    expect(list.status).toBe(200);
    expect(schemaProblems(list.body, "DAGRunCollectionResponse")).toEqual([]);
    expect(list.body.dag_runs.map((r: { dag_run_id: string }) => r.dag_run_id)).toEqual(["rest_run_1", second.body.dag_run_id]);

    const runIds = async (path: string) => (await get(path)).body.dag_runs.map((r: { dag_run_id: string }) => r.dag_run_id);
    expect(await runIds("/api/v2/dags/api_etl/dagRuns?order_by=-id")).toEqual([second.body.dag_run_id, "rest_run_1"]);
    expect(await runIds("/api/v2/dags/~/dagRuns?logical_date_gte=2024-02-01&logical_date_lte=2024-03-02T00:00:00Z")).toEqual(["rest_run_1"]);
    expect(await runIds("/api/v2/dags/~/dagRuns?state=queued&state=running")).toEqual([]);
    expect(await runIds("/api/v2/dags/~/dagRuns?state=success&limit=1")).toEqual(["rest_run_1"]);
    expect((await get("/api/v2/dags/~/dagRuns?state=success&limit=1")).body.total_entries).toBe(2);

    const badState = await get("/api/v2/dags/api_etl/dagRuns?state=done");
    expect(badState.status).toBe(422);
    expect(badState.body.detail[0]).toMatchObject({ loc: ["query", "state", 0], type: "enum", input: "done" });
    const badDate = await get("/api/v2/dags/api_etl/dagRuns?logical_date_gte=yesterday");
    expect(badDate.status).toBe(422);
    expect(badDate.body.detail[0]).toMatchObject({ loc: ["query", "logical_date_gte"], input: "yesterday" });
    const unknownDag = await get("/api/v2/dags/nope/dagRuns");
    expect(unknownDag.status).toBe(404);
    expect(unknownDag.body.detail).toBe("The Dag with ID: `nope` was not found");

    const everyExtract = await get("/api/v2/dags/~/dagRuns/~/taskInstances?task_id=extract");
    expect(everyExtract.status).toBe(200);
    expect(everyExtract.body.total_entries).toBe(2);
    expect(everyExtract.body.task_instances.map((t: { dag_run_id: string }) => t.dag_run_id).sort()).toEqual([second.body.dag_run_id, "rest_run_1"].sort());
  });

  it("pauses a DAG: runs triggered meanwhile wait queued, and start when it is unpaused", async () => {
    const pause = await request(app).patch("/api/v2/dags/api_etl").set(bearer(operator)).send({ is_paused: true });
    expect(pause.status).toBe(200);
    expect(schemaProblems(pause.body, "DAGResponse")).toEqual([]);
    expect(pause.body.is_paused).toBe(true);
    expect((await get("/api/v2/dags?paused=true")).body.dags.map((d: { dag_id: string }) => d.dag_id)).toEqual(["api_etl"]);

    const trigger = await request(app).post("/api/v2/dags/api_etl/dagRuns").set(bearer(operator)).send({ dag_run_id: "while_paused", logical_date: null });
    expect(trigger.status).toBe(200);
    expect(trigger.body.state).toBe("queued");
    // Give a worker the chance to do something it must not do.
    await new Promise((r) => setTimeout(r, 300));
    expect((await get("/api/v2/dags/api_etl/dagRuns/while_paused")).body.state).toBe("queued");
    expect((await get("/api/v2/dags/api_etl/dagRuns/while_paused/taskInstances")).body.total_entries).toBe(0);

    const onlyOtherFields = await request(app).patch("/api/v2/dags/api_etl?update_mask=description").set(bearer(operator)).send({ is_paused: false });
    expect(onlyOtherFields.status).toBe(400);
    expect(onlyOtherFields.body.detail).toBe("Only `is_paused` field can be updated through the REST API");
    const byViewer = await request(app).patch("/api/v2/dags/api_etl").set(bearer(viewer)).send({ is_paused: false });
    expect(byViewer.status).toBe(403);
    expect((await get("/api/v2/dags/api_etl")).body.is_paused).toBe(true);

    const unpause = await request(app).patch("/api/v2/dags/api_etl?update_mask=is_paused").set(bearer(operator)).send({ is_paused: false });
    expect(unpause.status).toBe(200);
    expect(unpause.body.is_paused).toBe(false);
    const run = await waitForRunState("api_etl", "while_paused", ["success", "failed"]);
    expect(run.state).toBe("success");

    const unknown = await request(app).patch("/api/v2/dags/nope").set(bearer(operator)).send({ is_paused: true });
    expect(unknown.status).toBe(404);
    expect(unknown.body.detail).toBe("The Dag with ID: `nope` was not found");
  });

  it("flags a DAG whose file currently fails to import", async () => {
    const { fileloc } = (await get("/api/v2/dags/api_etl")).body as { fileloc: string };
    await recordImportError(db.store.db, fileloc, "SyntaxError: Unexpected token", 3);
    try {
      expect((await get("/api/v2/dags/api_etl")).body.has_import_errors).toBe(true);
      expect((await get("/api/v2/dags/nightly")).body.has_import_errors).toBe(false);
      const files = async (order: string) => (await get(`/api/v2/importErrors?order_by=${order}`)).body.import_errors.map((e: { filename: string }) => e.filename);
      const ascending = await files("filename");
      expect(ascending).toHaveLength(2);
      expect(ascending[0]).toBe(fileloc);
      expect(ascending[1]).toMatch(/broken\.ts$/);
      expect(await files("-filename")).toEqual([...ascending].reverse());
    } finally {
      await db.store.db.deleteFrom("import_errors").where("filename", "=", fileloc).execute();
    }
    expect((await get("/api/v2/dags/api_etl")).body.has_import_errors).toBe(false);
  });
});
