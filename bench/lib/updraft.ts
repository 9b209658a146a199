// Updraft in the benchmark process, as `updraft start` runs it minus the web server: a scheduler
// (with its DAG processor) over a folder of DAG files and one worker with the default settings,
// on a given store. Scenarios trigger runs and wait for their end through LISTEN, not polling.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadConfig } from "../../engine/config.js";
import { createLogger } from "../../engine/logger.js";
import { CHANNELS } from "../../engine/store/channels.js";
import type { Store } from "../../engine/store/db.js";
import { createRun } from "../../engine/store/runs/createRun.js";
import { Scheduler } from "../../scheduler/scheduler.js";
import { Worker } from "../../worker/worker.js";
import { wallClockMs } from "./stats.js";

export interface TriggeredRun {
  runPk: number;
  state: string;
  /** Wall clock (ms, comparable across processes) just before createRun, and when the run's end was notified. */
  startedAt: number;
  endedAt: number;
  ms: number;
}

export interface BenchEngine {
  store: Store;
  /** Creates a manual run and resolves when it has ended, with the wall-clock ms it took. */
  trigger(dagId: string, timeoutMs?: number): Promise<TriggeredRun>;
  stop(): Promise<void>;
}

/** A temporary folder holding these DAG files (name → source). */
export function writeDagsFolder(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "updraft-bench-dags-"));
  for (const [name, source] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), source);
  return dir;
}

export async function startBenchEngine(store: Store, dagsFolder: string, expectDagIds: string[]): Promise<BenchEngine> {
  // The defaults of `updraft start` (UPDRAFT_* variables still apply, to try other settings).
  const config = loadConfig(process.env);
  const logger = createLogger(process.env.UPDRAFT_BENCH_LOG_LEVEL ?? "warn", "updraft-bench");
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), "updraft-bench-cache-"));
  const scheduler = new Scheduler(store, {
    dagsFolder,
    cacheDir,
    dagImportTimeoutMs: config.dagImportTimeoutMs,
    heartbeatTimeoutMs: config.heartbeatTimeoutMs,
    logger,
    watch: false,
  });
  const worker = new Worker(store, {
    queues: config.workerQueues.split(","),
    slots: config.workerSlots,
    cacheDir,
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    pollIntervalMs: config.pollIntervalMs,
    killGraceMs: config.killGraceMs,
    runnerIdleMs: config.runnerIdleMs,
    logger,
  });

  // Run ends arrive as NOTIFY on runChanged (payload: dag_id); each wakes the waiters of that DAG,
  // which read their run's state. The end time is the arrival of the notification that showed it.
  const waiters = new Map<number, { dagId: string; check(arrivedAt: number): void }>();
  const unlisten = await store.listen(CHANNELS.runChanged, (dagId) => {
    const arrivedAt = wallClockMs();
    for (const w of waiters.values()) if (w.dagId === dagId) w.check(arrivedAt);
  });
  const stopAll = async () => {
    await unlisten();
    await worker.stop(2_000);
    await scheduler.stop();
    fs.rmSync(cacheDir, { recursive: true, force: true });
  };

  try {
    await scheduler.start();
    const dags = await store.db.selectFrom("dags").select("dag_id").where("dag_id", "in", expectDagIds).where("latest_version_id", "is not", null).execute();
    if (dags.length !== expectDagIds.length) {
      const errors = await store.db.selectFrom("import_errors").select(["filename", "stack_trace"]).execute();
      throw new Error(`the benchmark DAGs did not load: ${JSON.stringify(errors)}`);
    }
    await worker.start();
  } catch (err) {
    await stopAll();
    throw err;
  }

  let runs = 0;
  return {
    store,
    async trigger(dagId, timeoutMs = 60_000) {
      const startedAt = wallClockMs();
      const run = await createRun(store.db, { dagId, runId: `bench__${++runs}`, runType: "manual", logicalDate: new Date(), triggeredBy: "bench" });
      return new Promise((resolve, reject) => {
        let checking = false;
        let pending: { at: number; notified: boolean } | null = null;
        const finish = (fn: () => void) => {
          waiters.delete(run.id);
          clearInterval(fallback);
          clearTimeout(timer);
          fn();
        };
        const check = (arrivedAt: number, notified = true) => {
          // One read at a time; a notification that lands meanwhile triggers one more read.
          if (checking) {
            if (notified || !pending) pending = { at: arrivedAt, notified };
            return;
          }
          checking = true;
          void store.db
            .selectFrom("dag_runs")
            .select("state")
            .where("id", "=", run.id)
            .executeTakeFirstOrThrow()
            .then(
              ({ state }) => {
                checking = false;
                if (state === "success" || state === "failed") {
                  const endedAt = notified ? arrivedAt : pending?.notified ? pending.at : null;
                  if (endedAt === null) finish(() => reject(new Error(`run ${run.id} of ${dagId} ended without a NOTIFY on ${CHANNELS.runChanged}`)));
                  else finish(() => resolve({ runPk: run.id, state, startedAt, endedAt, ms: endedAt - startedAt }));
                } else if (pending) {
                  const next = pending;
                  pending = null;
                  check(next.at, next.notified);
                }
              },
              (err) => finish(() => reject(err)),
            );
        };
        waiters.set(run.id, { dagId, check });
        // A lost NOTIFY fails the scenario instead of silently adding a poll period to the figure.
        const fallback = setInterval(() => check(wallClockMs(), false), 5_000);
        const timer = setTimeout(() => finish(() => reject(new Error(`run ${run.id} of ${dagId} did not end within ${timeoutMs} ms`))), timeoutMs);
        // No read now: a 40-task run cannot have ended yet, and on PGlite a read would compete
        // with the engine for the one connection.
      });
    },
    stop: stopAll,
  };
}
