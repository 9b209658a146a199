// Graceful shutdown: a stopping worker hands back what it could not finish in its grace period;
// the task runs again on another worker without having consumed a try.
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../engine/logger.js";
import { createRun } from "../../engine/store/runs/createRun.js";
import { Worker } from "../../worker/worker.js";
import { backends, createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { dagsFolderWith, startEngine, waitFor, waitForRunEnd, type TestEngine } from "../helpers/engine.js";

describe.each(backends())("worker shutdown on %s", (backend) => {
  let db: TestDatabase;
  let engine: TestEngine;
  let second: Worker | null = null;

  beforeAll(async () => {
    db = await createTestDatabase(backend);
    engine = await startEngine(db.store, {
      dagsFolder: dagsFolderWith({
        "long.ts": `import { dag } from "updraft";
import fs from "node:fs";
// The first attempt (no marker yet) hangs; the next one finishes at once.
export default dag({ id: "long" }, (d) => { d.task("sleep", async (ctx) => {
  const marker = String(ctx.conf.marker);
  const first = !fs.existsSync(marker);
  fs.writeFileSync(marker, "started");
  await new Promise((r) => setTimeout(r, first ? 30_000 : 50));
  return ctx.tryNumber;
}); });`,
      }),
    });
  });
  afterAll(async () => {
    await second?.stop(1_000);
    await engine?.stop();
    await db?.drop();
  });

  it("hands back an unfinished task without consuming a try, and another worker runs it", async () => {
    const run = await createRun(db.store.db, { dagId: "long", runType: "manual", logicalDate: new Date(), conf: { marker: path.join(os.tmpdir(), `updraft-shutdown-${process.pid}-${backend}-${Date.now()}`) } });
    const ti = await waitFor("the task to run", () => db.store.db.selectFrom("task_instances").selectAll().where("run_pk", "=", run.id).where("state", "=", "running").executeTakeFirst());
    expect(ti.try_number).toBe(1);
    await engine.worker!.stop(300);
    const back = await db.store.db.selectFrom("task_instances").select(["state", "try_number", "worker_id"]).where("id", "=", ti.id).executeTakeFirstOrThrow();
    expect(back).toEqual({ state: "queued", try_number: 0, worker_id: null });
    expect(await db.store.db.selectFrom("task_instance_tries").selectAll().where("ti_id", "=", ti.id).execute()).toEqual([]);

    second = new Worker(db.store, { queues: ["default"], slots: 1, cacheDir: engine.cacheDir, heartbeatIntervalMs: 1_000, pollIntervalMs: 200, killGraceMs: 500, logger: createLogger("silent") });
    await second.start();
    expect(await waitForRunEnd(db.store, run.id)).toBe("success");
    const done = await db.store.db.selectFrom("task_instances").select(["state", "try_number"]).where("id", "=", ti.id).executeTakeFirstOrThrow();
    expect(done).toEqual({ state: "success", try_number: 1 });
  });
});
