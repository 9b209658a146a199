// The hand-off (DESIGN §3): finishTask settles the downstream TIs in its own transaction and gives
// a ready one straight back to the finishing worker. A worker's finish takes a one-statement path
// when the plan is known in advance (success; every downstream task has it as its only upstream,
// or is an all_success fan-in whose other upstreams the statement reads after locking it);
// everything else takes the general path. Both must leave exactly the same states.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Kysely } from "kysely";
import { createRun } from "../../engine/store/runs/createRun.js";
import { claimTasks, type ClaimedTask } from "../../engine/store/tasks/claimTasks.js";
import { finishTask, type AttemptOutcome } from "../../engine/store/tasks/finishTask.js";
import type { Database } from "../../engine/store/schema.js";
import { backends, createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { dagsFolderWith, startEngine, waitForRunEnd, type TestEngine } from "../helpers/engine.js";

const DAGS = {
  "shapes.ts": `
import { dag } from "updraft";
export default dag({ id: "shapes" }, (d) => {
  // fan-out from r: every branch has r as its only upstream
  const r = d.task("r", () => 1);
  const s1 = d.task("s1", () => 1);
  const s2 = d.task("s2", () => 1);
  const s3 = d.task("s3", () => 1);
  r.before(s1, s2, s3);
  // s1 → t1 → t2: a chain
  const t1 = d.task("t1", () => 1);
  const t2 = d.task("t2", () => 1);
  d.chain(s1, t1, t2);
  // s2 fails: u and v become upstream_failed; f (all_done) still runs
  const u = d.task("u", () => 1);
  const v = d.task("v", () => 1);
  d.chain(s2, u, v);
  d.task("f", () => 1, { triggerRule: "all_done" }).after(s2);
  // s3 skips: w and x are skipped
  const w = d.task("w", () => 1);
  const x = d.task("x", () => 1);
  d.chain(s3, w, x);
  // fan-in of t2 (success) and s3 (skipped)
  d.task("y", () => 1, { triggerRule: "none_failed_min_one_success" }).after(t2, s3);
  // a's success skips g (all_failed) and h after it; i (none_failed) runs
  const a = d.task("a", () => 1);
  const g = d.task("g", () => 1, { triggerRule: "all_failed" });
  const h = d.task("h", () => 1);
  const i = d.task("i", () => 1, { triggerRule: "none_failed" });
  a.before(g, i);
  g.before(h);
  // all_success fan-ins (the one-statement path while their other upstreams are unfinished or
  // succeeded): j of i and t2, both succeed; k of t1 and s2, s2 fails: upstream_failed
  d.task("j", () => 1).after(i, t2);
  d.task("k", () => 1).after(t1, s2);
});`,
  "chain.ts": `
import { dag } from "updraft";
export default dag({ id: "chain" }, (d) => {
  d.chain(...["c0", "c1", "c2", "c3", "c4", "c5"].map((id) => d.task(id, () => id)));
});`,
};

const OUTCOMES: Record<string, AttemptOutcome> = { s2: "failed_no_retry", s3: "skipped" };

/** Plays one worker by hand: claims queued TIs, finishes each with its outcome, takes what finishTask hands back. */
async function drive(db: Kysely<Database>, withHint: boolean): Promise<number> {
  const claim = { workerId: "w", hostname: "h", queues: ["default"], limit: 1 };
  const pending: ClaimedTask[] = [];
  let handedOff = 0;
  for (let guard = 0; guard < 100; guard++) {
    if (!pending.length) pending.push(...(await claimTasks(db, { ...claim, limit: 50 })));
    const task = pending.shift();
    if (!task) return handedOff;
    const result = await finishTask(db, {
      tiId: task.tiId,
      tryNumber: task.tryNumber,
      workerId: "w",
      outcome: OUTCOMES[task.taskId] ?? "success",
      error: OUTCOMES[task.taskId] === "failed_no_retry" ? "failed on purpose" : null,
      xcom: { return_value: task.taskId },
      claim,
      known: withHint ? { taskId: task.taskId, versionId: task.versionId } : undefined,
    });
    expect(result.accepted).toBe(true);
    handedOff += result.claimed.length;
    pending.push(...result.claimed);
  }
  throw new Error("the run did not settle");
}

async function snapshot(db: Kysely<Database>, runPk: number) {
  const tis = await db.selectFrom("task_instances").select(["task_id", "state", "try_number"]).where("run_pk", "=", runPk).orderBy("task_id").execute();
  const run = await db.selectFrom("dag_runs").select(["state", "unfinished_tis"]).where("id", "=", runPk).executeTakeFirstOrThrow();
  const tries = await db.selectFrom("task_instance_tries").innerJoin("task_instances", "task_instances.id", "task_instance_tries.ti_id").select(["task_instances.task_id", "task_instance_tries.state"]).where("task_instances.run_pk", "=", runPk).orderBy("task_instances.task_id").execute();
  const xcom = await db.selectFrom("xcom").select(["task_id", "value"]).where("run_pk", "=", runPk).orderBy("task_id").execute();
  return { tis, run, tries, xcom };
}

describe.each(backends())("hand-off on %s", (backend) => {
  let db: TestDatabase;
  let engine: TestEngine;

  beforeAll(async () => {
    db = await createTestDatabase(backend);
    // The DAG processor only: these tests play the worker themselves.
    engine = await startEngine(db.store, { dagsFolder: dagsFolderWith(DAGS), worker: false });
  });
  afterAll(async () => {
    await engine?.stop();
    await db?.drop();
  });

  it("settles fan-outs, chains, failures, skips and fan-ins the same on the one-statement path and the general one", async () => {
    const fast = await createRun(db.store.db, { dagId: "shapes", runId: "fast", runType: "manual", logicalDate: null });
    const fastHandOffs = await drive(db.store.db, true);
    const general = await createRun(db.store.db, { dagId: "shapes", runId: "general", runType: "manual", logicalDate: null });
    const generalHandOffs = await drive(db.store.db, false);

    const a = await snapshot(db.store.db, fast.id);
    const b = await snapshot(db.store.db, general.id);
    expect(a).toEqual(b);
    // Both paths hand off the same downstream TIs and swap in the same queued TIs of the run
    // when an end made nothing ready (finishLeaf.ts's swap: a leaf's end on the hinted path, any
    // such end on the general path).
    expect(fastHandOffs).toBe(generalHandOffs);
    expect(fastHandOffs).toBeGreaterThan(0);
    expect(Object.fromEntries(a.tis.map((t) => [t.task_id, t.state]))).toEqual({
      r: "success", s1: "success", s2: "failed", s3: "skipped", t1: "success", t2: "success",
      u: "upstream_failed", v: "upstream_failed", f: "success", w: "skipped", x: "skipped", y: "success",
      a: "success", g: "skipped", h: "skipped", i: "success", j: "success", k: "upstream_failed",
    });
    // Leaves v (upstream_failed) and h (skipped)… decide the run: failed, with nothing left unfinished.
    expect(a.run).toEqual({ state: "failed", unfinished_tis: 0 });
  });

  it("a worker hands each link of a chain straight to itself, never through the queue", async () => {
    const worker = await startEngine(db.store, { dagsFolder: engine.dagsFolder, slots: 2 });
    try {
      const run = await createRun(db.store.db, { dagId: "chain", runType: "manual", logicalDate: new Date() });
      expect(await waitForRunEnd(db.store, run.id)).toBe("success");
      const tis = await db.store.db.selectFrom("task_instances").select(["task_id", "queued_when", "start_date", "worker_id"]).where("run_pk", "=", run.id).orderBy("task_id").execute();
      expect(new Set(tis.map((t) => t.worker_id)).size).toBe(1);
      // Handed off: claimed in the finisher's transaction, so queued and started at the same instant.
      for (const t of tis.slice(1)) expect(t.start_date?.getTime(), t.task_id).toBe(t.queued_when?.getTime());
    } finally {
      await worker.stop();
    }
  });
});
