// Runs over REST, on PGlite and PostgreSQL: PATCH (mark success / failed, note), DELETE, clear (dry
// run by default, then a real clear that keeps the tries), conf validated against params, DAG
// details with params, DAG versions and sources, a run pinned to its version while the file
// changes, and depends_on_past.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import request from "supertest";
import type { Express } from "express";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backends, createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { dagsFolderWith, startEngine, waitFor, type TestEngine } from "../helpers/engine.js";
import { schemaProblems } from "./airflowSchema.js";
import { bearer, loginAs, testApp } from "./helpers.js";

const flags = fs.mkdtempSync(path.join(os.tmpdir(), "updraft-flags-"));
const flag = (name: string) => path.join(flags, name);

const VERSIONED = (label: string) => `
import fs from "node:fs";
import { dag } from "updraft";
export default dag({ id: "versioned" }, (d) => {
  const gate = d.task("gate", async () => { while (!fs.existsSync(${JSON.stringify(flag("gate"))})) await new Promise((r) => setTimeout(r, 20)); return 1; });
  d.task("label", [gate], () => "${label}");
});`;

const DAGS = {
  "chain.ts": `
import { dag } from "updraft";
export default dag({ id: "chain", params: { city: { type: "string", default: "Seattle", description: "where" }, n: { type: "integer", minimum: 1, default: 1 }, mode: { enum: ["fast", "full"], default: "fast" } } }, (d) => {
  const a = d.task("a", () => 1);
  const b = d.task("b", [a], (ctx) => { if (ctx.conf.fail) throw new Error("asked to fail"); return 2; });
  d.task("c", [b], (ctx) => ctx.params);
});`,
  "sleepy.ts": `
import { dag } from "updraft";
export default dag({ id: "sleepy" }, (d) => {
  const nap = d.task("nap", async (ctx) => { await new Promise((r) => setTimeout(r, 4000)); return 1; });
  d.task("after", [nap], () => 2);
});`,
  "versioned.ts": VERSIONED("v1"),
  "dop.ts": `
import fs from "node:fs";
import { dag } from "updraft";
export default dag({ id: "dop", defaults: { dependsOnPast: true } }, (d) => {
  const a = d.task("a", () => { if (fs.existsSync(${JSON.stringify(flag("fail_a"))})) throw new Error("a fails"); return 1; });
  d.task("b", [a], () => { if (fs.existsSync(${JSON.stringify(flag("fail_b"))})) throw new Error("b fails"); return 2; });
});`,
};

