// A TI cleared while running whose worker is gone: it sits in `restarting` until the reaper finds
// it abandoned (no heartbeat for the timeout) and puts it back to run; the ghost's late finish is
// dropped, and the interrupted try stays in the history.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRun } from "../../engine/store/runs/createRun.js";
import { claimTasks } from "../../engine/store/tasks/claimTasks.js";
import { clearTaskInstances } from "../../engine/store/tasks/clearTaskInstances.js";
import { finishTask } from "../../engine/store/tasks/finishTask.js";
import { backends, createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { dagsFolderWith, startEngine, waitFor, type TestEngine } from "../helpers/engine.js";

describe.each(backends())("clearing a running TI of a lost worker on %s", (backend) => {
  let db: TestDatabase;
  let engine: TestEngine;

  beforeAll(async () => {
    db = await createTestDatabase(backend);
    engine = await startEngine(db.store, {
      dagsFolder: dagsFolderWith({ "one.ts": `import { dag } from "updraft";\nexport default dag({ id: "one" }, (d) => { d.task("only", () => 1); });` }),
      worker: false,
      heartbeatTimeoutMs: 1_000,
    });
  });
  afterAll(async () => {
    await engine?.stop();
    await db?.drop();
  });

  it("is released by the reaper, re-queued, and the ghost's finish is fenced off", async () => {
    const run = await createRun(db.store.db, { dagId: "one", runType: "manual", logicalDate: new Date() });
    const [claimed] = await claimTasks(db.store.db, { workerId: "ghost", hostname: "nowhere", queues: ["default"], limit: 1 });
    expect(claimed?.taskId).toBe("only");
    const cleared = await db.store.db.transaction().execute((tx) =>
      clearTaskInstances(tx, { dagId: "one", runId: null, taskIds: ["only"], onlyFailed: false, includeUpstream: false, includeDownstream: false }),
    );
    expect(cleared.map((c) => c.task_id)).toEqual(["only"]);
    const ti = () => db.store.db.selectFrom("task_instances").select(["state", "try_number", "worker_id"]).where("id", "=", claimed!.tiId).executeTakeFirstOrThrow();
    expect((await ti()).state).toBe("restarting");

    const late = await finishTask(db.store.db, { tiId: claimed!.tiId, tryNumber: claimed!.tryNumber, workerId: "ghost", outcome: "success", xcom: { return_value: "late" } });
    expect(late.accepted).toBe(false);
    expect((await ti()).state).toBe("restarting");

    await waitFor("the reaper to release it", async () => (await ti()).state === "queued", 10_000);
    expect(await ti()).toEqual({ state: "queued", try_number: 1, worker_id: null });
    const history = await db.store.db.selectFrom("task_instance_tries").select(["try_number", "state", "worker_id"]).where("ti_id", "=", claimed!.tiId).execute();
    expect(history).toEqual([{ try_number: 1, state: "restarting", worker_id: "ghost" }]);
    expect(await db.store.db.selectFrom("xcom").select("key").where("ti_id", "=", claimed!.tiId).execute()).toEqual([]);
    const runRow = await db.store.db.selectFrom("dag_runs").select(["state", "unfinished_tis"]).where("id", "=", run.id).executeTakeFirstOrThrow();
    expect(runRow).toEqual({ state: "running", unfinished_tis: 1 });

    // The next claim is try 2.
    const [again] = await claimTasks(db.store.db, { workerId: "w2", hostname: "here", queues: ["default"], limit: 1 });
    expect(again).toMatchObject({ tiId: claimed!.tiId, tryNumber: 2 });
  });
});
