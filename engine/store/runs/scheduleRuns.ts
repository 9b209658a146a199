// Scheduled run creation: for a DAG, the next data interval after its last scheduled run (Airflow
// 2 semantics, engine/semantics/schedule.ts) becomes a run when its end has passed. The unique
// index on (dag_id, logical_date) for scheduled runs makes concurrent schedulers safe.
import { sql, type Kysely, type Transaction } from "kysely";
import { lit } from "../db.js";
import { ConflictError } from "../../errors.js";
import type { DagStructure } from "../../model/structure.js";
import { nextDataInterval, type DataInterval } from "../../semantics/schedule.js";
import type { Database } from "../schema.js";
import { createRunInTx } from "./createRun.js";
import { startQueuedRuns } from "./startQueuedRuns.js";

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

/**
 * Creates the runs that are due now; returns how many it created. A catch-up creates every
 * missed interval, oldest first, in one call — as many as the DAG's maxActiveRuns allows (its
 * non-backfill runs, queued or running); the rest follow as runs finish (a finished run NOTIFYs
 * the scheduler). Each run is created under the DAG's row lock, so several schedulers neither
 * exceed the limit nor, thanks to the unique index, create an interval twice.
 */
export async function createDueRuns(db: Kysely<Database>, now = new Date()): Promise<number> {
  const due = await db
    .selectFrom("dags")
    .select(["dag_id"])
    .where("is_paused", "=", false)
    .where("is_stale", "=", false)
    .where("next_dagrun_run_after", "<=", now)
    .execute();
  let created = 0;
  for (const dag of due) {
    // A conflict means another scheduler created that interval: look again (a few times at most).
    for (let conflicts = 0; conflicts < 3; ) {
      const outcome = await db.transaction().execute((tx) => createNextRun(tx, dag.dag_id, now));
      if (outcome === "created") created++;
      else if (outcome === "conflict") conflicts++;
      else break;
    }
    await refreshNextRun(db, dag.dag_id, now);
  }
  return created;
}

async function createNextRun(tx: Transaction<Database>, dagId: string, now: Date): Promise<"created" | "conflict" | "full" | "none"> {
  const dag = await tx
    .selectFrom("dags")
    .innerJoin("dag_versions", "dag_versions.id", "dags.latest_version_id")
    .select(["dags.max_active_runs", "dags.is_paused", "dags.is_stale", "dag_versions.structure"])
    .where("dags.dag_id", "=", dagId)
    .forUpdate("dags")
    .executeTakeFirst();
  if (!dag || dag.is_paused || dag.is_stale) return "none";
  const active = await tx
    .selectFrom("dag_runs")
    .select(sql<number>`count(*)::int`.as("n"))
    .where("dag_id", "=", dagId)
    .where("state", "in", [lit("queued"), lit("running")])
    .where("backfill_id", "is", null)
    .executeTakeFirstOrThrow();
  if (active.n >= dag.max_active_runs) return "full";
  const next = await computeNext(tx, dagId, dag.structure as DagStructure, now);
  if (!next || next.end > now) return "none";
  try {
    // ON CONFLICT DO NOTHING inside: a duplicate interval is a ConflictError, not an aborted transaction.
    await createRunInTx(tx, {
      dagId,
      runType: "scheduled",
      triggeredBy: "timetable",
      logicalDate: next.start,
      dataIntervalStart: next.start,
      dataIntervalEnd: next.end,
      runAfter: next.end,
    });
    return "created";
  } catch (err) {
    if (err instanceof ConflictError) return "conflict"; // another scheduler made it first
    throw err;
  }
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

/**
 * Repair: starts what can start among the queued runs of every DAG (backfills, runs of DAGs at
 * their limit). Normally a finishing run does this in its own transaction; this covers the rest.
 */
export async function startAllQueuedRuns(db: Kysely<Database>): Promise<void> {
  const dags = await db.selectFrom("dag_runs").select("dag_id").distinct().where("state", "=", lit("queued")).execute();
  for (const { dag_id } of dags) await db.transaction().execute((tx) => startQueuedRuns(tx, dag_id));
}
