// A hand-off passes the upstream's return value along (ClaimedTask.upstreamXcom, finishTask's fast
// path), so the worker starts a data-passing downstream task without reading its input back
// (engine/store/xcom/taskInputs.ts). What must hold: the value handed over is the value as stored
// — jsonb's key order, not the task's — equal to what a read would return; it is used only when
// it is the task's only input; any other task reads its inputs as before.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KyselyPlugin, RootOperationNode } from "kysely";
import { createRun } from "../../engine/store/runs/createRun.js";
import { claimTasks } from "../../engine/store/tasks/claimTasks.js";
import { finishTask } from "../../engine/store/tasks/finishTask.js";
import { getVersion } from "../../engine/store/versions.js";
import { pullInputs } from "../../engine/store/xcom/pullXcom.js";
import { taskInputs } from "../../engine/store/xcom/taskInputs.js";
import { backends, createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { dagsFolderWith, startEngine, type TestEngine } from "../helpers/engine.js";

const DAGS = {
  "pass.ts": `
import { dag } from "updraft";
export default dag({ id: "pass", maxActiveRuns: 20 }, (d) => {
  const a = d.task("a", () => 0);
  d.task("b", [a], (_ctx, x: unknown) => x);
  const c = d.task("c", () => 0);
  const e = d.task("e", () => 0);
  d.task("f", [c, e], (_ctx, x: unknown, y: unknown) => [x, y]);
});`,
};

const claim = { workerId: "w", hostname: "h", queues: ["default"], limit: 1 };

/** Any query fails: what must be answered without one. */
const NO_QUERIES: KyselyPlugin = {
  transformQuery({ node }): RootOperationNode {
    throw new Error(`unexpected query (${node.kind})`);
  },
  async transformResult({ result }) {
    return result;
  },
};

describe.each(backends())("hand-off inputs on %s", (backend) => {
  let db: TestDatabase;
  let engine: TestEngine;
  let seq = 0;

  beforeAll(async () => {
    db = await createTestDatabase(backend);
    engine = await startEngine(db.store, { dagsFolder: dagsFolderWith(DAGS), worker: false });
  });
  afterAll(async () => {
    await engine?.stop();
    await db?.drop();
  });

  /** Claims the queued TI of `taskId` (the only one queued). */
  async function claimOne(taskId: string) {
    const [t] = await claimTasks(db.store.db, claim);
    expect(t?.taskId).toBe(taskId);
    return t!;
  }

  it("hands the downstream TI its upstream's return value as stored, equal to a read of it", async () => {
    const run = await createRun(db.store.db, { dagId: "pass", runId: `pass_${++seq}`, runType: "manual", logicalDate: null });
    // Only a's branch: c and e are out of the way.
    await db.store.db.updateTable("task_instances").set({ state: "removed" }).where("run_pk", "=", run.id).where("task_id", "in", ["c", "e", "f"]).execute();
    const a = await claimOne("a");
    // Keys in an order jsonb does not keep (it orders by length, then bytes).
    const value = { zz: 1, a: [1, { yy: true, b: null }], é: "x", when: "2024-01-01T00:00:00.000Z" };
    const done = await finishTask(db.store.db, { tiId: a.tiId, tryNumber: a.tryNumber, workerId: "w", outcome: "success", xcom: { return_value: value }, claim, known: { taskId: "a", versionId: a.versionId } });
    const [b] = done.claimed;
    expect(b?.taskId).toBe("b");
    expect(b!.upstreamXcom?.taskId).toBe("a");
    const read = (await pullInputs(db.store.db, run.id, ["a"])).get("a");
    expect(b!.upstreamXcom!.value).toEqual(value);
    // The same value a read returns, keys in the same (stored) order.
    expect(JSON.stringify(b!.upstreamXcom!.value)).toBe(JSON.stringify(read));
    expect(Object.keys(b!.upstreamXcom!.value as object)).not.toEqual(Object.keys(value));
    // b's worker needs no query for its input.
    const version = await getVersion(db.store.db, b!.versionId);
    const inputs = await taskInputs(db.store.db.withPlugin(NO_QUERIES), version, run.id, -1, version.tasks.get("b")!, b!.upstreamXcom);
    expect(JSON.stringify(inputs.inputs)).toBe(JSON.stringify([read]));
  });

  it("a task with inputs from other upstreams too reads them all", async () => {
    const run = await createRun(db.store.db, { dagId: "pass", runId: `pass_${++seq}`, runType: "manual", logicalDate: null });
    await db.store.db.updateTable("task_instances").set({ state: "removed" }).where("run_pk", "=", run.id).where("task_id", "in", ["a", "b"]).execute();
    const version = await getVersion(db.store.db, (await db.store.db.selectFrom("dag_runs").select("dag_version_id").where("id", "=", run.id).executeTakeFirstOrThrow()).dag_version_id);
    const both = await claimTasks(db.store.db, { ...claim, limit: 2 });
    const c = both.find((t) => t.taskId === "c")!;
    const e = both.find((t) => t.taskId === "e")!;
    expect(both).toHaveLength(2);
    await finishTask(db.store.db, { tiId: c.tiId, tryNumber: c.tryNumber, workerId: "w", outcome: "success", xcom: { return_value: "from c" }, known: { taskId: "c", versionId: c.versionId } });
    const done = await finishTask(db.store.db, { tiId: e.tiId, tryNumber: e.tryNumber, workerId: "w", outcome: "success", xcom: { return_value: "from e" }, claim, known: { taskId: "e", versionId: e.versionId } });
    const [f] = done.claimed;
    expect(f?.taskId).toBe("f");
    // Only e's value came with the hand-off: f's inputs are read, c's included.
    const f0 = version.tasks.get("f")!;
    await expect(taskInputs(db.store.db.withPlugin(NO_QUERIES), version, run.id, -1, f0, f!.upstreamXcom)).rejects.toThrow(/unexpected query/);
    expect((await taskInputs(db.store.db, version, run.id, -1, f0, f!.upstreamXcom)).inputs).toEqual(["from c", "from e"]);
  });
});