describe.each(backends())("runs over REST on %s", (backend) => {
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

  const enc = encodeURIComponent;
  const get = (p: string) => request(app).get(p).set(bearer(viewer));
  const trigger = async (dagId: string, body: Record<string, unknown>) => {
    const res = await request(app).post(`/api/v2/dags/${dagId}/dagRuns`).set(bearer(operator)).send({ logical_date: null, ...body });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body as { dag_run_id: string; state: string };
  };
  const runState = async (dagId: string, runId: string) => (await get(`/api/v2/dags/${dagId}/dagRuns/${enc(runId)}`)).body.state as string;
  const waitState = (dagId: string, runId: string, states: string[]) => waitFor(`${runId} in ${states}`, async () => states.includes(await runState(dagId, runId)));
  const tis = async (dagId: string, runId: string) => {
    const res = await get(`/api/v2/dags/${dagId}/dagRuns/${enc(runId)}/taskInstances?order_by=task_id`);
    return Object.fromEntries((res.body.task_instances as { task_id: string; state: string | null; try_number: number }[]).map((t) => [t.task_id, t]));
  };

  it("validates conf against params (422 naming the field, nothing stored) and merges it over the defaults", async () => {
    const before = await db.store.db.selectFrom("dag_runs").select(sql<number>`count(*)::int`.as("n")).executeTakeFirstOrThrow();
    for (const [conf, loc, msg] of [
      [{ n: 0 }, ["body", "conf", "n"], "conf.n must be >= 1, got 0"],
      [{ n: "2" }, ["body", "conf", "n"], 'conf.n must be of type integer, got "2"'],
      [{ mode: "slow" }, ["body", "conf", "mode"], 'conf.mode must be one of "fast", "full", got "slow"'],
    ] as const) {
      const res = await request(app).post("/api/v2/dags/chain/dagRuns").set(bearer(operator)).send({ logical_date: null, conf });
      expect(res.status).toBe(422);
      expect(res.body.detail).toEqual([expect.objectContaining({ loc, msg })]);
    }
    const after = await db.store.db.selectFrom("dag_runs").select(sql<number>`count(*)::int`.as("n")).executeTakeFirstOrThrow();
    expect(after.n).toBe(before.n);
    const run = await trigger("chain", { conf: { n: 5, extra: true } });
    await waitState("chain", run.dag_run_id, ["success"]);
    const xcom = await get(`/api/v2/dags/chain/dagRuns/${enc(run.dag_run_id)}/taskInstances/c`);
    expect(xcom.status).toBe(200);
    const value = await db.store.db.selectFrom("xcom").innerJoin("dag_runs", "dag_runs.id", "xcom.run_pk").select("xcom.value").where("dag_runs.run_id", "=", run.dag_run_id).where("xcom.task_id", "=", "c").executeTakeFirstOrThrow();
    expect(value.value).toEqual({ city: "Seattle", n: 5, mode: "fast", extra: true });
  });

  it("GET /dags/{id}/details gives the DAG with its params for the trigger form", async () => {
    const res = await get("/api/v2/dags/chain/details");
    expect(res.status).toBe(200);
    expect(schemaProblems(res.body, "DAGDetailsResponse")).toEqual([]);
    expect(res.body.params.city).toEqual({ __class: "airflow.sdk.definitions.param.Param", value: "Seattle", description: "where", schema: { type: "string" } });
    expect(res.body.params.n.schema).toEqual({ type: "integer", minimum: 1 });
    expect(res.body).toMatchObject({ catchup: false, timezone: "UTC", concurrency: 16, latest_dag_version: { version_number: 1, dag_id: "chain" } });
    expect((await get("/api/v2/dags/nope/details")).status).toBe(404);
  });

  it("clear: a dry run (the default) lists the TIs and changes nothing; a real clear re-runs them, keeping the tries", async () => {
    const run = await trigger("chain", { conf: { fail: true } });
    await waitState("chain", run.dag_run_id, ["failed"]);
    const path = `/api/v2/dags/chain/dagRuns/${enc(run.dag_run_id)}/clear`;
    const dry = await request(app).post(path).set(bearer(operator)).send({});
    expect(dry.status).toBe(200);
    expect(schemaProblems(dry.body, "TaskInstanceCollectionResponse")).toEqual([]);
    expect(dry.body.task_instances.map((t: { task_id: string }) => t.task_id)).toEqual(["a", "b", "c"]);
    const onlyFailed = await request(app).post(path).set(bearer(operator)).send({ only_failed: true });
    expect(onlyFailed.body.task_instances.map((t: { task_id: string; state: string }) => [t.task_id, t.state])).toEqual([["b", "failed"], ["c", "upstream_failed"]]);
    expect(await runState("chain", run.dag_run_id)).toBe("failed");

    // The run's conf still says fail: clearing only the failed part re-runs b (not a), which fails
    // again — as its second try, the first kept in the history.
    const cleared = await request(app).post(path).set(bearer(operator)).send({ dry_run: false, only_failed: true });
    expect(cleared.status).toBe(200);
    expect(schemaProblems(cleared.body, "DAGRunResponse")).toEqual([]);
    expect(["queued", "running"]).toContain(cleared.body.state);
    await waitState("chain", run.dag_run_id, ["failed"]);
    const after = await tis("chain", run.dag_run_id);
    expect(after.a!.try_number).toBe(1); // not cleared
    expect(after.b!.try_number).toBe(2);
    expect(after.b!.state).toBe("failed");
    const tries = await db.store.db.selectFrom("task_instance_tries").innerJoin("task_instances", "task_instances.id", "task_instance_tries.ti_id").select(["task_instance_tries.try_number"]).where("task_instances.run_id", "=", run.dag_run_id).where("task_instances.task_id", "=", "b").orderBy("try_number").execute();
    expect(tries.map((t) => t.try_number)).toEqual([1, 2]);

    // A full clear of a successful run runs every task again.
    const ok = await trigger("chain", {});
    await waitState("chain", ok.dag_run_id, ["success"]);
    await request(app).post(`/api/v2/dags/chain/dagRuns/${enc(ok.dag_run_id)}/clear`).set(bearer(operator)).send({ dry_run: false });
    await waitState("chain", ok.dag_run_id, ["success"]);
    expect(Object.values(await tis("chain", ok.dag_run_id)).map((t) => [t.task_id, t.state, t.try_number])).toEqual([["a", "success", 2], ["b", "success", 2], ["c", "success", 2]]);

    const bad = await request(app).post(path).set(bearer(operator)).send({ dry_run: "nope" });
    expect(bad.status).toBe(422);
    expect((await request(app).post(`/api/v2/dags/chain/dagRuns/nope/clear`).set(bearer(operator)).send({})).status).toBe(404);
  });

  it("PATCH marks a running run success or failed as Airflow does, sets a note, and rejects bad input", async () => {
    const patch = (runId: string, body: unknown, query = "") => request(app).patch(`/api/v2/dags/sleepy/dagRuns/${enc(runId)}${query}`).set(bearer(operator)).send(body as object);
    const one = await trigger("sleepy", {});
    await waitFor("nap running", async () => (await tis("sleepy", one.dag_run_id)).nap?.state === "running");
    const failed = await patch(one.dag_run_id, { state: "failed" });
    expect(failed.status).toBe(200);
    expect(schemaProblems(failed.body, "DAGRunResponse")).toEqual([]);
    expect(failed.body.state).toBe("failed");
    const afterFail = await tis("sleepy", one.dag_run_id);
    expect([afterFail.nap!.state, afterFail.after!.state]).toEqual(["failed", "skipped"]);

    const two = await trigger("sleepy", {});
    await waitFor("nap running", async () => (await tis("sleepy", two.dag_run_id)).nap?.state === "running");
    const succeeded = await patch(two.dag_run_id, { state: "success", note: "done by hand" });
    expect(succeeded.body).toMatchObject({ state: "success", note: "done by hand" });
    const afterSuccess = await tis("sleepy", two.dag_run_id);
    expect([afterSuccess.nap!.state, afterSuccess.after!.state]).toEqual(["success", "success"]); // Airflow marks every unfinished TI success
    // The worker's late result is dropped (its lease is gone): the states stay as marked.
    await new Promise((r) => setTimeout(r, 4_500));
    expect((await tis("sleepy", two.dag_run_id)).nap!.state).toBe("success");
    expect(await runState("sleepy", two.dag_run_id)).toBe("success");

    const noteOnly = await patch(two.dag_run_id, { state: "failed", note: "only the note" }, "?update_mask=note");
    expect(noteOnly.body).toMatchObject({ state: "success", note: "only the note" });
    for (const [body, query, status] of [
      [{ state: "running" }, "", 422],
      [{ state: "success", extra: 1 }, "", 422],
      [{ note: "x".repeat(1001) }, "", 422],
      [{ note: "x" }, "?update_mask=state&update_mask=conf", 400],
    ] as const) {
      expect((await patch(two.dag_run_id, body, query)).status).toBe(status);
    }
    expect((await patch("nope", { state: "success" })).status).toBe(404);
    expect((await request(app).patch(`/api/v2/dags/sleepy/dagRuns/${enc(two.dag_run_id)}`).set(bearer(viewer)).send({ note: "x" })).status).toBe(403);
    expect((await get(`/api/v2/dags/sleepy/dagRuns/${enc(two.dag_run_id)}`)).body.note).toBe("only the note");
  });

  it("DELETE removes a run and its TIs (204), then 404", async () => {
    const run = await trigger("chain", {});
    await waitState("chain", run.dag_run_id, ["success"]);
    const path = `/api/v2/dags/chain/dagRuns/${enc(run.dag_run_id)}`;
    expect((await request(app).delete(path).set(bearer(viewer))).status).toBe(403);
    const res = await request(app).delete(path).set(bearer(operator));
    expect(res.status).toBe(204);
    expect(res.text).toBe("");
    expect((await get(path)).status).toBe(404);
    expect((await request(app).delete(path).set(bearer(operator))).status).toBe(404);
    const left = await db.store.db.selectFrom("task_instances").select("id").where("run_id", "=", run.dag_run_id).where("dag_id", "=", "chain").execute();
    expect(left).toEqual([]);
  });

  it("a run started on version 1 finishes on version 1's code when the file changes mid-run; versions and sources are served", async () => {
    fs.rmSync(flag("gate"), { force: true });
    const first = await trigger("versioned", {});
    await waitFor("gate running", async () => (await tis("versioned", first.dag_run_id)).gate?.state === "running");
    fs.writeFileSync(path.join(folder, "versioned.ts"), VERSIONED("v2"));
    await engine.scheduler.processor.processFile(path.join(folder, "versioned.ts"));
    const versions = await get("/api/v2/dags/versioned/dagVersions");
    expect(versions.status).toBe(200);
    expect(schemaProblems(versions.body, "DAGVersionCollectionResponse")).toEqual([]);
    expect(versions.body.dag_versions.map((v: { version_number: number }) => v.version_number)).toEqual([1, 2]);
    fs.writeFileSync(flag("gate"), "open");
    await waitState("versioned", first.dag_run_id, ["success"]);
    const second = await trigger("versioned", {});
    await waitState("versioned", second.dag_run_id, ["success"]);

    const label = async (runId: string) =>
      (await db.store.db.selectFrom("xcom").innerJoin("dag_runs", "dag_runs.id", "xcom.run_pk").select("xcom.value").where("dag_runs.run_id", "=", runId).where("xcom.task_id", "=", "label").executeTakeFirstOrThrow()).value;
    expect(await label(first.dag_run_id)).toBe("v1");
    expect(await label(second.dag_run_id)).toBe("v2");
    const runOne = (await get(`/api/v2/dags/versioned/dagRuns/${enc(first.dag_run_id)}`)).body;
    expect(runOne.dag_versions.map((v: { version_number: number }) => v.version_number)).toEqual([1]);
    const tiOne = (await get(`/api/v2/dags/versioned/dagRuns/${enc(first.dag_run_id)}/taskInstances/label`)).body;
    expect(tiOne.dag_version.version_number).toBe(1);
    const tiTwo = (await get(`/api/v2/dags/versioned/dagRuns/${enc(second.dag_run_id)}/taskInstances/label`)).body;
    expect(tiTwo.dag_version.version_number).toBe(2);

    const v1 = await get("/api/v2/dagSources/versioned?version_number=1");
    expect(v1.status).toBe(200);
    expect(schemaProblems(v1.body, "DAGSourceResponse")).toEqual([]);
    expect(v1.body).toMatchObject({ dag_id: "versioned", version_number: 1 });
    expect(v1.body.content).toContain(`() => "v1"`);
    const latest = await get("/api/v2/dagSources/versioned");
    expect(latest.body.version_number).toBe(2);
    expect(latest.body.content).toContain(`() => "v2"`);
    const text = await request(app).get("/api/v2/dagSources/versioned?version_number=1").set(bearer(viewer)).set("Accept", "text/plain");
    expect(text.headers["content-type"]).toMatch(/^text\/plain/);
    expect(text.text).toContain(`() => "v1"`);
    expect((await get("/api/v2/dagSources/versioned?version_number=9")).status).toBe(404);
    expect((await get("/api/v2/dagSources/nope")).status).toBe(404);
    expect((await request(app).get("/api/v2/dagSources/versioned").set(bearer(viewer)).set("Accept", "image/png")).status).toBe(406);
    const filtered = await get("/api/v2/dags/versioned/dagVersions?version_number=2");
    expect(filtered.body.dag_versions.map((v: { version_number: number }) => v.version_number)).toEqual([2]);
    expect((await get("/api/v2/dags/versioned/dagVersions/1")).body.version_number).toBe(1);
    expect((await get("/api/v2/dags/nope/dagVersions")).status).toBe(404);
    expect((await get("/api/v2/dags/versioned/dagVersions?order_by=bogus")).status).toBe(400);
  });

  it("depends_on_past: a TI waits for the same task of the previous run to succeed; the first run is exempt", async () => {
    fs.writeFileSync(flag("fail_b"), "1");
    const first = await trigger("dop", { logical_date: "2024-01-01T00:00:00Z" });
    await waitState("dop", first.dag_run_id, ["failed"]);
    const second = await trigger("dop", { logical_date: "2024-01-02T00:00:00Z" });
    // a runs (the previous a succeeded); b waits, though its upstream succeeded, for the previous b.
    await waitFor("second a to succeed", async () => (await tis("dop", second.dag_run_id)).a?.state === "success");
    await new Promise((r) => setTimeout(r, 700));
    expect((await tis("dop", second.dag_run_id)).b!.state).toBeNull();
    expect(await runState("dop", second.dag_run_id)).toBe("running");

    // A third run's root waits too, once its previous a failed: make the third run's predecessor fail at a.
    fs.rmSync(flag("fail_b"));
    const clear = await request(app).post(`/api/v2/dags/dop/dagRuns/${enc(first.dag_run_id)}/clear`).set(bearer(operator)).send({ dry_run: false, only_failed: true });
    expect(clear.status).toBe(200);
    // The first run's b succeeds, which releases the second run's b.
    await waitState("dop", first.dag_run_id, ["success"]);
    await waitState("dop", second.dag_run_id, ["success"]);

    fs.writeFileSync(flag("fail_a"), "1");
    const third = await trigger("dop", { logical_date: "2024-01-03T00:00:00Z" });
    await waitState("dop", third.dag_run_id, ["failed"]);
    const fourth = await trigger("dop", { logical_date: "2024-01-04T00:00:00Z" });
    await new Promise((r) => setTimeout(r, 700));
    expect((await tis("dop", fourth.dag_run_id)).a!.state).toBeNull(); // the root is held
    fs.rmSync(flag("fail_a"));
    await request(app).post(`/api/v2/dags/dop/dagRuns/${enc(third.dag_run_id)}/clear`).set(bearer(operator)).send({ dry_run: false });
    await waitState("dop", third.dag_run_id, ["success"]);
    await waitState("dop", fourth.dag_run_id, ["success"]);
  });
});
