// Clearing task instances (Airflow's POST /dags/{id}/clearTaskInstances): the chosen TIs go back to
// none so that they run again with the next try number (their try history is kept), their run goes
// back to running, and the run's unfinished_tis is recounted. A cleared TI whose upstreams already
// allow it (a root, or every upstream done) is queued at once; one whose upstreams settle it
// (e.g. a failed upstream under all_success) is settled, and that cascades through settleDownstream.
// A running TI is set `restarting`: its worker's next heartbeat no longer finds it and kills it,
// its late finish is fenced off (finishTask wants `running`), and releaseRestartedTask — called by
// that worker, or by the reaper when the worker is gone — puts it back to none.
import { clearedTiColumns } from "./clearedTiColumns.js";
import { sql, type Transaction } from "kysely";
import { CHANNELS } from "../channels.js";
import { notify } from "../db.js";
import { countFinishedTis } from "../runs/countFinishedTis.js";
import { heldByPast } from "../runs/dependsOnPast.js";
import type { Database } from "../schema.js";
import { getVersion, type LoadedVersion } from "../versions.js";
import { settleDownstream } from "./settleDownstream.js";
import { expandMappedTasks } from "./expandMappedTasks.js";
import { FINISHED_TI_STATES, type TiState } from "../../semantics/states.js";
import { countUpstreams, evaluateTriggerRule } from "../../semantics/triggerRules.js";
import { notifySlotFreed } from "./slotFreed.js";

export interface ClearSelection {
  dagId: string;
  /** One run (Airflow's dag_run_id), or every run whose logical date is in [startDate, endDate]. */
  runId?: string | null;
  startDate?: Date | null;
  endDate?: Date | null;
  /** Unset: every task of the DAG. */
  taskIds?: string[] | null;
  /**
   * Airflow's `[task_id, map_index]` pairs: for these tasks only the TIs with these map indexes
   * (a mapped task's one item); their upstream / downstream tasks, when included, are whole.
   */
  mapIndexes?: Map<string, number[]> | null;
  /** Only TIs in failed or upstream_failed. */
  onlyFailed: boolean;
  /** Only running TIs (Airflow's only_running). */
  onlyRunning?: boolean;
  includeUpstream: boolean;
  includeDownstream: boolean;
  /**
   * Airflow's reset_dag_runs (default true): a finished run goes back to running. False leaves its
   * state alone, so in a finished run the cleared TIs wait (none) until the run is set running again
   * (e.g. PATCH the run to queued), as Airflow's scheduler only looks at running runs.
   */
  resetDagRuns?: boolean;
}

/** Task ids plus, transitively, their upstream and/or downstream tasks in this version. */
export function expandTasks(version: LoadedVersion, taskIds: string[], upstream: boolean, downstream: boolean): Set<string> {
  const roots = taskIds.filter((id) => version.tasks.has(id));
  const chosen = new Set(roots);
  const walk = (edge: "upstream" | "downstream") => {
    const seen = new Set(roots);
    const stack = [...roots];
    while (stack.length) {
      for (const next of version.tasks.get(stack.pop()!)?.[edge] ?? []) {
        if (seen.has(next)) continue;
        seen.add(next);
        chosen.add(next);
        stack.push(next);
      }
    }
  };
  if (upstream) walk("upstream");
  if (downstream) walk("downstream");
  return chosen;
}

export interface ClearTarget {
  id: string;
  run_pk: number;
  task_id: string;
  state: string | null;
}

/** The TIs a clear with this selection would reset (what a dry run lists). */
export async function tisToClear(tx: Transaction<Database>, sel: ClearSelection): Promise<ClearTarget[]> {
  let runs = tx.selectFrom("dag_runs").select(["id", "dag_version_id"]).where("dag_id", "=", sel.dagId);
  if (sel.runId) runs = runs.where("run_id", "=", sel.runId);
  if (sel.startDate) runs = runs.where("logical_date", ">=", sel.startDate);
  if (sel.endDate) runs = runs.where("logical_date", "<=", sel.endDate);
  const targets: ClearTarget[] = [];
  for (const run of await runs.orderBy("id").execute()) {
    const version = await getVersion(tx, run.dag_version_id);
    const tasks = sel.taskIds?.length ? expandTasks(version, sel.taskIds, sel.includeUpstream, sel.includeDownstream) : new Set(version.tasks.keys());
    if (!tasks.size) continue;
    let q = tx.selectFrom("task_instances").select(["id", "run_pk", "task_id", "state"]).where("run_pk", "=", run.id).where("task_id", "in", [...tasks]);
    // Waiting TIs need no reset; with only_failed, only failed ones are chosen.
    q = sel.onlyFailed ? q.where("state", "in", ["failed", "upstream_failed"]) : q.where("state", "is not", null);
    if (sel.onlyRunning) q = q.where("state", "=", "running");
    const chosen = await q.select("map_index").orderBy("task_id").orderBy("map_index").execute();
    targets.push(...chosen.filter((t) => !sel.mapIndexes?.has(t.task_id) || sel.mapIndexes.get(t.task_id)!.includes(t.map_index)).map(({ map_index: _m, ...t }) => t));
  }
  return targets;
}

