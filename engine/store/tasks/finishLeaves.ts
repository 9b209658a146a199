// Several leaf ends of one run in ONE statement: what the worker reports when TIs of a run end
// while it is still reporting another end of that run (worker/endReporter.ts) — a fan-out's
// leaves, once its slots all run them. Each end alone (finishLeaf.ts) is a statement and a commit,
// and the ends of one run queue for the run's row, which each counts down (measured in the worker,
// PostgreSQL, four slots on a 3,000-task fan-out: 4–5 ms per end). Together: one statement, one
// count-down, one commit, one call of the live-event triggers. Same fan-out, one worker process,
// alternating builds: 737 and 970 TIs/s batched, 632 and 750 one by one.
//
// Per TI it writes what finishLeaf writes — the fenced update (the lease and the worker's hint:
// task, version, run), the try's history row, XComs, last log lines — and it swaps as many queued
// TIs into the freed slots as finished TIs freed (the swap of finishLeaf.ts: the first unlocked TIs
// in claim order, as long as each is of the same DAG and fits the pool's freed slots). It does not
// end the run in the same statement: when it counted the run's last TI, the caller ends it in a
// transaction of its own (endCountedRun), which reads the leaves under the run's lock — a batch is
// only ever formed under load, where that second round trip per run end is cheap.
//
// Prepared: planning it for each batch cost more than batching saved (3,000-task fan-out, one
// worker process, alternating: 517 and 525 TIs/s unprepared, 756 and 762 prepared). Its joins by
// id are index probes once the planner knows task_instances' size; a plan made while the table
// was small scanned it (auto_explain, a run of 10,000 tasks: 12,600 rows per batch) until the
// scheduler's refreshStatistics (engine/store/maintenance) re-analyzes a table that doubled.
import { sql, type Kysely } from "kysely";
import { CHANNELS } from "../channels.js";
import { PREPARED } from "../db.js";
import type { Database } from "../schema.js";
import type { LoadedVersion } from "../versions.js";
import type { LogLine } from "../logs/appendLogs.js";
import { stateAfterCount } from "../runs/endCountedRuns.js";
import { CLAIMED_COLUMNS, claimedOf, type ClaimedTask, type ClaimInput } from "./claimTasks.js";
import type { AttemptOutcome } from "./finishTask.js";
import { notifySlotFreedSql } from "./slotFreed.js";

export interface LeafEnd {
  tiId: string;
  tryNumber: number;
  /** The worker's hint: the TI's task and version (checked against the row). */
  taskId: string;
  versionId: string;
  outcome: AttemptOutcome;
  error?: string | null;
  retryDelayMs?: number;
  xcom?: Record<string, unknown>;
  logs?: LogLine[];
}

export interface LeavesInput {
  runPk: number;
  workerId: string;
  version: LoadedVersion;
  ends: LeafEnd[];
  /** The worker's queues and identity, to take queued TIs into the freed slots; null: no swap. */
  claim: Omit<ClaimInput, "limit"> | null;
}

export interface LeavesResult {
  /** Per end, in input order: the TI's new state, or null when nothing was written for it. */
  states: (string | null)[];
  /** The run's state after the batch: ended by it (after endCountedRun) or still running. */
  runState: "running" | "success" | "failed";
  /** Queued TIs taken into the freed slots (at most one per written end). */
  claimed: ClaimedTask[];
}

type Row = {
  written: { id: string; state: string }[];
  counted: number;
  unfinished: number | null;
  runState: "queued" | "running" | "success" | "failed" | null;
} & Partial<ClaimedTask>;

/** The ends as the batch statements' input (`i`): one JSON array, one parameter. */
export function endsJson(ends: LeafEnd[]): string {
  return JSON.stringify(
    ends.map((e) => ({
      id: e.tiId,
      try: e.tryNumber,
      task_id: e.taskId,
      version_id: e.versionId,
      outcome: e.outcome,
      target: e.outcome === "failed_no_retry" ? "failed" : e.outcome,
      delay: (e.retryDelayMs ?? 0) / 1000,
      error: e.error ?? null,
      xcom: e.xcom && Object.keys(e.xcom).length ? e.xcom : null,
      logs: e.logs?.length ? e.logs.map((l) => ({ ts: new Date(l.ts).toISOString(), stream: l.stream, level: l.level ?? "info", line: l.line })) : null,
    })),
  );
}

