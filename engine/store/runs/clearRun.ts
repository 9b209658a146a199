// Clearing a DAG run (Airflow's "clear"): its TIs go back to none, the run back to queued, and it
// restarts on the same TI rows (startQueuedRuns), so their try history is kept and the next try
// numbers follow on. Used by POST …/dagRuns/{id}/clear and by backfills that reprocess a date.
import { clearedTiColumns } from "../tasks/clearedTiColumns.js";
import { sql, type Transaction } from "kysely";
import { NotFoundError } from "../../errors.js";
import type { Database } from "../schema.js";
import { startQueuedRuns } from "./startQueuedRuns.js";
import { getVersion } from "../versions.js";

export interface ClearRunOptions {
  /** Only TIs in failed or upstream_failed (Airflow's only_failed). */
  onlyFailed?: boolean;
  /** Run the cleared TIs on the DAG's latest version instead of the run's own. */
  runOnLatestVersion?: boolean;
  /** The backfill that reprocesses this run, and the run's place in it. */
  backfill?: { id: number; sortOrdinal: number; conf: Record<string, unknown> };
}

/** The TIs a clear would reset (a dry run lists these). */
export async function tisToClear(tx: Transaction<Database>, runPk: number, onlyFailed = false) {
  let q = tx.selectFrom("task_instances").select(["id", "task_id", "state"]).where("run_pk", "=", runPk);
  if (onlyFailed) q = q.where("state", "in", ["failed", "upstream_failed"]);
  return q.orderBy("task_id").orderBy("map_index").execute();
}

/** Clears the run; returns the ids of the TIs it reset (none → nothing changed, unless backfilling). */
export async function clearRun(tx: Transaction<Database>, runPk: number, options: ClearRunOptions = {}): Promise<string[]> {
  const run = await tx.selectFrom("dag_runs").select(["id", "dag_id", "state", "dag_version_id"]).where("id", "=", runPk).forUpdate().executeTakeFirst();
  if (!run) throw new NotFoundError(`DAG run ${runPk} not found`);
  const tis = await tisToClear(tx, runPk, options.onlyFailed);
  if (!tis.some((t) => t.state !== null) && !options.backfill) return [];
  let versionId = run.dag_version_id;
  if (options.runOnLatestVersion) {
    const dag = await tx.selectFrom("dags").select("latest_version_id").where("dag_id", "=", run.dag_id).executeTakeFirstOrThrow();
    versionId = dag.latest_version_id ?? versionId;
  }
  const version = await getVersion(tx, versionId);
  // TIs already waiting (none) need no reset.
  const ids = tis.filter((t) => t.state !== null).map((t) => t.id);
  if (ids.length) {
    // A cleared TI may run retries + 1 more tries, as in Airflow (max_tries = try_number + retries).
    const retries = sql`case task_id ${sql.join(
      version.structure.tasks.map((t) => sql`when ${t.taskId} then ${t.retries}`),
      sql` `,
    )} else 0 end`;
    await tx
      .updateTable("task_instances")
      .set({ ...clearedTiColumns(retries), dag_version_id: versionId })
      .where("id", "in", ids)
      .execute();
    await tx.deleteFrom("xcom").where("ti_id", "in", ids).execute();
  }
  await tx
    .updateTable("dag_runs")
    .set({
      state: "queued",
      clear_number: sql`clear_number + 1`,
      dag_version_id: versionId,
      queued_at: sql`now()`,
      start_date: null,
      end_date: null,
      updated_at: sql`now()`,
      ...(options.backfill
        ? { backfill_id: options.backfill.id, backfill_sort_ordinal: options.backfill.sortOrdinal, conf: JSON.stringify(options.backfill.conf) }
        : {}),
    })
    .where("id", "=", runPk)
    .execute();
  await startQueuedRuns(tx, run.dag_id);
  return ids;
}
