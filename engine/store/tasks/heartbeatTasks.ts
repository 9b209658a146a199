// Workers heartbeat all their running TIs in one statement; the TIs not returned are no longer
// theirs (reaped, cleared) and must be killed.
import { sql, type Kysely } from "kysely";
import type { Database } from "../schema.js";

export async function heartbeatTasks(db: Kysely<Database>, input: { workerId: string; tiIds: string[] }): Promise<Set<string>> {
  await db.updateTable("workers").set({ last_heartbeat: sql`now()` }).where("worker_id", "=", input.workerId).execute();
  if (!input.tiIds.length) return new Set();
  // Locked in id order, as finishLeaves locks the several TIs it ends: two statements that each
  // lock some of a worker's running TIs in another order deadlocked (seen in the throughput
  // benchmark with four worker processes).
  const rows = (
    await sql<{ id: string }>`with locked as (
        select id from task_instances
         where id = any(${input.tiIds}::uuid[]) and worker_id = ${input.workerId} and state = 'running'
         order by id for update
      )
      update task_instances t set heartbeat_at = now() from locked where t.id = locked.id
      returning t.id`.execute(db)
  ).rows;
  return new Set(rows.map((r) => r.id));
}