/**
 * The CTEs that write a batch of ends of one run (`t`: the written TIs), for finishLeaves and
 * finishSuccesses: the fenced update with the hint (`unmapped`: map_index −1 too), the tries, the
 * XComs, the log lines.
 */
export function endsCtes(items: string, runPk: number, workerId: string, unmapped: boolean) {
  return sql`i as (
      select * from jsonb_to_recordset(${items}::jsonb)
        as i(id uuid, try integer, task_id text, version_id uuid, outcome text, target text, delay float8, error text, xcom jsonb, logs jsonb)
    ), lk as materialized (
      -- The TIs locked in id order before they are written, as heartbeatTasks locks them: in the
      -- join's order, a batch and a heartbeat of the same worker deadlocked. Each found by primary
      -- key, then locked by primary key (LATERAL lookups, as finishTask.ts's lockDownstream).
      select l.id from (
        select x.id from i cross join lateral (
          select ti.id from task_instances ti
           where ti.id = i.id and ti.run_pk = ${runPk} and ti.state = 'running' and ti.worker_id = ${workerId} offset 0) x
         order by x.id) k
      cross join lateral (select ti.id from task_instances ti where ti.id = k.id offset 0 for update) l
    ), t as (
      update task_instances ti
         set state = case when i.target = 'failed' and i.outcome = 'failed' and ti.try_number <= ti.max_tries
                          then 'up_for_retry' else i.target end,
             next_retry_at = case when i.outcome = 'failed' and ti.try_number <= ti.max_tries
                                  then now() + make_interval(secs => i.delay) end,
             end_date = now(), duration = extract(epoch from now() - ti.start_date), heartbeat_at = null, updated_at = now()
        from i
       -- Each TI by primary key, from the locked ids as one array (estimated at ~10 rows, which no
       -- other index beats): this is a generic plan, and the fence's other conditions must reach
       -- no index. So the state is a parameter: as the literal, the plan could go through the
       -- partial index of running TIs, which keeps an entry for every TI that ever ran until a
       -- VACUUM (auto_explain, 4 worker processes on a 10,000-task fan-out: 1,789 entries read
       -- per batch). And the run is not repeated here (lk checked it; a TI's run never changes):
       -- with statistics taken over runs of 20 TIs, the plan read a 10,000-TI run through the
       -- unique index, 9,996 rows filtered per batch (throughput benchmark, fan-out after runs).
       where ti.id = any(array(select id from lk)) and i.id = ti.id and ti.state = ${"running"} and ti.try_number = i.try
         and ti.worker_id = ${workerId} and ti.task_id = i.task_id and ti.dag_version_id = i.version_id${unmapped ? sql` and ti.map_index = -1` : sql``}
      returning ti.id, ti.run_pk, ti.task_id, ti.map_index, ti.state, ti.try_number, ti.worker_id, ti.hostname, ti.start_date,
                ti.end_date, ti.duration, ti.pool, ti.pool_slots, ti.dag_id, i.error, i.xcom, i.logs
    ), tries as (
      insert into task_instance_tries (ti_id, try_number, state, worker_id, hostname, start_date, end_date, duration, error)
      select id, try_number, state, worker_id, hostname, start_date, end_date, duration, error from t
      on conflict (ti_id, try_number) do nothing
    ), x as (
      insert into xcom (ti_id, key, run_pk, task_id, map_index, value)
      select t.id, e.key, t.run_pk, t.task_id, t.map_index, e.value from t, jsonb_each(t.xcom) e where t.xcom is not null
      on conflict (ti_id, key) do update set value = excluded.value, created_at = now()
    ), l as (
      insert into task_logs (ti_id, try_number, ts, stream, level, line)
      select t.id, t.try_number, r.ts, r.stream, r.level, r.line
        from t, jsonb_to_recordset(t.logs) as r(ts timestamptz, stream text, level text, line text) where t.logs is not null
    )`;
}

/**
 * The swap for a batch (finishLeaf.ts's rule, for several freed slots): up to `slots.n` queued TIs
 * taken in claim order, the first unlocked ones, as long as each is of the freed slots' DAG and
 * fits their pool (`slots`: a CTE with n, pool, pool_slots, dag_id and pools — the count of
 * distinct pools, which must be 1). At most `max` are looked at per queue.
 */
