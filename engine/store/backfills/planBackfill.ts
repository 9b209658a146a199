// Which logical dates a backfill covers and what it does with each, as Airflow 3 decides it: the
// DAG's schedule points with from_date ≤ logical date ≤ to_date; a date whose latest run is still
// queued or running is never touched; otherwise reprocess_behavior says whether a date that has a
// run is run again (none: never; failed: if that run failed; completed: if it failed or succeeded).
import { sql, type Kysely } from "kysely";
import { ConflictError, NotFoundError, ValidationError } from "../../errors.js";
import type { DagStructure } from "../../model/structure.js";
import { timetableFor, type DataInterval } from "../../semantics/schedule.js";
import type { Database, ReprocessBehavior } from "../schema.js";
import { confProblems } from "../../params.js";

/** More dates than this in one backfill is almost surely a mistake (an hourly DAG over years). */
export const MAX_BACKFILL_DATES = 10_000;

export interface BackfillRequest {
  dagId: string;
  fromDate: Date;
  toDate: Date;
  runBackwards?: boolean;
  reprocessBehavior?: ReprocessBehavior;
  /** Conf of every run, checked against the DAG's params. */
  dagRunConf?: Record<string, unknown>;
}

export interface PlannedDate {
  interval: DataInterval;
  /** The latest run at this logical date, if any. */
  existing: { id: number; state: string } | null;
  /** Why no run is made (Airflow's exception_reason), or null when the date is run. */
  skipReason: "in flight" | "already exists" | null;
}

export interface BackfillPlan {
  structure: DagStructure;
  /** In run order: oldest first, newest first with run_backwards. */
  dates: PlannedDate[];
}

/** The intervals of `structure`'s schedule whose logical date lies in [from, to]. */
export function backfillIntervals(structure: DagStructure, from: Date, to: Date): DataInterval[] {
  const schedule = structure.schedule;
  if (!schedule) throw new ConflictError(`Dag ${structure.dagId} has no schedule; only scheduled DAGs can be backfilled`);
  const anchor = structure.start ? new Date(structure.start) : null;
  if (schedule.kind === "once") return anchor && anchor >= from && anchor <= to ? [{ start: anchor, end: anchor }] : [];
  const timetable = timetableFor(schedule, anchor);
  const out: DataInterval[] = [];
  let next = timetable.intervalStartingAtOrAfter(from);
  while (next && next.start <= to) {
    out.push(next);
    if (out.length > MAX_BACKFILL_DATES) throw new ValidationError(`the backfill would create more than ${MAX_BACKFILL_DATES} runs; split the date range`, ["to_date"]);
    next = timetable.intervalStartingAtOrAfter(new Date(next.start.getTime() + 1));
  }
  return out;
}

export function skipReason(existing: { state: string } | null, behavior: ReprocessBehavior): PlannedDate["skipReason"] {
  if (!existing) return null;
  if (existing.state === "queued" || existing.state === "running") return "in flight";
  if (behavior === "none") return "already exists";
  if (behavior === "failed" && existing.state !== "failed") return "already exists";
  return null;
}

export async function planBackfill(db: Kysely<Database>, req: BackfillRequest): Promise<BackfillPlan> {
  if (req.fromDate > req.toDate) throw new ValidationError("from_date must be before or equal to to_date", ["from_date"]);
  const dag = await db
    .selectFrom("dags")
    .innerJoin("dag_versions", "dag_versions.id", "dags.latest_version_id")
    .select(["dag_versions.structure"])
    .where("dags.dag_id", "=", req.dagId)
    .executeTakeFirst();
  if (!dag) throw new NotFoundError(`Could not find dag ${req.dagId}`);
  const structure = dag.structure as DagStructure;
  if (req.runBackwards && structure.tasks.some((t) => t.dependsOnPast)) {
    throw new ValidationError(`Backfill cannot be run in reverse when the DAG has tasks where depends_on_past=True`, ["run_backwards"]);
  }
  const problem = confProblems(structure.params ?? {}, req.dagRunConf ?? {})[0];
  if (problem) throw new ValidationError(`dag_run_conf.${problem.field} ${problem.message}`, ["dag_run_conf", problem.field]);
  const intervals = backfillIntervals(structure, req.fromDate, req.toDate);
  const latest = intervals.length
    ? await db
        .selectFrom("dag_runs")
        .select(["id", "state", "logical_date"])
        .distinctOn("logical_date")
        .where("dag_id", "=", req.dagId)
        .where("logical_date", ">=", intervals[0]!.start)
        .where("logical_date", "<=", intervals.at(-1)!.start)
        .orderBy("logical_date")
        .orderBy(sql`id desc`)
        .execute()
    : [];
  const byDate = new Map(latest.map((r) => [new Date(r.logical_date!).getTime(), { id: Number(r.id), state: r.state }]));
  const behavior = req.reprocessBehavior ?? "none";
  const dates = intervals.map((interval) => {
    const existing = byDate.get(interval.start.getTime()) ?? null;
    return { interval, existing, skipReason: skipReason(existing, behavior) };
  });
  if (req.runBackwards) dates.reverse();
  return { structure, dates };
}
