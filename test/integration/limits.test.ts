// Pools, maxActiveTasks, maxActiveTisPerDag, queue routing and priority across DAGs, on PGlite and
// PostgreSQL, with in-process workers. A sampler reads the running count from the database every few
// ms: its maximum must equal the limit — never above (the limit holds) and reached (the test can fail
// the other way). Each task also records when it really ran (a file per task): the executions never
// overlap beyond the limit either. (Reaching the limit is judged on the database: a runner process
// started on demand can take seconds on a loaded machine, so real executions may overlap less.)
// Workers poll only once a minute, so progress after a slot frees proves the NOTIFY wake-up.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../engine/logger.js";
import { createRun } from "../../engine/store/runs/createRun.js";
import { claimTasks } from "../../engine/store/tasks/claimTasks.js";
import { Worker } from "../../worker/worker.js";
import { backends, createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { dagsFolderWith, startEngine, waitFor, waitForRunEnd, type TestEngine } from "../helpers/engine.js";

/**
 * A task body that records its execution interval in marks/<tag>/<dag>.<task>.<run>.
 */
const recorded = (marks: string, tag: string, ms = 300) => `async (ctx) => {
    const start = Date.now();
    await new Promise((r) => setTimeout(r, ${ms}));
    const dir = ${JSON.stringify(marks)} + "/${tag}";
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(dir + "/" + ctx.dagId + "." + ctx.taskId + "." + ctx.runId.replace(/[^A-Za-z0-9]/g, "_"), start + " " + Date.now());
    fs.appendFileSync(dir + "/order", ctx.dagId + "." + ctx.taskId + "\\n");
  }`;

const dagFiles = (marks: string) => ({
  "pooled.ts": `
import fs from "node:fs";
import { dag } from "updraft";
export default dag({ id: "pooled" }, (d) => {
  for (let i = 0; i < 9; i++) d.task("p" + i, ${recorded(marks, "pool")}, { pool: "three" });
});`,
  "capped.ts": `
import fs from "node:fs";
import { dag } from "updraft";
export default dag({ id: "capped", maxActiveTasks: 2 }, (d) => {
  for (let i = 0; i < 6; i++) d.task("c" + i, ${recorded(marks, "dag")});
});`,
  "per_task.ts": `
import fs from "node:fs";
import { dag } from "updraft";
export default dag({ id: "per_task" }, (d) => {
  d.task("limited", ${recorded(marks, "task")}, { maxActiveTisPerDag: 2 });
  d.task("free", ${recorded(marks, "free", 300)});
});`,
  "prio_lo.ts": `
import fs from "node:fs";
import { dag } from "updraft";
export default dag({ id: "prio_lo" }, (d) => {
  for (let i = 0; i < 3; i++) d.task("lo" + i, ${recorded(marks, "prio", 50)}, { pool: "one", priorityWeight: 1, weightRule: "absolute" });
});`,
  "prio_hi.ts": `
import fs from "node:fs";
import { dag } from "updraft";
export default dag({ id: "prio_hi" }, (d) => {
  // downstream rule (the default): each root weighs 1 + its one downstream task's 1 = 2 > 1.
  for (let i = 0; i < 3; i++) d.task("hi" + i, ${recorded(marks, "prio", 50)}, { pool: "one" }).before(d.task("after" + i, () => 1));
});`,
  "crowd.ts": `
import { dag } from "updraft";
export default dag({ id: "crowd", maxActiveTasks: 2 }, (d) => {
  for (let i = 0; i < 70; i++) d.task("x" + i, () => new Promise((r) => setTimeout(r, 300)));
});`,
  "small.ts": `
import { dag } from "updraft";
export default dag({ id: "small" }, (d) => {
  d.task("y", () => 1);
});`,
  "routing.ts": `
import { dag } from "updraft";
export default dag({ id: "routing" }, (d) => {
  const a = d.task("a", () => 1);
  a.before(d.task("b", () => 2, { queue: "gpu" }));
  d.task("c", () => 3, { queue: "gpu" });
});`,
  "nopool.ts": `
import { dag } from "updraft";
export default dag({ id: "nopool" }, (d) => {
  d.chain(d.task("a", () => 1), d.task("b", () => 2, { pool: "nope" }), d.task("c", () => 3));
});`,
});

interface Interval {
  start: number;
  end: number;
}

function intervals(marks: string, tag: string, filter: (name: string) => boolean = () => true): Interval[] {
  const dir = path.join(marks, tag);
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f !== "order" && filter(f))
    .map((f) => {
      const [start, end] = fs.readFileSync(path.join(dir, f), "utf8").split(" ").map(Number);
      return { start: start!, end: end! };
    });
}

