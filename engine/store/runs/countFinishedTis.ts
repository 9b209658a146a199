// Keeps dag_runs.unfinished_tis and, when it reaches zero, decides the run's state from its leaves
// (runStateFromLeaves) and starts the DAG's next queued run — all in the finisher's transaction.
import { sql, type Transaction } from "kysely";
import { runStateFromLeaves } from "../../semantics/runState.js";
import type { TiState } from "../../semantics/states.js";
import { CHANNELS } from "../channels.js";
import { notify } from "../db.js";
import type { Database } from "../schema.js";
import type { LoadedVersion } from "../versions.js";
import { startQueuedRuns } from "./startQueuedRuns.js";

export async function countFinishedTis(tx: Transaction<Database>, runPk: number, version: LoadedVersion, finished: number): Promise<"running" | "success" | "failed"> {
  if (finished <= 0) return "running";
  const run = await tx
    .updateTable("dag_runs")
    .set({ unfinished_tis: sql`unfinished_tis - ${finished}`, updated_at: sql`now()` })
    .where("id", "=", runPk)
    .returning(["unfinished_tis", "dag_id", "state"])
    .executeTakeFirstOrThrow();
  if (run.unfinished_tis > 0 || run.state !== "running") return run.state === "queued" ? "running" : run.state;
  const leaves = await tx
    .selectFrom("task_instances")
    .select("state")
    .where("run_pk", "=", runPk)
    .where("task_id", "in", version.structure.leaves)
    .execute();
  const state = runStateFromLeaves(leaves.map((l) => l.state as TiState), run.unfinished_tis);
  if (state === "running" || state === "queued") return "running";
  await tx.updateTable("dag_runs").set({ state, end_date: sql`now()`, updated_at: sql`now()` }).where("id", "=", runPk).execute();
  await notify(CHANNELS.runChanged, run.dag_id).execute(tx);
  await startQueuedRuns(tx, run.dag_id);
  return state;
}
