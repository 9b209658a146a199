// Creating a DAG run: manual triggers (REST, CLI), schedules, tests. The run starts at once when
// the DAG is under maxActiveRuns, otherwise it waits `queued` until a run of the DAG finishes.
import { sql, type Kysely, type Transaction } from "kysely";
import { ConflictError, NotFoundError, ValidationError } from "../../errors.js";
import type { Database, DagRunRow } from "../schema.js";
import { withDbRetry } from "../sqlstate.js";
import { startableTasks, startQueuedRuns, taskInstanceFields } from "./startQueuedRuns.js";
import { PREPARED } from "../db.js";
import { confProblems } from "../../params.js";
import { getVersion, type LoadedVersion } from "../versions.js";

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

/**
 * The version each DAG's last run was created on, by DAG id: the one-statement start
 * (startRunInOneStatement) validates conf against it and has the database confirm it is still the
 * DAG's latest. A DAG not seen yet, or whose version changed since, takes the transaction.
 */
const latestVersionSeen = new Map<string, string>();

export async function createRun(db: Kysely<Database>, input: CreateRunInput): Promise<DagRunRow> {
  // A deadlock with a concurrent finisher or backfill (both lock the DAG's row) is retried, not
  // answered with a 500: the whole transaction is safe to run again.
  return withDbRetry(async () => {
    const started = await startRunInOneStatement(db, input);
    if (started) return started;
    const run = await db.transaction().execute((tx) => createRunInTx(tx, input));
    if (!input.versionId) latestVersionSeen.set(input.dagId, run.dag_version_id);
    return run;
  });
}

/**
 * The common case of a manual trigger — a run that starts at once — in one round trip and one
 * commit: migrations/0014_start_run_function.sql. Null when the function did not start it (a DAG
 * not seen yet, a new version, maxActiveRuns reached, a backfill, a paused DAG): the caller then
 * takes the general path, which decides with the rows locked. Conf is checked first, against the
 * version the function then confirms; bad conf goes to the general path, which refuses it.
 */
async function startRunInOneStatement(db: Kysely<Database>, input: CreateRunInput): Promise<DagRunRow | null> {
  const versionId = input.versionId ?? latestVersionSeen.get(input.dagId);
  if (!versionId) return null;
  const version = await getVersion(db, versionId);
  const rows = startRows(version, input);
  // Bad conf: the general path says so, against the version it reads under the lock (the one
  // seen here may be older than the DAG's latest).
  if (!rows || confProblems(version.structure.params ?? {}, input.conf ?? {}).length) return null;
  const run = runFields(input, versionId);
  const { status, row } = await startRun(db, run, input.versionId !== undefined, rows);
  switch (status) {
    case "started":
      return row;
    case "no_dag":
      throw new NotFoundError(`The Dag with ID: \`${input.dagId}\` was not found`);
    case "conflict":
      throw conflictError(input, run.run_id);
    case "stale_version":
      latestVersionSeen.delete(input.dagId);
      return null;
    default:
      return null;
  }
}

/**
 * The rows a run that starts at once gets — its TIs, roots queued (the ones startQueuedRuns would
 * write: taskInstanceFields) — and the queues to wake; null when it cannot start that way (an
 * empty DAG, a depends_on_past root, a backfill's run): startQueuedRuns decides those.
 */
function startRows(version: LoadedVersion, input: CreateRunInput): { tis: ReturnType<typeof taskInstanceFields>[]; queues: string[] } | null {
  const startable = startableTasks(version);
  if (input.runType === "backfill" || version.structure.tasks.length === 0 || startable.some((t) => t.dependsOnPast)) return null;
  const roots = new Set(startable.map((t) => t.taskId));
  return {
    tis: version.structure.tasks.map((t) => taskInstanceFields(t, roots.has(t.taskId) ? "queued" : null)),
    queues: [...new Set(startable.map((t) => t.queue))],
  };
}

type StartStatus = "started" | "no_dag" | "stale_version" | "not_startable" | "conflict";

/**
 * updraft_start_run (migrations/0014): locks the DAG's row, counts its active runs and, when the
 * run may start, writes it with its TIs and NOTIFYs their queues. `pinned`: the run's version is
 * the caller's choice, not necessarily the DAG's latest.
 */
async function startRun(
  executor: Kysely<Database>,
  run: ReturnType<typeof runFields>,
  pinned: boolean,
  rows: NonNullable<ReturnType<typeof startRows>>,
): Promise<{ status: StartStatus; row: DagRunRow }> {
  const { status, ...row } = (
    await sql<DagRunRow & { status: StartStatus }>`${PREPARED}
    select f.status, (f.run).* from updraft_start_run(
      ${run.dag_id}, ${run.dag_version_id}::uuid, ${pinned}, ${run.run_id}, ${run.run_type}, ${run.triggered_by},
      ${run.triggering_user_name}, ${run.logical_date}, ${run.data_interval_start}, ${run.data_interval_end}, ${run.run_after},
      ${run.conf}::jsonb, ${run.note}, ${JSON.stringify(rows.tis)}::jsonb, ${rows.queues}::text[]) f`.execute(executor)
  ).rows[0]!;
  return { status, row: row as DagRunRow };
}

