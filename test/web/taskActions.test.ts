// Task-instance history and actions over REST, on PGlite and PostgreSQL, with a real engine:
// GET …/tries, POST /dags/{id}/clearTaskInstances (dry run by default, with downstream, a running
// TI → restarting → killed and re-run), PATCH …/taskInstances/{task_id} (mark success / failed,
// downstream and run re-evaluated), and bad input (403, 404, 422) storing nothing.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import request from "supertest";
import type { Express } from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backends, createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { dagsFolderWith, startEngine, waitFor, type TestEngine } from "../helpers/engine.js";
import { schemaProblems } from "./airflowSchema.js";
import { bearer, loginAs, testApp } from "./helpers.js";

const flags = fs.mkdtempSync(path.join(os.tmpdir(), "updraft-ti-flags-"));
const flag = (name: string) => path.join(flags, name);

const DAGS = {
  "flaky.ts": `
import fs from "node:fs";
import { dag } from "updraft";
export default dag({ id: "flaky" }, (d) => {
  const a = d.task("a", () => 1);
  const b = d.task("b", [a], () => { if (fs.existsSync(${JSON.stringify(flag("fail_b"))})) throw new Error("b fails"); return 2; });
  d.task("c", [b], () => 3);
});`,
  "napper.ts": `
import fs from "node:fs";
import { dag } from "updraft";
export default dag({ id: "napper" }, (d) => {
  const nap = d.task("nap", async (ctx) => {
    // The first try waits (until killed); later tries return at once.
    if (ctx.tryNumber === 1) await new Promise((r) => setTimeout(r, 60_000));
    fs.writeFileSync(${JSON.stringify(flag("napped"))} + ctx.tryNumber, "");
    return ctx.tryNumber;
  });
  d.task("after", [nap], () => "done");
});`,
};

