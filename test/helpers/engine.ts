// An engine in the test process: a scheduler (DAG processor) over a folder of DAG files and a
// worker, on a test database. Each test stops what it started.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createLogger } from "../../engine/logger.js";
import type { Store } from "../../engine/store/db.js";
import { Scheduler } from "../../scheduler/scheduler.js";
import { Worker } from "../../worker/worker.js";

export interface TestEngine {
  scheduler: Scheduler;
  worker: Worker | null;
  dagsFolder: string;
  cacheDir: string;
  stop(): Promise<void>;
}

/** A temporary DAGs folder with these files (name → source). */
export function dagsFolderWith(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "updraft-dags-"));
  for (const [name, source] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), source);
  return dir;
}

export async function startEngine(
  store: Store,
  options: { dagsFolder: string; worker?: boolean; slots?: number; heartbeatTimeoutMs?: number; heartbeatIntervalMs?: number; watch?: boolean; secretKey?: string },
): Promise<TestEngine> {
  const logger = createLogger(process.env.UPDRAFT_TEST_LOG_LEVEL ?? "silent");
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), "updraft-cache-"));
  const scheduler = new Scheduler(store, {
    dagsFolder: options.dagsFolder,
    cacheDir,
    dagImportTimeoutMs: 5_000,
    heartbeatTimeoutMs: options.heartbeatTimeoutMs ?? 30_000,
    logger,
    watch: options.watch ?? false,
  });
  await scheduler.start();
  let worker: Worker | null = null;
  if (options.worker !== false) {
    worker = new Worker(store, {
      queues: ["default"],
      slots: options.slots ?? 2,
      cacheDir,
      heartbeatIntervalMs: options.heartbeatIntervalMs ?? 1_000,
      pollIntervalMs: 200,
      killGraceMs: 500,
      logger,
      secretKey: options.secretKey,
    });
    await worker.start();
  }
  return {
    scheduler,
    worker,
    dagsFolder: options.dagsFolder,
    cacheDir,
    async stop() {
      await worker?.stop(2_000);
      await scheduler.stop();
      fs.rmSync(cacheDir, { recursive: true, force: true });
    },
  };
}

/** Polls `check` until it returns a value, or fails after `timeoutMs` with `what`. */
export async function waitFor<T>(what: string, check: () => Promise<T | null | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export async function waitForRunEnd(store: Store, runPk: number, timeoutMs = 20_000): Promise<"success" | "failed"> {
  return waitFor(`run ${runPk} to finish`, async () => {
    const run = await store.db.selectFrom("dag_runs").select("state").where("id", "=", runPk).executeTakeFirstOrThrow();
    return run.state === "success" || run.state === "failed" ? run.state : null;
  }, timeoutMs);
}
