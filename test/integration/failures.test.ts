// What must not harm the engine: a task that exits its process or overruns its timeout, a stale
// completion from an attempt that lost its lease, a broken DAG file next to good ones.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRun } from "../../engine/store/runs/createRun.js";
import { finishTask } from "../../engine/store/tasks/finishTask.js";
import { backends, createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { dagsFolderWith, startEngine, waitFor, waitForRunEnd, type TestEngine } from "../helpers/engine.js";

const DAGS = {
  "exits.ts": `
import { dag } from "updraft";
export default dag({ id: "exits" }, (d) => {
  d.task("exit", () => { process.exit(1); });
  d.task("hang", async () => { await new Promise(() => {}); }, { timeout: "700ms" });
  d.task("ignores_abort", () => { const end = Date.now() + 60_000; while (Date.now() < end) {} }, { timeout: "300ms" });
});`,
  "fine.ts": `
import { dag } from "updraft";
export default dag({ id: "fine" }, (d) => {
  d.task("ok", (ctx) => { ctx.log.info("still here"); return 42; });
});`,
  "slow.ts": `
import { dag } from "updraft";
export default dag({ id: "slow" }, (d) => {
  d.task("wait", async (ctx) => { await new Promise((r) => setTimeout(r, 1500)); return "late"; });
});`,
  "broken_syntax.ts": `import { dag } from "updraft";\nexport default dag({ id: "broken" }, (d) => {\n  const x = ;\n});\n`,
  "broken_cycle.ts": `import { dag } from "updraft";\nexport default dag({ id: "cyclic" }, (d) => {\n  const a = d.task("a", () => 1);\n  const b = d.task("b", () => 2);\n  a.before(b);\n  b.before(a);\n});\n`,
  "broken_dup.ts": `import { dag } from "updraft";\nexport default dag({ id: "dup" }, (d) => {\n  d.task("same", () => 1);\n  d.task("same", () => 2);\n});\n`,
  "broken_throw.ts": `import { dag } from "updraft";\nconst config = {};\nthrow new Error("cannot load config");\n`,
};

describe.each(backends())("failures on %s", (backend) => {
  let db: TestDatabase;
  let engine: TestEngine;

  beforeAll(async () => {
    db = await createTestDatabase(backend);
    engine = await startEngine(db.store, { dagsFolder: dagsFolderWith(DAGS), slots: 3 });
  });
  afterAll(async () => {
    await engine?.stop();
    await db?.drop();
  });

  it("fails a task that calls process.exit or exceeds its timeout, and the worker keeps working", async () => {
    const run = await createRun(db.store.db, { dagId: "exits", runType: "manual", logicalDate: new Date() });
    expect(await waitForRunEnd(db.store, run.id)).toBe("failed");
    const tries = await db.store.db
      .selectFrom("task_instance_tries")
      .innerJoin("task_instances", "task_instances.id", "task_instance_tries.ti_id")
      .select(["task_instances.task_id", "task_instance_tries.state", "task_instance_tries.error"])
      .where("task_instances.run_pk", "=", run.id)
      .execute();
    const byTask = Object.fromEntries(tries.map((t) => [t.task_id, t]));
    expect(byTask.exit?.state).toBe("failed");
    expect(byTask.exit?.error).toMatch(/runner process ended \(exit code 1\)/);
    expect(byTask.hang?.error).toMatch(/timed out after 700 ms/);
    expect(byTask.ignores_abort?.error).toMatch(/timed out after 300 ms/);

    const next = await createRun(db.store.db, { dagId: "fine", runType: "manual", logicalDate: new Date() });
    expect(await waitForRunEnd(db.store, next.id)).toBe("success");
  });

  it("rejects a stale completion (wrong try number or worker) and stores nothing from it", async () => {
    const run = await createRun(db.store.db, { dagId: "slow", runType: "manual", logicalDate: new Date() });
    const ti = await waitFor("the slow task to run", () =>
      db.store.db.selectFrom("task_instances").selectAll().where("run_pk", "=", run.id).where("state", "=", "running").executeTakeFirst(),
    );
    const stale = await finishTask(db.store.db, { tiId: ti.id, tryNumber: ti.try_number + 1, workerId: ti.worker_id!, outcome: "success", xcom: { return_value: "forged" } });
    expect(stale.accepted).toBe(false);
    const otherWorker = await finishTask(db.store.db, { tiId: ti.id, tryNumber: ti.try_number, workerId: "someone-else", outcome: "failed", error: "forged" });
    expect(otherWorker.accepted).toBe(false);
    expect(await db.store.db.selectFrom("xcom").select("value").where("ti_id", "=", ti.id).execute()).toEqual([]);
    expect(await waitForRunEnd(db.store, run.id)).toBe("success");
    const value = await db.store.db.selectFrom("xcom").select("value").where("ti_id", "=", ti.id).executeTakeFirstOrThrow();
    expect(value.value).toBe("late");
    // The real completion already happened: a replay of it is stale too.
    const replay = await finishTask(db.store.db, { tiId: ti.id, tryNumber: ti.try_number, workerId: ti.worker_id!, outcome: "failed" });
    expect(replay.accepted).toBe(false);
  });

  it("records broken DAG files as import errors with file and line, and the other DAGs still run", async () => {
    const errors = await db.store.db.selectFrom("import_errors").select(["filename", "line", "stack_trace"]).execute();
    const byFile = Object.fromEntries(errors.map((e) => [e.filename.split("/").pop(), e]));
    expect(Object.keys(byFile).sort()).toEqual(["broken_cycle.ts", "broken_dup.ts", "broken_syntax.ts", "broken_throw.ts"]);
    expect(byFile["broken_syntax.ts"]).toMatchObject({ line: 3 });
    expect(byFile["broken_cycle.ts"]!.stack_trace).toContain("cycle: a → b → a");
    expect(byFile["broken_dup.ts"]!.stack_trace).toContain('duplicate task id "same"');
    expect(byFile["broken_dup.ts"]).toMatchObject({ line: 4 });
    expect(byFile["broken_throw.ts"]).toMatchObject({ line: 3 });
    expect(byFile["broken_throw.ts"]!.stack_trace).toContain("cannot load config");
    const dags = await db.store.db.selectFrom("dags").select("dag_id").execute();
    expect(dags.map((d) => d.dag_id).sort()).toEqual(["exits", "fine", "slow"]);
    const run = await createRun(db.store.db, { dagId: "fine", runType: "manual", logicalDate: new Date() });
    expect(await waitForRunEnd(db.store, run.id)).toBe("success");
  });
});
