// The hand-off commits on its own (finishTask's fast path, no BEGIN/COMMIT), and a manual trigger
// starts an idle DAG's run in one statement (createRun's fast path). What that must not break:
// a hand-off that counts the run's last unfinished TI still ends the run; a worker's hint that
// does not match the row writes nothing on the autocommit path and the general path settles the
// TI; a run left counted but not ended (a process died between the two) is ended by the repair.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sql } from "kysely";
import { createRun } from "../../engine/store/runs/createRun.js";
import { endCountedRuns } from "../../engine/store/runs/endCountedRuns.js";
import { claimTasks } from "../../engine/store/tasks/claimTasks.js";
import { finishTask } from "../../engine/store/tasks/finishTask.js";
import { markTaskInstance } from "../../engine/store/tasks/markTaskInstance.js";
import { backends, createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { dagsFolderWith, startEngine, type TestEngine } from "../helpers/engine.js";

const DAGS = {
  "pair.ts": `
import { dag } from "updraft";
export default dag({ id: "pair" }, (d) => {
  d.chain(d.task("p0", () => 0), d.task("p1", () => 1));
});`,
  "chain3.ts": `
import { dag } from "updraft";
export default dag({ id: "chain3" }, (d) => {
  d.chain(d.task("c0", () => 0), d.task("c1", () => 1), d.task("c2", () => 2));
});`,
};

const claim = { workerId: "w", hostname: "h", queues: ["default"], limit: 1 };

describe.each(backends())("hand-off commit on %s", (backend) => {
  let db: TestDatabase;
  let engine: TestEngine;

  beforeAll(async () => {
    db = await createTestDatabase(backend);
    engine = await startEngine(db.store, { dagsFolder: dagsFolderWith(DAGS), worker: false });
  });
  afterAll(async () => {
    await engine?.stop();
    await db?.drop();
  });

  const tiStates = async (runPk: number) =>
    Object.fromEntries(
      (await db.store.db.selectFrom("task_instances").select(["task_id", "state"]).where("run_pk", "=", runPk).execute()).map((t) => [t.task_id, t.state]),
    );

  it("a manual trigger of an idle DAG starts the run at once: running, roots queued, the rest waiting, counted", async () => {
    const run = await createRun(db.store.db, { dagId: "chain3", runId: "idle", runType: "manual", logicalDate: null });
    expect(run.state).toBe("running");
    expect(run.start_date).not.toBeNull();
    expect(run.unfinished_tis).toBe(3);
    expect(await tiStates(run.id)).toEqual({ c0: "queued", c1: null, c2: null });
    // The same run id again: 409, and nothing more stored.
    const before = await db.store.db.selectFrom("task_instances").select(sql<number>`count(*)::int`.as("n")).executeTakeFirstOrThrow();
    await expect(createRun(db.store.db, { dagId: "chain3", runId: "idle", runType: "manual", logicalDate: null })).rejects.toThrow(/already exists/);
    const after = await db.store.db.selectFrom("task_instances").select(sql<number>`count(*)::int`.as("n")).executeTakeFirstOrThrow();
    expect(after.n).toBe(before.n);
    // Tidy: claim and finish c0..c2 so the DAG is idle for the next test.
    let [task] = await claimTasks(db.store.db, { ...claim, limit: 5 });
    while (task) {
      const r = await finishTask(db.store.db, { tiId: task.tiId, tryNumber: task.tryNumber, workerId: "w", outcome: "success", claim, known: { taskId: task.taskId, versionId: task.versionId } });
      task = r.claimed[0]!;
      if (!task) expect(r.runState).toBe("success");
    }
  });

  it("a hand-off whose downstream was already marked success ends the run", async () => {
    const run = await createRun(db.store.db, { dagId: "pair", runId: "marked", runType: "manual", logicalDate: null });
    const [p0] = await claimTasks(db.store.db, claim);
    expect(p0?.taskId).toBe("p0");
    await db.store.db.transaction().execute((tx) => markTaskInstance(tx, { runPk: run.id, taskId: "p1", mapIndex: -1, newState: "success" }));
    const result = await finishTask(db.store.db, { tiId: p0!.tiId, tryNumber: p0!.tryNumber, workerId: "w", outcome: "success", claim, known: { taskId: "p0", versionId: p0!.versionId } });
    expect(result).toMatchObject({ accepted: true, state: "success", runState: "success", claimed: [] });
    const row = await db.store.db.selectFrom("dag_runs").select(["state", "unfinished_tis"]).where("id", "=", run.id).executeTakeFirstOrThrow();
    expect(row).toEqual({ state: "success", unfinished_tis: 0 });
  });

  it("a hint unlike the row writes nothing on the autocommit path; the general path settles the TI", async () => {
    const run = await createRun(db.store.db, { dagId: "chain3", runId: "wrong-hint", runType: "manual", logicalDate: null });
    const [c0] = await claimTasks(db.store.db, claim);
    const r0 = await finishTask(db.store.db, { tiId: c0!.tiId, tryNumber: c0!.tryNumber, workerId: "w", outcome: "success", claim, known: { taskId: "c0", versionId: c0!.versionId } });
    const c1 = r0.claimed[0]!;
    expect(c1.taskId).toBe("c1");
    // c1 reported with c0's hint: the planned statement would hand off c1 itself.
    const r1 = await finishTask(db.store.db, { tiId: c1.tiId, tryNumber: c1.tryNumber, workerId: "w", outcome: "success", claim, known: { taskId: "c0", versionId: c1.versionId } });
    expect(r1.accepted).toBe(true);
    expect(r1.claimed.map((t) => t.taskId)).toEqual(["c2"]);
    expect(await tiStates(run.id)).toEqual({ c0: "success", c1: "success", c2: "running" });
    const tries = await db.store.db.selectFrom("task_instance_tries").select("state").where("ti_id", "=", c1.tiId).execute();
    expect(tries).toEqual([{ state: "success" }]);
    const c2 = r1.claimed[0]!;
    const r2 = await finishTask(db.store.db, { tiId: c2.tiId, tryNumber: c2.tryNumber, workerId: "w", outcome: "success", claim, known: { taskId: "c2", versionId: c2.versionId } });
    expect(r2.runState).toBe("success");
    // A stale report of c1 (its try is over) is still fenced off on the autocommit path.
    const stale = await finishTask(db.store.db, { tiId: c1.tiId, tryNumber: c1.tryNumber, workerId: "w", outcome: "success", claim, known: { taskId: "c1", versionId: c1.versionId } });
    expect(stale.accepted).toBe(false);
  });

  it("the repair ends a run whose TIs all finished but whose end was never decided, and only once idle", async () => {
    const run = await createRun(db.store.db, { dagId: "pair", runId: "stranded", runType: "manual", logicalDate: null });
    // What a process that died between the hand-off's commit and the run's end leaves behind.
    await db.store.db.updateTable("task_instances").set({ state: "success" }).where("run_pk", "=", run.id).execute();
    await db.store.db.updateTable("dag_runs").set({ unfinished_tis: 0 }).where("id", "=", run.id).execute();
    expect(await endCountedRuns(db.store.db, 60_000)).toBe(0);
    expect((await db.store.db.selectFrom("dag_runs").select("state").where("id", "=", run.id).executeTakeFirstOrThrow()).state).toBe("running");
    await db.store.db.updateTable("dag_runs").set({ updated_at: sql`now() - interval '2 minutes'` }).where("id", "=", run.id).execute();
    expect(await endCountedRuns(db.store.db, 60_000)).toBe(1);
    expect((await db.store.db.selectFrom("dag_runs").select("state").where("id", "=", run.id).executeTakeFirstOrThrow()).state).toBe("success");
    expect(await endCountedRuns(db.store.db, 60_000)).toBe(0);
  });
});
