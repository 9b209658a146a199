// Contract test against Airflow's REST API v2 (../shared/airflow-api/v2-core.yaml and auth.yaml):
// every operation of the YAML — walked programmatically, so a path added to the contract cannot be
// forgotten — gets a happy-path request and an error request against a running engine, and each
// response's status must be one the operation declares and its body must validate (ajv, JSON
// Schema 2020-12) against the schema declared for that status. Object schemas are closed
// (additionalProperties: false) so that a field Airflow does not have is caught too.
import fs from "node:fs";
import path from "node:path";
import request from "supertest";
import type { Express } from "express";
import YAML from "yaml";
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backends, createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { dagsFolderWith, startEngine, waitFor, type TestEngine } from "../helpers/engine.js";
import { ROOT } from "../helpers/paths.js";
import { bearer, loginAs, testApp } from "./helpers.js";

type Json = Record<string, unknown>;
type Role = "viewer" | "operator" | "admin";

interface Spec {
  paths: Record<string, Record<string, { operationId: string; responses: Record<string, { content?: Record<string, { schema: Json }> }> }>>;
  components: { schemas: Record<string, Json> };
}

const CONTRACT = path.resolve(ROOT, "../shared/airflow-api");
const core = YAML.parse(fs.readFileSync(path.join(CONTRACT, "v2-core.yaml"), "utf8")) as Spec;
const auth = YAML.parse(fs.readFileSync(path.join(CONTRACT, "auth.yaml"), "utf8")) as Spec;

/**
 * Operations that have no case yet, with the reason (e.g. a route another piece of work has not
 * mounted yet). Printed by the test so that they stay visible. Empty: every operation has a case.
 */
const PENDING: Record<string, string> = {};

/** pydantic's ValidationError carries `input` and `ctx` beyond FastAPI's schema; log messages are open by design. */
const OPEN = new Set(["ValidationError", "StructuredLogMessage"]);

function closed(schemas: Record<string, Json>): Record<string, Json> {
  const close = (node: unknown, name?: string): unknown => {
    if (Array.isArray(node)) return node.map((n) => close(n));
    if (!node || typeof node !== "object") return node;
    const out: Json = Object.fromEntries(Object.entries(node).map(([k, v]) => [k, k === "properties" ? Object.fromEntries(Object.entries(v as Json).map(([p, s]) => [p, close(s)])) : close(v)]));
    if (out.type === "object" && out.properties && !("additionalProperties" in out) && !OPEN.has(name ?? "")) out.additionalProperties = false;
    return out;
  };
  return Object.fromEntries(Object.entries(schemas).map(([name, s]) => [name, close(s, name) as Json]));
}

const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats.default(ajv);
ajv.addSchema({ $id: "core", components: { schemas: closed(core.components.schemas) } });
ajv.addSchema({ $id: "auth", components: { schemas: closed(auth.components.schemas) } });

interface Operation {
  id: string;
  method: string;
  path: string;
  responses: Spec["paths"][string][string]["responses"];
  doc: "core" | "auth";
}

const operations: Operation[] = [core, auth].flatMap((spec) =>
  Object.entries(spec.paths).flatMap(([p, methods]) =>
    Object.entries(methods).map(([method, op]) => ({ id: op.operationId, method, path: p, responses: op.responses, doc: spec === core ? ("core" as const) : ("auth" as const) })),
  ),
);

const validators = new Map<string, ValidateFunction>();
function validatorFor(op: Operation, status: number): ValidateFunction | null {
  const declared = op.responses[String(status)];
  if (!declared) throw new Error(`${op.id}: status ${status} is not declared by the contract (declared: ${Object.keys(op.responses).join(", ")})`);
  const schema = declared.content?.["application/json"]?.schema;
  if (!schema) return null;
  const key = `${op.id} ${status}`;
  if (!validators.has(key)) {
    const rebased = JSON.parse(JSON.stringify(schema).replaceAll('"#/components', `"${op.doc}#/components`)) as Json;
    validators.set(key, ajv.compile(rebased));
  }
  return validators.get(key)!;
}