/** The most executions running at one instant (an end at the same ms as a start does not overlap it). */
function maxOverlap(list: Interval[]): number {
  const events = list.flatMap((i) => [[i.start, 1] as const, [i.end, -1] as const]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0;
  let max = 0;
  for (const [, delta] of events) max = Math.max(max, (now += delta));
  return max;
}

describe.each(backends())("concurrency limits on %s", (backend) => {
  let db: TestDatabase;
  let engine: TestEngine;
  const workers: Worker[] = [];
  const logger = createLogger(process.env.UPDRAFT_TEST_LOG_LEVEL ?? "silent");
  const marks = fs.mkdtempSync(path.join(os.tmpdir(), `updraft-limits-${backend}-`));

  const startWorker = async (queues: string[], slots: number): Promise<Worker> => {
    // Polling once a minute: every claim in these tests is woken by a NOTIFY.
    const worker = new Worker(db.store, { queues, slots, cacheDir: engine.cacheDir, heartbeatIntervalMs: 1_000, pollIntervalMs: 60_000, killGraceMs: 500, logger });
    workers.push(worker);
    await worker.start();
    return worker;
  };

  /** Samples the running slots of a pool / TIs of a DAG or task every few ms until stopped. */
  const sampler = (where: string) => {
    let max = 0;
    let stop = false;
    const done = (async () => {
      while (!stop) {
        const row = await db.store.db
          .selectFrom("task_instances")
          .select((eb) => eb.fn.coalesce(eb.fn.sum<number>("pool_slots"), eb.lit(0)).as("n"))
          .where("state", "=", "running")
          .where((eb) => eb.and(Object.entries(JSON.parse(where) as Record<string, string>).map(([k, v]) => eb(eb.ref(k as "pool"), "=", v))))
          .executeTakeFirstOrThrow();
        max = Math.max(max, Number(row.n));
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    return async () => {
      stop = true;
      await done;
      return max;
    };
  };

  beforeAll(async () => {
    db = await createTestDatabase(backend);
    engine = await startEngine(db.store, { dagsFolder: dagsFolderWith(dagFiles(marks)), worker: false });
    await db.store.db.insertInto("pools").values([{ name: "three", slots: 3, description: null }, { name: "one", slots: 1, description: null }]).execute();
  });
  afterAll(async () => {
    for (const w of workers) await w.stop(2_000);
    await engine?.stop();
    await db?.drop();
    fs.rmSync(marks, { recursive: true, force: true });
  });

  const stopWorkers = async () => {
    for (const w of workers.splice(0)) await w.stop(2_000);
  };
  afterEach(stopWorkers);

  it("never runs more than a pool's slots (3), and fills them, with two workers of 4 slots", async () => {
    // Two claimers racing for the same slots (PostgreSQL: separate connections).
    await startWorker(["default"], 4);
    await startWorker(["default"], 4);
    const sample = sampler(JSON.stringify({ pool: "three" }));
    const run = await createRun(db.store.db, { dagId: "pooled", runType: "manual", logicalDate: null });
    expect(await waitForRunEnd(db.store, run.id, 30_000)).toBe("success");
    const dbMax = await sample();
    const ran = intervals(marks, "pool");
    expect(ran).toHaveLength(9);
    expect(dbMax).toBe(3);
    expect(maxOverlap(ran)).toBeLessThanOrEqual(3);
  });

  it("never runs more of a DAG's TIs than its maxActiveTasks (2)", async () => {
    await startWorker(["default"], 8);
    const sample = sampler(JSON.stringify({ dag_id: "capped" }));
    const run = await createRun(db.store.db, { dagId: "capped", runType: "manual", logicalDate: null });
    expect(await waitForRunEnd(db.store, run.id, 30_000)).toBe("success");
    expect(await sample()).toBe(2);
    expect(maxOverlap(intervals(marks, "dag"))).toBeLessThanOrEqual(2);
  });

  it("never runs more TIs of a task across runs than its maxActiveTisPerDag (2)", async () => {
    await startWorker(["default"], 8);
    const sample = sampler(JSON.stringify({ dag_id: "per_task", task_id: "limited" }));
    const sampleFree = sampler(JSON.stringify({ dag_id: "per_task", task_id: "free" }));
    const runs = [];
    for (let i = 0; i < 3; i++) runs.push(await createRun(db.store.db, { dagId: "per_task", runId: `r${i}`, runType: "manual", logicalDate: null }));
    for (const run of runs) expect(await waitForRunEnd(db.store, run.id, 30_000)).toBe("success");
    expect(await sample()).toBe(2);
    expect(maxOverlap(intervals(marks, "task"))).toBeLessThanOrEqual(2);
    // The worker had room for more: the unlimited task of the same runs ran 3 at once.
    expect(await sampleFree()).toBe(3);
  });

  it("runs the highest effective priority first across DAGs when slots are scarce (1-slot pool)", async () => {
    const lo = await createRun(db.store.db, { dagId: "prio_lo", runType: "manual", logicalDate: null });
    const hi = await createRun(db.store.db, { dagId: "prio_hi", runType: "manual", logicalDate: null });
    const weights = await db.store.db.selectFrom("task_instances").select(["task_id", "priority_weight"]).where("run_pk", "in", [lo.id, hi.id]).where("state", "=", "queued").execute();
    expect(Object.fromEntries(weights.map((w) => [w.task_id, w.priority_weight]))).toEqual({ lo0: 1, lo1: 1, lo2: 1, hi0: 2, hi1: 2, hi2: 2 });
    // The low-priority run was queued first; the worker starts after both.
    await startWorker(["default"], 4);
    expect(await waitForRunEnd(db.store, hi.id, 30_000)).toBe("success");
    expect(await waitForRunEnd(db.store, lo.id, 30_000)).toBe("success");
    const order = fs.readFileSync(path.join(marks, "prio", "order"), "utf8").trim().split("\n");
    expect(order.slice(0, 3).sort()).toEqual(["prio_hi.hi0", "prio_hi.hi1", "prio_hi.hi2"]);
    expect(order.slice(3).sort()).toEqual(["prio_lo.lo0", "prio_lo.lo1", "prio_lo.lo2"]);
    expect(maxOverlap(intervals(marks, "prio"))).toBe(1);
  });

  it("a DAG with room for few of its many queued TIs does not hold back another DAG's", async () => {
    // 70 queued TIs of crowd fill the claim's candidate window, though only 2 may run.
    const crowd = await createRun(db.store.db, { dagId: "crowd", runType: "manual", logicalDate: null });
    const small = await createRun(db.store.db, { dagId: "small", runType: "manual", logicalDate: null });
    await startWorker(["default"], 4);
    expect(await waitForRunEnd(db.store, small.id, 30_000)).toBe("success");
    const y = await db.store.db.selectFrom("task_instances").select("start_date").where("run_pk", "=", small.id).executeTakeFirstOrThrow();
    const firstEnd = await waitFor("a crowd TI to finish", async () =>
      (await db.store.db.selectFrom("task_instances").select("end_date").where("run_pk", "=", crowd.id).where("state", "=", "success").orderBy("end_date").executeTakeFirst())?.end_date);
    // y started with the first claim, not after crowd's TIs began to finish.
    expect(y.start_date!.getTime()).toBeLessThan(firstEnd.getTime());
    // Its 60-odd queued TIs would hold the default queue for the tests after this one.
    await stopWorkers();
    await db.store.db.deleteFrom("dag_runs").where("id", "=", crowd.id).execute();
  });

  it("routes a TI only to workers of its queue, hand-off included", async () => {
    const plain = await startWorker(["default"], 2);
    const run = await createRun(db.store.db, { dagId: "routing", runType: "manual", logicalDate: null });
    const states = async () =>
      Object.fromEntries((await db.store.db.selectFrom("task_instances").select(["task_id", "state", "worker_id"]).where("run_pk", "=", run.id).execute()).map((t) => [t.task_id, t]));
    await waitFor("a to succeed and b to be queued", async () => {
      const s = await states();
      return s.a?.state === "success" && s.b?.state === "queued";
    });
    // a's worker did not take b (gpu) into its freed slot, and a default-queue claim finds nothing.
    expect(await claimTasks(db.store.db, { workerId: "probe", hostname: "probe", queues: ["default"], limit: 10 })).toEqual([]);
    expect((await states()).c!.state).toBe("queued");
    const gpu = await startWorker(["gpu"], 2);
    expect(await waitForRunEnd(db.store, run.id, 30_000)).toBe("success");
    const s = await states();
    expect(s.a!.worker_id).toBe(plain.workerId);
    expect(s.b!.worker_id).toBe(gpu.workerId);
    expect(s.c!.worker_id).toBe(gpu.workerId);
  });

  it("fails a TI whose pool does not exist, saying so in its log; its downstream is upstream_failed", async () => {
    await startWorker(["default"], 2);
    const run = await createRun(db.store.db, { dagId: "nopool", runType: "manual", logicalDate: null });
    expect(await waitForRunEnd(db.store, run.id, 30_000)).toBe("failed");
    const tis = await db.store.db.selectFrom("task_instances").select(["id", "task_id", "state", "try_number"]).where("run_pk", "=", run.id).execute();
    const by = Object.fromEntries(tis.map((t) => [t.task_id, t]));
    expect([by.a!.state, by.b!.state, by.c!.state]).toEqual(["success", "failed", "upstream_failed"]);
    const tries = await db.store.db.selectFrom("task_instance_tries").select(["state", "error"]).where("ti_id", "=", by.b!.id).execute();
    expect(tries).toEqual([{ state: "failed", error: "pool 'nope' does not exist" }]);
    const logs = await db.store.db.selectFrom("task_logs").select("line").where("ti_id", "=", by.b!.id).execute();
    expect(logs.map((l) => l.line).join("\n")).toContain("pool 'nope' does not exist");
  });
});
