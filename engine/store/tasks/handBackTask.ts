// A worker shutting down hands back the TIs it could not finish within its grace period: they go
// back to the queue without consuming a try (the attempt never got to end). Fenced like every
// worker write; the interrupted attempt's late report is then rejected by the same fence.
import { sql, type Kysely } from "kysely";
import { CHANNELS } from "../channels.js";
import { notify } from "../db.js";
import type { Database } from "../schema.js";

export async function handBackTask(db: Kysely<Database>, input: { tiId: string; tryNumber: number; workerId: string }): Promise<boolean> {
  return db.transaction().execute(async (tx) => {
    const rows = await tx
      .updateTable("task_instances")
      .set({
        state: "queued",
        try_number: sql`try_number - 1`,
        worker_id: null,
        hostname: null,
        heartbeat_at: null,
        queued_when: sql`now()`,
        updated_at: sql`now()`,
      })
      .where("id", "=", input.tiId)
      .where("state", "=", "running")
      .where("try_number", "=", input.tryNumber)
      .where("worker_id", "=", input.workerId)
      .returning("queue")
      .execute();
    for (const r of rows) await notify(CHANNELS.tiQueued, r.queue).execute(tx);
    return rows.length > 0;
  });
}