interface Call {
  method?: string;
  path: string;
  body?: unknown;
  /** Who calls; null for no token. Default: viewer for GET, operator otherwise. */
  as?: Role | null;
  status: number;
}

interface Case {
  happy: Call | null;
  error: Call | null;
  /** Why a side has no call. */
  why?: string;
}

const R = "/api/v2/dags/contract_etl/dagRuns/c_run";
const TI = `${R}/taskInstances`;
const T = "/api/v2/dags/contract_etl/dagRuns/c_trig";

/** In execution order: reads first, then writes, deletes last. */
const CASES: [string, (ctx: { backfillId: number; importErrorId: number }) => Case][] = [
  ["get_health", () => ({ happy: { path: "/api/v2/monitor/health", as: null, status: 200 }, error: null, why: "no input: nothing to get wrong" })],
  ["get_version", () => ({ happy: { path: "/api/v2/version", as: null, status: 200 }, error: null, why: "no input: nothing to get wrong" })],
  ["create_token", () => ({ happy: { method: "post", path: "/auth/token", body: { username: "viewer_user", password: "viewer-password" }, as: null, status: 201 }, error: { method: "post", path: "/auth/token", body: { username: "viewer_user", password: "nope" }, as: null, status: 401 } })],
  ["create_token_all_admins", () => ({ happy: null, error: { path: "/auth/token", as: null, status: 403 }, why: "Updraft has no all-admins mode: never 201" })],
  ["refresh", () => ({ happy: { path: "/api/v2/auth/refresh", status: 200 }, error: { path: "/api/v2/auth/refresh?next=/dags", as: null, status: 307 } })],
  ["get_dags", () => ({ happy: { path: "/api/v2/dags?order_by=-dag_id&tags=contract", status: 200 }, error: { path: "/api/v2/dags?limit=-1", status: 422 } })],
  ["get_dag", () => ({ happy: { path: "/api/v2/dags/contract_etl", status: 200 }, error: { path: "/api/v2/dags/nope", status: 404 } })],
  ["get_dag_details", () => ({ happy: { path: "/api/v2/dags/contract_etl/details", status: 200 }, error: { path: "/api/v2/dags/nope/details", status: 404 } })],
  ["get_tasks", () => ({ happy: { path: "/api/v2/dags/contract_etl/tasks", status: 200 }, error: { path: "/api/v2/dags/contract_etl/tasks?order_by=secret", status: 400 } })],
  ["get_task", () => ({ happy: { path: "/api/v2/dags/contract_etl/tasks/extract", status: 200 }, error: { path: "/api/v2/dags/contract_etl/tasks/nope", status: 404 } })],
  ["get_dag_source", () => ({ happy: { path: "/api/v2/dagSources/contract_etl", status: 200 }, error: { path: "/api/v2/dagSources/nope", status: 404 } })],
  ["get_dag_versions", () => ({ happy: { path: "/api/v2/dags/~/dagVersions", status: 200 }, error: { path: "/api/v2/dags/nope/dagVersions", status: 404 } })],
  ["get_import_errors", () => ({ happy: { path: "/api/v2/importErrors", status: 200 }, error: { path: "/api/v2/importErrors?limit=-1", status: 422 } })],
  ["get_import_error", (c) => ({ happy: { path: `/api/v2/importErrors/${c.importErrorId}`, status: 200 }, error: { path: "/api/v2/importErrors/999999", status: 404 } })],
  ["get_dag_runs", () => ({ happy: { path: "/api/v2/dags/~/dagRuns?order_by=-run_after", status: 200 }, error: { path: "/api/v2/dags/nope/dagRuns", status: 404 } })],
  ["get_dag_run", () => ({ happy: { path: R, status: 200 }, error: { path: "/api/v2/dags/contract_etl/dagRuns/nope", status: 404 } })],
  ["get_list_dag_runs_batch", () => ({ happy: { method: "post", path: "/api/v2/dags/~/dagRuns/list", body: { dag_ids: ["contract_etl"] }, status: 200 }, error: { method: "post", path: "/api/v2/dags/~/dagRuns/list", body: { page_limit: -1 }, status: 422 } })],
  ["get_task_instances", () => ({ happy: { path: `${TI}?order_by=-start_date`, status: 200 }, error: { path: "/api/v2/dags/contract_etl/dagRuns/nope/taskInstances", status: 404 } })],
  ["get_task_instances_batch", () => ({ happy: { method: "post", path: "/api/v2/dags/~/dagRuns/~/taskInstances/list", body: { state: ["success"] }, status: 200 }, error: { method: "post", path: "/api/v2/dags/~/dagRuns/~/taskInstances/list", body: { state: ["bogus"] }, status: 422 } })],
  ["get_task_instance", () => ({ happy: { path: `${TI}/extract`, status: 200 }, error: { path: `${TI}/nope`, status: 404 } })],
  ["get_mapped_task_instance", () => ({ happy: { path: `${TI}/extract/-1`, status: 200 }, error: { path: `${TI}/extract/5`, status: 404 } })],
  ["get_task_instance_tries", () => ({ happy: { path: `${TI}/extract/tries`, status: 200 }, error: { path: `${TI}/nope/tries`, status: 404 } })],
  ["get_log", () => ({ happy: { path: `${TI}/extract/logs/1`, status: 200 }, error: { path: `${TI}/extract/logs/99`, status: 404 } })],
  ["get_xcom_entries", () => ({ happy: { path: "/api/v2/dags/~/dagRuns/~/taskInstances/~/xcomEntries", status: 200 }, error: { path: `${TI}/extract/xcomEntries?limit=-1`, status: 422 } })],
  ["get_xcom_entry", () => ({ happy: { path: `${TI}/extract/xcomEntries/return_value`, status: 200 }, error: { path: `${TI}/extract/xcomEntries/nope`, status: 404 } })],
  ["create_xcom_entry", () => ({ happy: { method: "post", path: `${TI}/load/xcomEntries`, body: { key: "contract", value: { a: 1 } }, status: 201 }, error: { method: "post", path: `${TI}/load/xcomEntries`, body: { key: "contract" }, status: 422 } })],
  ["update_xcom_entry", () => ({ happy: { method: "patch", path: `${TI}/load/xcomEntries/contract`, body: { value: [2] }, status: 200 }, error: { method: "patch", path: `${TI}/load/xcomEntries/nope`, body: { value: 1 }, status: 404 } })],
  ["get_pools", () => ({ happy: { path: "/api/v2/pools", as: "admin", status: 200 }, error: { path: "/api/v2/pools?limit=-1", as: "admin", status: 422 } })],
  ["post_pool", () => ({ happy: { method: "post", path: "/api/v2/pools", body: { name: "c_pool", slots: 2 }, as: "admin", status: 201 }, error: { method: "post", path: "/api/v2/pools", body: { name: "c_pool" }, as: "admin", status: 422 } })],
  ["get_pool", () => ({ happy: { path: "/api/v2/pools/c_pool", as: "admin", status: 200 }, error: { path: "/api/v2/pools/nope", as: "admin", status: 404 } })],
  ["patch_pool", () => ({ happy: { method: "patch", path: "/api/v2/pools/c_pool", body: { pool: "c_pool", slots: 3 }, as: "admin", status: 200 }, error: { method: "patch", path: "/api/v2/pools/nope", body: { pool: "nope", slots: 3 }, as: "admin", status: 404 } })],
  ["bulk_pools", () => ({ happy: { method: "patch", path: "/api/v2/pools", body: { actions: [{ action: "create", entities: [{ name: "c_pool2", slots: 1 }] }] }, as: "admin", status: 200 }, error: { method: "patch", path: "/api/v2/pools", body: { actions: [{ action: "explode" }] }, as: "admin", status: 422 } })],
  ["delete_pool", () => ({ happy: { method: "delete", path: "/api/v2/pools/c_pool2", as: "admin", status: 204 }, error: { method: "delete", path: "/api/v2/pools/nope", as: "admin", status: 404 } })],
  ["get_variables", () => ({ happy: { path: "/api/v2/variables", as: "admin", status: 200 }, error: { path: "/api/v2/variables?limit=-1", as: "admin", status: 422 } })],
  ["post_variable", () => ({ happy: { method: "post", path: "/api/v2/variables", body: { key: "c_var", value: "v" }, as: "admin", status: 201 }, error: { method: "post", path: "/api/v2/variables", body: { value: "v" }, as: "admin", status: 422 } })],
  ["get_variable", () => ({ happy: { path: "/api/v2/variables/c_var", as: "admin", status: 200 }, error: { path: "/api/v2/variables/nope", as: "admin", status: 404 } })],
  ["patch_variable", () => ({ happy: { method: "patch", path: "/api/v2/variables/c_var", body: { key: "c_var", value: "w" }, as: "admin", status: 200 }, error: { method: "patch", path: "/api/v2/variables/nope", body: { key: "nope", value: "w" }, as: "admin", status: 404 } })],
  ["bulk_variables", () => ({ happy: { method: "patch", path: "/api/v2/variables", body: { actions: [{ action: "create", entities: [{ key: "c_var2", value: 1 }] }] }, as: "admin", status: 200 }, error: { method: "patch", path: "/api/v2/variables", body: { actions: "none" }, as: "admin", status: 422 } })],
  ["delete_variable", () => ({ happy: { method: "delete", path: "/api/v2/variables/c_var2", as: "admin", status: 204 }, error: { method: "delete", path: "/api/v2/variables/nope", as: "admin", status: 404 } })],
  ["get_connections", () => ({ happy: { path: "/api/v2/connections", as: "admin", status: 200 }, error: { path: "/api/v2/connections?limit=-1", as: "admin", status: 422 } })],
  ["post_connection", () => ({ happy: { method: "post", path: "/api/v2/connections", body: { connection_id: "c_conn", conn_type: "postgres", password: "pw" }, as: "admin", status: 201 }, error: { method: "post", path: "/api/v2/connections", body: { connection_id: "bad id!", conn_type: "x" }, as: "admin", status: 422 } })],
  ["get_connection", () => ({ happy: { path: "/api/v2/connections/c_conn", as: "admin", status: 200 }, error: { path: "/api/v2/connections/nope", as: "admin", status: 404 } })],
  ["patch_connection", () => ({ happy: { method: "patch", path: "/api/v2/connections/c_conn", body: { connection_id: "c_conn", conn_type: "postgres", host: "db" }, as: "admin", status: 200 }, error: { method: "patch", path: "/api/v2/connections/nope", body: { connection_id: "nope", conn_type: "x" }, as: "admin", status: 404 } })],
  ["bulk_connections", () => ({ happy: { method: "patch", path: "/api/v2/connections", body: { actions: [{ action: "create", entities: [{ connection_id: "c_conn2", conn_type: "http" }] }] }, as: "admin", status: 200 }, error: { method: "patch", path: "/api/v2/connections", body: {}, as: "admin", status: 422 } })],
  ["delete_connection", () => ({ happy: { method: "delete", path: "/api/v2/connections/c_conn", as: "admin", status: 204 }, error: { method: "delete", path: "/api/v2/connections/nope", as: "admin", status: 404 } })],
  ["patch_dags", () => ({ happy: { method: "patch", path: "/api/v2/dags?dag_id_pattern=contract_sched", body: { is_paused: true }, status: 200 }, error: { method: "patch", path: "/api/v2/dags", body: {}, status: 422 } })],
  ["patch_dag", () => ({ happy: { method: "patch", path: "/api/v2/dags/contract_sched", body: { is_paused: false }, status: 200 }, error: { method: "patch", path: "/api/v2/dags/contract_sched", body: { is_paused: "maybe" }, status: 422 } })],
  ["trigger_dag_run", () => ({ happy: { method: "post", path: "/api/v2/dags/contract_etl/dagRuns", body: { dag_run_id: "c_trig", logical_date: null, note: "contract" }, status: 200 }, error: { method: "post", path: "/api/v2/dags/contract_etl/dagRuns", body: { dag_run_id: "c_x" }, status: 422 } })],
  ["patch_dag_run", () => ({ happy: { method: "patch", path: R, body: { note: "checked" }, status: 200 }, error: { method: "patch", path: R, body: { state: "running" }, status: 422 } })],
  ["patch_task_instance", () => ({ happy: { method: "patch", path: `${TI}/transform`, body: { note: "looked at" }, status: 200 }, error: { method: "patch", path: `${TI}/transform`, body: { new_state: "running" }, status: 422 } })],
  ["patch_task_instance_by_map_index", () => ({ happy: { method: "patch", path: `${TI}/transform/-1`, body: { note: "again" }, status: 200 }, error: { method: "patch", path: `${TI}/transform/abc`, body: { note: "x" }, status: 422 } })],
  ["bulk_task_instances", () => ({ happy: { method: "patch", path: TI, body: { actions: [{ action: "update", entities: [{ task_id: "load", note: "bulk" }] }] }, status: 200 }, error: { method: "patch", path: TI, body: { actions: [{ action: "update" }] }, status: 422 } })],
  ["post_clear_task_instances", () => ({ happy: { method: "post", path: "/api/v2/dags/contract_etl/clearTaskInstances", body: { dry_run: true, only_failed: false }, status: 200 }, error: { method: "post", path: "/api/v2/dags/nope/clearTaskInstances", body: {}, status: 404 } })],
  ["clear_dag_run", () => ({ happy: { method: "post", path: `${R}/clear`, body: { dry_run: true }, status: 200 }, error: { method: "post", path: "/api/v2/dags/contract_etl/dagRuns/nope/clear", body: {}, status: 404 } })],
  ["list_backfills", () => ({ happy: { path: "/api/v2/backfills?dag_id=contract_sched", status: 200 }, error: { path: "/api/v2/backfills", status: 422 } })],
  ["create_backfill_dry_run", () => ({ happy: { method: "post", path: "/api/v2/backfills/dry_run", body: { dag_id: "contract_sched", from_date: "2024-01-01T00:00:00Z", to_date: "2024-01-03T00:00:00Z" }, status: 200 }, error: { method: "post", path: "/api/v2/backfills/dry_run", body: { dag_id: "contract_sched" }, status: 422 } })],
  ["create_backfill", () => ({ happy: { method: "post", path: "/api/v2/backfills", body: { dag_id: "contract_sched", from_date: "2024-01-01T00:00:00Z", to_date: "2024-01-05T00:00:00Z", max_active_runs: 1 }, status: 200 }, error: { method: "post", path: "/api/v2/backfills", body: { dag_id: "contract_sched", from_date: "yesterday", to_date: "2024-01-03T00:00:00Z" }, status: 422 } })],
  ["get_backfill", (c) => ({ happy: { path: `/api/v2/backfills/${c.backfillId}`, status: 200 }, error: { path: "/api/v2/backfills/999999", status: 404 } })],
  ["pause_backfill", (c) => ({ happy: { method: "put", path: `/api/v2/backfills/${c.backfillId}/pause`, status: 200 }, error: { method: "put", path: "/api/v2/backfills/999999/pause", status: 404 } })],
  ["unpause_backfill", (c) => ({ happy: { method: "put", path: `/api/v2/backfills/${c.backfillId}/unpause`, status: 200 }, error: { method: "put", path: "/api/v2/backfills/999999/unpause", status: 404 } })],
  ["cancel_backfill", (c) => ({ happy: { method: "put", path: `/api/v2/backfills/${c.backfillId}/cancel`, status: 200 }, error: { method: "put", path: "/api/v2/backfills/999999/cancel", status: 404 } })],
  ["delete_task_instance", () => ({ happy: { method: "delete", path: `${TI}/load`, status: 200 }, error: { method: "delete", path: `${TI}/load`, status: 404 } })],
  ["delete_dag_run", () => ({ happy: { method: "delete", path: T, status: 204 }, error: { method: "delete", path: T, status: 404 } })],
  ["delete_dag", () => ({ happy: { method: "delete", path: "/api/v2/dags/contract_doomed", status: 200 }, error: { method: "delete", path: "/api/v2/dags/contract_doomed", status: 404 } })],
];

