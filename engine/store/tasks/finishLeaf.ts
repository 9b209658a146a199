// The end of a TI whose task has no downstream tasks (a leaf: the last task of a chain, each task
// of a fan-out) in ONE statement that commits on its own — no BEGIN/COMMIT round trips, and the
// run's row locked only for the statement's own execution and commit. It writes what finishTask
// writes (the TI, its try, XComs, last log lines), counts the run down, and, when it counted the
// run's last TI, ends the run too (state from its leaves, end_date, NOTIFY). And it may take the
// next queued TI of the same DAG into the slot it frees (a swap, see swapCtes below): a fan-out,
// or many runs of a DAG, then cost one round trip per TI, with no claim and no NOTIFY storm
// between them.
//
// Why ending the run in the same statement is safe: the leaves' states are read with the
// statement's snapshot, taken before it waited for the run's row lock. Every TI that finishes
// counts the run down in its own transaction, which holds that row until it commits; so if the
// run's row is still the version this statement's snapshot saw (same xmin) once the lock is
// granted, no other finish committed in between and the snapshot holds every leaf's final state.
// If it is not (a concurrent finish of the same run), the statement only counts down, and when it
// counted the last TI the run is ended in a transaction of its own (endCountedRun), which reads
// after taking the lock. A process that dies between the two leaves the run to endCountedRuns.
//
// The DAG's next queued run, if the snapshot shows one, is started in a transaction of its own
// (startQueuedRuns locks the DAG's row, which this statement does not take: no lock-order cycle
// with creators and other finishers — the cycle that deadlocked finishers of one DAG's runs on
// its row before). A run queued after the snapshot is started by the scheduler, which this
// statement's runChanged NOTIFY wakes and whose run loop starts every startable queued run
// (startAllQueuedRuns).
import { sql, type Kysely, type RawBuilder, type Transaction } from "kysely";
import { CHANNELS } from "../channels.js";
import { PREPARED } from "../db.js";
import type { Database } from "../schema.js";
import type { LoadedVersion } from "../versions.js";
import { FINISHED_TI_STATES } from "../../semantics/states.js";
import { endCountedRun } from "../runs/endCountedRuns.js";
import { startQueuedRunsAfter } from "../runs/countFinishedTis.js";
import { CLAIMED_COLUMNS, claimedOf, type ClaimedTask, type ClaimInput } from "./claimTasks.js";
import { notifySlotFreedSql } from "./slotFreed.js";

export interface LeafFinish {
  /** The TI's update and the history/XCom/log CTEs (finishTask's finishCte), named `t` first. */
  finish: RawBuilder<unknown>;
  taskId: string;
  versionId: string;
  version: LoadedVersion;
  claim: ClaimInput | null;
}

export interface LeafResult {
  /** False: no row was written (lost lease, or the row is not what the worker said). */
  written: boolean;
  state: string | null;
  runState: "running" | "success" | "failed";
  claimed: ClaimedTask[];
}

/**
 * The swap: the TI a claim by this worker would take first — the first queued TI of its queues
 * in claim order (highest priority_weight, then oldest) that no other transaction has locked —
 * takes the slot this TI leaves, when that raises no occupancy: same DAG (so the same DAG's
 * count), same pool with no more slots, no per-task limit — the rule of the hand-off
 * (migrations/0006_pools.sql). So a swap never jumps ahead of an older or more urgent TI, and
 * when that TI is another DAG's (or needs more of the pool), nothing is swapped: the worker's
 * claim takes it under the limits. SKIP LOCKED: a TI that a claim or another end is taking is
 * passed over, as a claim would — several slots freed at once each take the next one (taking
 * only the head itself, concurrent ends of a run left all but one slot to a claim each). The TI
 * looked at is locked until commit even when it does not fit; a claim passes it over meanwhile.
 * One ordered index probe per queue (task_instances_queued: queue, then priority order), whatever
 * the number of queued TIs. `gate` is a one-time filter: false, nothing is read or locked.
 */
