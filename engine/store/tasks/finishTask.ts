// A worker (or the reaper) reports the end of an attempt. One fenced compare-and-set on
// (id, state = running, try_number, worker_id): zero rows means the attempt lost its lease and
// nothing it reports is stored. In the same transaction: the try's history row, its XComs and
// last log lines, downstream readiness, the run's state — and, optionally, the ready downstream
// handed straight back to the same worker (the zero-round-trip hand-off of DESIGN §3).
//
// This is the hand-off path (upstream end → downstream start), so round trips count. The common
// cases are decided before the statement starts (fastPlanOnSuccess): a task succeeded and each of
// its downstream tasks either has it as its only upstream (a chain, a fan-out: the trigger rules
// see one upstream, in `success`) or is an all_success fan-in of unmapped tasks (its other
// upstreams' states are read in the statement, after its TI is locked: migrations/0016). Then one
// statement finishes the TI, locks the downstream TIs, claims or queues the ready ones, swaps a
// queued TI of the run into the slot when none was ready, and counts the run — and commits on its
// own. A task without downstream tasks (a leaf) takes finishLeaf.ts's one statement whatever its
// outcome. Anything else (a failure, a fan-in with a failed or skipped upstream, a rule that
// skips) takes the general path: settleDownstream, which reads the upstream states after locking.
// Lock order is the same on all paths: the TI, its downstream TIs by id, the run.
import { sql, type Kysely, type RawBuilder, type Transaction } from "kysely";
import { CHANNELS } from "../channels.js";
import { notify, PREPARED } from "../db.js";
import { countFinishedTis, startQueuedRunsAfter, type RunCount } from "../runs/countFinishedTis.js";
import type { Database } from "../schema.js";
import { getVersion } from "../versions.js";
import { CLAIMED_COLUMNS, claimedOf, type ClaimedTask, type ClaimInput } from "./claimTasks.js";
import { HAND_OFF_SET, settleDownstream, type Candidate } from "./settleDownstream.js";
import { notifySlotFreed, notifySlotFreedSql } from "./slotFreed.js";
import { finishLeaf, swapCtes, swapOrFreeSlot, type FreedSlot } from "./finishLeaf.js";
import { stateAfterCount } from "../runs/endCountedRuns.js";
import type { TiState } from "../../semantics/states.js";
import { countUpstreams, evaluateTriggerRule } from "../../semantics/triggerRules.js";
import type { LoadedVersion } from "../versions.js";
import type { LogLine } from "../logs/appendLogs.js";

export type AttemptOutcome =
  /** Returned normally. */
  | "success"
  /** Threw, timed out or its runner died: retried while tries remain. */
  | "failed"
  /** `ctx.fail()`: failed without retry. */
  | "failed_no_retry"
  /** `ctx.skip()`. */
  | "skipped";

export interface FinishInput {
  tiId: string;
  tryNumber: number;
  /** The lease holder; the write is dropped unless the TI is still running under it. */
  workerId: string;
  outcome: AttemptOutcome;
  error?: string | null;
  /** Delay before the retry, when the outcome is a retryable failure. */
  retryDelayMs?: number;
  xcom?: Record<string, unknown>;
  logs?: LogLine[];
  claim?: ClaimInput;
  /**
   * What the caller knows of the TI (a worker: its claim). Lets the first statement settle the
   * downstream TIs as well (see above); checked against the row, and ignored if it differs.
   */
  known?: { taskId: string; versionId: string };
  /**
   * A branch's or short-circuit's decision (with a success): these downstream tasks' waiting TIs
   * are skipped in this transaction, before the downstream is settled.
   */
  skipDownstream?: string[];
}

export interface FinishResult {
  /** False when the lease was lost: nothing was written. */
  accepted: boolean;
  state: string | null;
  runState: "running" | "success" | "failed";
  claimed: ClaimedTask[];
}

/**
 * How a success of `taskId` settles its downstream tasks in one statement, or null when the
 * general path is needed. `downstream`: every downstream task. Each either has `taskId` as its
 * only upstream, and its trigger rule, seeing one upstream in `success`, says "ready" — exactly
 * what settleDownstream would decide, without reading anything; or it is a fan-in (`fanIn`: its
 * other upstreams) with the all_success rule over unmapped upstreams, whose other upstreams'
 * states the statement reads after locking its TI (updraft_fan_in_verdict, migrations/0016): ready
 * when all succeeded, waiting while any is unfinished, and anything else — an upstream failed or
 * skipped — rolls the statement back for the general path.
 * Any readiness condition settleDownstream gains (depends_on_past, pools, concurrency limits)
 * must send its tasks to the general path here; test/integration/handoff.test.ts compares both.
 */
