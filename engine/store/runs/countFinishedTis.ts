// Keeps dag_runs.unfinished_tis and, when it reaches zero, decides the run's state from its leaves
// (runStateFromLeaves) and starts the DAG's next queued run — all in the finisher's transaction.
import { sql, type Kysely, type Transaction } from "kysely";
import { runStateFromLeaves } from "../../semantics/runState.js";
import type { TiState } from "../../semantics/states.js";
import { CHANNELS } from "../channels.js";
import type { Database, DagRunRow } from "../schema.js";
import type { LoadedVersion } from "../versions.js";
import { startQueuedRuns } from "./startQueuedRuns.js";

/** The run's row after its unfinished_tis was decreased. */
export interface RunCount {
  unfinished_tis: number;
  dag_id: string;
  state: DagRunRow["state"];
}

/** The decrement, as a statement of its own or a CTE of the finisher's last write (settleDownstream). */
export function decrementUnfinishedTis(runPk: number, finished: number) {
  return sql<RunCount>`update dag_runs set unfinished_tis = unfinished_tis - ${finished}, updated_at = now() where id = ${runPk}
    returning unfinished_tis, dag_id, state`;
}

/**
 * `finished` TIs of the run reached a finished state. `counted`: the caller already applied the
 * decrement (decrementUnfinishedTis in its own statement) and this is the row it returned.
 */
export async function countFinishedTis(
  tx: Transaction<Database>,
  runPk: number,
  version: LoadedVersion,
  finished: number,
  counted?: RunCount,
  /**
   * false: the caller starts the DAG's queued runs itself once this transaction has committed
   * (startQueuedRunsAfter) — a finisher, which holds its run's row here, must not also lock the
   * DAG's row: finishers of one DAG's runs deadlocked so (the two-scheduler chaos scenario).
   */
  startQueued = true,
): Promise<"running" | "success" | "failed"> {
  // Negative: a mapped task's expansion created more TIs than were finished.
  if (finished === 0 && !counted) return "running";
  let run = counted;
  if (!run) {
    run = (await decrementUnfinishedTis(runPk, finished).execute(tx)).rows[0];
    if (!run) throw new Error(`DAG run ${runPk} not found while counting its finished TIs`);
  }
  if (run.unfinished_tis > 0 || run.state !== "running") return run.state === "queued" ? "running" : run.state;
  const leaves = await tx
    .selectFrom("task_instances")
    .select("state")
    .where("run_pk", "=", runPk)
    .where("task_id", "in", version.structure.leaves)
    .execute();
  const state = runStateFromLeaves(leaves.map((l) => l.state as TiState), run.unfinished_tis);
  if (state === "running" || state === "queued") return "running";
  // The run's end and its NOTIFY in one round trip.
  await sql`with ended as (update dag_runs set state = ${state}, end_date = now(), updated_at = now() where id = ${runPk})
    select pg_notify(${CHANNELS.runChanged}, ${run.dag_id})`.execute(tx);
  if (startQueued) await startQueuedRuns(tx, run.dag_id);
  return state;
}

/**
 * A run of `dagId` ended in a transaction that has committed: its queued runs start now, in a
 * transaction of their own. Should this process die first, the scheduler starts them (the run's
 * end NOTIFY wakes its run loop, which starts every startable queued run).
 */
export async function startQueuedRunsAfter(db: Kysely<Database>, dagId: string): Promise<void> {
  await db.transaction().execute((tx) => startQueuedRuns(tx, dagId));
}
