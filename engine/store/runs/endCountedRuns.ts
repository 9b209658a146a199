// A repair for one narrow gap: a leaf's end and a hand-off commit on their own (finishLeaf.ts,
// finishTask's fast path), and when such a statement counted a run's last unfinished TI but could
// not end the run itself (another finish of the run committed meanwhile; a hand-off whose
// downstream TIs had been finished by hand), the run's end is decided in a second transaction
// (endCountedRun). A process that died between the two leaves a `running` run with nothing left
// to run; the scheduler's reaper loop ends such runs here.
import { sql, type Kysely } from "kysely";
import { lit } from "../db.js";
import type { Database } from "../schema.js";
import { getVersion, type LoadedVersion } from "../versions.js";
import { countFinishedTis, startQueuedRunsAfter } from "./countFinishedTis.js";

/** Ends running runs whose every TI has finished, idle for `graceMs` (so none is being ended right now). */
export async function endCountedRuns(db: Kysely<Database>, graceMs = 10_000): Promise<number> {
  const runs = await db
    .selectFrom("dag_runs")
    .select(["id", "dag_version_id"])
    .where("state", "=", lit("running"))
    .where("unfinished_tis", "<=", 0)
    .where("updated_at", "<", sql<Date>`now() - make_interval(secs => ${graceMs / 1000})`)
    .limit(100)
    .execute();
  let ended = 0;
  for (const run of runs) {
    const version = await getVersion(db, run.dag_version_id);
    if ((await endCountedRun(db, run.id, version)) !== "running") ended++;
  }
  return ended;
}

/**
 * Ends one run whose unfinished_tis was counted down to zero by a statement that could not end it
 * itself (finishLeaf, finishTask's hand-off): in a transaction of its own, after locking the run's
 * row, so that the leaves it reads are final. Returns the run's state.
 */
export async function endCountedRun(db: Kysely<Database>, runPk: number, version: LoadedVersion): Promise<"running" | "success" | "failed"> {
  const ended = await db.transaction().execute(async (tx) => {
    // Re-read under the run's lock: another process may have ended it meanwhile.
    const row = await tx.selectFrom("dag_runs").select(["unfinished_tis", "dag_id", "state"]).where("id", "=", runPk).forUpdate().executeTakeFirst();
    if (!row) throw new Error(`DAG run ${runPk} not found while ending it`);
    if (row.state !== "running" || row.unfinished_tis > 0) return { state: row.state === "queued" ? ("running" as const) : row.state, dagId: null };
    const state = await countFinishedTis(tx, runPk, version, 0, row, false);
    return { state, dagId: state === "running" ? null : row.dag_id };
  });
  if (ended.dagId) await startQueuedRunsAfter(db, ended.dagId);
  return ended.state;
}

/**
 * The run's state after a statement that commits on its own counted it down to `counted`: when it
 * counted the last TI of a running run, the run is ended now, in a transaction of its own
 * (endCountedRun). Used by finishTask's one-statement path and the batches of ends.
 */
export async function stateAfterCount(
  db: Kysely<Database>,
  runPk: number,
  version: LoadedVersion,
  counted: { unfinished_tis: number; state: "queued" | "running" | "success" | "failed" },
): Promise<"running" | "success" | "failed"> {
  if (counted.unfinished_tis <= 0 && counted.state === "running") return endCountedRun(db, runPk, version);
  return counted.state === "queued" ? "running" : counted.state;
}
