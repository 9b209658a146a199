// d.sensor on PGlite and PostgreSQL, with one in-process worker. Reschedule mode frees its slot
// while it waits: with a single worker slot, the tasks its condition waits for run in between (in
// poke mode the same DAG times out, which shows the test can fail). A reschedule does not consume a
// try. Poke mode succeeds once the condition turns true and returns its xcom; the timeout (over all
// tries) fails without retry, or skips with softFail.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../engine/logger.js";
import { createRun } from "../../engine/store/runs/createRun.js";
import { Worker } from "../../worker/worker.js";
import { backends, createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { dagsFolderWith, startEngine, waitForRunEnd, type TestEngine } from "../helpers/engine.js";

/** A DAG: a high-priority sensor waiting for three ordinary tasks to have written their marks. */
const waitingDag = (id: string, marks: string, sensor: string) => `
import fs from "node:fs";
import { dag } from "updraft";
export default dag({ id: ${JSON.stringify(id)} }, (d) => {
  const dir = ${JSON.stringify(path.join(marks, id))};
  d.sensor("wait", {
    poke: () => {
      const n = fs.existsSync(dir) ? fs.readdirSync(dir).length : 0;
      return n >= 3 ? { done: true, xcom: n } : false;
    },
    ${sensor}
  }, { priorityWeight: 100, weightRule: "absolute", retries: 2, retryDelay: "100ms" });
  for (let i = 0; i < 3; i++) d.task("other" + i, () => {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(dir + "/" + i, "done");
  });
});`;

const dagFiles = (marks: string) => ({
  "resched.ts": waitingDag("resched", marks, `pokeInterval: "200ms", timeout: "60s", mode: "reschedule",`),
  "poke_holds.ts": waitingDag("poke_holds", marks, `pokeInterval: "100ms", timeout: "1500ms", mode: "poke",`),
  "soft.ts": `
import { dag } from "updraft";
export default dag({ id: "soft" }, (d) => {
  d.sensor("never", { poke: () => false, pokeInterval: "100ms", timeout: "400ms", softFail: true });
});`,
  "poke_ok.ts": `
import fs from "node:fs";
import { dag } from "updraft";
export default dag({ id: "poke_ok" }, (d) => {
  const file = ${JSON.stringify(path.join(marks, "poke_ok.flag"))};
  d.sensor("wait", { poke: () => (fs.existsSync(file) ? { done: true, xcom: "found" } : false), pokeInterval: "100ms", timeout: "30s" });
  d.task("maker", async () => {
    await new Promise((r) => setTimeout(r, 500));
    fs.writeFileSync(file, "x");
  });
});`,
});

describe.each(backends())("sensors on %s", (backend) => {
  let db: TestDatabase;
  let engine: TestEngine;
  let worker: Worker | null = null;
  const marks = fs.mkdtempSync(path.join(os.tmpdir(), `updraft-sensors-${backend}-`));

  const startWorker = async (slots: number) => {
    worker = new Worker(db.store, {
      queues: ["default"],
      slots,
      cacheDir: engine.cacheDir,
      heartbeatIntervalMs: 1_000,
      pollIntervalMs: 60_000,
      killGraceMs: 500,
      logger: createLogger(process.env.UPDRAFT_TEST_LOG_LEVEL ?? "silent"),
    });
    await worker.start();
  };
  const tis = async (runPk: number) =>
    Object.fromEntries(
      (await db.store.db.selectFrom("task_instances").select(["id", "task_id", "state", "try_number"]).where("run_pk", "=", runPk).execute()).map((t) => [t.task_id, t]),
    );

  beforeAll(async () => {
    db = await createTestDatabase(backend);
    engine = await startEngine(db.store, { dagsFolder: dagsFolderWith(dagFiles(marks)), worker: false });
  });
  afterEach(async () => {
    await worker?.stop(2_000);
    worker = null;
  });
  afterAll(async () => {
    await engine?.stop();
    await db?.drop();
    fs.rmSync(marks, { recursive: true, force: true });
  });

  it("reschedule mode frees the only worker slot while it waits; a reschedule uses no try", async () => {
    await startWorker(1);
    const run = await createRun(db.store.db, { dagId: "resched", runType: "manual", logicalDate: null });
    expect(await waitForRunEnd(db.store, run.id, 60_000)).toBe("success");
    const t = await tis(run.id);
    expect(t.wait).toMatchObject({ state: "success", try_number: 1 });
    // It did wait: at least one poke ended up_for_reschedule, recorded as a reschedule, not a try.
    const reschedules = await db.store.db.selectFrom("task_reschedules").select(["try_number", "reschedule_date", "start_date"]).where("ti_id", "=", t.wait!.id).execute();
    expect(reschedules.length).toBeGreaterThanOrEqual(1);
    expect(reschedules.every((r) => r.try_number === 1 && r.reschedule_date > r.start_date)).toBe(true);
    const tries = await db.store.db.selectFrom("task_instance_tries").select(["try_number", "state"]).where("ti_id", "=", t.wait!.id).execute();
    expect(tries).toEqual([{ try_number: 1, state: "success" }]);
    const xcom = await db.store.db.selectFrom("xcom").select("value").where("ti_id", "=", t.wait!.id).where("key", "=", "return_value").executeTakeFirstOrThrow();
    expect(xcom.value).toBe(3);
    const logs = await db.store.db.selectFrom("task_logs").select("line").where("ti_id", "=", t.wait!.id).where("try_number", "=", 1).execute();
    expect(logs.some((l) => l.line.includes("rescheduling to"))).toBe(true);
  });

  it("poke mode holds the slot: with one slot the same sensor times out, failed without retry", async () => {
    await startWorker(1);
    const run = await createRun(db.store.db, { dagId: "poke_holds", runType: "manual", logicalDate: null });
    expect(await waitForRunEnd(db.store, run.id, 60_000)).toBe("failed");
    const t = await tis(run.id);
    // retries: 2, yet one try: a sensor timeout is not retried (AirflowSensorTimeout).
    expect(t.wait).toMatchObject({ state: "failed", try_number: 1 });
    const tries = await db.store.db.selectFrom("task_instance_tries").select(["state", "error"]).where("ti_id", "=", t.wait!.id).execute();
    expect(tries).toHaveLength(1);
    expect(tries[0]!.error).toMatch(/Sensor has timed out/);
    expect(await db.store.db.selectFrom("task_reschedules").select("id").where("ti_id", "=", t.wait!.id).execute()).toEqual([]);
  });

  it("softFail: a timed-out sensor is skipped", async () => {
    await startWorker(1);
    const run = await createRun(db.store.db, { dagId: "soft", runType: "manual", logicalDate: null });
    await waitForRunEnd(db.store, run.id, 30_000);
    expect((await tis(run.id)).never).toMatchObject({ state: "skipped", try_number: 1 });
  });

  it("poke mode succeeds when the condition turns true, with its xcom", async () => {
    await startWorker(2);
    const run = await createRun(db.store.db, { dagId: "poke_ok", runType: "manual", logicalDate: null });
    expect(await waitForRunEnd(db.store, run.id, 30_000)).toBe("success");
    const t = await tis(run.id);
    expect(t.wait).toMatchObject({ state: "success", try_number: 1 });
    const xcom = await db.store.db.selectFrom("xcom").select("value").where("ti_id", "=", t.wait!.id).where("key", "=", "return_value").executeTakeFirstOrThrow();
    expect(xcom.value).toBe("found");
  });
});
