// Event-driven readiness (DESIGN §3): when TIs finish, their direct downstream TIs are evaluated in
// the same transaction — queued, skipped or marked upstream_failed — and settled ones cascade.
// No loop ever rescans a run's unfinished TIs.
//
// Round trips matter here: this is the hand-off path (upstream end → downstream start). Per round
// of the cascade: one statement locks the candidates (or the caller's first statement already
// did), one reads the upstream states it does not already know, and one writes every decision at
// once — and, in the last round, the run's unfinished_tis as well.
import { sql, type RawBuilder, type Transaction } from "kysely";
import type { TiState } from "../../semantics/states.js";
import { countUpstreams, evaluateTriggerRule } from "../../semantics/triggerRules.js";
import { decrementUnfinishedTis, type RunCount } from "../runs/countFinishedTis.js";
import { heldByPast, releaseNextRuns } from "../runs/dependsOnPast.js";
import type { Database } from "../schema.js";
import type { LoadedVersion } from "../versions.js";
import { expandMappedTasks } from "./expandMappedTasks.js";
import { CLAIMED_COLUMNS, type ClaimedTask, type ClaimInput } from "./claimTasks.js";

/** A downstream TI, locked (FOR UPDATE) by this transaction before its upstreams are read. */
export interface Candidate {
  id: string;
  task_id: string;
  state: string | null;
  queue: string;
  pool: string;
  pool_slots: number;
  max_active_tis_per_dag: number | null;
}

/** A waiting TI handed straight to the worker that made it ready: no queued stop (DESIGN §3). */
export const HAND_OFF_SET = (claim: Pick<ClaimInput, "workerId" | "hostname">) =>
  sql`state = 'running', try_number = ti.try_number + 1, worker_id = ${claim.workerId},
      hostname = ${claim.hostname}, queued_when = now(), start_date = now(), heartbeat_at = now(), updated_at = now()`;

export interface SettleOptions {
  /**
   * The first round's candidates — the run's map_index -1 TIs of the finished tasks' direct
   * downstream tasks, ordered by id — already locked FOR UPDATE by the caller in this transaction.
   */
  lockedCandidates?: Candidate[];
  /**
   * Every TI state of these tasks in the run, written (so locked) by this transaction: their
   * upstream read is skipped. A chain's hand-off then reads nothing.
   */
  knownStates?: Map<string, TiState[]>;
  /**
   * TIs the caller finished: when settling ends without cascading, the run's unfinished_tis is
   * decreased by this plus what settling finished in the same statement as the last writes, and
   * the result is in `SettleResult.run`.
   */
  countFinished?: number;
  /**
   * The pool and slots of the TI whose end freed the worker's slot. A hand-off (`claim`) takes at
   * most one ready TI, and only one that fits this freed slot without raising any limit's
   * occupancy (same pool, no more slots, no per-task limit: see FITS_FREED_SLOT in finishTask.ts).
   */
  freedSlot?: { pool: string; poolSlots: number };
}

export interface SettleResult {
  /** TIs this call moved to a finished state (skipped, upstream_failed). */
  finished: number;
  /** Queues that got newly queued TIs (to NOTIFY). */
  queued: Set<string>;
  /** Ready TIs handed straight to the finishing worker. */
  claimed: ClaimedTask[];
  /** The run after unfinished_tis was decreased (SettleOptions.countFinished); absent if it was not. */
  run?: RunCount;
}