const DAGS = {
  "contract_etl.ts": `
import { dag } from "updraft";
export default dag({ id: "contract_etl", tags: ["contract"], params: { city: { type: "string", default: "Oslo" } } }, (d) => {
  const extract = d.task("extract", (ctx) => { ctx.log.info("extracting"); return [1, 2]; });
  const transform = d.task("transform", [extract], (ctx, rows) => rows.length);
  d.shell("load", "echo loaded").after(transform);
});`,
  "contract_sched.ts": `
import { dag } from "updraft";
// Slow enough that a backfill is still running while the test pauses, unpauses and cancels it.
export default dag({ id: "contract_sched", schedule: "@daily", start: "2024-01-01", tags: ["contract"] }, (d) => {
  d.task("only", async () => { await new Promise((r) => setTimeout(r, 1500)); return 1; });
});`,
  "contract_doomed.ts": `
import { dag } from "updraft";
export default dag({ id: "contract_doomed", tags: ["contract"] }, (d) => { d.task("only", () => 1); });`,
  "contract_broken.ts": `import { dag } from "updraft"; export default dag({ id: "contract_broken" }, (d) => { d.task("a", () => 1); d.task("a", () => 2); });`,
};

describe.each(backends())("Airflow v2 contract on %s", (backend) => {
  let db: TestDatabase;
  let engine: TestEngine;
  let app: Express;
  const tokens = {} as Record<Role, string>;
  const ctx = { backfillId: 0, importErrorId: 0 };

  beforeAll(async () => {
    db = await createTestDatabase(backend);
    engine = await startEngine(db.store, { dagsFolder: dagsFolderWith(DAGS) });
    app = testApp(db.store);
    for (const role of ["viewer", "operator", "admin"] as const) tokens[role] = await loginAs(app, db.store, role);
    const trigger = await request(app).post("/api/v2/dags/contract_etl/dagRuns").set(bearer(tokens.operator)).send({ dag_run_id: "c_run", logical_date: "2024-01-01T00:00:00Z" });
    expect(trigger.status).toBe(200);
    await waitFor("c_run to succeed", async () => (await request(app).get(R).set(bearer(tokens.viewer))).body.state === "success");
    ctx.importErrorId = (await db.store.db.selectFrom("import_errors").select("id").executeTakeFirstOrThrow()).id;
  });
  afterAll(async () => {
    await engine?.stop();
    await db?.drop();
  });

  it("has a case, or a stated reason to wait, for every operation of the contract", () => {
    const covered = new Set(CASES.map(([id]) => id));
    const missing = operations.filter((op) => !covered.has(op.id) && !PENDING[op.id]).map((op) => `${op.method} ${op.path} (${op.id})`);
    expect(missing).toEqual([]);
    const unknown = [...covered].filter((id) => !operations.some((op) => op.id === id));
    expect(unknown).toEqual([]);
    for (const [id, why] of Object.entries(PENDING)) console.log(`contract: pending ${id} — ${why}`);
  });

  async function call(op: Operation, c: Call) {
    const method = c.method ?? op.method;
    const role = c.as === undefined ? (method === "get" ? "viewer" : "operator") : c.as;
    let req = request(app)[method as "get"](c.path);
    if (role) req = req.set(bearer(tokens[role]));
    const res = c.body === undefined ? await req : await req.send(c.body as object);
    expect(res.status, `${method} ${c.path}: ${JSON.stringify(res.body)}`).toBe(c.status);
    const validate = validatorFor(op, res.status);
    if (validate) {
      const body = res.status === 200 && res.text === "" ? null : res.body;
      const ok = validate(body);
      expect(ok ? [] : validate.errors, `${op.id} ${res.status} body ${JSON.stringify(body).slice(0, 500)}`).toEqual([]);
    }
    return res;
  }

  for (const [id, make] of CASES) {
    it(`${id}: happy path and error answer as the contract says`, async () => {
      const op = operations.find((o) => o.id === id);
      expect(op, `${id} is not in the contract`).toBeDefined();
      const c = make(ctx);
      if (c.happy) {
        const res = await call(op!, c.happy);
        if (id === "create_backfill") ctx.backfillId = res.body.id;
      }
      if (c.error) await call(op!, c.error);
      expect(c.happy || c.error, `${id} has no call at all`).toBeTruthy();
      if (!c.happy || !c.error) expect(c.why, `${id}: say why a side is missing`).toBeTruthy();
    });
  }
});
