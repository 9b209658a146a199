// Claiming queued TIs: one statement, highest priority first across DAGs, within the pools' slots,
// the DAGs' maxActiveTasks and the tasks' maxActiveTisPerDag (DESIGN §3, migrations/0006_pools.sql).
// try_number goes up here, so every attempt has its own number and a stale one can be fenced off.
import { sql, type Kysely } from "kysely";
import { PREPARED } from "../db.js";
import type { Database } from "../schema.js";

/** Everything a worker needs to run a TI without another query. */
export interface ClaimedTask {
  tiId: string;
  runPk: number;
  dagId: string;
  runId: string;
  taskId: string;
  mapIndex: number;
  tryNumber: number;
  maxTries: number;
  versionId: string;
  queue: string;
  logicalDate: Date | null;
  dataIntervalStart: Date | null;
  dataIntervalEnd: Date | null;
  runStartDate: Date | null;
  conf: Record<string, unknown>;
  /**
   * The TI names a pool that does not exist (set by claimTasks only; a hand-off never takes such
   * a TI): the worker fails it without running it.
   */
  poolMissing?: boolean;
  pool?: string;
  /**
   * Set on a TI handed off by its upstream's end (finishTask's fast path): that upstream's return
   * value as stored — read back from the statement that stored it, so as the database holds it
   * (jsonb: keys in its order) — for the worker to pass as the TI's input without reading it
   * again (taskInputs.ts).
   */
  upstreamXcom?: { taskId: string; value: unknown };
}

export interface ClaimInput {
  workerId: string;
  hostname: string;
  queues: string[];
  limit: number;
}

export const CLAIMED_COLUMNS = sql`ti.id as "tiId", ti.run_pk as "runPk", ti.dag_id as "dagId", ti.run_id as "runId",
  ti.task_id as "taskId", ti.map_index as "mapIndex", ti.try_number as "tryNumber", ti.max_tries as "maxTries",
  ti.dag_version_id as "versionId", ti.queue, r.logical_date as "logicalDate",
  r.data_interval_start as "dataIntervalStart", r.data_interval_end as "dataIntervalEnd",
  r.start_date as "runStartDate", r.conf`;

/**
 * The claimed TI in a row that also holds other columns (finishTask's and finishLeaf's statements
 * return their own with CLAIMED_COLUMNS); null when the row claimed nothing.
 */
export function claimedOf(row: Partial<ClaimedTask>): ClaimedTask | null {
  if (row.tiId == null) return null;
  const { tiId, runPk, dagId, runId, taskId, mapIndex, tryNumber, maxTries, versionId, queue, logicalDate, dataIntervalStart, dataIntervalEnd, runStartDate, conf } = row;
  return { tiId, runPk, dagId, runId, taskId, mapIndex, tryNumber, maxTries, versionId, queue, logicalDate, dataIntervalStart, dataIntervalEnd, runStartDate, conf } as ClaimedTask;
}

export async function claimTasks(db: Kysely<Database>, input: ClaimInput): Promise<ClaimedTask[]> {
  if (input.limit <= 0) return [];
  // updraft_claim_tasks (migrations/0006_pools.sql) picks under the pool, DAG and task limits,
  // serialized by an advisory lock, and is still one round trip. The pick inside it is a
  // MATERIALIZED CTE: as an `IN (sub-select … LIMIT)` the planner may run the sub-select more
  // than once and hand out more rows than LIMIT (seen: 17 claimed for 4 slots). The run's columns
  // come from the function too (see there: this statement's snapshot is older than its pick).
  const result = await sql<ClaimedTask>`${PREPARED}
    select ${CLAIMED_COLUMNS}, not exists (select 1 from pools p where p.name = ti.pool) as "poolMissing", ti.pool
      from updraft_claim_tasks(${input.workerId}, ${input.hostname}, ${input.queues}::text[], ${input.limit}::integer) c,
           lateral (select (c.claimed_ti).*) ti, lateral (select (c.claimed_run).*) r`.execute(db);
  return result.rows;
}
