// Creating a DAG run: manual triggers (REST, CLI), schedules, tests. The run starts at once when
// the DAG is under maxActiveRuns, otherwise it waits `queued` until a run of the DAG finishes.
import { sql, type Kysely, type Transaction } from "kysely";
import { ConflictError, NotFoundError, ValidationError } from "../../errors.js";
import type { Database, DagRunRow } from "../schema.js";
import { withDbRetry } from "../sqlstate.js";
import { startQueuedRuns } from "./startQueuedRuns.js";
import { confProblems } from "../../params.js";
import { getVersion } from "../versions.js";

export interface CreateRunInput {
  dagId: string;
  runId?: string | null;
  runType: "manual" | "scheduled" | "backfill";
  triggeredBy?: string | null;
  triggeringUserName?: string | null;
  logicalDate: Date | null;
  dataIntervalStart?: Date | null;
  dataIntervalEnd?: Date | null;
  runAfter?: Date;
  conf?: Record<string, unknown>;
  note?: string | null;
  /** Where conf came from, for the error naming a bad param (`conf`, `dag_run_conf`). */
  confField?: string;
  /** Pin to this version instead of the DAG's latest. */
  versionId?: string;
}

/**
 * Airflow's run id format: `manual__2024-01-01T00:00:00+00:00`, with the fraction of a second kept
 * when there is one (two triggers within a second must not collide).
 */
export function generateRunId(runType: string, date: Date): string {
  return `${runType}__${date.toISOString().replace(/\.000Z$/, "+00:00").replace(/Z$/, "+00:00")}`;
}

export async function createRun(db: Kysely<Database>, input: CreateRunInput): Promise<DagRunRow> {
  // A deadlock with a concurrent finisher or backfill (both lock the DAG's row) is retried, not
  // answered with a 500: the whole transaction is safe to run again.
  return withDbRetry(() => db.transaction().execute((tx) => createRunInTx(tx, input)));
}

export async function createRunInTx(tx: Transaction<Database>, input: CreateRunInput): Promise<DagRunRow> {
  const dag = await tx.selectFrom("dags").select(["dag_id", "latest_version_id", "is_stale"]).where("dag_id", "=", input.dagId).executeTakeFirst();
  if (!dag) throw new NotFoundError(`The Dag with ID: \`${input.dagId}\` was not found`);
  const versionId = input.versionId ?? dag.latest_version_id;
  if (!versionId) throw new ValidationError(`DAG ${input.dagId} has no parsed version yet`);
  // conf against the DAG's params: bad input never stores a run (422 naming the field).
  const { structure } = await getVersion(tx, versionId);
  const problem = confProblems(structure.params ?? {}, input.conf ?? {})[0];
  if (problem) throw new ValidationError(`conf.${problem.field} ${problem.message}`, [input.confField ?? "conf", problem.field]);
  const now = new Date();
  const runAfter = input.runAfter ?? input.dataIntervalEnd ?? input.logicalDate ?? now;
  const runId = input.runId ?? generateRunId(input.runType, input.logicalDate ?? runAfter);
  const inserted = await tx
    .insertInto("dag_runs")
    .values({
      dag_id: input.dagId,
      run_id: runId,
      dag_version_id: versionId,
      run_type: input.runType,
      triggered_by: input.triggeredBy ?? null,
      triggering_user_name: input.triggeringUserName ?? null,
      state: "queued",
      logical_date: input.logicalDate,
      data_interval_start: input.dataIntervalStart ?? input.logicalDate,
      data_interval_end: input.dataIntervalEnd ?? input.logicalDate,
      run_after: runAfter,
      queued_at: sql<Date>`now()`,
      conf: JSON.stringify(input.conf ?? {}),
      note: input.note ?? null,
    })
    .onConflict((oc) => oc.doNothing())
    .returning("id")
    .executeTakeFirst();
  if (!inserted) {
    throw new ConflictError(
      input.runType === "scheduled"
        ? `A scheduled run for DAG ${input.dagId} at ${input.logicalDate?.toISOString()} already exists`
        : `DAG Run with run_id: \`${runId}\` already exists for DAG: \`${input.dagId}\``,
    );
  }
  await startQueuedRuns(tx, input.dagId);
  const run = await tx.selectFrom("dag_runs").selectAll().where("id", "=", inserted.id).executeTakeFirstOrThrow();
  return run;
}

export { sql };
