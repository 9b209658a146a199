// A leaf's end is one statement that commits on its own (engine/store/tasks/finishLeaf.ts): it
// counts the run down and ends it when it counted the last TI, and it swaps the DAG's next
// queued TI into the slot it frees when a claim would have taken that TI first anyway. What must
// hold: the run ends once, with its leaves' verdict, also when its leaves end at the same time on
// several connections; no swap jumps ahead of a more urgent TI; a run's end starts the DAG's
// queued run.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHANNELS } from "../../engine/store/channels.js";
import { createRun } from "../../engine/store/runs/createRun.js";
import { claimTasks, type ClaimedTask } from "../../engine/store/tasks/claimTasks.js";
import { finishTask, type AttemptOutcome } from "../../engine/store/tasks/finishTask.js";
import { backends, createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { dagsFolderWith, startEngine, waitFor, type TestEngine } from "../helpers/engine.js";

const LEAVES = 6;
const DAGS = {
  "fan.ts": `
import { dag } from "updraft";
export default dag({ id: "fan", maxActiveRuns: 50 }, (d) => {
  d.task("root", () => 0).before(...Array.from({ length: ${LEAVES} }, (_, i) => d.task("l" + i, () => i)));
});`,
  "urgent.ts": `
import { dag } from "updraft";
export default dag({ id: "urgent" }, (d) => {
  d.task("now", () => 1, { priorityWeight: 100 });
});`,
  "fanin.ts": `
import { dag } from "updraft";
export default dag({ id: "fanin" }, (d) => {
  const mids = Array.from({ length: ${LEAVES} }, (_, i) => d.task("m" + i, () => i));
  d.chain(d.task("root", () => 0), mids, d.task("end", () => 1));
});`,
  "many.ts": `
import { dag } from "updraft";
export default dag({ id: "many", maxActiveRuns: 50 }, (d) => {
  d.task("only", () => 1);
});`,
  "solo.ts": `
import { dag } from "updraft";
export default dag({ id: "solo", maxActiveRuns: 1 }, (d) => {
  d.task("only", () => 1);
});`,
};

const claim = { workerId: "w", hostname: "h", queues: ["default"], limit: 1 };

describe.each(backends())("a leaf's end on %s", (backend) => {
  let db: TestDatabase;
  let engine: TestEngine;
  let runSeq = 0;

  beforeAll(async () => {
    db = await createTestDatabase(backend);
    // The DAG processor only: these tests play the worker themselves. A heartbeat timeout of an
    // hour puts the scheduler's reaper loop (which runs the sweep) 20 minutes apart: the sweep's
    // test calls it itself.
    engine = await startEngine(db.store, { dagsFolder: dagsFolderWith(DAGS), worker: false, heartbeatTimeoutMs: 3_600_000 });
  });
  afterAll(async () => {
    await engine?.stop();
    await db?.drop();
  });

  const finish = (t: ClaimedTask, outcome: AttemptOutcome = "success") =>
    finishTask(db.store.db, { tiId: t.tiId, tryNumber: t.tryNumber, workerId: "w", outcome, claim, known: { taskId: t.taskId, versionId: t.versionId } });
  const runRow = (id: number) => db.store.db.selectFrom("dag_runs").select(["state", "unfinished_tis", "end_date"]).where("id", "=", id).executeTakeFirstOrThrow();

  /** A fan run with its root finished: one leaf handed back running, the other leaves queued. */
  async function fanWithRootDone(): Promise<{ runPk: number; first: ClaimedTask }> {
    const run = await createRun(db.store.db, { dagId: "fan", runId: `fan_${++runSeq}`, runType: "manual", logicalDate: null });
    const [root] = await claimTasks(db.store.db, claim);
    expect(root?.taskId).toBe("root");
    const r = await finish(root!);
    expect(r.claimed).toHaveLength(1);
    return { runPk: run.id, first: r.claimed[0]! };
  }

  it("swaps the run's queued leaves in one by one, and the last end ends the run in the same statement, with its NOTIFY", async () => {
    const ended: string[] = [];
    const unlisten = await db.store.listen(CHANNELS.runChanged, (dagId) => void ended.push(dagId));
    try {
      const { runPk, first } = await fanWithRootDone();
      let task: ClaimedTask | undefined = first;
      const states: string[] = [];
      let swaps = 0;
      while (task) {
        const r = await finish(task);
        states.push(r.runState);
        task = r.claimed[0];
        if (task) swaps++;
      }
      // Every leaf after the first came in by a swap: no claim was needed.
      expect(swaps).toBe(LEAVES - 1);
      expect(states).toEqual([...Array(LEAVES - 1).fill("running"), "success"]);
      const row = await runRow(runPk);
      expect(row).toMatchObject({ state: "success", unfinished_tis: 0 });
      expect(row.end_date).not.toBeNull();
      await waitFor("the run's end NOTIFY", async () => ended.includes("fan"), 5_000);
    } finally {
      await unlisten();
    }
  });

  it("a failed leaf fails the run, a retried one keeps it running and is not counted", async () => {
    const { runPk, first } = await fanWithRootDone();
    // l-first fails for good; the next fails with a try left (the DAG's default: no retries → failed).
    const r1 = await finish(first, "failed_no_retry");
    expect(r1.state).toBe("failed");
    let task = r1.claimed[0];
    let last = r1;
    while (task) {
      last = await finish(task);
      task = last.claimed[0];
    }
    expect(last.runState).toBe("failed");
    expect(await runRow(runPk)).toMatchObject({ state: "failed", unfinished_tis: 0 });
  });

  it("does not swap past a more urgent queued TI of another run: that one is claimed first", async () => {
    const { runPk, first } = await fanWithRootDone();
    const urgent = await createRun(db.store.db, { dagId: "urgent", runId: `urgent_${++runSeq}`, runType: "manual", logicalDate: null });
    const r = await finish(first);
    expect(r.claimed).toEqual([]);
    const [next] = await claimTasks(db.store.db, claim);
    expect(next).toMatchObject({ runPk: urgent.id, taskId: "now" });
    await finish(next!);
    // With the urgent TI gone, the fan's leaves swap again, down to the run's end.
    let [task] = await claimTasks(db.store.db, claim);
    let last = r;
    while (task) {
      expect(task.runPk).toBe(runPk);
      last = await finish(task);
      task = last.claimed[0];
    }
    expect(last.runState).toBe("success");
  });

  it("swaps in other runs' queued TIs of the same DAG; ends at the same moment each take a different one", async () => {
    const runs = [];
    for (let i = 0; i < 6; i++) runs.push(await createRun(db.store.db, { dagId: "many", runId: `many_${++runSeq}`, runType: "manual", logicalDate: null }));
    const first = await claimTasks(db.store.db, { ...claim, limit: 3 });
    expect(first).toHaveLength(3);
    const results = await Promise.all(first.map((t) => finish(t)));
    const swapped = results.flatMap((r) => r.claimed);
    // The other three runs' TIs, one each: a swap passes over a TI another end has locked.
    expect(swapped).toHaveLength(3);
    expect(new Set([...first, ...swapped].map((t) => t.runPk))).toEqual(new Set(runs.map((r) => r.id)));
    for (const t of swapped) expect(t.dagId).toBe("many");
    for (const t of swapped) await finish(t);
    const left = await db.store.db.selectFrom("dag_runs").select("state").where("id", "in", runs.map((r) => r.id)).execute();
    expect(left.map((r) => r.state)).toEqual(Array(6).fill("success"));
  });

  it("a fan-in's upstreams swap in their queued siblings too (their one statement), and the last one hands off the fan-in", async () => {
    const run = await createRun(db.store.db, { dagId: "fanin", runId: `fanin_${++runSeq}`, runType: "manual", logicalDate: null });
    const [root] = await claimTasks(db.store.db, claim);
    let r = await finish(root!);
    const order: string[] = [];
    let swaps = 0;
    let task = r.claimed[0];
    while (task) {
      order.push(task.taskId);
      r = await finish(task);
      task = r.claimed[0];
      if (task?.taskId.startsWith("m")) swaps++;
    }
    // m0 came by hand-off; each mid's end (`end` has several upstreams: finishTask's fan-in statement) swapped
    // in the next; the last mid's end made `end` ready and handed it off; `end` ended the run.
    expect(order.slice(0, -1).sort()).toEqual(Array.from({ length: LEAVES }, (_, i) => "m" + i));
    expect(order.at(-1)).toBe("end");
    expect(swaps).toBe(LEAVES - 1);
    expect(r.runState).toBe("success");
    expect(await runRow(run.id)).toMatchObject({ state: "success", unfinished_tis: 0 });
  });

  it("ends a run exactly once when its leaves end at the same moment on several connections", async () => {
    for (let round = 0; round < 8; round++) {
      const { runPk, first } = await fanWithRootDone();
      const rest = await claimTasks(db.store.db, { ...claim, limit: LEAVES });
      expect(rest).toHaveLength(LEAVES - 1);
      // No claim offered: each end only counts (and perhaps ends) the run.
      const results = await Promise.all(
        [first, ...rest].map((t) => finishTask(db.store.db, { tiId: t.tiId, tryNumber: t.tryNumber, workerId: "w", outcome: "success", known: { taskId: t.taskId, versionId: t.versionId } })),
      );
      expect(results.filter((r) => r.runState === "success")).toHaveLength(1);
      expect(results.every((r) => r.accepted)).toBe(true);
      expect(await runRow(runPk)).toMatchObject({ state: "success", unfinished_tis: 0 });
    }
  });

  it("a run's end starts the DAG's queued run", async () => {
    const a = await createRun(db.store.db, { dagId: "solo", runId: `solo_${++runSeq}`, runType: "manual", logicalDate: null });
    const b = await createRun(db.store.db, { dagId: "solo", runId: `solo_${++runSeq}`, runType: "manual", logicalDate: null });
    expect([a.state, b.state]).toEqual(["running", "queued"]);
    const [only] = await claimTasks(db.store.db, claim);
    expect(only?.runPk).toBe(a.id);
    expect((await finish(only!)).runState).toBe("success");
    expect((await runRow(b.id)).state).toBe("running");
    const [next] = await claimTasks(db.store.db, claim);
    expect(next?.runPk).toBe(b.id);
    expect((await finish(next!)).runState).toBe("success");
  });
});
