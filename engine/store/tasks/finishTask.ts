// A worker (or the reaper) reports the end of an attempt. One fenced compare-and-set on
// (id, state = running, try_number, worker_id): zero rows means the attempt lost its lease and
// nothing it reports is stored. In the same transaction: the try's history row, its XComs and
// last log lines, downstream readiness, the run's state — and, optionally, the ready downstream
// handed straight back to the same worker (the zero-round-trip hand-off of DESIGN §3).
import { sql, type Kysely } from "kysely";
import { CHANNELS } from "../channels.js";
import { notify } from "../db.js";
import { countFinishedTis } from "../runs/countFinishedTis.js";
import type { Database } from "../schema.js";
import { getVersion } from "../versions.js";
import type { ClaimedTask, ClaimInput } from "./claimTasks.js";
import { settleDownstream } from "./settleDownstream.js";
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
}

export interface FinishResult {
  /** False when the lease was lost: nothing was written. */
  accepted: boolean;
  state: string | null;
  runState: "running" | "success" | "failed";
  claimed: ClaimedTask[];
}

export async function finishTask(db: Kysely<Database>, input: FinishInput): Promise<FinishResult> {
  return db.transaction().execute(async (tx) => {
    const target = input.outcome === "failed_no_retry" ? "failed" : input.outcome;
    const xcom = input.xcom && Object.keys(input.xcom).length ? JSON.stringify(input.xcom) : null;
    const logs = input.logs?.length ? JSON.stringify(input.logs.map((l) => ({ ts: new Date(l.ts).toISOString(), stream: l.stream, level: l.level ?? "info", line: l.line }))) : null;
    const updated = await sql<{ id: string; run_pk: number; task_id: string; state: string; dag_version_id: string }>`
      with t as (
        update task_instances
           set state = case when ${target} = 'failed' and ${input.outcome} = 'failed' and try_number <= max_tries
                            then 'up_for_retry' else ${target} end,
               next_retry_at = case when ${input.outcome} = 'failed' and try_number <= max_tries
                                    then now() + make_interval(secs => ${(input.retryDelayMs ?? 0) / 1000}) end,
               end_date = now(), duration = extract(epoch from now() - start_date), heartbeat_at = null, updated_at = now()
         where id = ${input.tiId} and state = 'running' and try_number = ${input.tryNumber} and worker_id = ${input.workerId}
        returning id, run_pk, task_id, map_index, state, try_number, worker_id, hostname, start_date, end_date, duration, dag_version_id
      ), tries as (
        insert into task_instance_tries (ti_id, try_number, state, worker_id, hostname, start_date, end_date, duration, error)
        select id, try_number, state, worker_id, hostname, start_date, end_date, duration, ${input.error ?? null} from t
        on conflict (ti_id, try_number) do nothing
      ), x as (
        insert into xcom (ti_id, key, run_pk, task_id, map_index, value)
        select t.id, e.key, t.run_pk, t.task_id, t.map_index, e.value from t, jsonb_each(${xcom}::jsonb) e
        on conflict (ti_id, key) do update set value = excluded.value, created_at = now()
      ), l as (
        insert into task_logs (ti_id, try_number, ts, stream, level, line)
        select t.id, t.try_number, r.ts, r.stream, r.level, r.line
          from t, jsonb_to_recordset(${logs}::jsonb) as r(ts timestamptz, stream text, level text, line text)
      )
      select id, run_pk, task_id, state, dag_version_id from t`.execute(tx);
    const ti = updated.rows[0];
    if (!ti) return { accepted: false, state: null, runState: "running", claimed: [] };

    if (ti.state === "up_for_retry") {
      await notify(CHANNELS.retryScheduled, "").execute(tx);
      return { accepted: true, state: ti.state, runState: "running", claimed: [] };
    }
    const version = await getVersion(tx, ti.dag_version_id);
    const settled = await settleDownstream(tx, ti.run_pk, version, [ti.task_id], input.claim);
    for (const queue of settled.queued) await notify(CHANNELS.tiQueued, queue).execute(tx);
    const runState = await countFinishedTis(tx, ti.run_pk, version, 1 + settled.finished);
    return { accepted: true, state: ti.state, runState, claimed: settled.claimed };
  });
}
