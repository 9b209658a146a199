// Dynamic task mapping (d.map). A mapped task has one TI at run start, the placeholder
// (map_index -1). When its upstreams let it run, in the transaction that decided so
// (settleDownstream; a clear's evaluateWaiting; a cleared run's restart), its waiting TIs become
// one TI per item of its source's list (map_index 0..n-1): the placeholder turns into index 0 and
// the rest come from one INSERT … SELECT over jsonb_array_elements — 500 items, one statement.
// An empty list skips the task (Airflow). A value that is not a list, or a list longer than
// maxMapLength, leaves the placeholder queued: the worker that claims it fails it, with
// mapProblem's message, through the ordinary finishing path (a TI that never ran is never failed
// directly; see semantics/states.ts), so its onFailure callback runs as for any failure.
//
// Re-expansion (the source was cleared and ran again): TIs that already exist keep their ids and
// try history; waiting ones beyond the new length are `removed`, missing ones are created.
import { sql, type Kysely, type Transaction } from "kysely";
import type { TaskStructure } from "../../model/structure.js";
import type { Database } from "../schema.js";
import type { LoadedVersion } from "../versions.js";
import { mapProblem, type SourceShape } from "../../semantics/mapping.js";

export { mapProblem, type SourceShape };

export interface ExpansionResult {
  /**
   * TIs finished here minus TIs created here: what the run's unfinished_tis goes down by (it may
   * be negative — a 500-item map adds 499).
   */
  finished: number;
  /** Queues that got newly queued TIs (to NOTIFY). */
  queued: Set<string>;
  /** Mapped tasks settled without running (an empty list): their downstream is settled next. */
  skipped: string[];
}

/** The columns a new TI takes from its task (as startQueuedRuns fills them), typed for INSERT … SELECT. */
const TI_COLUMNS = sql.raw("max_tries, pool, pool_slots, max_active_tis_per_dag, queue, priority_weight");
const tiValues = (t: TaskStructure) =>
  sql`${t.retries}::int, ${t.pool}::text, ${t.poolSlots}::int, ${t.maxActiveTisPerDag ?? null}::int, ${t.queue}::text, ${t.effectivePriority}::int`;

/** The value a mapped task expands over: its source's return value, or a mapped source's list of results. */
export function sourceValueSql(version: LoadedVersion, runPk: number, sourceId: string) {
  return version.tasks.get(sourceId)?.mapSource
    ? sql`(select jsonb_agg(value order by map_index) from xcom where run_pk = ${runPk} and task_id = ${sourceId} and key = 'return_value' and map_index >= 0)`
    : sql`(select value from xcom where run_pk = ${runPk} and task_id = ${sourceId} and key = 'return_value' and map_index = -1)`;
}

/** The shape of a mapped task's source value in a run (the worker asks, to fail a placeholder). */
export async function readSourceShape(db: Kysely<Database>, version: LoadedVersion, runPk: number, sourceId: string): Promise<SourceShape> {
  const row = (
    await sql<SourceShape>`select jsonb_typeof(s.v) as type, case when jsonb_typeof(s.v) = 'array' then jsonb_array_length(s.v) end as length
      from (select ${sourceValueSql(version, runPk, sourceId)} as v) s`.execute(db)
  ).rows[0];
  return { type: row?.type ?? null, length: row?.length === null || row?.length === undefined ? null : Number(row.length) };
}

/**
 * Expands these mapped tasks in run `runPk`: each is ready to run (its trigger rule said so), and
 * its waiting TIs are locked by the caller.
 */