export function swapManyCtes(claim: Omit<ClaimInput, "limit">, max: number) {
  return sql`, pick as (
      select x.id from (
        select n.id, bool_and(n.dag_id = o.dag_id and n.pool = o.pool and n.pool_slots <= o.pool_slots and n.max_active_tis_per_dag is null)
                 over (order by n.priority_weight desc, n.queued_when, n.id rows unbounded preceding) as fits
          from slots o, (
            select h.* from unnest(${claim.queues}::text[]) as q(name) cross join lateral (
              select h.id, h.dag_id, h.pool, h.pool_slots, h.max_active_tis_per_dag, h.priority_weight, h.queued_when from task_instances h
               where h.state = 'queued' and h.queue = q.name and (select n > 0 and pools = 1 from slots)
               order by h.priority_weight desc, h.queued_when limit ${max}
                 for update of h skip locked) h
             order by h.priority_weight desc, h.queued_when, h.id limit (select n from slots)) n
      ) x where x.fits
    ), claimed as (
      -- The picked ids as one array: each TI found by primary key. Joined to \`pick\` instead, the
      -- generic plan hashed a sequential scan of task_instances (auto_explain, 4 worker processes
      -- on a 10,000-task fan-out: 682 pages per batch): \`pick\` was estimated at 708 rows, and
      -- the statistics, taken while the fan-out was all queued, made every TI a queued one.
      update task_instances ti
         set state = 'running', try_number = ti.try_number + 1, worker_id = ${claim.workerId}, hostname = ${claim.hostname},
             start_date = now(), end_date = null, duration = null, heartbeat_at = now(), updated_at = now()
        from dag_runs r
       where ti.id = any(array(select id from pick)) and r.id = ti.run_pk and ti.state = 'queued'
      returning ${CLAIMED_COLUMNS}
    )`;
}

/** No swap: an empty `claimed`, for the statements that read it. */
export const NO_SWAP = sql`, claimed as (select ${CLAIMED_COLUMNS} from task_instances ti, dag_runs r where false)`;

export async function finishLeaves(db: Kysely<Database>, input: LeavesInput): Promise<LeavesResult> {
  const { claim } = input;
  const rows = (
    await sql<Row>`${PREPARED}
    with ${endsCtes(endsJson(input.ends), input.runPk, input.workerId, false)}, slots as (
      -- The ends that count the run down and free a slot for a swap (a retry frees its slot but,
      -- as in finishLeaf, takes nothing: its NOTIFYs wake the workers). One pool and DAG: the swap's rule.
      select count(*)::int as n, min(pool) as pool, min(pool_slots) as pool_slots, min(dag_id) as dag_id, count(distinct pool) as pools
        from t where state <> 'up_for_retry'
    )${claim ? swapManyCtes(claim, input.ends.length) : NO_SWAP}, run as (
      update dag_runs set unfinished_tis = unfinished_tis - (select n from slots), updated_at = now()
       where id = ${input.runPk} and (select n from slots) > 0 and (select count(*) from claimed) >= 0
      returning unfinished_tis, state
    )
    select (select coalesce(json_agg(json_build_object('id', id, 'state', state)), '[]'::json) from t) as written,
           (select n from slots) as counted,
           (select count(pg_notify(${CHANNELS.retryScheduled}, '')) from (select 1 from t where state = 'up_for_retry' limit 1) z) as notified_retry,
           case when (select count(*) from t) > (select count(*) from claimed)
                then ${notifySlotFreedSql(sql`(select min(pool) from t)`, sql`(select min(dag_id) from t)`)} end as freed,
           r.unfinished_tis as unfinished, r.state as "runState", cl.*
      from (select 1) one left join run r on true left join claimed cl on true`.execute(db)
  ).rows;
  const head = rows[0]!;
  const state = new Map(head.written.map((w) => [w.id, w.state]));
  const claimed = rows.map(claimedOf).filter((c) => c !== null);
  // Counted the run's last TI: the run ends in a transaction of its own, reading its leaves under
  // the run's lock (a process that dies first leaves it to endCountedRuns).
  const runState = head.counted > 0 && head.runState !== null ? await stateAfterCount(db, input.runPk, input.version, { unfinished_tis: head.unfinished!, state: head.runState }) : "running";
  return { states: input.ends.map((e) => state.get(e.tiId) ?? null), runState, claimed };
}
