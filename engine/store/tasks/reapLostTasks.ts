// The reaper: a running TI whose heartbeat is older than the timeout lost its worker. It is failed
// through finishTask — fenced on the worker and try it had — so it retries while tries remain.
import { sql, type Kysely } from "kysely";
import { lit } from "../db.js";
import type { Database } from "../schema.js";
import { getVersion } from "../versions.js";
import { releaseRestartedTask } from "./clearTaskInstances.js";
import { finishTask } from "./finishTask.js";
import { retryDelayMs } from "../../semantics/retry.js";

export async function reapLostTasks(db: Kysely<Database>, heartbeatTimeoutMs: number): Promise<number> {
  const lost = await db
    .selectFrom("task_instances")
    .select(["id", "task_id", "try_number", "worker_id", "dag_version_id"])
    .where("state", "=", lit("running"))
    .where("heartbeat_at", "<", sql<Date>`now() - make_interval(secs => ${heartbeatTimeoutMs / 1000})`)
    .limit(500)
    .execute();
  let reaped = 0;
  for (const ti of lost) {
    const task = (await getVersion(db, ti.dag_version_id)).tasks.get(ti.task_id);
    const reason = `no heartbeat from worker ${ti.worker_id} for over ${heartbeatTimeoutMs} ms: the worker is presumed lost`;
    const result = await finishTask(db, {
      tiId: ti.id,
      tryNumber: ti.try_number,
      workerId: ti.worker_id ?? "",
      outcome: "failed",
      error: reason,
      retryDelayMs: task ? retryDelayMs({ retryDelayMs: task.retryDelayMs, exponential: task.retryExponentialBackoff, maxRetryDelayMs: task.maxRetryDelayMs, tryNumber: ti.try_number, seed: ti.id }) : 0,
      logs: [{ ts: Date.now(), stream: "log", level: "error", line: `[updraft] ${reason}` }],
    });
    if (result.accepted) reaped++;
  }
  // Cleared while running, and the worker never let go (it is gone): released the same way.
  const abandoned = await db
    .selectFrom("task_instances")
    .select(["id", "try_number", "worker_id"])
    .where("state", "=", lit("restarting"))
    .where("heartbeat_at", "<", sql<Date>`now() - make_interval(secs => ${heartbeatTimeoutMs / 1000})`)
    .limit(500)
    .execute();
  for (const ti of abandoned) {
    if (await db.transaction().execute((tx) => releaseRestartedTask(tx, { tiId: ti.id, tryNumber: ti.try_number, workerId: ti.worker_id }))) reaped++;
  }
  return reaped;
}
