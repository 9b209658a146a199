// Moves a DAG's queued runs to running, oldest first, while it is under its limits; creates
// their TIs and queues the roots. Called when a run is created and when one finishes, in the
// same transaction, so no loop has to look for startable runs.
//
// Two kinds of limit, as in Airflow 3: the DAG's maxActiveRuns over its non-backfill runs (and
// none start while the DAG is paused), and each backfill's own max_active_runs over its runs (in
// the backfill's order; a paused backfill starts none). Backfill runs do not count against the DAG.
import { sql, type Transaction } from "kysely";
import { notify, lit } from "../db.js";
import { CHANNELS } from "../channels.js";
import type { Database } from "../schema.js";
import { getVersion, type LoadedVersion } from "../versions.js";
import { countUpstreams, evaluateTriggerRule } from "../../semantics/triggerRules.js";
import { isFinished, type TiState } from "../../semantics/states.js";
import { heldByPast } from "./dependsOnPast.js";
import { expandMappedTasks } from "../tasks/expandMappedTasks.js";
import { settleDownstream } from "../tasks/settleDownstream.js";

interface StartableRun {
  id: number;
  run_id: string;
  dag_version_id: string;
  clear_number: number;
}

export async function startQueuedRuns(tx: Transaction<Database>, dagId: string): Promise<number[]> {
  // Row lock on the DAG: concurrent creators and finishers of this DAG's runs take turns here,
  // so the active counts below are exact.
  const dag = await tx.selectFrom("dags").select(["max_active_runs", "is_paused"]).where("dag_id", "=", dagId).forUpdate().executeTakeFirst();
  if (!dag) return [];
  const active = await tx
    .selectFrom("dag_runs")
    .select([
      sql<number>`count(*) filter (where state = 'running' and backfill_id is null)::int`.as("running"),
      sql<number>`count(*) filter (where state = 'queued' and backfill_id is null)::int`.as("queued"),
      sql<boolean>`coalesce(bool_or(backfill_id is not null), false)`.as("backfilling"),
    ])
    .where("dag_id", "=", dagId)
    .where("state", "in", [lit("queued"), lit("running")])
    .executeTakeFirstOrThrow();
  const runs: StartableRun[] = [];
  const free = dag.max_active_runs - active.running;
  if (!dag.is_paused && free > 0 && active.queued > 0) {
    runs.push(
      ...(await tx
        .selectFrom("dag_runs")
        .select(["id", "run_id", "dag_version_id", "clear_number"])
        .where("dag_id", "=", dagId)
        .where("state", "=", lit("queued"))
        .where("backfill_id", "is", null)
        .orderBy("run_after")
        .orderBy("id")
        .limit(free)
        .execute()),
    );
  }
  if (active.backfilling) runs.push(...(await startableBackfillRuns(tx, dagId)));

  const queues = new Set<string>();
  for (const run of runs) {
    const version = await getVersion(tx, run.dag_version_id);
    const tasks = version.structure.tasks;
    await tx
      .updateTable("dag_runs")
      .set({ state: "running", start_date: sql`now()`, end_date: null, unfinished_tis: tasks.length, updated_at: sql`now()` })
      .where("id", "=", run.id)
      .execute();
    if (tasks.length === 0) {
      await tx.updateTable("dag_runs").set({ state: "success", end_date: sql`now()` }).where("id", "=", run.id).execute();
      continue;
    }
    if (run.clear_number > 0 && (await restartClearedRun(tx, dagId, run, version, queues))) continue;
    // Roots, and tasks whose rule needs no upstream to finish (`always`), start at once — unless
    // depends_on_past holds them until the same task of the previous run has succeeded.
    const startable = startableTasks(version);
    const held = await heldByPast(tx, dagId, run.id, version, startable.map((t) => t.taskId));
    const rows = tasks.map((t) => {
      const root = startable.includes(t) && !held.has(t.taskId);
      if (root) queues.add(t.queue);
      return {
        run_pk: run.id,
        dag_id: dagId,
        run_id: run.run_id,
        dag_version_id: run.dag_version_id,
        ...taskInstanceFields(t, root ? "queued" : null),
        queued_when: root ? sql<Date>`now()` : null,
      };
    });
    // Chunked: PostgreSQL takes at most 65,535 parameters in one statement.
    for (let i = 0; i < rows.length; i += 4000) await tx.insertInto("task_instances").values(rows.slice(i, i + 4000)).execute();
  }
  for (const q of queues) await notify(CHANNELS.tiQueued, q).execute(tx);
  if (runs.length) await notify(CHANNELS.runChanged, dagId).execute(tx);
  return runs.map((r) => r.id);
}

/** A new TI's columns that come from its task (createRun's one-statement start writes the same). */
export function taskInstanceFields(t: LoadedVersion["structure"]["tasks"][number], state: "queued" | null) {
  return {
    task_id: t.taskId,
    operator: t.operator,
    state,
    max_tries: t.retries,
    pool: t.pool,
    pool_slots: t.poolSlots,
    max_active_tis_per_dag: t.maxActiveTisPerDag ?? null,
    queue: t.queue,
    priority_weight: t.effectivePriority,
  };
}

