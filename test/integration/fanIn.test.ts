// A fan-in's upstream end is one statement (finishTask.ts, migrations/0016): it locks the fan-in's
// TI and only then reads the other upstreams' states (updraft_fan_in_verdict, a fresh snapshot).
// What must hold: siblings that end at the same moment on several connections never all see each
// other running — the fan-in is made ready exactly once, by the last of them; a failed or
// skipped sibling sends the end to the general path, which settles the fan-in as the trigger rule
// says, whichever sibling ends last.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRun } from "../../engine/store/runs/createRun.js";
import { claimTasks, type ClaimedTask } from "../../engine/store/tasks/claimTasks.js";
import { FAN_IN_NEEDS_SETTLING, fastPlanOnSuccess, finishTask, type AttemptOutcome } from "../../engine/store/tasks/finishTask.js";
import { finishSuccesses } from "../../engine/store/tasks/finishSuccesses.js";
import type { LoadedVersion } from "../../engine/store/versions.js";
import { getVersion } from "../../engine/store/versions.js";
import { backends, createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { dagsFolderWith, startEngine, type TestEngine } from "../helpers/engine.js";

const MIDS = 8;
const DAGS = {
  "join.ts": `
import { dag } from "updraft";
export default dag({ id: "join", maxActiveRuns: 50 }, (d) => {
  const mids = Array.from({ length: ${MIDS} }, (_, i) => d.task("m" + i, () => i));
  d.chain(d.task("root", () => 0), mids, d.task("end", () => 1));
});`,
  "twin.ts": `
import { dag } from "updraft";
export default dag({ id: "twin" }, (d) => {
  d.chain(d.task("a", () => 1), d.task("a2", () => 2));
  d.chain(d.task("b", () => 1), d.task("b2", () => 2));
});`,
  "ruled.ts": `
import { dag } from "updraft";
export default dag({ id: "ruled" }, (d) => {
  const a = d.task("a", () => 1);
  const b = d.task("b", () => 1);
  d.task("done", () => 1, { triggerRule: "all_done" }).after(a, b);
  d.task("joined", () => 1).after(a, b);
});`,
};

const claim = { workerId: "w", hostname: "h", queues: ["default"], limit: 1 };

describe.each(backends())("a fan-in's upstream end on %s", (backend) => {
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

  const finish = (t: ClaimedTask, outcome: AttemptOutcome = "success", offer = true) =>
    finishTask(db.store.db, { tiId: t.tiId, tryNumber: t.tryNumber, workerId: "w", outcome, claim: offer ? claim : undefined, known: { taskId: t.taskId, versionId: t.versionId } });
  const states = async (runPk: number) =>
    Object.fromEntries((await db.store.db.selectFrom("task_instances").select(["task_id", "state"]).where("run_pk", "=", runPk).execute()).map((r) => [r.task_id, r.state]));
  const runRow = (id: number) => db.store.db.selectFrom("dag_runs").select(["state", "unfinished_tis"]).where("id", "=", id).executeTakeFirstOrThrow();

  /** A join run with its root finished and every mid claimed (running). */
  async function midsRunning(): Promise<{ runPk: number; mids: ClaimedTask[] }> {
    const run = await createRun(db.store.db, { dagId: "join", runId: `join_${++runSeq}`, runType: "manual", logicalDate: null });
    const [root] = await claimTasks(db.store.db, claim);
    expect(root?.taskId).toBe("root");
    const r = await finish(root!);
    const rest = await claimTasks(db.store.db, { ...claim, limit: MIDS });
    const mids = [...r.claimed, ...rest];
    expect(mids.map((m) => m.taskId).sort()).toEqual(Array.from({ length: MIDS }, (_, i) => "m" + i).sort());
    return { runPk: run.id, mids };
  }

  it("takes the one-statement path for an all_success fan-in of unmapped tasks, and not for other rules", async () => {
    const join = await getVersion(db.store.db, (await db.store.db.selectFrom("dags").select("latest_version_id").where("dag_id", "=", "join").executeTakeFirstOrThrow()).latest_version_id!);
    expect(fastPlanOnSuccess(join, "m3")).toEqual({ downstream: ["end"], fanIn: { end: Array.from({ length: MIDS }, (_, i) => "m" + i).filter((m) => m !== "m3") } });
    expect(fastPlanOnSuccess(join, "root")).toEqual({ downstream: Array.from({ length: MIDS }, (_, i) => "m" + i), fanIn: {} });
    const ruled = await getVersion(db.store.db, (await db.store.db.selectFrom("dags").select("latest_version_id").where("dag_id", "=", "ruled").executeTakeFirstOrThrow()).latest_version_id!);
    expect(fastPlanOnSuccess(ruled, "a")).toBeNull();
  });

  it("siblings ending at the same moment on several connections make the fan-in ready exactly once", async () => {
    for (let round = 0; round < 10; round++) {
      const { runPk, mids } = await midsRunning();
      const results = await Promise.all(mids.map((m) => finish(m)));
      expect(results.every((r) => r.accepted && r.state === "success")).toBe(true);
      const handed = results.flatMap((r) => r.claimed);
      // The last sibling to commit saw every other one in success and handed `end` to itself.
      expect(handed.map((t) => t.taskId), `round ${round}`).toEqual(["end"]);
      expect((await states(runPk)).end).toBe("running");
      expect(await runRow(runPk)).toMatchObject({ state: "running", unfinished_tis: 1 });
      const last = await finish(handed[0]!);
      expect(last.runState).toBe("success");
    }
  });

  it("with no slot offered, the last sibling queues the fan-in", async () => {
    const { runPk, mids } = await midsRunning();
    const results = await Promise.all(mids.map((m) => finish(m, "success", false)));
    expect(results.flatMap((r) => r.claimed)).toEqual([]);
    expect((await states(runPk)).end).toBe("queued");
    const [end] = await claimTasks(db.store.db, claim);
    expect(end?.taskId).toBe("end");
    expect((await finish(end!)).runState).toBe("success");
  });

  it("a failed sibling ending first or last leaves the fan-in upstream_failed and fails the run", async () => {
    for (const failFirst of [true, false]) {
      const { runPk, mids } = await midsRunning();
      const failing = mids.find((m) => m.taskId === "m0")!;
      const others = mids.filter((m) => m !== failing);
      if (failFirst) await finish(failing, "failed_no_retry");
      // After a failed sibling, each success reads it and takes the general path.
      for (const m of others) expect((await finish(m)).accepted).toBe(true);
      if (!failFirst) await finish(failing, "failed_no_retry");
      expect((await states(runPk)).end, `failFirst ${failFirst}`).toBe("upstream_failed");
      expect(await runRow(runPk)).toMatchObject({ state: "failed", unfinished_tis: 0 });
    }
  });

  it("a skipped sibling skips the fan-in, and the run succeeds", async () => {
    const { runPk, mids } = await midsRunning();
    const skipping = mids.find((m) => m.taskId === "m5")!;
    await finish(mids.find((m) => m.taskId === "m1")!);
    await finish(skipping, "skipped");
    for (const m of mids.filter((m) => m.taskId !== "m1" && m !== skipping)) await finish(m);
    expect((await states(runPk)).end).toBe("skipped");
    expect(await runRow(runPk)).toMatchObject({ state: "success", unfinished_tis: 0 });
  });

  // Several successes of one run in one statement (finishSuccesses.ts), as a busy worker sends them.
  const who = { workerId: "w", hostname: "h", queues: ["default"] };
  const versionOf = (t: ClaimedTask) => getVersion(db.store.db, t.versionId);
  const batch = (runPk: number, version: LoadedVersion, tis: ClaimedTask[], offer = true) => {
    const downstream: Record<string, string[]> = {};
    for (const t of tis) for (const id of fastPlanOnSuccess(version, t.taskId)!.downstream) downstream[id] = version.tasks.get(id)!.upstream;
    return finishSuccesses(db.store.db, {
      runPk,
      workerId: "w",
      version,
      claim: offer ? who : null,
      downstream,
      ends: tis.map((t) => ({ tiId: t.tiId, tryNumber: t.tryNumber, taskId: t.taskId, versionId: t.versionId, outcome: "success" as const, xcom: { return_value: t.taskId } })),
    });
  };

  it("a batch of siblings waits while others run; the batch with the last ones hands the fan-in off", async () => {
    const { runPk, mids } = await midsRunning();
    const version = await versionOf(mids[0]!);
    const first = await batch(runPk, version, mids.slice(0, 3));
    expect(first.states).toEqual(["success", "success", "success"]);
    expect(first.claimed).toEqual([]);
    expect((await states(runPk)).end).toBeNull();
    expect(await runRow(runPk)).toMatchObject({ state: "running", unfinished_tis: 1 + MIDS - 3 });
    const rest = await batch(runPk, version, mids.slice(3));
    expect(rest.states).toEqual(Array(MIDS - 3).fill("success"));
    expect(rest.claimed.map((t) => t.taskId)).toEqual(["end"]);
    expect(await runRow(runPk)).toMatchObject({ state: "running", unfinished_tis: 1 });
    const xcom = await db.store.db.selectFrom("xcom").select("task_id").where("run_pk", "=", runPk).where("task_id", "like", "m%").execute();
    expect(xcom).toHaveLength(MIDS);
    expect((await finish(rest.claimed[0]!)).runState).toBe("success");
  });

  it("two batches of siblings at the same moment on two connections make the fan-in ready exactly once", async () => {
    for (let round = 0; round < 6; round++) {
      const { runPk, mids } = await midsRunning();
      const version = await versionOf(mids[0]!);
      const [x, y] = await Promise.all([batch(runPk, version, mids.slice(0, MIDS / 2)), batch(runPk, version, mids.slice(MIDS / 2))]);
      expect([...x.claimed, ...y.claimed].map((t) => t.taskId), `round ${round}`).toEqual(["end"]);
      await finish([...x.claimed, ...y.claimed][0]!);
    }
  });

  it("an end of the batch that lost its lease is not written and counts as still running", async () => {
    const { runPk, mids } = await midsRunning();
    const version = await versionOf(mids[0]!);
    const stale = { ...mids[0]!, tryNumber: mids[0]!.tryNumber + 1 };
    const done = await batch(runPk, version, [stale, ...mids.slice(1)]);
    expect(done.states).toEqual([null, ...Array(MIDS - 1).fill("success")]);
    expect(done.claimed).toEqual([]);
    expect((await states(runPk)).end).toBeNull();
    const last = await finish(mids[0]!);
    expect(last.claimed.map((t) => t.taskId)).toEqual(["end"]);
  });

  it("after a failed sibling settled the fan-in, a batch writes its successes and leaves the fan-in upstream_failed", async () => {
    const { runPk, mids } = await midsRunning();
    const version = await versionOf(mids[0]!);
    await finish(mids[0]!, "failed_no_retry");
    const done = await batch(runPk, version, mids.slice(1));
    expect(done.states).toEqual(Array(MIDS - 1).fill("success"));
    expect(done.claimed).toEqual([]);
    expect((await states(runPk)).end).toBe("upstream_failed");
    expect(await runRow(runPk)).toMatchObject({ state: "failed", unfinished_tis: 0 });
  });

  it("a batch that meets an upstream that did not succeed beside an unsettled fan-in writes nothing (UD001)", async () => {
    const { runPk, mids } = await midsRunning();
    const version = await versionOf(mids[0]!);
    // A state no finish would leave so (its finish settles the fan-in): set by hand.
    await db.store.db.updateTable("task_instances").set({ state: "skipped" }).where("id", "=", mids[0]!.tiId).execute();
    await expect(batch(runPk, version, mids.slice(1, 4))).rejects.toMatchObject({ code: FAN_IN_NEEDS_SETTLING });
    expect(Object.values(await states(runPk)).filter((s) => s === "running")).toHaveLength(MIDS - 1);
  });

  it("successes with single-upstream downstreams in one batch hand each freed slot a downstream", async () => {
    const run = await createRun(db.store.db, { dagId: "twin", runId: `twin_${++runSeq}`, runType: "manual", logicalDate: null });
    const roots = await claimTasks(db.store.db, { ...claim, limit: 2 });
    expect(roots.map((t) => t.taskId).sort()).toEqual(["a", "b"]);
    const done = await batch(run.id, await versionOf(roots[0]!), roots);
    expect(done.claimed.map((t) => t.taskId).sort()).toEqual(["a2", "b2"]);
    for (const t of done.claimed) await finish(t);
    expect(await runRow(run.id)).toMatchObject({ state: "success", unfinished_tis: 0 });
  });
});