export interface FastPlan {
  downstream: string[];
  fanIn: Record<string, string[]>;
}

export function fastPlanOnSuccess(version: LoadedVersion, taskId: string): FastPlan | null {
  const own = version.tasks.get(taskId);
  const downstream = own?.downstream;
  if (!own || !downstream?.length) return null;
  // depends_on_past needs the general path: it may release the next run's TI, or hold a downstream.
  // A mapped TI is not its task's only TI: the general path.
  if (own.dependsOnPast || own.mapSource) return null;
  const oneSuccess = countUpstreams(["success"]);
  const fanIn: Record<string, string[]> = {};
  for (const id of downstream) {
    const task = version.tasks.get(id);
    // A mapped downstream expands (expandMappedTasks) instead of being queued: the general path.
    if (!task || task.dependsOnPast || task.mapSource || !task.upstream.includes(taskId)) return null;
    if (task.upstream.length === 1) {
      if (evaluateTriggerRule(task.triggerRule, oneSuccess) !== "ready") return null;
      continue;
    }
    if (task.triggerRule !== "all_success") return null;
    const others = task.upstream.filter((u) => u !== taskId);
    // A mapped upstream has one TI per item, not the one the verdict reads.
    if (others.some((u) => !version.tasks.get(u) || version.tasks.get(u)!.mapSource)) return null;
    fanIn[id] = others;
  }
  return { downstream, fanIn };
}

/**
 * Two CTEs, \`dk\` and \`c\`: a run's map_index −1 TIs of these tasks, locked FOR UPDATE in id order
 * (the order every finisher locks downstream TIs in), with the columns a hand-off decides on.
 * Written so that no plan can read more than these TIs, whatever the statistics — a prepared
 * statement keeps the plan it made while task_instances was small (PostgreSQL without an ANALYZE
 * yet, PGlite always): each task's TI is one LATERAL equality probe on the unique index (run_pk,
 * task_id, map_index), kept from being flattened into a join by OFFSET 0; the ids are sorted, and
 * each row is then locked by primary key, again through a LATERAL lookup. Measured otherwise
 * (auto_explain, a run of 10,000 tasks): with \`task_id = any(…)\` beside the run, the plan
 * probed by run only and filtered 9,999 index entries per end; joined to the sorted ids, a plan
 * made for a small table hashed a sequential scan of all 12,600 TIs.
 * \`from\`: the CTE the run comes from, \`runPk\` an expression over it, \`where\` more conditions on it.
 */
export function lockDownstream(from: RawBuilder<unknown>, runPk: RawBuilder<unknown>, taskIds: string[], where: RawBuilder<unknown> = sql``) {
  return sql`dk as materialized (
      select x.id from ${from}, unnest(${taskIds}::text[]) as dn(task_id) cross join lateral (
        select d.id from task_instances d where d.run_pk = ${runPk} and d.task_id = dn.task_id and d.map_index = -1 offset 0) x
       where true${where}
       order by x.id
    ), c as (
      select l.* from dk cross join lateral (
        select d.id, d.task_id, d.state, d.queue, d.pool, d.pool_slots, d.max_active_tis_per_dag from task_instances d
         where d.id = dk.id offset 0
           for update) l
    )`;
}

/** updraft_fan_in_verdict's SQLSTATE: a fan-in upstream did not succeed; the statement wrote nothing. */
export const FAN_IN_NEEDS_SETTLING = "UD001";

/**
 * The hand-off takes a ready downstream TI (`v`) into the slot the finished TI (`t`) leaves only when
 * that raises no occupancy, so it needs no lock (see migrations/0006_pools.sql): same run (so the
 * same DAG's count), same pool with no more slots, no per-task limit. Anything else is queued and
 * claimed under the limits.
 */
const FITS_FREED_SLOT = sql`v.pool = t.pool and v.pool_slots <= t.pool_slots and v.max_active_tis_per_dag is null`;

/**
 * The slot a fan-in's upstream leaves, for the swap (finishLeaf.ts), taken only when no
 * downstream TI was handed off (`mine` is empty).
 */
