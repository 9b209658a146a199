// Claiming queued TIs: one UPDATE over a SKIP LOCKED sub-select, highest priority first (DESIGN §3).
// try_number goes up here, so every attempt has its own number and a stale one can be fenced off.
import { sql, type Kysely } from "kysely";
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

export async function claimTasks(db: Kysely<Database>, input: ClaimInput): Promise<ClaimedTask[]> {
  if (input.limit <= 0) return [];
  // The pick is a MATERIALIZED CTE: as an `IN (sub-select … LIMIT)` the planner may run the
  // sub-select more than once and hand out more rows than LIMIT (seen: 17 claimed for 4 slots).
  const result = await sql<ClaimedTask>`
    with picked as materialized (
      select id from task_instances
       where state = 'queued' and queue = any(${input.queues})
       order by priority_weight desc, queued_when
       limit ${input.limit}
         for update skip locked)
    update task_instances ti
       set state = 'running', try_number = ti.try_number + 1, worker_id = ${input.workerId},
           hostname = ${input.hostname}, start_date = now(), end_date = null, duration = null,
           heartbeat_at = now(), updated_at = now()
      from picked, dag_runs r
     where ti.id = picked.id and r.id = ti.run_pk and ti.state = 'queued'
    returning ${CLAIMED_COLUMNS}`.execute(db);
  return result.rows;
}