export const swapCtes = (claim: ClaimInput, freed: FreedSlot = LEAF_SLOT) => sql`, pick as (
      select x.id from (
        select n.id, n.dag_id, n.pool, n.pool_slots, n.max_active_tis_per_dag, n.priority_weight, n.queued_when
          from unnest(${claim.queues}::text[]) as q(name) cross join lateral (
            select h.id, h.dag_id, h.pool, h.pool_slots, h.max_active_tis_per_dag, h.priority_weight, h.queued_when from task_instances h
             where h.state = 'queued' and h.queue = q.name and ${freed.gate}
             order by h.priority_weight desc, h.queued_when limit 1
               for update of h skip locked) n
         order by n.priority_weight desc, n.queued_when limit 1) x
       where x.dag_id = ${freed.dagId} and x.pool = ${freed.pool} and x.pool_slots <= ${freed.poolSlots} and x.max_active_tis_per_dag is null
    ), claimed as (
      update task_instances ti
         set state = 'running', try_number = ti.try_number + 1, worker_id = ${claim.workerId}, hostname = ${claim.hostname},
             start_date = now(), end_date = null, duration = null, heartbeat_at = now(), updated_at = now()
        from dag_runs r
       where ti.id = (select id from pick) and r.id = ti.run_pk and ti.state = 'queued'
      returning ${CLAIMED_COLUMNS}
    )`;

/**
 * The slot a finished TI leaves, as SQL: whether to swap at all (`gate`, a condition that does
 * not read the queued TIs), the DAG, and the pool and slots the finished TI held. In a leaf's
 * statement, from its CTEs `ok` (a finished TI that is not up for retry) and `t` (the TI).
 */
export interface FreedSlot {
  gate: RawBuilder<unknown>;
  dagId: RawBuilder<unknown>;
  pool: RawBuilder<unknown>;
  poolSlots: RawBuilder<unknown>;
}
const LEAF_SLOT: FreedSlot = { gate: sql`exists (select 1 from ok)`, dagId: sql`(select dag_id from t)`, pool: sql`(select pool from t)`, poolSlots: sql`(select pool_slots from t)` };

/**
 * The swap on its own, for a TI whose end made no downstream TI ready (the general path of
 * finishTask: a fan-in's upstreams, a failure): in `tx`, one statement that takes the run's next
 * queued TI into the slot, or, when there is none to take, wakes the workers of the queues the
 * freed slot may unblock (notifySlotFreedSql) — the statement that TI's end ran anyway. Without
 * it, each of a fan-in's upstreams freed its slot and the worker claimed again (a claim's round
 * trip per TI).
 */
export async function swapOrFreeSlot(
  tx: Transaction<Database>,
  ti: { pool: string; poolSlots: number; dagId: string },
  claim: ClaimInput | null,
): Promise<ClaimedTask[]> {
  const freedSql = notifySlotFreedSql(sql`${ti.pool}::text`, sql`${ti.dagId}::text`);
  if (!claim) {
    await sql`select ${freedSql}`.execute(tx);
    return [];
  }
  const freed: FreedSlot = { gate: sql`true`, dagId: sql`${ti.dagId}::text`, pool: sql`${ti.pool}::text`, poolSlots: sql`${ti.poolSlots}::int` };
  const rows = (
    await sql<Partial<ClaimedTask> & { freed: number | null }>`${PREPARED}
    with nothing as (select 1)${swapCtes(claim, freed)}
    select case when not exists (select 1 from claimed) then ${freedSql} end as freed, cl.*
      from nothing left join claimed cl on true`.execute(tx)
  ).rows;
  return rows.map(claimedOf).filter((c) => c !== null);
}

type Row = {
  state: string;
  run_pk: number;
  fast: boolean;
  unfinished: number | null;
  runDagId: string | null;
  runState: "queued" | "running" | "success" | "failed" | null;
  ended: boolean | null;
  hasQueuedRuns: boolean | null;
} & Partial<ClaimedTask>;