const FAN_IN_SLOT: FreedSlot = {
  gate: sql`exists (select 1 from ok) and not exists (select 1 from mine)`,
  dagId: sql`(select dag_id from t)`,
  pool: sql`(select pool from t)`,
  poolSlots: sql`(select pool_slots from t)`,
};

export async function finishTask(db: Kysely<Database>, input: FinishInput): Promise<FinishResult> {
  // The worker knows its TI's task and version (cached by id: no query).
  const hinted = input.known ? await getVersion(db, input.known.versionId) : null;
  // A task without downstream tasks settles nothing, whatever its outcome: one statement as well
  // (unless depends_on_past has it release the next run's TI).
  const own = hinted?.tasks.get(input.known!.taskId);
  const leaf = own !== undefined && own.downstream.length === 0 && !own.dependsOnPast;
  const skips = input.outcome === "success" && input.skipDownstream?.length ? input.skipDownstream : null;
  const fastPlan = skips || leaf ? null : hinted && input.outcome === "success" ? fastPlanOnSuccess(hinted, input.known!.taskId) : null;
  const target = input.outcome === "failed_no_retry" ? "failed" : input.outcome;
  const xcom = input.xcom && Object.keys(input.xcom).length ? JSON.stringify(input.xcom) : null;
  const logs = input.logs?.length ? JSON.stringify(input.logs.map((l) => ({ ts: new Date(l.ts).toISOString(), stream: l.stream, level: l.level ?? "info", line: l.line }))) : null;
  // Only the CTEs that have something to write: each costs planning time even when empty.
  // `hinted`: the update also requires the row to be what the worker's hint says (its task and
  // version, unmapped), so that a statement that commits on its own writes nothing otherwise.
  const finishCte = (hinted: boolean | "leaf") => sql`t as (
      update task_instances
         set state = case when ${target} = 'failed' and ${input.outcome} = 'failed' and try_number <= max_tries
                          then 'up_for_retry' else ${target} end,
             next_retry_at = case when ${input.outcome} = 'failed' and try_number <= max_tries
                                  then now() + make_interval(secs => ${(input.retryDelayMs ?? 0) / 1000}) end,
             end_date = now(), duration = extract(epoch from now() - start_date), heartbeat_at = null, updated_at = now()
       where id = ${input.tiId} and state = 'running' and try_number = ${input.tryNumber} and worker_id = ${input.workerId}${
             hinted ? sql` and task_id = ${input.known!.taskId} and dag_version_id = ${input.known!.versionId}${hinted === "leaf" ? sql`` : sql` and map_index = -1`}` : sql``}
      returning id, run_pk, task_id, map_index, state, try_number, worker_id, hostname, start_date, end_date, duration, dag_version_id, pool, pool_slots, dag_id
    ), tries as (
      insert into task_instance_tries (ti_id, try_number, state, worker_id, hostname, start_date, end_date, duration, error)
      select id, try_number, state, worker_id, hostname, start_date, end_date, duration, ${input.error ?? null} from t
      on conflict (ti_id, try_number) do nothing
    )${
      xcom
        ? sql`, x as (
      insert into xcom (ti_id, key, run_pk, task_id, map_index, value)
      select t.id, e.key, t.run_pk, t.task_id, t.map_index, e.value from t, jsonb_each(${xcom}::jsonb) e
      on conflict (ti_id, key) do update set value = excluded.value, created_at = now()${
        // Read back by the one-statement path only (its hand-off's value); elsewhere no copy of it.
        hinted === true ? sql`
      returning key, value` : sql``
      }
    )`
        : sql``
    }${
      logs
        ? sql`, l as (
      insert into task_logs (ti_id, try_number, ts, stream, level, line)
      select t.id, t.try_number, r.ts, r.stream, r.level, r.line
        from t, jsonb_to_recordset(${logs}::jsonb) as r(ts timestamptz, stream text, level text, line text)
    )`
        : sql``
    }`;

  type Row = { id: string; run_pk: number; task_id: string; map_index: number; state: string; dag_version_id: string; pool: string; pool_slots: number; dag_id: string };
  type FastRow = Row & { fast: boolean; runUnfinishedTis: number | null; runDagId: string | null; runState: RunCount["state"] | null; handedValue: { v: unknown } | null } & Partial<ClaimedTask>;
    // One statement. `ok` holds the run only if the row is what the plan assumed (this task and
    // version; unmapped — so its task's only TI — and now in success); if not, nothing below writes, and the general path takes over. The
    // run's count comes last (its WHERE reads the claims first), so the run row is locked after
    // the TIs, as on the general path. How the updates find the locked rows matters more than
    // it looks: this statement's plan is made once per connection (a prepared statement's
    // generic plan), while task_instances is still small, and kept as the table grows — a plan
    // with a sequential scan of task_instances then scans every TI on every hand-off (measured:
    // 0.2–0.35 ms each at 1,200 TIs, two per hand-off). The claimed TI is found by primary key
    // from a scalar subquery (`id = (select …)`: one index probe, cheaper than any scan even on a
    // table the planner takes for 10 pages); the queued ones by a join that the one-time filter
    // skips when nothing is to be queued (a chain's hand-off). An `id = any(array(…))` was planned
    // as a scan (an array is costed as 10 probes), and an `in (select …)` semi-join was a
    // sequential scan on PGlite, which keeps no statistics. `notified` is selected so that the
    // NOTIFYs for queued TIs run (delivered at commit, like the general path's).
  const fastStatement = async (executor: Kysely<Database>, finish: ReturnType<typeof finishCte>, plan: FastPlan): Promise<FastRow[]> => {
    const claim = input.claim && input.claim.limit > 0 ? input.claim : null;
    const fanIn = Object.keys(plan.fanIn).length ? JSON.stringify(plan.fanIn) : null;
    // A fan-in's upstream usually makes nothing ready: then the DAG's next queued TI may take the
    // slot it leaves, as on the general path (finishLeaf.ts's swap), unless a downstream TI did.
    const swap = claim && fanIn ? claim : null;
    return (
      await sql<FastRow>`${PREPARED}
    with ${finish}, ok as (
      select run_pk from t
       where t.task_id = ${input.known!.taskId} and t.dag_version_id = ${input.known!.versionId}
         and t.map_index = -1 and t.state = 'success'
    ), ${lockDownstream(sql`ok`, sql`ok.run_pk`, plan.downstream)}, v as (
      -- Ready: waiting, and either this TI is its only upstream or (a fan-in) every other upstream
      -- succeeded — read by updraft_fan_in_verdict for the row once it is locked (migrations/0016).
      select c.*, ${
        fanIn
          ? sql`case when c.state is not null then false
                     when (${fanIn}::jsonb -> c.task_id) is null then true
                     else updraft_fan_in_verdict(ok.run_pk, array(select jsonb_array_elements_text(${fanIn}::jsonb -> c.task_id))) = 'ready' end`
          : sql`c.state is null`
      } as ready
        from c, ok
    ), mine as (
      select v.id from v, t where v.ready${claim ? sql` and v.queue = any(${claim.queues}::text[]) and ${FITS_FREED_SLOT}` : sql` and false`} order by v.id limit ${Math.min(claim?.limit ?? 0, 1)}
    ), handed as (
      update task_instances ti set ${HAND_OFF_SET(claim ?? { workerId: "", hostname: "" })}
        from dag_runs r
       where ti.id = (select id from mine) and r.id = ti.run_pk and ti.state is null
      returning ${CLAIMED_COLUMNS}
    ), nq as (
      -- The ready TIs not handed off, to queue. The first by primary key from a scalar subquery
      -- (one probe, whatever the plan thinks of the table's size): a fan-in made ready beside a
      -- hand-off. The rest (a fan-out's root) by a join that its one-time filter skips otherwise.
      select v.id, row_number() over (order by v.id) as k from v where v.ready and v.id is distinct from (select id from mine)
    ), queued as (
      update task_instances q set state = 'queued', queued_when = now(), updated_at = now()
       where q.id = (select id from nq where k = 1) and q.state is null
      returning q.queue
    ), queued_more as (
      update task_instances q set state = 'queued', queued_when = now(), updated_at = now()
        from nq
       where q.id = nq.id and nq.k > 1 and q.state is null
         and exists (select 1 from nq where k > 1)
      returning q.queue
    )${swap ? swapCtes(swap, FAN_IN_SLOT) : sql``}, run as (
      update dag_runs set unfinished_tis = unfinished_tis - 1, updated_at = now()
       where (select count(*) from handed) + (select count(*) from queued) + (select count(*) from queued_more)${swap ? sql` + (select count(*) from claimed)` : sql``} >= 0 and id = (select run_pk from ok)
      returning unfinished_tis, dag_id, state
    )
    select t.id, t.run_pk, t.task_id, t.map_index, t.state, t.dag_version_id, t.pool, t.pool_slots, t.dag_id, exists (select 1 from ok) as fast,
           (select count(pg_notify(${CHANNELS.tiQueued}, q.queue)) from (select queue from queued union select queue from queued_more) q) as notified,
           case when exists (select 1 from ok) and not exists (select 1 from handed)${swap ? sql` and not exists (select 1 from claimed)` : sql``} then ${notifySlotFreedSql(sql`t.pool`, sql`t.dag_id`)} end as freed,
           r.unfinished_tis as "runUnfinishedTis", r.dag_id as "runDagId", r.state as "runState",
           ${xcom ? sql`case when exists (select 1 from handed) then jsonb_build_object('v', (select x.value from x where x.key = 'return_value')) end` : sql`null::jsonb`} as "handedValue", cl.*
      from t left join run r on true left join ${swap ? sql`(select * from handed union all select * from claimed)` : sql`handed`} cl on true`.execute(executor)
    ).rows;
  };

  if (fastPlan) {
    // A success with downstream tasks cannot end the run — its downstream TIs are still to run —
    // so its one statement commits on its own: no BEGIN and COMMIT round trips. Its TI update
    // also checks the hint, so that on any mismatch it writes nothing at all.
    let rows: FastRow[] | null = null;
    try {
      rows = await fastStatement(db, finishCte(true), fastPlan);
    } catch (err) {
      // A fan-in's other upstream failed or was skipped: nothing was written; the general path
      // settles the fan-in (skipped, upstream_failed) and what follows from it.
      if ((err as { code?: string }).code !== FAN_IN_NEEDS_SETTLING) throw err;
    }
    const ti = rows?.[0];
    if (rows && ti?.fast) {
      if (ti.runDagId === null) throw new Error(`DAG run ${ti.run_pk} not found while counting its finished TIs`);
      // Unless those downstream TIs had already been finished by hand (marked): then the run's end
      // is decided now, in a transaction of its own (endCountedRuns repairs it if we die between).
      const runState = await stateAfterCount(db, ti.run_pk, hinted!, { unfinished_tis: ti.runUnfinishedTis!, state: ti.runState! });
      const claimed = rows.map(claimedOf).filter((c) => c !== null);
      // The downstream TI this end handed off gets this end's return value as stored (selected
      // only then: an XCom may be large), so that its worker need not read it back before
      // starting it. With a hand-off there is no swap: every claimed row is the handed one.
      const handed = ti.handedValue;
      if (handed) {
        for (const c of claimed) if (c.runPk === ti.run_pk && fastPlan.downstream.includes(c.taskId)) c.upstreamXcom = { taskId: ti.task_id, value: handed.v ?? null };
      }
      return { accepted: true, state: ti.state, runState, claimed };
    }
    // Written but not settled: cannot happen (the update checks what `ok` checks), but if it does,
    // the row is settled as the general path would.
    if (ti) return afterCommit(db, await db.transaction().execute((tx) => settle(tx, ti, input, hinted)));
    // Nothing was written (a lost lease, a row unlike the hint, a fan-in to settle): the general path decides.
  }

  if (leaf && !skips) {
    // A leaf: one statement that commits on its own, ends the run when it counted its last TI,
    // and may swap the next queued TI of the DAG into the freed slot (finishLeaf.ts). Its update
    // checks the hint as well (task and version; any map index), so on a mismatch it writes nothing.
    const done = await finishLeaf(db, {
      finish: finishCte("leaf"),
      taskId: input.known!.taskId,
      versionId: input.known!.versionId,
      version: hinted!,
      claim: input.claim && input.claim.limit > 0 ? input.claim : null,
    });
    if (done.written) return { accepted: true, state: done.state, runState: done.runState, claimed: done.claimed };
    // Nothing was written (a lost lease, or a row unlike the hint): the general path decides.
  }

  const settled = await db.transaction().execute(async (tx): Promise<Settled> => {
    const finish = finishCte(false);
    // General path. With the worker's hint, this statement also locks the downstream TIs (in id
    // order, as settleDownstream would) unless the attempt goes up for retry.
    const downstream = (hinted && hinted.tasks.get(input.known!.taskId)?.downstream) || [];
    // Skipping rewrites some of the downstream rows first: settleDownstream then locks them itself.
    // So does a mapped downstream: its waiting TIs are not only the map_index -1 one locked below.
    const lock = downstream.length > 0 && !skips && !downstream.some((id) => hinted!.tasks.get(id)?.mapSource);
    const ti = (
      await sql<Row & { candidates?: Candidate[] }>`
      with ${finish}${
        lock
          ? sql`, ${lockDownstream(sql`t`, sql`t.run_pk`, downstream, sql` and t.state <> 'up_for_retry' and t.task_id = ${input.known!.taskId} and t.dag_version_id = ${input.known!.versionId}`)}`
          : sql``
      }
      select id, run_pk, task_id, map_index, state, dag_version_id, pool, pool_slots, dag_id${lock ? sql`, (select coalesce(json_agg(c order by c.id), '[]'::json) from c) as candidates` : sql``} from t`.execute(tx)
    ).rows[0];
    if (!ti) return { accepted: false, state: null, runState: "running", claimed: [] };
    const matches = lock && ti.task_id === input.known!.taskId && ti.dag_version_id === input.known!.versionId;
    return settle(tx, ti, input, hinted, matches ? ti.candidates : undefined);
  });
  return afterCommit(db, settled);
}