/** The tasks whose TIs start with the run: roots, and tasks whose rule needs no upstream to finish (`always`). */
export function startableTasks(version: LoadedVersion): LoadedVersion["structure"]["tasks"] {
  return version.structure.tasks.filter((t) => evaluateTriggerRule(t.triggerRule, countUpstreams(t.upstream.map(() => null))) === "ready");
}

/** Queued runs of the DAG's unpaused backfills, each backfill up to its own max_active_runs. */
async function startableBackfillRuns(tx: Transaction<Database>, dagId: string): Promise<StartableRun[]> {
  const backfills = await tx
    .selectFrom("backfills as b")
    .select(["b.id", "b.max_active_runs"])
    .select((eb) =>
      eb
        .selectFrom("dag_runs as r")
        .select(sql<number>`count(*)::int`.as("n"))
        .whereRef("r.backfill_id", "=", "b.id")
        .where("r.state", "=", "running")
        .as("running"),
    )
    .where("b.dag_id", "=", dagId)
    .where("b.completed_at", "is", null)
    .where("b.is_paused", "=", false)
    .execute();
  const runs: StartableRun[] = [];
  for (const b of backfills) {
    const free = b.max_active_runs - Number(b.running ?? 0);
    if (free <= 0) continue;
    runs.push(
      ...(await tx
        .selectFrom("dag_runs")
        .select(["id", "run_id", "dag_version_id", "clear_number"])
        .where("backfill_id", "=", b.id)
        .where("state", "=", "queued")
        .orderBy("backfill_sort_ordinal")
        .orderBy("id")
        .limit(free)
        .execute()),
    );
  }
  return runs;
}

/**
 * A cleared run (clearRun) restarts on the TIs it already has, so their ids and try history are
 * kept: TIs reset to none whose trigger rule is met are queued; tasks new in the run's version get
 * TIs, tasks gone from it are `removed`. Returns false when the run has no TIs yet (cleared before
 * it ever started), for the caller to create them as for a new run.
 */
async function restartClearedRun(tx: Transaction<Database>, dagId: string, run: StartableRun, version: LoadedVersion, queues: Set<string>): Promise<boolean> {
  const existing = await tx.selectFrom("task_instances").select(["id", "task_id", "state", "map_index"]).where("run_pk", "=", run.id).execute();
  if (!existing.length) return false;
  const have = new Set(existing.map((t) => t.task_id));
  const missing = version.structure.tasks.filter((t) => !have.has(t.taskId));
  if (missing.length) {
    await tx
      .insertInto("task_instances")
      .values(
        missing.map((t) => ({ run_pk: run.id, dag_id: dagId, run_id: run.run_id, dag_version_id: run.dag_version_id, ...taskInstanceFields(t, null) })),
      )
      .execute();
  }
  // Waiting TIs of tasks the version no longer has (none → removed; a running one finishes as it is).
  const gone = existing.filter((t) => !version.tasks.has(t.task_id) && t.state === null).map((t) => t.id);
  if (gone.length) await tx.updateTable("task_instances").set({ state: "removed", updated_at: sql`now()` }).where("id", "in", gone).execute();

  const states = new Map<string, TiState[]>();
  for (const t of existing) if (version.tasks.has(t.task_id)) states.set(t.task_id, [...(states.get(t.task_id) ?? []), t.state as TiState]);
  for (const t of missing) states.set(t.taskId, [null]);
  const waiting = [...states].filter(([, s]) => s.includes(null)).map(([taskId]) => version.tasks.get(taskId)!);
  const ready = waiting.filter((t) => evaluateTriggerRule(t.triggerRule, countUpstreams(t.upstream.flatMap((u) => states.get(u) ?? [null]))) === "ready");
  const held = await heldByPast(tx, dagId, run.id, version, ready.map((t) => t.taskId));
  // A ready mapped task (re-)expands over its source's list instead of being queued as is.
  const expanding = ready.filter((t) => t.mapSource).map((t) => t.taskId);
  const expansion = expanding.length ? await expandMappedTasks(tx, run.id, version, expanding) : null;
  let finishedHere = expansion?.finished ?? 0;
  for (const q of expansion?.queued ?? []) queues.add(q);
  if (expansion?.skipped.length) {
    const settled = await settleDownstream(tx, run.id, version, expansion.skipped);
    finishedHere += settled.finished;
    for (const q of settled.queued) queues.add(q);
  }
  const queue = ready.filter((t) => !held.has(t.taskId) && !t.mapSource);
  if (queue.length) {
    await tx
      .updateTable("task_instances")
      .set({ state: "queued", queued_when: sql`now()`, updated_at: sql`now()` })
      .where("run_pk", "=", run.id)
      .where("task_id", "in", queue.map((t) => t.taskId))
      .where("state", "is", null)
      .execute();
    for (const t of queue) queues.add(t.queue);
  }
  const unfinished = [...states.values()].flat().filter((s) => !isFinished(s)).length - finishedHere;
  await tx.updateTable("dag_runs").set({ unfinished_tis: unfinished }).where("id", "=", run.id).execute();
  return true;
}