/** The run row's fields from the input (createRunInTx and the one-statement start write the same). */
function runFields(input: CreateRunInput, versionId: string) {
  const runAfter = input.runAfter ?? input.dataIntervalEnd ?? input.logicalDate ?? new Date();
  return {
    dag_id: input.dagId,
    run_id: input.runId ?? generateRunId(input.runType, input.logicalDate ?? runAfter),
    dag_version_id: versionId,
    run_type: input.runType,
    triggered_by: input.triggeredBy ?? null,
    triggering_user_name: input.triggeringUserName ?? null,
    logical_date: input.logicalDate,
    data_interval_start: input.dataIntervalStart ?? input.logicalDate,
    data_interval_end: input.dataIntervalEnd ?? input.logicalDate,
    run_after: runAfter,
    conf: JSON.stringify(input.conf ?? {}),
    note: input.note ?? null,
  };
}

function conflictError(input: CreateRunInput, runId: string): ConflictError {
  return new ConflictError(
    input.runType === "scheduled"
      ? `A scheduled run for DAG ${input.dagId} at ${input.logicalDate?.toISOString()} already exists`
      : `DAG Run with run_id: \`${runId}\` already exists for DAG: \`${input.dagId}\``,
  );
}

export async function createRunInTx(tx: Transaction<Database>, input: CreateRunInput): Promise<DagRunRow> {
  // The DAG's row is locked first: concurrent creators and finishers of its runs take turns, so
  // the active counts read with it are exact (startQueuedRuns locks the same row).
  const dag = (
    await sql<{ latest_version_id: string | null; max_active_runs: number; is_paused: boolean; running: number; queued: number; backfilling: boolean }>`${PREPARED}
    select d.latest_version_id, d.max_active_runs, d.is_paused, a.running, a.queued, a.backfilling
      from dags d, lateral (
        select count(*) filter (where state = 'running' and backfill_id is null)::int as running,
               count(*) filter (where state = 'queued' and backfill_id is null)::int as queued,
               coalesce(bool_or(backfill_id is not null), false) as backfilling
          from dag_runs where dag_id = d.dag_id and state in ('queued', 'running')) a
     where d.dag_id = ${input.dagId}
       for update of d`.execute(tx)
  ).rows[0];
  if (!dag) throw new NotFoundError(`The Dag with ID: \`${input.dagId}\` was not found`);
  const versionId = input.versionId ?? dag.latest_version_id;
  if (!versionId) throw new ValidationError(`DAG ${input.dagId} has no parsed version yet`);
  // conf against the DAG's params: bad input never stores a run (422 naming the field).
  const version = await getVersion(tx, versionId);
  const problem = confProblems(version.structure.params ?? {}, input.conf ?? {})[0];
  if (problem) throw new ValidationError(`conf.${problem.field} ${problem.message}`, [input.confField ?? "conf", problem.field]);
  const run = runFields(input, versionId);
  const conflict = () => conflictError(input, run.run_id);

  // The common case — the DAG is unpaused, under maxActiveRuns, with no run waiting before this
  // one and no backfill — starts the run at once: the run, its TIs (roots queued) and the
  // NOTIFYs in one statement (updraft_start_run, whose lock and count repeat, within this
  // transaction, the ones above), instead of inserting it queued for startQueuedRuns to start
  // (ten round trips more on the trigger → first task path). Anything else (depends_on_past
  // roots, an empty DAG) takes that general path.
  // No runChanged NOTIFY: a run that started has nothing for the scheduler's run loop to do (it
  // wakes for run ends); waking it here only competed with the worker's claim of the first task.
  const rows = startRows(version, input);
  if (rows && !dag.is_paused && dag.running < dag.max_active_runs && dag.queued === 0 && !dag.backfilling) {
    const { status, row } = await startRun(tx, run, true, rows);
    if (status === "conflict") throw conflict();
    if (status === "started") return row;
  }

  const inserted = await tx
    .insertInto("dag_runs")
    .values({ ...run, state: "queued", queued_at: sql<Date>`now()` })
    .onConflict((oc) => oc.doNothing())
    .returning("id")
    .executeTakeFirst();
  if (!inserted) throw conflict();
  await startQueuedRuns(tx, input.dagId);
  return tx.selectFrom("dag_runs").selectAll().where("id", "=", inserted.id).executeTakeFirstOrThrow();
}

export { sql };