export async function expandMappedTasks(tx: Transaction<Database>, runPk: number, version: LoadedVersion, taskIds: string[]): Promise<ExpansionResult> {
  const result: ExpansionResult = { finished: 0, queued: new Set(), skipped: [] };
  for (const taskId of new Set(taskIds)) {
    const task = version.tasks.get(taskId);
    if (!task?.mapSource) continue;
    // One read: the source's shape, and which of the task's TIs exist.
    const info = (
      await sql<SourceShape & { waitingPlaceholder: boolean; hasZero: boolean }>`
      select jsonb_typeof(s.v) as type, case when jsonb_typeof(s.v) = 'array' then jsonb_array_length(s.v) end as length,
             exists (select 1 from task_instances t where t.run_pk = ${runPk} and t.task_id = ${taskId} and t.map_index = -1 and t.state is null) as "waitingPlaceholder",
             exists (select 1 from task_instances t where t.run_pk = ${runPk} and t.task_id = ${taskId} and t.map_index = 0) as "hasZero"
        from (select ${sourceValueSql(version, runPk, task.mapSource)} as v) s`.execute(tx)
    ).rows[0]!;
    const shape = { type: info.type, length: info.length === null ? null : Number(info.length) };
    const problem = mapProblem(task, shape);
    if (problem) {
      result.finished -= await queuePlaceholder(tx, runPk, version, task);
      result.queued.add(task.queue);
      continue;
    }
    const n = shape.length!;
    if (n === 0) {
      const skipped = await tx
        .updateTable("task_instances")
        .set({ state: "skipped", start_date: sql`now()`, end_date: sql`now()`, duration: 0, updated_at: sql`now()` })
        .where("run_pk", "=", runPk)
        .where("task_id", "=", taskId)
        .where("state", "is", null)
        .executeTakeFirst();
      result.finished += Number(skipped.numUpdatedRows);
      result.skipped.push(taskId);
      continue;
    }
    // The waiting placeholder becomes index 0, unless a TI 0 exists (re-expansion): then it goes.
    const move = info.waitingPlaceholder && !info.hasZero;
    const row = (
      await sql<{ created: number; removed: number }>`
      with removed as (
        update task_instances set state = 'removed', updated_at = now()
         where run_pk = ${runPk} and task_id = ${taskId} and state is null
           and (map_index >= ${n} or (map_index = -1 and ${!move}))
        returning 1
      ), moved as (
        update task_instances set map_index = 0, state = 'queued', queued_when = now(), updated_at = now()
         where run_pk = ${runPk} and task_id = ${taskId} and map_index = -1 and state is null and ${move}
        returning 1
      ), requeued as (
        update task_instances set state = 'queued', queued_when = now(), updated_at = now()
         where run_pk = ${runPk} and task_id = ${taskId} and map_index between 0 and ${n - 1} and state is null
        returning 1
      ), created as (
        insert into task_instances (run_pk, dag_id, run_id, task_id, map_index, dag_version_id, operator, state, queued_when,
                                    ${TI_COLUMNS})
        select r.id, r.dag_id, r.run_id, ${taskId}::text, e.i - 1, ${version.id}::uuid, ${task.operator}::text, 'queued', now(), ${tiValues(task)}
          from dag_runs r, jsonb_array_elements(${sourceValueSql(version, runPk, task.mapSource)}) with ordinality as e(item, i)
         where r.id = ${runPk} and e.i - 1 >= ${move ? 1 : 0}
           and not exists (select 1 from task_instances x where x.run_pk = ${runPk} and x.task_id = ${taskId} and x.map_index = e.i - 1)
        on conflict (run_pk, task_id, map_index) do nothing
        returning 1
      )
      select (select count(*) from created)::int as created, (select count(*) from removed)::int as removed,
             (select count(*) from moved) + (select count(*) from requeued) as queued`.execute(tx)
    ).rows[0]!;
    result.finished += Number(row.removed) - Number(row.created);
    result.queued.add(task.queue);
  }
  return result;
}

/**
 * A source value that cannot be expanded: the placeholder is queued for a worker to fail (see the
 * header); waiting TIs of an earlier expansion are removed. Returns the TIs created (0 or 1)
 * minus those finished.
 */
async function queuePlaceholder(tx: Transaction<Database>, runPk: number, version: LoadedVersion, task: TaskStructure): Promise<number> {
  const row = (
    await sql<{ created: number; removed: number }>`
    with removed as (
      update task_instances set state = 'removed', updated_at = now()
       where run_pk = ${runPk} and task_id = ${task.taskId} and map_index >= 0 and state is null
      returning 1
    ), queued as (
      update task_instances set state = 'queued', queued_when = now(), updated_at = now()
       where run_pk = ${runPk} and task_id = ${task.taskId} and map_index = -1 and state is null
      returning 1
    ), created as (
      insert into task_instances (run_pk, dag_id, run_id, task_id, map_index, dag_version_id, operator, state, queued_when,
                                  ${TI_COLUMNS})
      select r.id, r.dag_id, r.run_id, ${task.taskId}::text, -1, ${version.id}::uuid, ${task.operator}::text, 'queued', now(), ${tiValues(task)}
        from dag_runs r
       where r.id = ${runPk} and not exists (select 1 from task_instances x where x.run_pk = ${runPk} and x.task_id = ${task.taskId} and x.map_index = -1)
      on conflict (run_pk, task_id, map_index) do nothing
      returning 1
    )
    select (select count(*) from created)::int as created, (select count(*) from removed)::int as removed, (select count(*) from queued)::int as queued`.execute(tx)
  ).rows[0]!;
  return Number(row.created) - Number(row.removed);
}
