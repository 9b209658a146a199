// Several successes of one run that each settle their downstream in one statement (finishTask's
// fast path: a chain's link, a fan-out's root, a fan-in's upstream), reported together — the
// middle tasks of a run start → 18 → end, once the worker's slots all run them
// (worker/endReporter.ts). Alone, each is a statement that locks the fan-in's TI and the run's
// row, and the siblings of one run queue behind each other for both. Together: one statement.
//
// What it writes is what each would write alone, in one statement: the fenced updates (the lease
// and the hint: task, version, unmapped), tries, XComs, log lines; the union of their downstream
// TIs locked in id order; each downstream TI ready when every upstream it has outside this batch
// succeeded (updraft_fan_in_verdict reads them after the lock, migrations/0016 — an upstream that
// failed or was skipped rolls the statement back, UD001, and the caller reports each end alone);
// as many ready TIs handed to the freed slots as fit them, the others queued; a queued TI swapped
// into each slot still free (finishLeaves.ts's swapManyCtes); the run counted down once. An end
// whose row was not written (a lost lease) counts as an unfinished upstream, and the caller
// reports it again alone. Prepared, as finishLeaves (which says why).
import { sql, type Kysely } from "kysely";
import { CHANNELS } from "../channels.js";
import { PREPARED } from "../db.js";
import type { Database } from "../schema.js";
import type { LoadedVersion } from "../versions.js";
import { stateAfterCount } from "../runs/endCountedRuns.js";
import { CLAIMED_COLUMNS, claimedOf, type ClaimedTask, type ClaimInput } from "./claimTasks.js";
import { lockDownstream } from "./finishTask.js";
import { endsCtes, endsJson, NO_SWAP, swapManyCtes, type LeafEnd, type LeavesResult } from "./finishLeaves.js";
import { HAND_OFF_SET } from "./settleDownstream.js";
import { notifySlotFreedSql } from "./slotFreed.js";

export interface SuccessesInput {
  runPk: number;
  workerId: string;
  version: LoadedVersion;
  /** Successes whose downstream finishTask's fastPlanOnSuccess settles in one statement. */
  ends: LeafEnd[];
  /** The union of their downstream tasks, each with all its upstream tasks. */
  downstream: Record<string, string[]>;
  claim: Omit<ClaimInput, "limit"> | null;
}

type Row = {
  written: { id: string; state: string }[];
  unfinished: number | null;
  runState: "queued" | "running" | "success" | "failed" | null;
} & Partial<ClaimedTask>;

export async function finishSuccesses(db: Kysely<Database>, input: SuccessesInput): Promise<LeavesResult> {
  const { claim } = input;
  const hand = claim ?? { workerId: "", hostname: "", queues: [] as string[] };
  const rows = (
    await sql<Row>`${PREPARED}
    with ${endsCtes(endsJson(input.ends), input.runPk, input.workerId, true)}, ok as (
      select ${input.runPk}::bigint as run_pk, min(t.pool) as pool, min(t.pool_slots) as pool_slots from t
      having count(*) > 0 and bool_and(t.state = 'success')
    ), ${lockDownstream(sql`ok`, sql`ok.run_pk`, Object.keys(input.downstream))}, v as (
      -- Ready: waiting, and every upstream outside this batch's written ends succeeded.
      select c.*, case when c.state is not null then false
                       else updraft_fan_in_verdict(ok.run_pk, array(
                              select u from jsonb_array_elements_text(${JSON.stringify(input.downstream)}::jsonb -> c.task_id) u
                               where u not in (select task_id from t))) = 'ready' end as ready
        from c, ok
    ), mine as (
      -- Into the freed slots only what raises no occupancy (finishTask's FITS_FREED_SLOT): the
      -- ends' one pool (a batch of several pools hands nothing off), no more slots, no per-task limit.
      select v.id from v, ok
       where v.ready and ${claim ? sql`true` : sql`false`} and (select count(distinct pool) = 1 from t) and v.queue = any(${hand.queues}::text[])
         and v.pool = ok.pool and v.pool_slots <= ok.pool_slots and v.max_active_tis_per_dag is null
       order by v.id limit (select count(*) from t)
    ), handed as (
      update task_instances ti set ${HAND_OFF_SET(hand)}
        from mine m, dag_runs r
       where ti.id = m.id and r.id = ti.run_pk and ti.state is null
      returning ${CLAIMED_COLUMNS}
    ), queued as (
      update task_instances q set state = 'queued', queued_when = now(), updated_at = now()
        from v
       where q.id = v.id and v.ready and v.id not in (select id from mine) and q.state is null
      returning q.queue
    ), slots as (
      select (select count(*) from t)::int - (select count(*) from mine)::int as n, min(pool) as pool, min(pool_slots) as pool_slots,
             min(dag_id) as dag_id, count(distinct pool) as pools
        from t where exists (select 1 from ok)
    )${claim ? swapManyCtes(claim, input.ends.length) : NO_SWAP}, run as (
      update dag_runs set unfinished_tis = unfinished_tis - (select count(*) from t)::int, updated_at = now()
       where id = (select run_pk from ok)
         and (select count(*) from handed) + (select count(*) from queued) + (select count(*) from claimed) >= 0
      returning unfinished_tis, state
    )
    select (select coalesce(json_agg(json_build_object('id', id, 'state', state)), '[]'::json) from t) as written,
           (select count(pg_notify(${CHANNELS.tiQueued}, q.queue)) from (select distinct queue from queued) q) as notified,
           case when exists (select 1 from ok) and (select count(*) from t) > (select count(*) from handed) + (select count(*) from claimed)
                then ${notifySlotFreedSql(sql`(select min(pool) from t)`, sql`(select min(dag_id) from t)`)} end as freed,
           r.unfinished_tis as unfinished, r.state as "runState", cl.*
      from (select 1) one left join run r on true left join (select * from handed union all select * from claimed) cl on true`.execute(db)
  ).rows;
  const head = rows[0]!;
  // Written but not settled (the rows were not all successes as the hint said): cannot happen —
  // the update writes only hinted rows, and the caller sends only successes.
  if (head.written.length && head.runState === null) throw new Error(`DAG run ${input.runPk}: a batch of successes was written but not settled`);
  const state = new Map(head.written.map((w) => [w.id, w.state]));
  const claimed = rows.map(claimedOf).filter((c) => c !== null);
  // Downstream TIs finished by hand (marked) may leave nothing to run: the run ends now, as on
  // finishTask's fast path.
  const runState = head.runState === null ? "running" : await stateAfterCount(db, input.runPk, input.version, { unfinished_tis: head.unfinished!, state: head.runState });
  return { states: input.ends.map((e) => state.get(e.tiId) ?? null), runState, claimed };
}
