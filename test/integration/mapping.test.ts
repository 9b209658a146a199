// Dynamic task mapping (d.map) end to end on PGlite and PostgreSQL, with the real engine: 0, 1 and
// 500 items (500 TIs from one expansion, the downstream gets the 500 results in order), one failing
// mapped TI retried alone, one mapped TI cleared and re-run alone, maxMapLength exceeded, a source
// that is not a list, and the run's unfinished_tis / state right in each case. Over REST: the
// mapped TIs listed with their map_index and one read by GET …/taskInstances/{task_id}/{map_index}.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import request from "supertest";
import type { Express } from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRun } from "../../engine/store/runs/createRun.js";
import { clearTaskInstances } from "../../engine/store/tasks/clearTaskInstances.js";
import { backends, createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { dagsFolderWith, startEngine, waitFor, waitForRunEnd, type TestEngine } from "../helpers/engine.js";
import { bearer, loginAs, testApp } from "../web/helpers.js";

// Generous: a fresh engine's first runner starts cold, and the machine is shared with other suites.
const RUN_TIMEOUT_MS = 60_000;

const DAGS = (flags: string) => ({
  "mapping.ts": `
import { dag } from "updraft";
export default dag({ id: "mapping" }, (d) => {
  const list = d.task("list", (ctx) => Array.from({ length: Number(ctx.conf.n) }, (_, i) => i));
  const square = d.map("square", list, (ctx, x) => {
    if (ctx.mapIndex !== x) throw new Error("item " + x + " arrived at map index " + ctx.mapIndex);
    return x * x;
  });
  d.task("total", [square], (ctx, squares) => ({ squares, count: squares.length }));
});`,
  "flaky_map.ts": `
import fs from "node:fs";
import { dag } from "updraft";
export default dag({ id: "flaky_map" }, (d) => {
  const items = d.task("items", () => ["a", "b", "c"]);
  const work = d.map("work", items, (ctx, x) => {
    if (x === "b" && ctx.tryNumber === 1) throw new Error("b fails on its first try");
    fs.writeFileSync(${JSON.stringify(flags)} + "/" + ctx.runId.replace(/[^a-z0-9]/gi, "_") + "_" + x + "_" + ctx.tryNumber, "");
    return x.toUpperCase();
  }, { retries: 1, retryDelay: "50ms" });
  d.task("joined", [work], (ctx, xs) => xs.join(""));
});`,
  "partial.ts": `
import { dag } from "updraft";
export default dag({ id: "partial" }, (d) => {
  const items = d.task("items", () => [1, 2, 3]);
  const kept = d.map("kept", items, (ctx, x) => (x === 2 ? ctx.fail("no twos") : x));
  d.task("strict", [kept], (ctx, xs) => xs);
  d.task("lenient", [kept], (ctx, xs) => xs, { triggerRule: "all_done" });
  d.task("any_failed", [kept], (ctx, xs) => xs.length, { triggerRule: "one_failed" });
  // Mapping over a mapped task: its list is the results of the TIs that succeeded, in order.
  const tens = d.map("tens", kept, (ctx, x) => x * 10, { triggerRule: "all_done" });
  d.task("tens_list", [tens], (ctx, xs) => xs);
});`,
  "bad_maps.ts": `
import { dag } from "updraft";
export const tooLong = dag({ id: "too_long", maxMapLength: 3 }, (d) => {
  const list = d.task("list", () => [1, 2, 3, 4]);
  const each = d.map("each", list, (ctx, x) => x);
  d.task("after", [each], (ctx, xs) => xs.length);
});
export const notAList = dag({ id: "not_a_list" }, (d) => {
  const thing = d.task("thing", () => ({ a: 1 }));
  const each = d.map("each", thing as never, (ctx, x: unknown) => x);
  d.task("after", [each], (ctx, xs) => xs.length);
});`,
});

describe.each(backends())("dynamic task mapping on %s", (backend) => {
  let db: TestDatabase;
  let engine: TestEngine;
  let app: Express;
  let token: string;
  // One folder per backend: which mapped TIs ran is read from the files they leave.
  const flags = fs.mkdtempSync(path.join(os.tmpdir(), "updraft-map-flags-"));

  beforeAll(async () => {
    db = await createTestDatabase(backend);
    engine = await startEngine(db.store, { dagsFolder: dagsFolderWith(DAGS(flags)), slots: 4 });
    app = testApp(db.store);
    token = await loginAs(app, db.store, "operator");
  });
  afterAll(async () => {
    await engine?.stop();
    await db?.drop();
    fs.rmSync(flags, { recursive: true, force: true });
  });

  const tis = (runPk: number, taskId: string) =>
    db.store.db.selectFrom("task_instances").select(["id", "map_index", "state", "try_number"]).where("run_pk", "=", runPk).where("task_id", "=", taskId).orderBy("map_index").execute();
  const xcom = async (runPk: number, taskId: string) =>
    (await db.store.db.selectFrom("xcom").select("value").where("run_pk", "=", runPk).where("task_id", "=", taskId).where("key", "=", "return_value").executeTakeFirst())?.value;
  const run = async (runPk: number) => db.store.db.selectFrom("dag_runs").select(["run_id", "state", "unfinished_tis"]).where("id", "=", runPk).executeTakeFirstOrThrow();
  const tries = (tiId: string) => db.store.db.selectFrom("task_instance_tries").select(["try_number", "state", "error"]).where("ti_id", "=", tiId).orderBy("try_number").execute();
  const trigger = (dagId: string, conf: Record<string, unknown> = {}) => createRun(db.store.db, { dagId, runType: "manual", logicalDate: new Date(), conf });

  it("maps over 500 items: 500 TIs, all success, the downstream gets the 500 results in item order", async () => {
    const r = await trigger("mapping", { n: 500 });
    expect(await waitForRunEnd(db.store, r.id, 90_000)).toBe("success");
    const mapped = await tis(r.id, "square");
    expect(mapped.map((t) => t.map_index)).toEqual(Array.from({ length: 500 }, (_, i) => i));
    expect(mapped.every((t) => t.state === "success" && t.try_number === 1)).toBe(true);
    expect(await xcom(r.id, "total")).toEqual({ squares: Array.from({ length: 500 }, (_, i) => i * i), count: 500 });
    expect((await run(r.id)).unfinished_tis).toBe(0);
  }, 120_000);

  it("maps over 1 item and over 0 items (the mapped task and its all_success downstream are skipped)", async () => {
    const one = await trigger("mapping", { n: 1 });
    expect(await waitForRunEnd(db.store, one.id, RUN_TIMEOUT_MS)).toBe("success");
    expect((await tis(one.id, "square")).map((t) => [t.map_index, t.state])).toEqual([[0, "success"]]);
    expect(await xcom(one.id, "total")).toEqual({ squares: [0], count: 1 });
    expect((await run(one.id)).unfinished_tis).toBe(0);

    const none = await trigger("mapping", { n: 0 });
    expect(await waitForRunEnd(db.store, none.id, RUN_TIMEOUT_MS)).toBe("success");
    expect((await tis(none.id, "square")).map((t) => [t.map_index, t.state])).toEqual([[-1, "skipped"]]);
    expect((await tis(none.id, "total")).map((t) => t.state)).toEqual(["skipped"]);
    expect((await run(none.id)).unfinished_tis).toBe(0);
  });

  it("retries a failing mapped TI alone, and clearing one mapped TI re-runs only it", async () => {
    const r = await trigger("flaky_map");
    expect(await waitForRunEnd(db.store, r.id, RUN_TIMEOUT_MS)).toBe("success");
    const work = await tis(r.id, "work");
    expect(work.map((t) => [t.map_index, t.state, t.try_number])).toEqual([
      [0, "success", 1],
      [1, "success", 2],
      [2, "success", 1],
    ]);
    expect((await tries(work[1]!.id)).map((t) => t.state)).toEqual(["up_for_retry", "success"]);
    expect((await tries(work[1]!.id))[0]!.error).toMatch(/b fails on its first try/);
    expect(await xcom(r.id, "joined")).toBe("ABC");

    // Over REST: each mapped TI listed with its map index, and one read by its map index.
    const { run_id: runId } = await run(r.id);
    const base = `/api/v2/dags/flaky_map/dagRuns/${encodeURIComponent(runId)}/taskInstances`;
    const list = await request(app).get(base).query({ task_id: "work" }).set(bearer(token));
    expect(list.status).toBe(200);
    expect(list.body.task_instances.map((t: { map_index: number; try_number: number }) => [t.map_index, t.try_number])).toEqual([
      [0, 1],
      [1, 2],
      [2, 1],
    ]);
    const one = await request(app).get(`${base}/work/1`).set(bearer(token));
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ task_id: "work", map_index: 1, state: "success", try_number: 2 });
    expect((await request(app).get(`${base}/work/7`).set(bearer(token))).status).toBe(404);
    expect((await request(app).get(`${base}/work/tries`).query({ map_index: 1 }).set(bearer(token))).body.total_entries).toBe(2);

    // Clear work[2] (and, downstream, joined): only it runs again, with its next try.
    const cleared = await request(app)
      .post("/api/v2/dags/flaky_map/clearTaskInstances")
      .set(bearer(token))
      .send({ dry_run: false, only_failed: false, dag_run_id: runId, task_ids: [["work", 2]], include_downstream: true });
    expect(cleared.status).toBe(200);
    expect(cleared.body.task_instances.map((t: { task_id: string; map_index: number }) => [t.task_id, t.map_index])).toEqual([
      ["joined", -1],
      ["work", 2],
    ]);
    await waitFor("work[2] to run again", async () => (await tis(r.id, "work"))[2]!.try_number === 2 && (await run(r.id)).state === "success", RUN_TIMEOUT_MS);
    expect((await tis(r.id, "work")).map((t) => [t.map_index, t.state, t.try_number])).toEqual([
      [0, "success", 1],
      [1, "success", 2],
      [2, "success", 2],
    ]);
    const ran = (x: string, n: number) => fs.existsSync(`${flags}/${runId.replace(/[^a-z0-9]/gi, "_")}_${x}_${n}`);
    expect([ran("a", 1), ran("a", 2), ran("c", 1), ran("c", 2)]).toEqual([true, false, true, true]);
    expect(await xcom(r.id, "joined")).toBe("ABC");
    expect((await run(r.id)).unfinished_tis).toBe(0);
  });

  it("clearing the source re-expands the mapped task on the TIs it has (same ids, next tries)", async () => {
    const r = await trigger("mapping", { n: 3 });
    expect(await waitForRunEnd(db.store, r.id, RUN_TIMEOUT_MS)).toBe("success");
    const before = await tis(r.id, "square");
    const { run_id: runId } = await run(r.id);
    await db.store.db.transaction().execute((tx) =>
      clearTaskInstances(tx, { dagId: "mapping", runId, taskIds: ["list"], onlyFailed: false, includeUpstream: false, includeDownstream: true, startDate: null, endDate: null }),
    );
    await waitFor("the cleared run to end again", async () => (await run(r.id)).state === "success" && (await tis(r.id, "square")).every((t) => t.try_number === 2), RUN_TIMEOUT_MS);
    const after = await tis(r.id, "square");
    expect(after.map((t) => [t.id, t.map_index, t.state])).toEqual(before.map((t) => [t.id, t.map_index, "success"]));
    expect((await run(r.id)).unfinished_tis).toBe(0);
  });

  it("the downstream's trigger rule sees every mapped TI; all_done gets the results of those that succeeded", async () => {
    const r = await trigger("partial");
    expect(await waitForRunEnd(db.store, r.id, RUN_TIMEOUT_MS)).toBe("failed");
    expect((await tis(r.id, "kept")).map((t) => t.state)).toEqual(["success", "failed", "success"]);
    expect((await tis(r.id, "strict")).map((t) => t.state)).toEqual(["upstream_failed"]);
    expect((await tis(r.id, "lenient")).map((t) => t.state)).toEqual(["success"]);
    expect(await xcom(r.id, "lenient")).toEqual([1, 3]);
    expect((await tis(r.id, "tens")).map((t) => [t.map_index, t.state])).toEqual([
      [0, "success"],
      [1, "success"],
    ]);
    expect(await xcom(r.id, "tens_list")).toEqual([10, 30]);
    // one_failed fires at the first failure, without waiting for the other mapped TIs.
    expect((await tis(r.id, "any_failed")).map((t) => t.state)).toEqual(["success"]);
    expect((await run(r.id)).unfinished_tis).toBe(0);

    // The UI's grid shows a mapped task's cell by the most telling of its TIs' states: failed.
    const grid = await request(app).get("/ui/grid/partial").set(bearer(token));
    expect(grid.status).toBe(200);
    const column = (grid.body.task_ids as string[]).indexOf("kept");
    expect((grid.body.cells as string[]).at(-1)![column]).toBe(grid.body.legend.failed);
  });

  it("a list longer than maxMapLength fails the mapped task with a clear message; its downstream is upstream_failed", async () => {
    const r = await trigger("too_long");
    expect(await waitForRunEnd(db.store, r.id, RUN_TIMEOUT_MS)).toBe("failed");
    const each = await tis(r.id, "each");
    expect(each.map((t) => [t.map_index, t.state])).toEqual([[-1, "failed"]]);
    expect((await tries(each[0]!.id))[0]!.error).toBe('upstream "list" returned 4 items, more than the maxMapLength of mapped task "each" (3)');
    expect((await tis(r.id, "after")).map((t) => t.state)).toEqual(["upstream_failed"]);
    expect((await run(r.id)).unfinished_tis).toBe(0);
  });

  it("a source value that is not a list fails the mapped task, naming the upstream", async () => {
    const r = await trigger("not_a_list");
    expect(await waitForRunEnd(db.store, r.id, RUN_TIMEOUT_MS)).toBe("failed");
    const each = await tis(r.id, "each");
    expect(each.map((t) => [t.map_index, t.state, t.try_number])).toEqual([[-1, "failed", 1]]);
    expect((await tries(each[0]!.id))[0]!.error).toBe('mapped task "each" needs a list from its upstream "thing", which returned a JSON object');
    expect((await tis(r.id, "after")).map((t) => t.state)).toEqual(["upstream_failed"]);
    expect((await run(r.id)).unfinished_tis).toBe(0);
  });
});