export async function settleDownstream(
  tx: Transaction<Database>,
  runPk: number,
  version: LoadedVersion,
  finishedTaskIds: string[],
  claim?: ClaimInput,
  options: SettleOptions = {},
): Promise<SettleResult> {
  const result: SettleResult = { finished: 0, queued: new Set(), claimed: [] };
  const known = new Map(options.knownStates ?? []);
  let frontier = finishedTaskIds;
  let claimable = claim?.limit ?? 0;
  let prelocked = options.lockedCandidates;
  // depends_on_past: a finished TI may release the same task's TI held in the next run.
  for (const q of await releaseNextRuns(tx, runPk, version, finishedTaskIds)) result.queued.add(q);
  while (frontier.length) {
    const downstream = [...new Set(frontier.flatMap((id) => version.tasks.get(id)?.downstream ?? []))];
    if (!downstream.length) break;
    // A mapped task's candidates: its placeholder, or, once expanded and cleared, its waiting TIs.
    const mapped = downstream.filter((id) => version.tasks.get(id)?.mapSource);
    // Lock the candidates first, then read their upstreams in a new statement: a concurrent finisher
    // of a sibling upstream waits on this lock and then sees our commit, so no fan-in is missed.
    // Each task's TIs through the unique index (run_pk, task_id, map_index), one LATERAL probe per
    // task kept from being flattened (finishTask.ts's lockDownstream explains): with \`task_id in (…)\`
    // beside the run, the plan read every TI of the run and filtered. Locked in id order.
    const candidates: Candidate[] =
      prelocked ??
      (
        await sql<Candidate>`with dk as (
            select x.id from unnest(${downstream}::text[]) as dn(task_id) cross join lateral (
              select d.id from task_instances d
               where d.run_pk = ${runPk} and d.task_id = dn.task_id
                 and (d.map_index = -1 or (d.task_id = any(${mapped}::text[]) and d.state is null)) offset 0) x
          )
          select d.id, d.task_id, d.state, d.queue, d.pool, d.pool_slots, d.max_active_tis_per_dag from dk join task_instances d on d.id = dk.id
           order by d.id
             for update of d`.execute(tx)
      ).rows;
    prelocked = undefined;
    const waiting = candidates.filter((c) => c.state === null);
    if (!waiting.length) break;
    const upstreamIds = [...new Set(waiting.flatMap((c) => version.tasks.get(c.task_id)!.upstream))];
    const states = new Map<string, TiState[]>();
    const unknown = upstreamIds.filter((id) => {
      const s = known.get(id);
      if (s) states.set(id, s);
      return !s;
    });
    if (unknown.length) {
      // Counted per state: a mapped upstream has one TI per item, and each finisher reads them all.
      const upstreamRows = (
        await sql<{ task_id: string; state: string | null; n: number }>`select o.task_id, u.state, count(*)::int as n
            from unnest(${unknown}::text[]) as o(task_id) cross join lateral (
              select x.state from task_instances x where x.run_pk = ${runPk} and x.task_id = o.task_id offset 0) u
           group by o.task_id, u.state`.execute(tx)
      ).rows;
      for (const r of upstreamRows) states.set(r.task_id, [...(states.get(r.task_id) ?? []), ...Array<TiState>(Number(r.n)).fill(r.state as TiState)]);
    }

    let ready: typeof waiting = [];
    const settled: { id: string; taskId: string; state: "skipped" | "upstream_failed" }[] = [];
    for (const c of waiting) {
      const task = version.tasks.get(c.task_id)!;
      const decision = evaluateTriggerRule(task.triggerRule, countUpstreams(task.upstream.flatMap((u) => states.get(u) ?? [null])));
      if (decision === "ready") ready.push(c);
      else if (decision !== "wait") settled.push({ id: c.id, taskId: c.task_id, state: decision });
    }

    if (ready.some((c) => version.tasks.get(c.task_id)!.dependsOnPast)) {
      const held = await heldByPast(tx, version.dagId, runPk, version, ready.map((c) => c.task_id));
      for (let i = ready.length - 1; i >= 0; i--) if (held.has(ready[i]!.task_id)) ready.splice(i, 1);
    }
    const freed = options.freedSlot;
    const fits = (c: Candidate) => freed !== undefined && c.pool === freed.pool && c.pool_slots <= freed.poolSlots && c.max_active_tis_per_dag === null;
    // A ready mapped task expands (its TIs queued) instead of being queued or handed off itself.
    const expanding = ready.filter((c) => version.tasks.get(c.task_id)!.mapSource);
    const expansion = expanding.length ? await expandMappedTasks(tx, runPk, version, expanding.map((c) => c.task_id)) : null;
    if (expansion) {
      ready = ready.filter((c) => !expanding.includes(c));
      result.finished += expansion.finished;
      for (const q of expansion.queued) result.queued.add(q);
    }
    const mine = claim ? ready.filter((c) => claim.queues.includes(c.queue) && fits(c)).slice(0, Math.min(claimable, 1)) : [];
    const others = ready.filter((c) => !mine.includes(c));
    claimable -= mine.length;
    result.finished += settled.length;
    // Nothing settled means no further round: the run's count goes into this round's statement.
    const countRun = options.countFinished !== undefined && settled.length === 0 && !expansion?.skipped.length;

    // Every decision of this round in one statement. The rows are locked by us and disjoint, so
    // each `state is null` guard holds; the CTEs all run to completion whether read or not.
    const ctes: RawBuilder<unknown>[] = [];
    if (mine.length && claim) {
      ctes.push(sql`claimed as (
        update task_instances ti set ${HAND_OFF_SET(claim)}
          from dag_runs r
         where r.id = ti.run_pk and ti.id = any(${mine.map((c) => c.id)}::uuid[]) and ti.state is null
        returning ${CLAIMED_COLUMNS})`);
    }
    if (others.length) {
      ctes.push(sql`queued as (
        update task_instances set state = 'queued', queued_when = now(), updated_at = now()
         where id = any(${others.map((c) => c.id)}::uuid[]) and state is null)`);
      for (const c of others) result.queued.add(c.queue);
    }
    for (const state of ["skipped", "upstream_failed"] as const) {
      const ids = settled.filter((s) => s.state === state).map((s) => s.id);
      if (ids.length) {
        ctes.push(sql`${sql.raw(state)} as (
          update task_instances set state = ${state}, start_date = now(), end_date = now(), duration = 0, updated_at = now()
           where id = any(${ids}::uuid[]) and state is null)`);
      }
    }
    if (countRun) ctes.push(sql`run as (${decrementUnfinishedTis(runPk, options.countFinished! + result.finished)})`);
    if (ctes.length) {
      const claimed = mine.length > 0;
      const select = countRun
        ? claimed
          ? sql`select c.*, r.unfinished_tis as "runUnfinishedTis", r.dag_id as "runDagId", r.state as "runState" from run r left join claimed c on true`
          : sql`select r.unfinished_tis as "runUnfinishedTis", r.dag_id as "runDagId", r.state as "runState" from run r`
        : claimed
          ? sql`select * from claimed`
          : sql`select 1`;
      const rows = (await sql<ClaimedTask & { runUnfinishedTis?: number; runDagId?: string; runState?: RunCount["state"] }>`with ${sql.join(ctes)} ${select}`.execute(tx)).rows;
      for (const { runUnfinishedTis, runDagId, runState, ...task } of rows) {
        if (countRun && runDagId !== undefined) result.run = { unfinished_tis: runUnfinishedTis!, dag_id: runDagId, state: runState! };
        if (claimed && task.tiId != null) result.claimed.push(task as ClaimedTask);
      }
      if (countRun && !result.run) throw new Error(`DAG run ${runPk} not found while counting its finished TIs`);
    }
    for (const s of settled) known.set(s.taskId, [s.state]);
    for (const id of expansion?.skipped ?? []) known.set(id, ["skipped"]);
    frontier = [...settled.map((s) => s.taskId), ...(expansion?.skipped ?? [])];
  }
  return result;
}
