// Retries are due at next_retry_at: the scheduler's retry timer queues them and re-arms itself for
// the next one (an index on next_retry_at serves both queries; nothing scans all TIs).
import { sql, type Kysely } from "kysely";
import { CHANNELS } from "../channels.js";
import { notify, lit } from "../db.js";
import type { Database } from "../schema.js";

export async function queueDueRetries(db: Kysely<Database>): Promise<{ queued: number; nextDueAt: Date | null }> {
  return db.transaction().execute(async (tx) => {
    const rows = await tx
      .updateTable("task_instances")
      .set({ state: "queued", queued_when: sql`now()`, next_retry_at: null, updated_at: sql`now()` })
      .where("state", "=", lit("up_for_retry"))
      .where("next_retry_at", "<=", sql<Date>`now()`)
      .returning("queue")
      .execute();
    for (const q of new Set(rows.map((r) => r.queue))) await notify(CHANNELS.tiQueued, q).execute(tx);
    const next = await tx
      .selectFrom("task_instances")
      .select(sql<Date | null>`min(next_retry_at)`.as("next"))
      .where("state", "=", lit("up_for_retry"))
      .executeTakeFirst();
    return { queued: rows.length, nextDueAt: next?.next ?? null };
  });
}
