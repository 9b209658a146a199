// Sensors waiting in up_for_reschedule are due at reschedule_date: the scheduler's retry timer
// queues them (with the due retries) and re-arms itself for the next one. A partial index on
// reschedule_date serves both queries; nothing scans all TIs.
import { sql, type Kysely } from "kysely";
import { CHANNELS } from "../channels.js";
import { notify, lit } from "../db.js";
import type { Database } from "../schema.js";

export async function queueDueReschedules(db: Kysely<Database>): Promise<{ queued: number; nextDueAt: Date | null }> {
  return db.transaction().execute(async (tx) => {
    const rows = await tx
      .updateTable("task_instances")
      .set({ state: "queued", queued_when: sql`now()`, reschedule_date: null, updated_at: sql`now()` })
      .where("state", "=", lit("up_for_reschedule"))
      .where("reschedule_date", "<=", sql<Date>`now()`)
      .returning("queue")
      .execute();
    for (const q of new Set(rows.map((r) => r.queue))) await notify(CHANNELS.tiQueued, q).execute(tx);
    const next = await tx
      .selectFrom("task_instances")
      .select(sql<Date | null>`min(reschedule_date)`.as("next"))
      .where("state", "=", lit("up_for_reschedule"))
      .executeTakeFirst();
    return { queued: rows.length, nextDueAt: next?.next ?? null };
  });
}
