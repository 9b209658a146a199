// TIs the database says a worker is running but the worker does not know about: a claim (or a
// hand-off claim in finishTask) committed but its reply never arrived — the connection died or
// went half-open just then. The worker hands them back (handBackTask: queued again, try not
// consumed) instead of leaving them to the reaper, which would spend a try on work never started.
import { sql, type Kysely } from "kysely";
import { lit } from "../db.js";
import type { Database } from "../schema.js";

export async function findOrphanedClaims(
  db: Kysely<Database>,
  input: { workerId: string; knownTiIds: string[]; olderThanMs: number },
): Promise<{ tiId: string; tryNumber: number }[]> {
  let q = db
    .selectFrom("task_instances")
    .select(["id", "try_number"])
    .where("worker_id", "=", input.workerId)
    .where("state", "=", lit("running"))
    // Old enough that no claim still on its way to the worker can match (the worker heartbeats
    // what it knows every interval; an orphan keeps the heartbeat its claim wrote).
    .where("heartbeat_at", "<", sql<Date>`now() - make_interval(secs => ${input.olderThanMs / 1000})`);
  if (input.knownTiIds.length) q = q.where("id", "not in", input.knownTiIds);
  const rows = await q.execute();
  return rows.map((r) => ({ tiId: r.id, tryNumber: r.try_number }));
}