describe.each(backends())("task-instance actions on %s", (backend) => {
  let db: TestDatabase;
  let engine: TestEngine;
  let app: Express;
  let operator: string;
  let viewer: string;

  beforeAll(async () => {
    db = await createTestDatabase(backend);
    engine = await startEngine(db.store, { dagsFolder: dagsFolderWith(DAGS), slots: 3, heartbeatIntervalMs: 200 });
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
  const trigger = async (dagId: string) => {
    const res = await request(app).post(`/api/v2/dags/${dagId}/dagRuns`).set(bearer(operator)).send({ logical_date: null });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body.dag_run_id as string;
  };
  const run = async (dagId: string, runId: string) => (await get(`/api/v2/dags/${dagId}/dagRuns/${enc(runId)}`)).body as { state: string };
  const waitState = (dagId: string, runId: string, state: string) => waitFor(`${runId} ${state}`, async () => (await run(dagId, runId)).state === state);
  const tis = async (dagId: string, runId: string) => {
    const res = await get(`/api/v2/dags/${dagId}/dagRuns/${enc(runId)}/taskInstances`);
    return Object.fromEntries((res.body.task_instances as { task_id: string; state: string | null; try_number: number }[]).map((t) => [t.task_id, t]));
  };
  const tries = (dagId: string, runId: string, taskId: string) => get(`/api/v2/dags/${dagId}/dagRuns/${enc(runId)}/taskInstances/${taskId}/tries`);
  const unfinished = async (runId: string) =>
    (await db.store.db.selectFrom("dag_runs").select("unfinished_tis").where("run_id", "=", runId).executeTakeFirstOrThrow()).unfinished_tis;
  const snapshot = async () => ({
    tis: await db.store.db.selectFrom("task_instances").select(["id", "state", "try_number", "note"]).orderBy("id").execute(),
    runs: await db.store.db.selectFrom("dag_runs").select(["id", "state", "unfinished_tis"]).orderBy("id").execute(),
  });

  it("clears a failed task and its downstream: a dry run (the default) changes nothing, a real clear re-runs them with new try numbers", async () => {
    fs.writeFileSync(flag("fail_b"), "");
    const runId = await trigger("flaky");
    await waitState("flaky", runId, "failed");
    expect(Object.values(await tis("flaky", runId)).map((t) => [t.task_id, t.state])).toEqual(
      expect.arrayContaining([["a", "success"], ["b", "failed"], ["c", "upstream_failed"]]),
    );

    const history = await tries("flaky", runId, "b");
    expect(history.status).toBe(200);
    expect(schemaProblems(history.body, "TaskInstanceHistoryCollectionResponse")).toEqual([]);
    expect(history.body.task_instances.map((t: { try_number: number; state: string }) => [t.try_number, t.state])).toEqual([[1, "failed"]]);

    const clear = (body: Record<string, unknown>) => request(app).post("/api/v2/dags/flaky/clearTaskInstances").set(bearer(operator)).send(body);
    const before = await snapshot();
    const dry = await clear({ dag_run_id: runId, task_ids: ["b"], include_downstream: true });
    expect(dry.status).toBe(200);
    expect(schemaProblems(dry.body, "TaskInstanceCollectionResponse")).toEqual([]);
    expect(dry.body.task_instances.map((t: { task_id: string; state: string }) => [t.task_id, t.state])).toEqual([["b", "failed"], ["c", "upstream_failed"]]);
    // only_failed defaults to true: a (success) is not listed even with include_upstream.
    const up = await clear({ dag_run_id: runId, task_ids: ["b"], include_upstream: true });
    expect(up.body.task_instances.map((t: { task_id: string }) => t.task_id)).toEqual(["b"]);
    const all = await clear({ dag_run_id: runId, task_ids: ["b"], include_upstream: true, only_failed: false });
    expect(all.body.task_instances.map((t: { task_id: string }) => t.task_id)).toEqual(["a", "b"]);
    expect(await snapshot()).toEqual(before);

    fs.rmSync(flag("fail_b"));
    const real = await clear({ dry_run: false, dag_run_id: runId, task_ids: ["b"], include_downstream: true });
    expect(real.status).toBe(200);
    expect(schemaProblems(real.body, "TaskInstanceCollectionResponse")).toEqual([]);
    expect(real.body.task_instances.map((t: { task_id: string }) => t.task_id)).toEqual(["b", "c"]);
    await waitState("flaky", runId, "success");
    const after = await tis("flaky", runId);
    expect([after.a!.try_number, after.b!.try_number, after.c!.try_number]).toEqual([1, 2, 1]);
    expect(await unfinished(runId)).toBe(0);
    const bTries = await tries("flaky", runId, "b");
    expect(schemaProblems(bTries.body, "TaskInstanceHistoryCollectionResponse")).toEqual([]);
    expect(bTries.body.task_instances.map((t: { try_number: number; state: string }) => [t.try_number, t.state])).toEqual([[1, "failed"], [2, "success"]]);
    expect(bTries.body.total_entries).toBe(2);
  });

  it("clearing a running TI sets it restarting; its worker kills it, its late finish is dropped, and it runs again", async () => {
    const runId = await trigger("napper");
    await waitFor("nap to run", async () => (await tis("napper", runId)).nap?.state === "running");
    const res = await request(app)
      .post("/api/v2/dags/napper/clearTaskInstances")
      .set(bearer(operator))
      .send({ dry_run: false, dag_run_id: runId, task_ids: ["nap"], only_failed: false });
    expect(res.status).toBe(200);
    expect(res.body.task_instances.map((t: { task_id: string; state: string }) => [t.task_id, t.state])).toEqual([["nap", "restarting"]]);
    // Killed within a heartbeat or two (200 ms), not after its 60 s nap.
    await waitFor("the run to succeed", async () => (await run("napper", runId)).state === "success", 15_000);
    const nap = (await tis("napper", runId)).nap!;
    expect(nap.try_number).toBe(2);
    expect(fs.existsSync(flag("napped1"))).toBe(false);
    expect(fs.existsSync(flag("napped2"))).toBe(true);
    const history = await tries("napper", runId, "nap");
    expect(schemaProblems(history.body, "TaskInstanceHistoryCollectionResponse")).toEqual([]);
    expect(history.body.task_instances.map((t: { try_number: number; state: string }) => [t.try_number, t.state])).toEqual([[1, "restarting"], [2, "success"]]);
    expect(await unfinished(runId)).toBe(0);
  });

  it("PATCH new_state marks a TI, re-evaluates its downstream and the run", async () => {
    fs.writeFileSync(flag("fail_b"), "");
    const runId = await trigger("flaky");
    await waitState("flaky", runId, "failed");
    fs.rmSync(flag("fail_b"));
    const patchPath = `/api/v2/dags/flaky/dagRuns/${enc(runId)}/taskInstances`;

    // c is upstream_failed already: marking b success does not revive it, but the leaf decides.
    const markC = await request(app).patch(`${patchPath}/c`).set(bearer(operator)).send({ new_state: "success", note: "fixed by hand" });
    expect(markC.status).toBe(200);
    expect(schemaProblems(markC.body, "TaskInstanceCollectionResponse")).toEqual([]);
    expect(markC.body.task_instances).toEqual([expect.objectContaining({ task_id: "c", state: "success", note: "fixed by hand" })]);
    expect((await run("flaky", runId)).state).toBe("success");

    const markA = await request(app).patch(`${patchPath}/a`).set(bearer(operator)).send({ new_state: "failed" });
    expect(markA.status).toBe(200);
    expect(markA.body.task_instances[0].state).toBe("failed");
    // c is a leaf and success: the run stays success (Airflow decides from the leaves).
    expect((await run("flaky", runId)).state).toBe("success");
    expect(await unfinished(runId)).toBe(0);
  });

  it("a cleared TI whose upstream failed settles at once; once the upstream is marked success, clearing it runs it", async () => {
    fs.writeFileSync(flag("fail_b"), "");
    const runId = await trigger("flaky");
    await waitState("flaky", runId, "failed");
    fs.rmSync(flag("fail_b"));
    const cleared = await request(app)
      .post("/api/v2/dags/flaky/clearTaskInstances")
      .set(bearer(operator))
      .send({ dry_run: false, dag_run_id: runId, task_ids: ["c"] });
    expect(cleared.body.task_instances.map((t: { task_id: string }) => t.task_id)).toEqual(["c"]);
    // b is still failed: c, cleared, settles upstream_failed again at once and the run stays failed.
    expect((await tis("flaky", runId)).c!.state).toBe("upstream_failed");
    expect((await run("flaky", runId)).state).toBe("failed");
    const res = await request(app).patch(`/api/v2/dags/flaky/dagRuns/${enc(runId)}/taskInstances/b`).set(bearer(operator)).send({ new_state: "success" });
    expect(res.status).toBe(200);
    expect((await tis("flaky", runId)).c!.state).toBe("upstream_failed");
    // Clearing c now queues it (its upstream b is success) and the run ends success.
    await request(app).post("/api/v2/dags/flaky/clearTaskInstances").set(bearer(operator)).send({ dry_run: false, dag_run_id: runId, task_ids: ["c"] });
    await waitState("flaky", runId, "success");
    expect((await tis("flaky", runId)).c!.state).toBe("success");
  });

  it("PATCH with include_downstream marks the downstream TIs too, and the run ends from its leaves", async () => {
    fs.writeFileSync(flag("fail_b"), "");
    const runId = await trigger("flaky");
    await waitState("flaky", runId, "failed");
    fs.rmSync(flag("fail_b"));
    const res = await request(app)
      .patch(`/api/v2/dags/flaky/dagRuns/${enc(runId)}/taskInstances/b`)
      .set(bearer(operator))
      .send({ new_state: "success", include_downstream: true });
    expect(res.status).toBe(200);
    expect(schemaProblems(res.body, "TaskInstanceCollectionResponse")).toEqual([]);
    expect(res.body.task_instances.map((t: { task_id: string; state: string }) => [t.task_id, t.state])).toEqual([["b", "success"], ["c", "success"]]);
    expect((await tis("flaky", runId)).a!.state).toBe("success");
    expect((await run("flaky", runId)).state).toBe("success");
  });

  it("bad input: viewer 403, unknown DAG / run / task 404, invalid state or body 422 — nothing stored", async () => {
    const runId = await trigger("flaky");
    await waitState("flaky", runId, "success");
    const before = await snapshot();
    const base = `/api/v2/dags/flaky/dagRuns/${enc(runId)}/taskInstances`;
    const cases: [request.Test, number][] = [
      [request(app).post("/api/v2/dags/flaky/clearTaskInstances").set(bearer(viewer)).send({ dry_run: false, only_failed: false }), 403],
      [request(app).patch(`${base}/a`).set(bearer(viewer)).send({ new_state: "failed" }), 403],
      [request(app).post("/api/v2/dags/nope/clearTaskInstances").set(bearer(operator)).send({ dry_run: false }), 404],
      [request(app).post("/api/v2/dags/flaky/clearTaskInstances").set(bearer(operator)).send({ dry_run: false, dag_run_id: "nope" }), 404],
      [request(app).post("/api/v2/dags/flaky/clearTaskInstances").set(bearer(operator)).send({ dry_run: false, task_ids: ["nope"], only_failed: false }), 404],
      [request(app).post("/api/v2/dags/flaky/clearTaskInstances").set(bearer(operator)).send({ dry_run: "no" }), 422],
      [request(app).post("/api/v2/dags/flaky/clearTaskInstances").set(bearer(operator)).send({ dry_run: false, bogus: 1 }), 422],
      [request(app).patch(`${base}/a`).set(bearer(operator)).send({ new_state: "running" }), 422],
      [request(app).patch(`${base}/a`).set(bearer(operator)).send({ new_state: "failed", include_future: "yes" }), 422],
      [request(app).post("/api/v2/dags/flaky/clearTaskInstances").set(bearer(operator)).send({ dry_run: false, only_failed: false, include_past: 1 }), 422],
      [request(app).patch(`${base}/a`).set(bearer(operator)).send({ new_state: "bogus" }), 422],
      [request(app).patch(`${base}/nope`).set(bearer(operator)).send({ new_state: "failed" }), 404],
      [request(app).patch(`/api/v2/dags/flaky/dagRuns/nope/taskInstances/a`).set(bearer(operator)).send({ new_state: "failed" }), 404],
      [request(app).patch(`/api/v2/dags/nope/dagRuns/${enc(runId)}/taskInstances/a`).set(bearer(operator)).send({ new_state: "failed" }), 404],
      [get(`/api/v2/dags/flaky/dagRuns/${enc(runId)}/taskInstances/nope/tries`), 404],
      [get(`/api/v2/dags/flaky/dagRuns/nope/taskInstances/a/tries`), 404],
    ];
    for (const [i, [req, status]] of cases.entries()) {
      const res = await req;
      expect(res.status, `case ${i}: ${JSON.stringify(res.body)}`).toBe(status);
      if (status === 404) expect(schemaProblems(res.body, "HTTPExceptionResponse")).toEqual([]);
    }
    expect(await snapshot()).toEqual(before);
  });
});
