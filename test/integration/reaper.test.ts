// The reaper: a running TI whose worker stopped heartbeating is failed or retried, fenced like any
// other write, with a log line saying why.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRun } from "../../engine/store/runs/createRun.js";
import { claimTasks } from "../../engine/store/tasks/claimTasks.js";
import { finishTask } from "../../engine/store/tasks/finishTask.js";
import { backends, createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { dagsFolderWith, startEngine, waitFor, waitForRunEnd, type TestEngine } from "../helpers/engine.js";

describe.each(backends())("reaper on %s", (backend) => {
  let db: TestDatabase;
  let engine: TestEngine;

  beforeAll(async () => {
    db = await createTestDatabase(backend);
    engine = await startEngine(db.store, {
      dagsFolder: dagsFolderWith({
        "lost.ts": `import { dag } from "updraft";
export default dag({ id: "lost" }, (d) => { d.task("once", () => 1); d.task("twice", () => 2, { retries: 1, retryDelay: "10ms" }); });`,
      }),
      worker: false,
      heartbeatTimeoutMs: 1_000,
    });
  });
  afterAll(async () => {
    await engine?.stop();
    await db?.drop();
  });

  it("fails a TI without retries and retries one with retries when its worker vanishes", async () => {
    const run = await createRun(db.store.db, { dagId: "lost", runType: "manual", logicalDate: new Date() });
    // A worker that claims both tasks and then disappears without a heartbeat.
    const claimed = await claimTasks(db.store.db, { workerId: "ghost", hostname: "nowhere", queues: ["default"], limit: 10 });
    expect(claimed.map((c) => c.taskId).sort()).toEqual(["once", "twice"]);

    const once = claimed.find((c) => c.taskId === "once")!;
    await waitFor("the reaper to fail 'once'", async () => {
      const ti = await db.store.db.selectFrom("task_instances").select("state").where("id", "=", once.tiId).executeTakeFirstOrThrow();
      return ti.state === "failed";
    }, 10_000);
    const tries = await db.store.db.selectFrom("task_instance_tries").select(["state", "error"]).where("ti_id", "=", once.tiId).execute();
    expect(tries).toEqual([{ state: "failed", error: expect.stringMatching(/no heartbeat from worker ghost/) }]);
    const logs = await db.store.db.selectFrom("task_logs").select("line").where("ti_id", "=", once.tiId).execute();
    expect(logs.map((l) => l.line).join("\n")).toMatch(/presumed lost/);

    const twice = claimed.find((c) => c.taskId === "twice")!;
    const retried = await waitFor("'twice' to be queued again", async () => {
      const ti = await db.store.db.selectFrom("task_instances").select(["state", "try_number"]).where("id", "=", twice.tiId).executeTakeFirstOrThrow();
      return ti.state === "queued" ? ti : null;
    }, 10_000);
    expect(retried.try_number).toBe(1);

    // The ghost comes back and reports: its write is fenced off.
    const late = await finishTask(db.store.db, { tiId: once.tiId, tryNumber: once.tryNumber, workerId: "ghost", outcome: "success" });
    expect(late.accepted).toBe(false);

    // A real worker picks up the retry; the run ends failed because of 'once'.
    const next = await claimTasks(db.store.db, { workerId: "real", hostname: "here", queues: ["default"], limit: 10 });
    expect(next.map((c) => [c.taskId, c.tryNumber])).toEqual([["twice", 2]]);
    const done = await finishTask(db.store.db, { tiId: next[0]!.tiId, tryNumber: 2, workerId: "real", outcome: "success", xcom: { return_value: 2 } });
    expect(done).toMatchObject({ accepted: true, state: "success", runState: "failed" });
    expect(await waitForRunEnd(db.store, run.id)).toBe("failed");
  });
});
