// The DAGs the scenarios run, and the questions they ask of the database afterwards.
import { sql } from "kysely";
import type { Store } from "../../engine/store/db.js";
import { createRun } from "../../engine/store/runs/createRun.js";
import { withDbRetry } from "../../engine/store/sqlstate.js";

/**
 * `work`: `width` tasks of `minMs`–`maxMs` each, then a join; every execution appends a line
 * to `<marksDir>/<run_id>__<task_id>` so that executions can be counted.
 */
export function workDag(opts: { marksDir: string; width: number; minMs: number; maxMs: number; retries: number }): string {
  return `
import fs from "node:fs";
import { dag } from "updraft";
export default dag({ id: "work", maxActiveRuns: 64, defaults: { retries: ${opts.retries}, retryDelay: "10ms" } }, (d) => {
  const mark = (ctx) => fs.appendFileSync(${JSON.stringify(opts.marksDir)} + "/" + ctx.runId.replace(/[^A-Za-z0-9_.-]/g, "_") + "__" + ctx.taskId, process.pid + "\\n");
  const parts = Array.from({ length: ${opts.width} }, (_, i) =>
    d.task("part_" + i, async (ctx) => {
      await new Promise((r) => setTimeout(r, ${opts.minMs} + Math.random() * ${opts.maxMs - opts.minMs}));
      mark(ctx);
      return i;
    }));
  d.task("join", parts, (ctx, ...xs) => { mark(ctx); return xs.length; });
});`;
}

let seq = 0;

/** A manual run of `dagId`, retried through an outage. */
export async function trigger(store: Store, dagId = "work"): Promise<number> {
  const logicalDate = new Date(Date.now() + seq++);
  const run = await withDbRetry(() => createRun(store.db, { dagId, runType: "manual", logicalDate }), { forMs: 60_000, maxMs: 1_000 });
  return run.id;
}

export async function unfinishedRuns(store: Store, ids: number[]): Promise<number> {
  if (!ids.length) return 0;
  const row = await store.db.selectFrom("dag_runs").select(sql<number>`count(*)::int`.as("n")).where("id", "in", ids).where("state", "not in", ["success", "failed"]).executeTakeFirstOrThrow();
  return row.n;
}

export interface RunTally {
  runs: number;
  runsSucceeded: number;
  tis: number;
  /** TIs not ending in success: stranded or failed for good. */
  tisLost: number;
  /** More than one TI row for one (run, task, map index). */
  tisDuplicated: number;
}

export async function tally(store: Store, ids: number[]): Promise<RunTally> {
  const runs = await store.db.selectFrom("dag_runs").select(["id", "state"]).where("id", "in", ids).execute();
  const tis = await store.db.selectFrom("task_instances").select(["run_pk", "task_id", "map_index", "state"]).where("run_pk", "in", ids).execute();
  const keys = new Set(tis.map((t) => `${t.run_pk}/${t.task_id}/${t.map_index}`));
  return {
    runs: runs.length,
    runsSucceeded: runs.filter((r) => r.state === "success").length,
    tis: tis.length,
    tisLost: tis.filter((t) => t.state !== "success").length,
    tisDuplicated: tis.length - keys.size,
  };
}

/** Waits until every run in `ids` has finished, or `timeoutMs` passed; returns how many did not. */
export async function waitForRuns(store: Store, ids: number[], timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = await unfinishedRuns(store, ids).catch(() => Infinity);
    if (left === 0 || Date.now() > deadline) return left;
    await new Promise((r) => setTimeout(r, 200));
  }
}
