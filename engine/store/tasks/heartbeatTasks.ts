// Workers heartbeat all their running TIs in one statement; the TIs not returned are no longer
// theirs (reaped, cleared) and must be killed.
import { sql, type Kysely } from "kysely";
import type { Database } from "../schema.js";

export async function heartbeatTasks(db: Kysely<Database>, input: { workerId: string; tiIds: string[] }): Promise<Set<string>> {
  await db.updateTable("workers").set({ last_heartbeat: sql`now()` }).where("worker_id", "=", input.workerId).execute();
  if (!input.tiIds.length) return new Set();
  const rows = await db
    .updateTable("task_instances")
    .set({ heartbeat_at: sql`now()` })
    .where("id", "in", input.tiIds)
    .where("worker_id", "=", input.workerId)
    .where("state", "=", "running")
    .returning("id")
    .execute();
  return new Set(rows.map((r) => r.id));
}
