// End to end in one process: DAG file → run → worker → database, on PGlite and PostgreSQL.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRun } from "../../engine/store/runs/createRun.js";
import { backends, createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { dagsFolderWith, startEngine, waitFor, waitForRunEnd, type TestEngine } from "../helpers/engine.js";

const DAGS = {
  "typed.ts": `
import { dag } from "updraft";
export default dag({ id: "typed" }, (d) => {
  const numbers = d.task("numbers", () => [1, 2, 3]);
  const doubled = d.task("doubled", [numbers], (ctx, xs) => xs.map((x) => x * 2));
  const total = d.task("total", [numbers, doubled], (ctx, a, b) => ({ a: a.length, sum: b.reduce((s, x) => s + x, 0), city: ctx.conf.city }));
  d.shell("echo", "echo hello && echo last-line").after(total);
});`,
  "failing.ts": `
import { dag } from "updraft";
export default dag({ id: "failing" }, (d) => {
  const ok = d.task("ok", () => 1);
  const boom = d.task("boom", () => { throw new Error("kaboom"); });
  const after = d.task("after", [boom], (ctx, v) => v);
  const last = d.task("last", [after], (ctx, v) => v);
  ok.before(last);
});`,
  "flaky.ts": `
import { dag } from "updraft";
export default dag({ id: "flaky", defaults: { retries: 2, retryDelay: "100ms" } }, (d) => {
  d.task("flaky", (ctx) => {
    if (ctx.tryNumber < 2) throw new Error("first try fails");
    return ctx.tryNumber;
  });
});`,
  "minutely.ts": `
import { dag } from "updraft";
export default dag({ id: "minutely", schedule: "* * * * *", start: "2024-01-01", catchup: false }, (d) => {
  d.task("interval", (ctx) => [ctx.dataIntervalStart?.toISOString(), ctx.dataIntervalEnd?.toISOString(), ctx.ds]);
});`,
};

describe.each(backends())("runs on %s", (backend) => {
  let db: TestDatabase;
  let engine: TestEngine;

  beforeAll(async () => {
    db = await createTestDatabase(backend);
    engine = await startEngine(db.store, { dagsFolder: dagsFolderWith(DAGS) });
  });
  afterAll(async () => {
    await engine?.stop();
    await db?.drop();
  });

  it("passes typed data between tasks and succeeds", async () => {
    const run = await createRun(db.store.db, { dagId: "typed", runType: "manual", logicalDate: new Date(), conf: { city: "Oslo" } });
    expect(await waitForRunEnd(db.store, run.id)).toBe("success");
    const xcom = await db.store.db.selectFrom("xcom").select(["task_id", "value"]).where("run_pk", "=", run.id).where("key", "=", "return_value").execute();
    const values = Object.fromEntries(xcom.map((x) => [x.task_id, x.value]));
    expect(values.doubled).toEqual([2, 4, 6]);
    expect(values.total).toEqual({ a: 3, sum: 12, city: "Oslo" });
    expect(values.echo).toBe("last-line");
  });

  it("marks downstream upstream_failed and the run failed when a task fails", async () => {
    const run = await createRun(db.store.db, { dagId: "failing", runType: "manual", logicalDate: new Date() });
    expect(await waitForRunEnd(db.store, run.id)).toBe("failed");
    const tis = await db.store.db.selectFrom("task_instances").select(["task_id", "state"]).where("run_pk", "=", run.id).execute();
    expect(Object.fromEntries(tis.map((t) => [t.task_id, t.state]))).toEqual({ ok: "success", boom: "failed", after: "upstream_failed", last: "upstream_failed" });
    const boom = await db.store.db.selectFrom("task_instance_tries").innerJoin("task_instances", "task_instances.id", "task_instance_tries.ti_id").select(["task_instance_tries.error"]).where("task_instances.run_pk", "=", run.id).where("task_instances.task_id", "=", "boom").executeTakeFirstOrThrow();
    expect(boom.error).toContain("kaboom");
  });

  it("retries a failing task after its retry delay and keeps every try", async () => {
    const run = await createRun(db.store.db, { dagId: "flaky", runType: "manual", logicalDate: new Date() });
    expect(await waitForRunEnd(db.store, run.id)).toBe("success");
    const ti = await db.store.db.selectFrom("task_instances").select(["id", "try_number", "state"]).where("run_pk", "=", run.id).executeTakeFirstOrThrow();
    expect(ti).toMatchObject({ try_number: 2, state: "success" });
    const tries = await db.store.db.selectFrom("task_instance_tries").select(["try_number", "state", "start_date", "end_date"]).where("ti_id", "=", ti.id).orderBy("try_number").execute();
    expect(tries.map((t) => [t.try_number, t.state])).toEqual([[1, "up_for_retry"], [2, "success"]]);
    // The second try started no earlier than the retry delay after the first ended.
    expect(new Date(tries[1]!.start_date!).getTime() - new Date(tries[0]!.end_date!).getTime()).toBeGreaterThanOrEqual(90);
  });

  it("creates the scheduled run of the latest complete interval at its end, with Airflow's dates", async () => {
    const run = await waitFor("the scheduled run of minutely", () =>
      db.store.db.selectFrom("dag_runs").selectAll().where("dag_id", "=", "minutely").where("run_type", "=", "scheduled").executeTakeFirst(),
    );
    const start = new Date(run.data_interval_start!);
    const end = new Date(run.data_interval_end!);
    expect(end.getTime() - start.getTime()).toBe(60_000);
    expect(start.getUTCSeconds()).toBe(0);
    expect(new Date(run.logical_date!).getTime()).toBe(start.getTime());
    expect(new Date(run.run_after).getTime()).toBe(end.getTime());
    expect(end.getTime()).toBeLessThanOrEqual(Date.now());
    expect(run.run_id).toBe(`scheduled__${start.toISOString().replace(".000Z", "+00:00")}`);
    expect(await waitForRunEnd(db.store, run.id)).toBe("success");
    const value = await db.store.db.selectFrom("xcom").select("value").where("run_pk", "=", run.id).executeTakeFirstOrThrow();
    expect(value.value).toEqual([start.toISOString(), end.toISOString(), start.toISOString().slice(0, 10)]);
  });
});
