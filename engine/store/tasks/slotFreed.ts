// A TI left `running` without handing its slot to a downstream (finished, up for retry or
// reschedule, reaped): queued TIs that a pool, maxActiveTasks or maxActiveTisPerDag held back
// may now run, and a worker that found nothing to claim is waiting for exactly this. It is woken
// by NOTIFY on the ti-queued channel (payload: the queue), in the same transaction — no poll-only
// latency. Only queues with queued TIs of the same pool or the same DAG are notified: those are
// the only ones the freed slot can unblock, and a NOTIFY costs every listener a claim.
import { sql, type RawBuilder, type Transaction } from "kysely";
import { CHANNELS } from "../channels.js";
import type { Database } from "../schema.js";

/** At most this many queued TIs are looked at for their queues (each is an index entry). */
const QUEUES_SAMPLE = 32;

/**
 * A scalar subquery that NOTIFYs the queues of queued TIs sharing `pool` or `dagId` (SQL
 * expressions), for use inside a larger statement; its value is the number of NOTIFYs.
 */
export function notifySlotFreedSql(pool: RawBuilder<unknown>, dagId: RawBuilder<unknown>): RawBuilder<number> {
  // Two probes on small partial indexes (queued TIs by pool, by DAG); empty when nothing waits.
  return sql<number>`(select count(pg_notify(${CHANNELS.tiQueued}, w.queue)) from (
      select distinct q.queue from (
        (select queue from task_instances where state = 'queued' and pool = ${pool} limit ${QUEUES_SAMPLE})
        union all
        (select queue from task_instances where state = 'queued' and dag_id = ${dagId} limit ${QUEUES_SAMPLE})
      ) q) w)`;
}

/** The same, as its own statement in `tx`. */
export async function notifySlotFreed(tx: Transaction<Database>, ti: { pool: string; dagId: string }): Promise<void> {
  await sql`select ${notifySlotFreedSql(sql`${ti.pool}::text`, sql`${ti.dagId}::text`)}`.execute(tx);
}
