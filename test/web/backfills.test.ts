// Backfills with Airflow 3 semantics over the REST API, on PGlite and PostgreSQL: the dry run lists
// exactly the dates created; reprocess_behavior on a history of success / failed / missing dates;
// a date whose run is in flight is never duplicated; one active backfill per DAG; pause, cancel;
// the scheduler owns it, so it resumes after a restart; bad input stores nothing.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import path from "node:path";
import request from "supertest";
import type { Express } from "express";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backends, createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { dagsFolderWith, startEngine, waitFor, type TestEngine } from "../helpers/engine.js";
import { ROOT } from "../helpers/paths.js";
import { schemaProblems } from "./airflowSchema.js";
import { bearer, loginAs, testApp } from "./helpers.js";

const dagFile = (id: string, schedule: string, sleepMs = 0) => `
import { dag } from "updraft";
export default dag({ id: "${id}", schedule: ${schedule}, start: "2024-01-01", end: "2024-03-01",
  params: { mult: { type: "integer", default: 1, minimum: 1 } } }, (d) => {
  d.task("work", async (ctx) => {
    await new Promise((r) => setTimeout(r, Number(ctx.conf.sleepMs ?? ${sleepMs})));
    if (ctx.conf.fail) throw new Error("asked to fail");
    return Number(ctx.params.mult) * 2;
  });
});`;

const DAGS = {
  "bf.ts": dagFile("bf", `"@daily"`),
  "bf_slow.ts": dagFile("bf_slow", `"@daily"`, 300),
  "bf_pause.ts": dagFile("bf_pause", `"@daily"`, 200),
  "bf_restart.ts": dagFile("bf_restart", `"@daily"`, 300),
  "manual_only.ts": dagFile("manual_only", "null"),
};

const day = (d: string) => `${d}T00:00:00.000Z`;

