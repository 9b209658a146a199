// Scheduled run creation: for a DAG, the next data interval after its last scheduled run (Airflow
// 2 semantics, engine/semantics/schedule.ts) becomes a run when its end has passed. The unique
// index on (dag_id, logical_date) for scheduled runs makes concurrent schedulers safe.
import { sql, type Kysely } from "kysely";
import { ConflictError } from "../../errors.js";
import type { DagStructure } from "../../model/structure.js";
import { nextDataInterval, type DataInterval } from "../../semantics/schedule.js";
import type { Database } from "../schema.js";
import { createRun } from "./createRun.js";

async function computeNext(db: Kysely<Database>, dagId: string, structure: DagStructure, now: Date): Promise<DataInterval | null> {
  if (!structure.schedule) return null;
  const last = await db
    .selectFrom("dag_runs")
    .select([sql<Date | null>`max(data_interval_end)`.as("end"), sql<number>`count(*)::int`.as("n")])
    .where("dag_id", "=", dagId)
    .where("run_type", "=", "scheduled")
    .executeTakeFirstOrThrow();
  return nextDataInterval({
    schedule: structure.schedule,
    start: structure.start ? new Date(structure.start) : null,
    end: structure.end ? new Date(structure.end) : null,
    catchup: structure.catchup,
    lastIntervalEnd: last.end ? new Date(last.end) : null,
    hasScheduledRun: last.n > 0,
    now,
  });
}

/** Stores the DAG's next run (shown by the API, used to find due DAGs). */
export async function refreshNextRun(db: Kysely<Database>, dagId: string, now = new Date()): Promise<DataInterval | null> {
  const dag = await db
    .selectFrom("dags")
    .innerJoin("dag_versions", "dag_versions.id", "dags.latest_version_id")
    .select(["dag_versions.structure"])
    .where("dags.dag_id", "=", dagId)
    .executeTakeFirst();
  const next = dag ? await computeNext(db, dagId, dag.structure as DagStructure, now) : null;
  await db
    .updateTable("dags")
    .set({
      next_dagrun_logical_date: next?.start ?? null,
      next_dagrun_data_interval_start: next?.start ?? null,
      next_dagrun_data_interval_end: next?.end ?? null,
      next_dagrun_run_after: next?.end ?? null,
    })
    .where("dag_id", "=", dagId)
    .execute();
  return next;
}

/** Creates the runs that are due now; returns how many it created. */
export async function createDueRuns(db: Kysely<Database>, now = new Date()): Promise<number> {
  const due = await db
    .selectFrom("dags")
    .select(["dag_id", "max_active_runs"])
    .where("is_paused", "=", false)
    .where("is_stale", "=", false)
    .where("next_dagrun_run_after", "<=", now)
    .execute();
  let created = 0;
  for (const dag of due) {
    // Never more than maxActiveRuns active: the rest of a catch-up waits for runs to finish.
    const active = await db
      .selectFrom("dag_runs")
      .select(sql<number>`count(*)::int`.as("n"))
      .where("dag_id", "=", dag.dag_id)
      .where("state", "in", ["queued", "running"])
      .executeTakeFirstOrThrow();
    if (active.n >= dag.max_active_runs) continue;
    const row = await db.selectFrom("dags").select(["next_dagrun_data_interval_start", "next_dagrun_data_interval_end"]).where("dag_id", "=", dag.dag_id).executeTakeFirst();
    if (row?.next_dagrun_data_interval_start && row.next_dagrun_data_interval_end) {
      try {
        await createRun(db, {
          dagId: dag.dag_id,
          runType: "scheduled",
          triggeredBy: "timetable",
          logicalDate: row.next_dagrun_data_interval_start,
          dataIntervalStart: row.next_dagrun_data_interval_start,
          dataIntervalEnd: row.next_dagrun_data_interval_end,
          runAfter: row.next_dagrun_data_interval_end,
        });
        created++;
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err; // another scheduler made it first
      }
    }
    await refreshNextRun(db, dag.dag_id, now);
  }
  return created;
}

/** When the scheduler should next look: the soonest run_after of an unpaused DAG. */
export async function nextDueAt(db: Kysely<Database>): Promise<Date | null> {
  const row = await db
    .selectFrom("dags")
    .select(sql<Date | null>`min(next_dagrun_run_after)`.as("at"))
    .where("is_paused", "=", false)
    .where("is_stale", "=", false)
    .executeTakeFirst();
  return row?.at ?? null;
}
