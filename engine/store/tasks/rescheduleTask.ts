// A reschedule-mode sensor whose poke found its condition unmet (engine/execution/runSensor.ts):
// running → up_for_reschedule, fenced like every end of an attempt, freeing its worker and pool
// slot until `reschedule_date`, when queueDueReschedules queues it again.
//
// Try numbers as Airflow keeps them: a reschedule does not consume a try. The claim raised
// try_number; it goes back down here, so the next poke runs under the same number (its log lines
// continue that try's log) and `retries` count only real failures. The poke is recorded in
// task_reschedules, not in the tries history (whose row for this number is written when the try
// really ends).
import { sql, type Kysely } from "kysely";
import { CHANNELS } from "../channels.js";
import { notify } from "../db.js";
import type { Database } from "../schema.js";
import type { LogLine } from "../logs/appendLogs.js";
import { notifySlotFreed } from "./slotFreed.js";

export interface RescheduleInput {
  tiId: string;
  tryNumber: number;
  workerId: string;
  rescheduleAt: Date;
  logs?: LogLine[];
}

/** False when the attempt had lost its lease: nothing was written. */
export async function rescheduleTask(db: Kysely<Database>, input: RescheduleInput): Promise<boolean> {
  return db.transaction().execute(async (tx) => {
    const logs = input.logs?.length ? JSON.stringify(input.logs.map((l) => ({ ts: new Date(l.ts).toISOString(), stream: l.stream, level: l.level ?? "info", line: l.line }))) : null;
    const row = (
      await sql<{ pool: string; dag_id: string }>`
      with t as (
        update task_instances
           set state = 'up_for_reschedule', try_number = try_number - 1, reschedule_date = ${input.rescheduleAt},
               end_date = now(), duration = extract(epoch from now() - start_date), heartbeat_at = null, updated_at = now()
         where id = ${input.tiId} and state = 'running' and try_number = ${input.tryNumber} and worker_id = ${input.workerId}
        returning id, start_date, pool, dag_id
      ), r as (
        insert into task_reschedules (ti_id, try_number, start_date, end_date, duration, reschedule_date)
        select id, ${input.tryNumber}, start_date, now(), extract(epoch from now() - start_date), ${input.rescheduleAt} from t
      )${
        logs
          ? sql`, l as (
        insert into task_logs (ti_id, try_number, ts, stream, level, line)
        select t.id, ${input.tryNumber}, r.ts, r.stream, r.level, r.line
          from t, jsonb_to_recordset(${logs}::jsonb) as r(ts timestamptz, stream text, level text, line text)
      )`
          : sql``
      }
      select pool, dag_id from t`.execute(tx)
    ).rows[0];
    if (!row) return false;
    // The scheduler's timer (the retry timer) re-arms for the new due time.
    await notify(CHANNELS.retryScheduled, "").execute(tx);
    await notifySlotFreed(tx, { pool: row.pool, dagId: row.dag_id });
    return true;
  });
}

/**
 * The first poke of a sensor's TI sets sensor_started_at (its timeout runs from there, over
 * tries and reschedules; a clear resets it). Returns it, for the runner.
 */
export async function markSensorStarted(db: Kysely<Database>, ti: { tiId: string; tryNumber: number; workerId: string }): Promise<Date | null> {
  const row = await db
    .updateTable("task_instances")
    .set({ sensor_started_at: sql`coalesce(sensor_started_at, start_date, now())` })
    .where("id", "=", ti.tiId)
    .where("state", "=", "running")
    .where("try_number", "=", ti.tryNumber)
    .where("worker_id", "=", ti.workerId)
    .returning("sensor_started_at")
    .executeTakeFirst();
  return row?.sensor_started_at ?? null;
}
