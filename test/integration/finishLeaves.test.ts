// Several leaf ends of one run in one statement (engine/store/tasks/finishLeaves.ts), as a busy
// worker reports them (worker/endReporter.ts). What must hold: each end writes what it would write
// alone (state, try, XCom, log lines) and counts the run down once; an end whose lease is gone is
// not written (and says so); a retried end does not count; as many queued TIs are swapped in as
// ends freed slots, never past a more urgent TI of another DAG; the batch that counts the run's
// last TIs ends the run.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRun } from "../../engine/store/runs/createRun.js";
import { claimTasks, type ClaimedTask } from "../../engine/store/tasks/claimTasks.js";
import { finishLeaves, type LeafEnd } from "../../engine/store/tasks/finishLeaves.js";
import { finishTask } from "../../engine/store/tasks/finishTask.js";
import { getVersion } from "../../engine/store/versions.js";
import { KeyedBatcher } from "../../worker/keyedBatcher.js";
import { backends, createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { dagsFolderWith, startEngine, type TestEngine } from "../helpers/engine.js";

const LEAVES = 8;
const DAGS = {
  "wide.ts": `
import { dag } from "updraft";
export default dag({ id: "wide", maxActiveRuns: 50 }, (d) => {
  d.task("root", () => 0).before(...Array.from({ length: ${LEAVES} }, (_, i) => d.task("l" + i, () => i, { retries: 1 })));
});`,
  "urgent.ts": `
import { dag } from "updraft";
export default dag({ id: "urgent" }, (d) => {
  d.task("now", () => 1, { priorityWeight: 100 });
});`,
};

const claim = { workerId: "w", hostname: "h", queues: ["default"], limit: 1 };
const who = { workerId: "w", hostname: "h", queues: ["default"] };

describe.each(backends())("leaf ends in one statement on %s", (backend) => {
  let db: TestDatabase;
  let engine: TestEngine;
  let runSeq = 0;

  beforeAll(async () => {
    db = await createTestDatabase(backend);
    // The DAG processor only: these tests play the worker themselves.
    engine = await startEngine(db.store, { dagsFolder: dagsFolderWith(DAGS), worker: false });
  });
  afterAll(async () => {
    await engine?.stop();
    await db?.drop();
  });

  const end = (t: ClaimedTask, extra: Partial<LeafEnd> = {}): LeafEnd => ({ tiId: t.tiId, tryNumber: t.tryNumber, taskId: t.taskId, versionId: t.versionId, outcome: "success", ...extra });
  const runRow = (id: number) => db.store.db.selectFrom("dag_runs").select(["state", "unfinished_tis"]).where("id", "=", id).executeTakeFirstOrThrow();

  /** A wide run with its root finished: one leaf handed back, `running` more claimed, the rest queued. */
  async function wideRun(running: number): Promise<{ runPk: number; leaves: ClaimedTask[] }> {
    // Earlier tests' runs leave queued leaves behind, older than this run's: out of the way.
    await db.store.db.updateTable("task_instances").set({ state: "removed" }).where("state", "=", "queued").execute();
    const run = await createRun(db.store.db, { dagId: "wide", runId: `wide_${++runSeq}`, runType: "manual", logicalDate: null });
    const [root] = await claimTasks(db.store.db, claim);
    expect(root?.taskId).toBe("root");
    const r = await finishTask(db.store.db, { tiId: root!.tiId, tryNumber: root!.tryNumber, workerId: "w", outcome: "success", claim, known: { taskId: "root", versionId: root!.versionId } });
    const more = running > 1 ? await claimTasks(db.store.db, { ...claim, limit: running - 1 }) : [];
    return { runPk: run.id, leaves: [...r.claimed, ...more] };
  }

  it("writes each end as alone, counts the run down once per counted end, swaps one queued TI per freed slot", async () => {
    const { runPk, leaves } = await wideRun(3);
    const version = await getVersion(db.store.db, leaves[0]!.versionId);
    const [a, b, c] = leaves as [ClaimedTask, ClaimedTask, ClaimedTask];
    const done = await finishLeaves(db.store.db, {
      runPk,
      workerId: "w",
      version,
      claim: who,
      ends: [
        end(a, { xcom: { return_value: "a" }, logs: [{ ts: Date.now(), stream: "stdout", line: "hello from a" }] }),
        end(b, { outcome: "failed", error: "boom", retryDelayMs: 60_000 }),
        end(c, { outcome: "skipped" }),
      ],
    });
    expect(done.states).toEqual(["success", "up_for_retry", "skipped"]);
    expect(done.runState).toBe("running");
    // Three slots freed; the retried one takes nothing (as finishLeaf): two of the queued leaves.
    expect(done.claimed).toHaveLength(2);
    for (const t of done.claimed) expect(t.runPk).toBe(runPk);
    // root + a + c counted; b (up for retry) not.
    expect(await runRow(runPk)).toEqual({ state: "running", unfinished_tis: 1 + LEAVES - 3 });
    const tries = await db.store.db.selectFrom("task_instance_tries").select(["ti_id", "state", "error"]).where("ti_id", "in", [a.tiId, b.tiId, c.tiId]).orderBy("state").execute();
    expect(tries.map((t) => [t.ti_id, t.state, t.error])).toEqual([
      [c.tiId, "skipped", null],
      [a.tiId, "success", null],
      [b.tiId, "up_for_retry", "boom"],
    ]);
    expect(await db.store.db.selectFrom("xcom").select(["value"]).where("ti_id", "=", a.tiId).execute()).toEqual([{ value: "a" }]);
    expect((await db.store.db.selectFrom("task_logs").select("line").where("ti_id", "=", a.tiId).execute()).map((l) => l.line)).toEqual(["hello from a"]);
  });

  it("does not write an end whose lease is gone, nor one unlike the hint; the rest are written", async () => {
    const { runPk, leaves } = await wideRun(3);
    const version = await getVersion(db.store.db, leaves[0]!.versionId);
    const [a, b, c] = leaves as [ClaimedTask, ClaimedTask, ClaimedTask];
    const done = await finishLeaves(db.store.db, { runPk, workerId: "w", version, claim: null, ends: [end(a), end(b, { tryNumber: b.tryNumber + 1 }), end(c, { taskId: "root" })] });
    expect(done.states).toEqual(["success", null, null]);
    expect(done.claimed).toEqual([]);
    expect(await runRow(runPk)).toEqual({ state: "running", unfinished_tis: LEAVES - 1 });
    const states = await db.store.db.selectFrom("task_instances").select(["id", "state"]).where("id", "in", [b.tiId, c.tiId]).execute();
    expect(states.map((s) => s.state)).toEqual(["running", "running"]);
  });

  it("never swaps past a more urgent TI of another DAG", async () => {
    const { runPk, leaves } = await wideRun(2);
    const version = await getVersion(db.store.db, leaves[0]!.versionId);
    await createRun(db.store.db, { dagId: "urgent", runId: `urgent_${++runSeq}`, runType: "manual", logicalDate: null });
    const done = await finishLeaves(db.store.db, { runPk, workerId: "w", version, claim: who, ends: leaves.map((t) => end(t)) });
    expect(done.states).toEqual(["success", "success"]);
    expect(done.claimed).toEqual([]);
    const [urgent] = await claimTasks(db.store.db, claim);
    expect(urgent?.dagId).toBe("urgent");
    await finishTask(db.store.db, { tiId: urgent!.tiId, tryNumber: urgent!.tryNumber, workerId: "w", outcome: "success", known: { taskId: urgent!.taskId, versionId: urgent!.versionId } });
  });

  it("the batch that counts the run's last TIs ends the run", async () => {
    const { runPk, leaves } = await wideRun(LEAVES);
    expect(leaves).toHaveLength(LEAVES);
    const version = await getVersion(db.store.db, leaves[0]!.versionId);
    const half = leaves.slice(0, LEAVES / 2);
    expect((await finishLeaves(db.store.db, { runPk, workerId: "w", version, claim: who, ends: half.map((t) => end(t)) })).runState).toBe("running");
    const done = await finishLeaves(db.store.db, { runPk, workerId: "w", version, claim: who, ends: leaves.slice(LEAVES / 2).map((t, i) => end(t, i === 0 ? { outcome: "failed_no_retry", error: "no" } : {})) });
    expect(done.runState).toBe("failed");
    expect(await runRow(runPk)).toEqual({ state: "failed", unfinished_tis: 0 });
  });

  it("the batcher sends the first report of a key alone and the ones that arrive meanwhile together", async () => {
    const calls: number[][] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const batcher = new KeyedBatcher<number, string>(async (key, items) => {
      calls.push(items);
      if (calls.length === 1) await gate;
      return items.map((i) => `${key}:${i}`);
    });
    const first = batcher.submit(1, 10);
    const rest = [batcher.submit(1, 11), batcher.submit(1, 12)];
    const other = batcher.submit(2, 20);
    expect(await other).toBe("2:20");
    release();
    expect(await Promise.all([first, ...rest])).toEqual(["1:10", "1:11", "1:12"]);
    expect(calls).toEqual([[10], [20], [11, 12]]);
  });
});