/** Clears the selection; returns the TIs it reset (their ids). */
export async function clearTaskInstances(tx: Transaction<Database>, sel: ClearSelection): Promise<ClearTarget[]> {
  const targets = await tisToClear(tx, sel);
  const byRun = new Map<number, ClearTarget[]>();
  for (const t of targets) byRun.set(t.run_pk, [...(byRun.get(t.run_pk) ?? []), t]);
  const cleared: ClearTarget[] = [];
  for (const [runPk, tis] of byRun) cleared.push(...(await clearInRun(tx, runPk, tis, sel.resetDagRuns ?? true)));
  return cleared;
}

async function clearInRun(tx: Transaction<Database>, runPk: number, tis: ClearTarget[], resetDagRun: boolean): Promise<ClearTarget[]> {
  const run = await tx.selectFrom("dag_runs").select(["dag_id", "dag_version_id", "state"]).where("id", "=", runPk).executeTakeFirstOrThrow();
  const version = await getVersion(tx, run.dag_version_id);
  const ids = tis.map((t) => t.id);
  // Lock order as the finishing paths: TIs (by id), then their downstream, then the run row last.
  await tx.selectFrom("task_instances").select("id").where("id", "in", ids).orderBy("id").forUpdate().execute();
  // A cleared TI may run retries + 1 more tries, as in Airflow (max_tries = try_number + retries).
  const retries = sql`case task_id ${sql.join(
    version.structure.tasks.map((t) => sql`when ${t.taskId} then ${t.retries}`),
    sql` `,
  )} else 0 end`;
  // Running ones: restarting, kept on their worker until it lets go (fenced; see the header).
  // The interrupted try goes into the history now, as Airflow records it when clearing.
  const restarting = await tx
    .updateTable("task_instances")
    .set({ state: "restarting", max_tries: sql`try_number + ${retries}`, updated_at: sql`now()` })
    .where("id", "in", ids)
    .where("state", "=", "running")
    .returning(["id", "try_number", "worker_id", "hostname", "start_date"])
    .execute();
  for (const r of restarting) {
    await tx
      .insertInto("task_instance_tries")
      .values({ ti_id: r.id, try_number: r.try_number, state: "restarting", worker_id: r.worker_id, hostname: r.hostname, start_date: r.start_date, end_date: sql`now()`, duration: sql`extract(epoch from now() - ${r.start_date})`, error: "cleared while running" })
      .onConflict((oc) => oc.columns(["ti_id", "try_number"]).doNothing())
      .execute();
  }
  const reset = await tx
    .updateTable("task_instances")
    .set(clearedTiColumns(retries))
    .where("id", "in", ids)
    .where((eb) => eb.or([eb("state", "is", null), eb("state", "not in", ["running", "restarting"])]))
    .returning(["id", "task_id"])
    .execute();
  if (reset.length) await tx.deleteFrom("xcom").where("ti_id", "in", reset.map((r) => r.id)).execute();
  if (resetDagRun || run.state === "running") await evaluateWaiting(tx, runPk, version, reset.map((r) => r.task_id));
  if (resetDagRun) await reviveRun(tx, runPk);
  await recountRun(tx, runPk, version);
  const touched = new Set([...restarting.map((r) => r.id), ...reset.map((r) => r.id)]);
  return tis.filter((t) => touched.has(t.id));
}

/** A finished run goes back to running (Airflow: reset_dag_runs). */
async function reviveRun(tx: Transaction<Database>, runPk: number): Promise<void> {
  await tx
    .updateTable("dag_runs")
    .set({ state: "running", start_date: sql`coalesce(start_date, now())`, end_date: null, updated_at: sql`now()` })
    .where("id", "=", runPk)
    .where("state", "in", ["success", "failed"])
    .execute();
}

/**
 * Waiting (none) TIs of these tasks whose upstreams already decide them: ready ones are queued,
 * settled ones (skipped / upstream_failed) written and cascaded to their downstream.
 */