describe.each(backends())("backfills on %s", (backend) => {
  let db: TestDatabase;
  let engine: TestEngine;
  let folder: string;
  let app: Express;
  let operator: string;
  let viewer: string;

  beforeAll(async () => {
    db = await createTestDatabase(backend);
    folder = dagsFolderWith(DAGS);
    engine = await startEngine(db.store, { dagsFolder: folder, slots: 4 });
    app = testApp(db.store);
    operator = await loginAs(app, db.store, "operator");
    viewer = await loginAs(app, db.store, "viewer");
  });
  afterAll(async () => {
    await engine?.stop();
    await db?.drop();
  });

  const post = (p: string, body: unknown, token = operator) => request(app).post(p).set(bearer(token)).send(body as object);
  const get = (p: string) => request(app).get(p).set(bearer(viewer));
  const put = (p: string) => request(app).put(p).set(bearer(operator));
  const body = (dagId: string, from: string, to: string, extra: Record<string, unknown> = {}) => ({ dag_id: dagId, from_date: day(from), to_date: day(to), ...extra });

  const runsOf = (dagId: string) =>
    db.store.db.selectFrom("dag_runs").select(["id", "run_id", "run_type", "state", "logical_date", "conf", "backfill_id", "end_date", "triggered_by"]).where("dag_id", "=", dagId).orderBy("logical_date").orderBy("id").execute();
  const completed = (id: number) =>
    waitFor(`backfill ${id} to complete`, async () => {
      const res = await get(`/api/v2/backfills/${id}`);
      return res.body.completed_at ? res.body : null;
    }, 45_000);
  const counts = async () => {
    const [b, r] = await Promise.all([
      db.store.db.selectFrom("backfills").select(sql<number>`count(*)::int`.as("n")).executeTakeFirstOrThrow(),
      db.store.db.selectFrom("dag_runs").select(sql<number>`count(*)::int`.as("n")).executeTakeFirstOrThrow(),
    ]);
    return { backfills: b.n, runs: r.n };
  };

  it("runs exactly the dates its dry run lists, as backfill runs with the backfill's conf", async () => {
    const dry = await post("/api/v2/backfills/dry_run", body("bf", "2024-01-01", "2024-01-05", { dag_run_conf: { mult: 3 } }));
    expect(dry.status).toBe(200);
    expect(schemaProblems(dry.body, "DryRunBackfillCollectionResponse")).toEqual([]);
    expect(dry.body.backfills.map((b: { logical_date: string }) => b.logical_date)).toEqual(["01", "02", "03", "04", "05"].map((d) => day(`2024-01-${d}`)));
    expect(dry.body.total_entries).toBe(5);
    const backwards = await post("/api/v2/backfills/dry_run", body("bf", "2024-01-01", "2024-01-03", { run_backwards: true }));
    expect(backwards.body.backfills.map((b: { logical_date: string }) => b.logical_date)).toEqual([day("2024-01-03"), day("2024-01-02"), day("2024-01-01")]);
    expect(await counts()).toEqual({ backfills: 0, runs: 0 }); // a dry run stores nothing

    const created = await post("/api/v2/backfills", body("bf", "2024-01-01", "2024-01-05", { dag_run_conf: { mult: 3 }, max_active_runs: 2 }));
    expect(created.status).toBe(200);
    expect(schemaProblems(created.body, "BackfillResponse")).toEqual([]);
    expect(created.body).toMatchObject({ dag_id: "bf", reprocess_behavior: "none", max_active_runs: 2, is_paused: false, dag_run_conf: { mult: 3 }, completed_at: null });
    const done = await completed(created.body.id);
    expect(schemaProblems(done, "BackfillResponse")).toEqual([]);
    const runs = await runsOf("bf");
    expect(runs.map((r) => r.logical_date!.toISOString())).toEqual(dry.body.backfills.map((b: { logical_date: string }) => b.logical_date));
    for (const r of runs) {
      expect(r).toMatchObject({ run_type: "backfill", state: "success", triggered_by: "backfill", conf: { mult: 3 }, backfill_id: created.body.id });
      expect(r.run_id).toBe(`backfill__${r.logical_date!.toISOString().replace(".000Z", "+00:00")}`);
    }
    const xcom = await db.store.db.selectFrom("xcom").innerJoin("dag_runs", "dag_runs.id", "xcom.run_pk").select("xcom.value").where("dag_runs.dag_id", "=", "bf").execute();
    expect(xcom.map((x) => x.value)).toEqual([6, 6, 6, 6, 6]); // conf merged over the param defaults

    const list = await get("/api/v2/backfills?dag_id=bf");
    expect(list.status).toBe(200);
    expect(schemaProblems(list.body, "BackfillCollectionResponse")).toEqual([]);
    expect(list.body.backfills.map((b: { id: number }) => b.id)).toEqual([created.body.id]);
    // The run listing filters find them.
    const listed = await get(`/api/v2/dags/bf/dagRuns?run_type=backfill&logical_date_gte=2024-01-02&logical_date_lte=2024-01-04&order_by=-logical_date`);
    expect(listed.body.dag_runs.map((r: { logical_date: string }) => r.logical_date)).toEqual([day("2024-01-04"), day("2024-01-03"), day("2024-01-02")]);
    expect(listed.body.total_entries).toBe(3);
  });

  it("reprocess_behavior: none skips dates with a run, failed re-runs failed ones, completed re-runs both; in-flight dates never", async () => {
    // History: 10th succeeded, 11th failed, 12th has no run; 13th is running (in flight).
    const trigger = async (date: string, conf: Record<string, unknown>) => {
      const res = await post("/api/v2/dags/bf/dagRuns", { logical_date: day(date), conf });
      expect(res.status).toBe(200);
      return res.body.dag_run_id as string;
    };
    const ok = await trigger("2024-01-10", {});
    const bad = await trigger("2024-01-11", { fail: true });
    // In flight until the test marks it done.
    const slow = await trigger("2024-01-13", { sleepMs: 120_000 });
    const state = async (runId: string) => (await get(`/api/v2/dags/bf/dagRuns/${encodeURIComponent(runId)}`)).body.state;
    await waitFor("history", async () => (await state(ok)) === "success" && (await state(bad)) === "failed" && (await state(slow)) === "running");
    const okBefore = (await runsOf("bf")).find((r) => r.run_id === ok)!;

    const dates = async (behavior: string) =>
      (await post("/api/v2/backfills/dry_run", body("bf", "2024-01-10", "2024-01-13", { reprocess_behavior: behavior }))).body.backfills.map((b: { logical_date: string }) => b.logical_date.slice(0, 10));
    expect(await dates("none")).toEqual(["2024-01-12"]);
    expect(await dates("failed")).toEqual(["2024-01-11", "2024-01-12"]);
    expect(await dates("completed")).toEqual(["2024-01-10", "2024-01-11", "2024-01-12"]);

    const created = await post("/api/v2/backfills", body("bf", "2024-01-10", "2024-01-13", { reprocess_behavior: "failed" }));
    expect(created.status).toBe(200);
    await completed(created.body.id);
    expect(await state(slow)).toBe("running");
    const marked = await request(app).patch(`/api/v2/dags/bf/dagRuns/${encodeURIComponent(slow)}`).set(bearer(operator)).send({ state: "success" });
    expect(marked.status).toBe(200);
    const runs = (await runsOf("bf")).filter((r) => r.logical_date! >= new Date("2024-01-10"));
    // One run per date: the failed one was re-run in place, the missing one created, the others untouched.
    expect(runs.map((r) => [r.logical_date!.toISOString().slice(0, 10), r.run_id, r.state])).toEqual([
      ["2024-01-10", ok, "success"],
      ["2024-01-11", bad, "success"],
      ["2024-01-12", "backfill__2024-01-12T00:00:00+00:00", "success"],
      ["2024-01-13", slow, "success"],
    ]);
    expect(runs[0]!.end_date).toEqual(okBefore.end_date);
    expect(runs[0]!.backfill_id).toBeNull();
    expect(runs[1]!.backfill_id).toBe(created.body.id);
    // The re-run kept the failed try in its history: two tries of one TI.
    const tries = await db.store.db
      .selectFrom("task_instance_tries")
      .innerJoin("task_instances", "task_instances.id", "task_instance_tries.ti_id")
      .select(["task_instance_tries.try_number", "task_instance_tries.state"])
      .where("task_instances.run_pk", "=", runs[1]!.id)
      .orderBy("task_instance_tries.try_number")
      .execute();
    expect(tries).toEqual([{ try_number: 1, state: "failed" }, { try_number: 2, state: "success" }]);
  });

  it("one active backfill per DAG (409, nothing stored); cancel fails its queued runs and frees the DAG", async () => {
    const first = await post("/api/v2/backfills", body("bf_slow", "2024-02-01", "2024-02-06", { max_active_runs: 1 }));
    expect(first.status).toBe(200);
    const before = await counts();
    const second = await post("/api/v2/backfills", body("bf_slow", "2024-02-10", "2024-02-12"));
    expect(second.status).toBe(409);
    expect(second.body.detail).toBe("There is already a running backfill for dag bf_slow");
    expect(await counts()).toEqual(before);

    const cancelled = await put(`/api/v2/backfills/${first.body.id}/cancel`);
    expect(cancelled.status).toBe(200);
    expect(schemaProblems(cancelled.body, "BackfillResponse")).toEqual([]);
    expect(cancelled.body.completed_at).not.toBeNull();
    // The cancel failed the queued runs in its own transaction: what is not failed now had started
    // (max_active_runs 1: at most one running; how many finished before the cancel depends on
    // the machine's speed, each run's task sleeping 300 ms).
    const atCancel = await runsOf("bf_slow");
    expect(atCancel).toHaveLength(6);
    expect(atCancel.filter((r) => r.state === "queued")).toEqual([]);
    expect(atCancel.filter((r) => r.state === "running").length).toBeLessThanOrEqual(1);
    const started = atCancel.filter((r) => r.state !== "failed").map((r) => r.id);
    expect(started.length).toBeLessThanOrEqual(3);
    const runs = await waitFor("the running one to finish", async () => {
      const r = await runsOf("bf_slow");
      return r.every((x) => x.state === "success" || x.state === "failed") ? r : null;
    });
    // Only what had started ran, to success; every run still queued at the cancel failed.
    expect(runs.filter((r) => r.state === "success").map((r) => r.id)).toEqual(started);
    expect(runs.filter((r) => r.state === "failed").length).toBe(6 - started.length);
    const again = await post("/api/v2/backfills", body("bf_slow", "2024-02-10", "2024-02-11"));
    expect(again.status).toBe(200);
    await completed(again.body.id);
  });

  it("pause stops starting runs, unpause resumes", async () => {
    const created = await post("/api/v2/backfills", body("bf_pause", "2024-01-01", "2024-01-04", { max_active_runs: 1 }));
    const paused = await put(`/api/v2/backfills/${created.body.id}/pause`);
    expect(paused.status).toBe(200);
    expect(paused.body.is_paused).toBe(true);
    await waitFor("the started run to finish", async () => (await runsOf("bf_pause")).filter((r) => r.state === "success").length === 1);
    await new Promise((r) => setTimeout(r, 700));
    expect((await runsOf("bf_pause")).map((r) => r.state)).toEqual(["success", "queued", "queued", "queued"]);
    const unpaused = await put(`/api/v2/backfills/${created.body.id}/unpause`);
    expect(unpaused.body.is_paused).toBe(false);
    await completed(created.body.id);
    expect((await runsOf("bf_pause")).map((r) => r.state)).toEqual(["success", "success", "success", "success"]);
  });

  it("refuses bad input with Airflow's errors and stores nothing", async () => {
    const before = await counts();
    const cases: [string, unknown, number, (b: Record<string, unknown>) => void][] = [
      ["from after to", body("bf", "2024-01-05", "2024-01-01"), 422, (b) => expect(JSON.stringify(b.detail)).toContain("from_date must be before or equal to to_date")],
      ["unknown DAG", body("nope", "2024-01-01", "2024-01-02"), 404, (b) => expect(b.detail).toBe("Could not find dag nope")],
      ["conf violating params", body("bf", "2024-01-01", "2024-01-02", { dag_run_conf: { mult: 0 } }), 422, (b) => expect(b.detail).toEqual([expect.objectContaining({ loc: ["body", "dag_run_conf", "mult"], msg: "dag_run_conf.mult must be >= 1, got 0" })])],
      ["no schedule", body("manual_only", "2024-01-01", "2024-01-02"), 409, (b) => expect(b.detail).toContain("has no schedule")],
      ["unknown field", body("bf", "2024-01-01", "2024-01-02", { bogus: 1 }), 422, (b) => expect(b.detail).toEqual([expect.objectContaining({ type: "extra_forbidden", loc: ["body", "bogus"] })])],
      ["bad reprocess", body("bf", "2024-01-01", "2024-01-02", { reprocess_behavior: "all" }), 422, (b) => expect(b.detail).toEqual([expect.objectContaining({ loc: ["body", "reprocess_behavior"] })])],
      ["zero max_active_runs", body("bf", "2024-01-01", "2024-01-02", { max_active_runs: 0 }), 422, (b) => expect(b.detail).toEqual([expect.objectContaining({ loc: ["body", "max_active_runs"] })])],
      ["naive date", { dag_id: "bf", from_date: "2024-01-01T00:00:00", to_date: day("2024-01-02") }, 422, (b) => expect(b.detail).toEqual([expect.objectContaining({ loc: ["body", "from_date"] })])],
    ];
    for (const [name, payload, status, check] of cases) {
      for (const p of ["/api/v2/backfills", "/api/v2/backfills/dry_run"]) {
        const res = await post(p, payload);
        expect(res.status, `${name} (${p})`).toBe(status);
        check(res.body);
      }
    }
    expect((await post("/api/v2/backfills", body("bf", "2024-01-20", "2024-01-21"), viewer)).status).toBe(403);
    expect((await get("/api/v2/backfills")).status).toBe(422); // dag_id is required
    expect((await get("/api/v2/backfills?dag_id=nope")).status).toBe(404);
    expect((await get("/api/v2/backfills/999999")).status).toBe(404);
    expect((await put("/api/v2/backfills/999999/cancel")).status).toBe(404);
    expect((await get("/api/v2/backfills/abc")).status).toBe(422);
    expect(await counts()).toEqual(before);
  });

  it.skipIf(backend !== "postgres")("CLI: `updraft dags backfill --dry-run` lists the dates, then creates the backfill", async () => {
    const run = (...args: string[]) =>
      promisify(execFile)("node", [path.join(ROOT, "bin/updraft.js"), "dags", "backfill", ...args], { env: { ...process.env, DATABASE_URL: db.url, UPDRAFT_LOG_LEVEL: "error" }, cwd: ROOT });
    const dry = await run("bf", "--from", "2024-02-20", "--to", "2024-02-22", "--dry-run");
    expect(dry.stdout).toContain("3 runs would be created for bf:");
    expect(dry.stdout).toContain("2024-02-21T00:00:00.000Z");
    const created = await run("bf", "--from", "2024-02-20", "--to", "2024-02-22", "--reprocess", "failed");
    expect(created.stdout).toMatch(/backfill \d+ of bf: 3 runs/);
    expect(created.stdout).toContain("backfill finished: 3 succeeded, 0 failed");
    const bad = await run("bf", "--from", "2024-02-22", "--to", "2024-02-20").catch((err: { code: number; stderr: string }) => err);
    expect((bad as { code: number }).code).toBe(2);
    expect((bad as { stderr: string }).stderr).toContain("from_date must be before or equal to to_date");
  }, 60_000);

  it("is owned by the scheduler: stopping the engine mid-backfill and starting a new one finishes it", async () => {
    const created = await post("/api/v2/backfills", body("bf_restart", "2024-01-01", "2024-01-05", { max_active_runs: 1 }));
    await waitFor("the first run to succeed", async () => (await runsOf("bf_restart")).some((r) => r.state === "success"));
    await engine.stop();
    const midway = await runsOf("bf_restart");
    expect(midway.filter((r) => r.state === "queued").length).toBeGreaterThan(0);
    engine = await startEngine(db.store, { dagsFolder: folder, slots: 4, heartbeatTimeoutMs: 2_000 });
    await completed(created.body.id);
    expect((await runsOf("bf_restart")).map((r) => r.state)).toEqual(["success", "success", "success", "success", "success"]);
  });
});
