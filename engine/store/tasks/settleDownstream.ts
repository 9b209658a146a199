// Event-driven readiness (DESIGN §3): when TIs finish, their direct downstream TIs are evaluated in
// the same transaction — queued, skipped or marked upstream_failed — and settled ones cascade.
// No loop ever rescans a run's unfinished TIs.
import { sql, type Transaction } from "kysely";
import type { TiState } from "../../semantics/states.js";
import { countUpstreams, evaluateTriggerRule } from "../../semantics/triggerRules.js";
import type { Database } from "../schema.js";
import type { LoadedVersion } from "../versions.js";
import { CLAIMED_COLUMNS, type ClaimedTask, type ClaimInput } from "./claimTasks.js";

export interface SettleResult {
  /** TIs this call moved to a finished state (skipped, upstream_failed). */
  finished: number;
  /** Queues that got newly queued TIs (to NOTIFY). */
  queued: Set<string>;
  /** Ready TIs handed straight to the finishing worker. */
  claimed: ClaimedTask[];
}

export async function settleDownstream(
  tx: Transaction<Database>,
  runPk: number,
  version: LoadedVersion,
  finishedTaskIds: string[],
  claim?: ClaimInput,
): Promise<SettleResult> {
  const result: SettleResult = { finished: 0, queued: new Set(), claimed: [] };
  let frontier = finishedTaskIds;
  let claimable = claim?.limit ?? 0;
  while (frontier.length) {
    const downstream = [...new Set(frontier.flatMap((id) => version.tasks.get(id)?.downstream ?? []))];
    if (!downstream.length) break;
    // Lock the candidates first, then read their upstreams in a new statement: a concurrent finisher
    // of a sibling upstream waits on this lock and then sees our commit, so no fan-in is missed.
    const candidates = await tx
      .selectFrom("task_instances")
      .select(["id", "task_id", "state", "queue"])
      .where("run_pk", "=", runPk)
      .where("task_id", "in", downstream)
      .where("map_index", "=", -1)
      .orderBy("id")
      .forUpdate()
      .execute();
    const waiting = candidates.filter((c) => c.state === null);
    if (!waiting.length) break;
    const upstreamIds = [...new Set(waiting.flatMap((c) => version.tasks.get(c.task_id)!.upstream))];
    const upstreamRows = await tx
      .selectFrom("task_instances")
      .select(["task_id", "state"])
      .where("run_pk", "=", runPk)
      .where("task_id", "in", upstreamIds)
      .execute();
    const states = new Map<string, TiState[]>();
    for (const r of upstreamRows) states.set(r.task_id, [...(states.get(r.task_id) ?? []), r.state as TiState]);

    const ready: typeof waiting = [];
    const settled: { id: string; taskId: string; state: "skipped" | "upstream_failed" }[] = [];
    for (const c of waiting) {
      const task = version.tasks.get(c.task_id)!;
      const decision = evaluateTriggerRule(task.triggerRule, countUpstreams(task.upstream.flatMap((u) => states.get(u) ?? [null])));
      if (decision === "ready") ready.push(c);
      else if (decision !== "wait") settled.push({ id: c.id, taskId: c.task_id, state: decision });
    }

    const mine = claim ? ready.filter((c) => claim.queues.includes(c.queue)).slice(0, claimable) : [];
    const others = ready.filter((c) => !mine.includes(c));
    if (mine.length && claim) {
      claimable -= mine.length;
      const rows = await sql<ClaimedTask>`
        update task_instances ti
           set state = 'running', try_number = ti.try_number + 1, worker_id = ${claim.workerId},
               hostname = ${claim.hostname}, queued_when = now(), start_date = now(), heartbeat_at = now(), updated_at = now()
          from dag_runs r
         where r.id = ti.run_pk and ti.id = any(${mine.map((c) => c.id)}::uuid[]) and ti.state is null
        returning ${CLAIMED_COLUMNS}`.execute(tx);
      result.claimed.push(...rows.rows);
    }
    if (others.length) {
      await tx
        .updateTable("task_instances")
        .set({ state: "queued", queued_when: sql`now()`, updated_at: sql`now()` })
        .where("id", "in", others.map((c) => c.id))
        .where("state", "is", null)
        .execute();
      for (const c of others) result.queued.add(c.queue);
    }
    for (const state of ["skipped", "upstream_failed"] as const) {
      const ids = settled.filter((s) => s.state === state).map((s) => s.id);
      if (ids.length) {
        await tx
          .updateTable("task_instances")
          .set({ state, start_date: sql`now()`, end_date: sql`now()`, duration: 0, updated_at: sql`now()` })
          .where("id", "in", ids)
          .where("state", "is", null)
          .execute();
      }
    }
    result.finished += settled.length;
    frontier = settled.map((s) => s.taskId);
  }
  return result;
}
