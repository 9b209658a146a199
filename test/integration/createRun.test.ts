// A manual run that starts at once is created in one statement (createRun → updraft_start_run,
// migrations/0014_start_run_function.sql) once the DAG's version has been seen. What must hold,
// as on the transaction it replaces: maxActiveRuns is never exceeded by triggers at the same
// moment on separate connections (the count is read after the DAG's row lock); a new version of
// the DAG is used as soon as it is the latest, and conf is checked against it; a duplicate run id
// is a conflict, an unknown DAG not found, a paused DAG's run waits queued — nothing stored on refusal.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRun } from "../../engine/store/runs/createRun.js";
import { ConflictError, NotFoundError, ValidationError } from "../../engine/errors.js";
import { backends, createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { dagsFolderWith, startEngine, waitFor, type TestEngine } from "../helpers/engine.js";

const solo = (version: number, params = "") => `
import { dag } from "updraft";
export default dag({ id: "solo", maxActiveRuns: 1${params} }, (d) => {
  d.task("a${version}", () => 1).before(d.task("b", () => 2));
});`;

const DAGS = {
  "solo.ts": solo(1),
  "wide.ts": `
import { dag } from "updraft";
export default dag({ id: "wide", maxActiveRuns: 3 }, (d) => {
  d.task("r1", () => 1);
  d.task("r2", () => 2);
});`,
};

describe.each(backends())("creating a run on %s", (backend) => {
  let db: TestDatabase;
  let engine: TestEngine;
  let seq = 0;

  beforeAll(async () => {
    db = await createTestDatabase(backend);
    // No worker: the runs stay running, so maxActiveRuns stays reached. Watching: a test edits a file.
    engine = await startEngine(db.store, { dagsFolder: dagsFolderWith(DAGS), worker: false, watch: true });
  });
  afterAll(async () => {
    await engine?.stop();
    await db?.drop();
  });

  const trigger = (dagId: string, extra: Partial<Parameters<typeof createRun>[1]> = {}) =>
    createRun(db.store.db, { dagId, runId: `r${++seq}`, runType: "manual", logicalDate: null, ...extra });
  const runsOf = (dagId: string) => db.store.db.selectFrom("dag_runs").select(["id", "run_id", "state", "dag_version_id", "unfinished_tis"]).where("dag_id", "=", dagId).orderBy("id").execute();
  const endAll = (dagId: string) => db.store.db.updateTable("dag_runs").set({ state: "success", end_date: new Date() }).where("dag_id", "=", dagId).where("state", "in", ["running", "queued"]).execute();

  it("starts a run with its TIs and roots queued, the same rows on the first trigger (transaction) and the next (one statement)", async () => {
    const first = await trigger("wide");
    const second = await trigger("wide");
    for (const run of [first, second]) {
      expect(run).toMatchObject({ dag_id: "wide", state: "running", unfinished_tis: 2, conf: {} });
      const tis = await db.store.db.selectFrom("task_instances").select(["task_id", "state", "queued_when", "pool", "queue", "max_tries"]).where("run_pk", "=", run.id).orderBy("task_id").execute();
      expect(tis).toMatchObject([
        { task_id: "r1", state: "queued", pool: "default_pool", queue: "default" },
        { task_id: "r2", state: "queued", pool: "default_pool", queue: "default" },
      ]);
      expect(tis.every((t) => t.queued_when !== null)).toBe(true);
    }
    await endAll("wide");
  });

  it("never starts more than maxActiveRuns when triggers arrive together on separate connections", async () => {
    await trigger("wide"); // the version is seen: the triggers below take the one-statement path
    await endAll("wide");
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => trigger("wide")));
    expect(results.every((r) => r.status === "fulfilled")).toBe(true);
    const active = (await runsOf("wide")).filter((r) => r.state === "running" || r.state === "queued");
    expect(active.filter((r) => r.state === "running")).toHaveLength(3);
    expect(active.filter((r) => r.state === "queued")).toHaveLength(5);
    await endAll("wide");
  });

  it("refuses a duplicate run id and an unknown DAG, storing nothing", async () => {
    const run = await trigger("wide");
    const before = (await runsOf("wide")).length;
    await expect(trigger("wide", { runId: run.run_id })).rejects.toBeInstanceOf(ConflictError);
    await expect(createRun(db.store.db, { dagId: "nope", runType: "manual", logicalDate: null })).rejects.toBeInstanceOf(NotFoundError);
    expect((await runsOf("wide")).length).toBe(before);
    await endAll("wide");
  });

  it("queues the run of a paused DAG instead of starting it", async () => {
    await db.store.db.updateTable("dags").set({ is_paused: true }).where("dag_id", "=", "wide").execute();
    try {
      const run = await trigger("wide");
      expect(run.state).toBe("queued");
      expect(await db.store.db.selectFrom("task_instances").select("id").where("run_pk", "=", run.id).execute()).toHaveLength(0);
    } finally {
      await db.store.db.updateTable("dags").set({ is_paused: false }).where("dag_id", "=", "wide").execute();
      await endAll("wide");
    }
  });

  it("uses the DAG's new version as soon as it is the latest, and checks conf against it", async () => {
    const v1 = await trigger("solo");
    await endAll("solo");
    const versionCount = async () => (await db.store.db.selectFrom("dag_versions").select("id").where("dag_id", "=", "solo").execute()).length;
    const before = await versionCount();
    fs.writeFileSync(path.join(engine.dagsFolder, "solo.ts"), solo(2, `, params: { n: { type: "integer", default: 1 } }`));
    await waitFor("version 2 of solo", async () => (await versionCount()) > before, 10_000);
    // conf that only the new version refuses
    await expect(trigger("solo", { conf: { n: "x" } })).rejects.toBeInstanceOf(ValidationError);
    const v2 = await trigger("solo", { conf: { n: 5 } });
    expect(v2.dag_version_id).not.toBe(v1.dag_version_id);
    const tis = await db.store.db.selectFrom("task_instances").select(["task_id", "state"]).where("run_pk", "=", v2.id).orderBy("task_id").execute();
    expect(tis).toEqual([
      { task_id: "a2", state: "queued" },
      { task_id: "b", state: null },
    ]);
    // A run pinned to the old version still gets the old one's tasks.
    await endAll("solo");
    const pinned = await trigger("solo", { versionId: v1.dag_version_id });
    expect(pinned.dag_version_id).toBe(v1.dag_version_id);
    expect((await db.store.db.selectFrom("task_instances").select("task_id").where("run_pk", "=", pinned.id).orderBy("task_id").execute()).map((t) => t.task_id)).toEqual(["a1", "b"]);
    await endAll("solo");
  });
});
