// The audit log, on PGlite and PostgreSQL: each successful state-changing call and login is stored
// before its answer — who, what, when — and admins (only) read it at /api/v2/eventLogs in the shape
// the OpenAPI document declares; refused and invalid calls, reads and dry runs are not recorded.
import request from "supertest";
import type { Express } from "express";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildOpenApiDocument } from "../../web/server/openapi/document.js";
import { backends, createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { dagsFolderWith, startEngine, type TestEngine } from "../helpers/engine.js";
import { bearer, loginAs, testApp } from "./helpers.js";

const DAGS = { "audited.ts": `import { dag } from "updraft"; export default dag({ id: "audited" }, (d) => { d.task("t", () => 1); });` };

interface EventLog {
  event_log_id: number;
  event: string;
  owner: string | null;
  dag_id: string | null;
  run_id: string | null;
  task_id: string | null;
  extra: string;
  when: string;
}

describe.each(backends())("audit log on %s", (backend) => {
  let db: TestDatabase;
  let engine: TestEngine;
  let app: Express;
  let viewer: string;
  let operator: string;
  let admin: string;

  beforeAll(async () => {
    db = await createTestDatabase(backend);
    engine = await startEngine(db.store, { dagsFolder: dagsFolderWith(DAGS), worker: false });
    app = testApp(db.store);
    viewer = await loginAs(app, db.store, "viewer");
    operator = await loginAs(app, db.store, "operator");
    admin = await loginAs(app, db.store, "admin");
  });
  afterAll(async () => {
    await engine?.stop();
    await db?.drop();
  });

  const logs = async (query = "") => {
    const res = await request(app).get(`/api/v2/eventLogs${query}`).set(bearer(admin));
    expect(res.status).toBe(200);
    return res.body as { event_logs: EventLog[]; total_entries: number };
  };

  it("records who did what and when, before answering", async () => {
    const before = Date.now();
    const trigger = await request(app).post("/api/v2/dags/audited/dagRuns").set(bearer(operator)).send({ dag_run_id: "audit_1", logical_date: null });
    expect(trigger.status).toBe(200);
    // Read right after the answer: the row was written before it.
    const [last] = (await logs("?order_by=-id&limit=1")).event_logs;
    expect(last).toMatchObject({ event: "trigger_dag_run", owner: "operator_user", dag_id: "audited", run_id: "audit_1", task_id: null });
    expect(JSON.parse(last!.extra)).toMatchObject({ method: "POST", path: "/api/v2/dags/audited/dagRuns", status: 200, role: "operator" });
    expect(Date.parse(last!.when)).toBeGreaterThanOrEqual(before - 5_000);

    await request(app).patch("/api/v2/dags/audited").set(bearer(operator)).send({ is_paused: true }).expect(200);
    await request(app).patch("/api/v2/dags/audited/dagRuns/audit_1/taskInstances/t").set(bearer(operator)).send({ new_state: "success" }).expect(200);
    const mine = await logs("?dag_id=audited&order_by=id");
    expect(mine.event_logs.map((e) => e.event)).toEqual(["trigger_dag_run", "patch_dag", "patch_task_instance"]);
    expect(mine.event_logs[2]).toMatchObject({ task_id: "t", run_id: "audit_1" });
    expect((await logs("?owner=operator_user&event=patch_dag")).total_entries).toBe(1);
  });

  it("records logins with the username, never the password", async () => {
    const logins = await logs("?event=create_token");
    expect(logins.event_logs.map((e) => e.owner)).toEqual(expect.arrayContaining(["viewer_user", "operator_user", "admin_user"]));
    expect(JSON.stringify(logins)).not.toMatch(/-password/);
  });

  it("does not record refused or invalid calls, reads or dry runs", async () => {
    const { total_entries: before } = await logs();
    await request(app).patch("/api/v2/dags/audited").set(bearer(viewer)).send({ is_paused: false }).expect(403);
    await request(app).patch("/api/v2/dags/audited").set(bearer(operator)).send({ is_paused: "no" }).expect(422);
    await request(app).post("/api/v2/dags/nope/dagRuns").set(bearer(operator)).send({ logical_date: null }).expect(404);
    await request(app).post("/auth/token").send({ username: "operator_user", password: "wrong" }).expect(401);
    await request(app).get("/api/v2/dags").set(bearer(operator)).expect(200);
    await request(app).post("/api/v2/dags/~/dagRuns/list").set(bearer(viewer)).send({}).expect(200);
    await request(app).post("/api/v2/dags/audited/clearTaskInstances").set(bearer(operator)).send({ only_failed: false }).expect(200);
    expect((await logs()).total_entries).toBe(before);
  });

  it("serves admins only, in the documented shape", async () => {
    expect((await request(app).get("/api/v2/eventLogs").set(bearer(operator))).status).toBe(403);
    expect((await request(app).get("/api/v2/eventLogs").set(bearer(viewer))).status).toBe(403);
    const doc = buildOpenApiDocument("test");
    const ajv = new Ajv2020({ strict: false });
    addFormats.default(ajv);
    const validate = ajv.compile(doc.components.schemas.EventLogCollectionResponse as object);
    const body = await logs("?limit=3&offset=1");
    expect(body.event_logs).toHaveLength(3);
    expect(validate(body) ? [] : validate.errors).toEqual([]);
    const one = await request(app).get(`/api/v2/eventLogs/${body.event_logs[0]!.event_log_id}`).set(bearer(admin));
    expect(one.body).toEqual(body.event_logs[0]);
    expect((await request(app).get("/api/v2/eventLogs/99999999").set(bearer(admin))).status).toBe(404);
    expect((await request(app).get("/api/v2/eventLogs?order_by=password").set(bearer(admin))).status).toBe(400);
  });
});