export async function finishLeaf(db: Kysely<Database>, input: LeafFinish): Promise<LeafResult> {
  const { claim } = input;
  const finished = sql.raw(FINISHED_TI_STATES.map((s) => `'${s}'`).join(", "));
  const rows = (
    await sql<Row>`${PREPARED}
    with ${input.finish}, ok as (
      select run_pk from t where t.task_id = ${input.taskId} and t.dag_version_id = ${input.versionId} and t.state <> 'up_for_retry'
    ), snap as (
      select r.xmin as snap_xmin, r.state as snap_state, r.unfinished_tis as snap_unfinished from dag_runs r where r.id = (select run_pk from ok)
    ), leaves as (
      -- Read only by the end that counts the run's last TI (snapshot count 1; the gate is a
      -- one-time filter): read by every leaf of a 10,000-task fan-out it made each end O(run)
      -- (measured: 93 TIs/s at 1,000). The leaf task ids come from the stored version, not as a
      -- parameter that every end would send; each leaf's TIs are found through the unique index
      -- (run_pk, task_id, map_index), so the read is O(leaves), not leaves × run's TIs (a filter
      -- task_id = any(leaves) compared every TI of the run with every leaf).
      select count(*) filter (where u.s is null or u.s not in (${finished})) as open,
             count(*) filter (where u.s in ('failed', 'upstream_failed')) as failed
        from (select l.state as s
                from ok, t, jsonb_array_elements_text((select v.structure -> 'leaves' from dag_versions v where v.id = ${input.versionId})) lf(task_id),
                     task_instances l
               where l.run_pk = ok.run_pk and l.task_id = lf.task_id and l.id <> t.id
              union all
              select t.state from t, ok) u
       where (select snap_unfinished from snap) = 1
    )${claim ? swapCtes(claim) : sql``}, run as (
      update dag_runs r
         set unfinished_tis = r.unfinished_tis - 1, updated_at = now(),
             state = case when r.xmin = s.snap_xmin and r.state = 'running' and r.unfinished_tis = 1 and lv.open = 0
                          then case when lv.failed > 0 then 'failed' else 'success' end else r.state end,
             end_date = case when r.xmin = s.snap_xmin and r.state = 'running' and r.unfinished_tis = 1 and lv.open = 0
                             then now() else r.end_date end
        from snap s, leaves lv
       where r.id = (select run_pk from ok)${claim ? sql` and (select count(*) from claimed) >= 0` : sql``}
      -- Ended here: was running in the snapshot, is finished now with this statement's time (a
      -- run ended by any other transaction carries that transaction's now()).
      returning r.unfinished_tis, r.dag_id, r.state, (r.state in ('success', 'failed') and s.snap_state = 'running' and r.end_date = now()) as ended
    )
    select t.state, t.run_pk, exists (select 1 from ok) as fast,
           r.unfinished_tis as unfinished, r.dag_id as "runDagId", r.state as "runState", r.ended,
           case when r.ended then pg_notify(${CHANNELS.runChanged}, r.dag_id)::text end as notified_run,
           case when r.ended then exists (select 1 from dag_runs q where q.dag_id = r.dag_id and q.state = 'queued') end as "hasQueuedRuns",
           case when t.state = 'up_for_retry' then pg_notify(${CHANNELS.retryScheduled}, '')::text end as notified_retry,
           case when ${claim ? sql`not exists (select 1 from claimed)` : sql`true`} then ${notifySlotFreedSql(sql`t.pool`, sql`t.dag_id`)} end as freed
           ${claim ? sql`, cl.*` : sql``}
      from t left join run r on true${claim ? sql` left join claimed cl on true` : sql``}`.execute(db)
  ).rows;
  const ti = rows[0];
  if (!ti) return { written: false, state: null, runState: "running", claimed: [] };
  const claimed = rows.map(claimedOf).filter((c) => c !== null);
  if (!ti.fast) {
    // Up for retry: a leaf or not, it settles nothing; its NOTIFYs went with the statement.
    return { written: true, state: ti.state, runState: "running", claimed };
  }
  if (ti.runDagId === null) throw new Error(`DAG run ${ti.run_pk} not found while counting its finished TIs`);
  let runState: LeafResult["runState"];
  if (ti.ended) {
    runState = ti.runState as "success" | "failed";
    if (ti.hasQueuedRuns) await startQueuedRunsAfter(db, ti.runDagId);
  } else if (ti.unfinished! <= 0 && ti.runState === "running") {
    // Counted the last TI, but another finish of the run committed during this statement.
    runState = await endCountedRun(db, ti.run_pk, input.version);
  } else {
    runState = ti.runState === "queued" ? "running" : ti.runState!;
  }
  return { written: true, state: ti.state, runState, claimed };
}