export async function evaluateWaiting(tx: Transaction<Database>, runPk: number, version: LoadedVersion, taskIds: string[]): Promise<void> {
  if (!taskIds.length) return;
  const waiting = await tx
    .selectFrom("task_instances")
    .select(["id", "task_id", "queue"])
    .where("run_pk", "=", runPk)
    .where("task_id", "in", taskIds)
    .where("state", "is", null)
    .orderBy("id")
    .forUpdate()
    .execute();
  if (!waiting.length) return;
  const upstreamIds = [...new Set(waiting.flatMap((w) => version.tasks.get(w.task_id)?.upstream ?? []))];
  const states = new Map<string, TiState[]>();
  if (upstreamIds.length) {
    const rows = await tx.selectFrom("task_instances").select(["task_id", "state"]).where("run_pk", "=", runPk).where("task_id", "in", upstreamIds).execute();
    for (const r of rows) states.set(r.task_id, [...(states.get(r.task_id) ?? []), r.state as TiState]);
  }
  const queues = new Set<string>();
  const settledTasks: string[] = [];
  const decisions = waiting.map((w) => {
    const task = version.tasks.get(w.task_id);
    return task ? evaluateTriggerRule(task.triggerRule, countUpstreams(task.upstream.flatMap((u) => states.get(u) ?? [null]))) : "wait";
  });
  // depends_on_past holds a ready TI until the previous run's TI of its task succeeded or skipped.
  const held = await heldByPast(tx, version.dagId, runPk, version, waiting.filter((_, i) => decisions[i] === "ready").map((w) => w.task_id));
  // A ready mapped task (re-)expands over its source's current list rather than being queued as is.
  const expanding = waiting.filter((w, i) => decisions[i] === "ready" && version.tasks.get(w.task_id)?.mapSource).map((w) => w.task_id);
  if (expanding.length) {
    const expansion = await expandMappedTasks(tx, runPk, version, expanding);
    for (const q of expansion.queued) queues.add(q);
    settledTasks.push(...expansion.skipped);
  }
  for (const [i, w] of waiting.entries()) {
    const decision = decisions[i];
    if (expanding.includes(w.task_id)) continue;
    if (decision === "ready" && !held.has(w.task_id)) {
      await tx.updateTable("task_instances").set({ state: "queued", queued_when: sql`now()`, updated_at: sql`now()` }).where("id", "=", w.id).where("state", "is", null).execute();
      queues.add(w.queue);
    } else if (decision === "skipped" || decision === "upstream_failed") {
      await tx
        .updateTable("task_instances")
        .set({ state: decision, start_date: sql`now()`, end_date: sql`now()`, duration: 0, updated_at: sql`now()` })
        .where("id", "=", w.id)
        .where("state", "is", null)
        .execute();
      settledTasks.push(w.task_id);
    }
  }
  if (settledTasks.length) {
    const settled = await settleDownstream(tx, runPk, version, settledTasks);
    for (const q of settled.queued) queues.add(q);
  }
  for (const q of queues) await notify(CHANNELS.tiQueued, q).execute(tx);
}

/**
 * Recounts the run's unfinished_tis and, at zero, decides its state from its leaves. The run row
 * is locked first, in a statement of its own, so that the count reads every finisher that got
 * the lock before us, and every later one decrements after our count.
 */
export async function recountRun(tx: Transaction<Database>, runPk: number, version: LoadedVersion): Promise<"running" | "success" | "failed" | "queued"> {
  const run = await tx.selectFrom("dag_runs").select(["dag_id", "state"]).where("id", "=", runPk).forUpdate().executeTakeFirstOrThrow();
  const { n } = await tx
    .selectFrom("task_instances")
    .select(sql<number>`count(*)::int`.as("n"))
    .where("run_pk", "=", runPk)
    .where((eb) => eb.or([eb("state", "is", null), eb("state", "not in", [...FINISHED_TI_STATES])]))
    .executeTakeFirstOrThrow();
  await tx.updateTable("dag_runs").set({ unfinished_tis: n, updated_at: sql`now()` }).where("id", "=", runPk).execute();
  await notify(CHANNELS.runChanged, run.dag_id).execute(tx);
  if (run.state !== "running") return run.state;
  return countFinishedTis(tx, runPk, version, 0, { unfinished_tis: n, dag_id: run.dag_id, state: run.state });
}

/**
 * The worker of a cleared (restarting) TI let go of it — or the reaper found it abandoned: back to
 * none, fenced on the try and worker it had, then queued if its upstreams allow. False if it had
 * already moved on.
 */
export async function releaseRestartedTask(tx: Transaction<Database>, ti: { tiId: string; tryNumber: number; workerId: string | null }): Promise<boolean> {
  let q = tx
    .updateTable("task_instances")
    .set({ state: null, worker_id: null, hostname: null, pid: null, queued_when: null, start_date: null, end_date: null, duration: null, heartbeat_at: null, updated_at: sql`now()` })
    .where("id", "=", ti.tiId)
    .where("state", "=", "restarting")
    .where("try_number", "=", ti.tryNumber);
  q = ti.workerId === null ? q.where("worker_id", "is", null) : q.where("worker_id", "=", ti.workerId);
  const row = await q.returning(["id", "run_pk", "task_id", "dag_version_id", "pool", "dag_id"]).executeTakeFirst();
  if (!row) return false;
  // Its process has ended: the slot it held (counted while restarting) is free.
  await notifySlotFreed(tx, { pool: row.pool, dagId: row.dag_id });
  await tx.deleteFrom("xcom").where("ti_id", "=", row.id).execute();
  const version = await getVersion(tx, row.dag_version_id);
  await evaluateWaiting(tx, row.run_pk, version, [row.task_id]);
  return true;
}