/** settle's result, and the DAG whose run it ended (its queued runs start after the commit). */
type Settled = FinishResult & { endedDagId?: string };

async function afterCommit(db: Kysely<Database>, settled: Settled): Promise<FinishResult> {
  const { endedDagId, ...result } = settled;
  if (endedDagId) await startQueuedRunsAfter(db, endedDagId);
  return result;
}

/** The general path, once the TI's row is written. */
async function settle(
  tx: Transaction<Database>,
  ti: { run_pk: number; task_id: string; map_index: number; state: string; dag_version_id: string; pool: string; pool_slots: number; dag_id: string },
  input: FinishInput,
  hinted: LoadedVersion | null,
  lockedCandidates?: Candidate[],
): Promise<Settled> {
  if (ti.state === "up_for_retry") {
    await notify(CHANNELS.retryScheduled, "").execute(tx);
    await notifySlotFreed(tx, { pool: ti.pool, dagId: ti.dag_id });
    return { accepted: true, state: ti.state, runState: "running", claimed: [] };
  }
  const version = hinted && hinted.id === ti.dag_version_id ? hinted : await getVersion(tx, ti.dag_version_id);
  // A branch / short-circuit decision: its skipped TIs are finished here, and settled with it.
  const skipped = ti.state === "success" && input.skipDownstream?.length ? await skipTasks(tx, ti.run_pk, input.skipDownstream) : [];
  const known = new Map<string, TiState[]>(skipped.map((id) => [id, ["skipped"]]));
  // An unmapped TI is its task's only TI in the run, and this transaction holds its row.
  if (ti.map_index === -1) known.set(ti.task_id, [ti.state as TiState]);
  const settled = await settleDownstream(tx, ti.run_pk, version, [ti.task_id, ...skipped], input.claim, {
    lockedCandidates,
    knownStates: known.size ? known : undefined,
    countFinished: 1 + skipped.length,
    freedSlot: { pool: ti.pool, poolSlots: ti.pool_slots },
  });
  // No downstream took the slot this TI left: the DAG's next queued TI may (the swap of
  // finishLeaf.ts), else a worker is woken for what the limits held back.
  if (!settled.claimed.length) {
    const claim = input.claim && input.claim.limit > 0 ? input.claim : null;
    settled.claimed.push(...(await swapOrFreeSlot(tx, { pool: ti.pool, poolSlots: ti.pool_slots, dagId: ti.dag_id }, claim)));
  }
  for (const queue of settled.queued) await notify(CHANNELS.tiQueued, queue).execute(tx);
  // The run's queued runs start after the commit (afterCommit): this transaction holds the run's row.
  const runState = await countFinishedTis(tx, ti.run_pk, version, 1 + skipped.length + settled.finished, settled.run, false);
  return { accepted: true, state: ti.state, runState, claimed: settled.claimed, endedDagId: runState === "running" ? undefined : ti.dag_id };
}

/** Skips the waiting TIs of these tasks; returns the task ids it skipped. */
async function skipTasks(tx: Transaction<Database>, runPk: number, taskIds: string[]): Promise<string[]> {
  const rows = await tx
    .updateTable("task_instances")
    .set({ state: "skipped", start_date: sql`now()`, end_date: sql`now()`, duration: 0, updated_at: sql`now()` })
    .where("run_pk", "=", runPk)
    .where("task_id", "in", taskIds)
    .where("state", "is", null)
    .returning("task_id")
    .execute();
  return [...new Set(rows.map((r) => r.task_id))];
}
