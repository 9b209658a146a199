// A repair for one narrow gap: a hand-off commits on its own (finishTask's fast path), and in the
// rare case where it counted a run's last unfinished TI (its downstream TIs had been finished by
// hand), the run's end is decided in a second transaction. A process that died between the two
// leaves a `running` run with nothing left to run; the scheduler's reaper loop ends such runs here.
import { sql, type Kysely } from "kysely";
import type { Database } from "../schema.js";
import { getVersion } from "../versions.js";
import { countFinishedTis } from "./countFinishedTis.js";

/** Ends running runs whose every TI has finished, idle for `graceMs` (so none is being ended right now). */
export async function endCountedRuns(db: Kysely<Database>, graceMs = 10_000): Promise<number> {
  const runs = await db
    .selectFrom("dag_runs")
    .select(["id", "dag_version_id"])
    .where("state", "=", "running")
    .where("unfinished_tis", "<=", 0)
    .where("updated_at", "<", sql<Date>`now() - make_interval(secs => ${graceMs / 1000})`)
    .limit(100)
    .execute();
  let ended = 0;
  for (const run of runs) {
    const version = await getVersion(db, run.dag_version_id);
    await db.transaction().execute(async (tx) => {
      // Re-read under the run's lock: another process may have ended it meanwhile.
      const row = await tx.selectFrom("dag_runs").select(["unfinished_tis", "dag_id", "state"]).where("id", "=", run.id).forUpdate().executeTakeFirst();
      if (!row || row.state !== "running" || row.unfinished_tis > 0) return;
      if ((await countFinishedTis(tx, run.id, version, 0, row)) !== "running") ended++;
    });
  }
  return ended;
}
