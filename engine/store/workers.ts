// The workers table: who is alive, with which queues and slots (for health and the UI).
import { sql, type Kysely } from "kysely";
import type { Database } from "./schema.js";

export async function registerWorker(db: Kysely<Database>, w: { workerId: string; hostname: string; pid: number; queues: string[]; slots: number }): Promise<void> {
  await db
    .insertInto("workers")
    .values({ worker_id: w.workerId, hostname: w.hostname, pid: w.pid, queues: w.queues, slots: w.slots })
    .onConflict((oc) => oc.column("worker_id").doUpdateSet({ last_heartbeat: sql`now()`, queues: w.queues, slots: w.slots }))
    .execute();
}

export async function unregisterWorker(db: Kysely<Database>, workerId: string): Promise<void> {
  await db.deleteFrom("workers").where("worker_id", "=", workerId).execute();
}
