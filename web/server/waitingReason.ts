// "Why is this TI not running?" — one sentence for the task-instance page (issue 6 item 4), served
// by GET /ui/waiting/…. It names the first limit that holds the TI back, checked in the order the
// engine applies them: the run's own start (paused DAG, maxActiveRuns), upstreams, a retry or
// reschedule time, then for a queued TI the claim's conditions (a live worker on its queue, its
// pool's slots, the DAG's maxActiveTasks, the task's maxActiveTisPerDag, free worker slots — as
// updraft_claim_tasks in migrations/0006_pools.sql counts them: running and restarting TIs).
import { sql, type Kysely } from "kysely";
import type { DagStructure } from "../../engine/model/structure.js";
import type { Database } from "../../engine/store/schema.js";

/** A worker whose heartbeat is older than this is taken as gone (the UI's workers page agrees). */
export const WORKER_ALIVE_MS = 30_000;

const FINISHED = ["success", "failed", "skipped", "upstream_failed", "removed"];
const OCCUPYING = ["running", "restarting"];

/** HH:MM:SS in UTC, as the sentence says. */
const clock = (d: Date | string) => `${new Date(d).toISOString().slice(11, 19)} UTC`;

/** The reason, or null when the TI is not waiting (running or finished). */
export async function waitingReason(db: Kysely<Database>, tiId: string, now: Date = new Date()): Promise<string | null> {
  const ti = await db
    .selectFrom("task_instances as ti")
    .innerJoin("dag_runs as r", "r.id", "ti.run_pk")
    .select([
      "ti.dag_id",
      "ti.run_pk",
      "ti.task_id",
      "ti.map_index",
      "ti.state",
      "ti.try_number",
      "ti.max_tries",
      "ti.queue",
      "ti.pool",
      "ti.pool_slots",
      "ti.next_retry_at",
      "ti.reschedule_date",
      "ti.max_active_tis_per_dag",
      "ti.dag_version_id",
      "r.state as run_state",
    ])
    .where("ti.id", "=", tiId)
    .executeTakeFirst();
  if (!ti) return null;

  if (ti.run_state === "queued") {
    const dag = await db.selectFrom("dags").select(["is_paused", "max_active_runs"]).where("dag_id", "=", ti.dag_id).executeTakeFirstOrThrow();
    if (dag.is_paused) return "The DAG is paused: its queued runs start when it is unpaused.";
    const active = await db.selectFrom("dag_runs").select(sql<number>`count(*)::int`.as("n")).where("dag_id", "=", ti.dag_id).where("state", "=", "running").executeTakeFirstOrThrow();
    if (active.n >= dag.max_active_runs) return `The run is queued: the DAG is at maxActiveRuns (${active.n} of ${dag.max_active_runs} running).`;
    return "The run is queued and waits for the scheduler to start it.";
  }

  switch (ti.state) {
    case null: {
      const version = await db.selectFrom("dag_versions").select("structure").where("id", "=", ti.dag_version_id).executeTakeFirstOrThrow();
      const upstream = (version.structure as unknown as DagStructure).tasks.find((t) => t.taskId === ti.task_id)?.upstream ?? [];
      if (!upstream.length) return "Waiting to be scheduled.";
      const states = await db.selectFrom("task_instances").select(["task_id", "map_index", "state"]).where("run_pk", "=", ti.run_pk).where("task_id", "in", upstream).execute();
      const pending = states.filter((s) => !FINISHED.includes(s.state ?? ""));
      if (pending.length) {
        const names = [...new Map(pending.map((p) => [p.task_id, `${p.task_id} (${p.state ?? "none"})`])).values()];
        return `Waiting for upstream tasks to finish: ${names.join(", ")}.`;
      }
      return "Upstream tasks are done; waiting for the trigger rule to be evaluated.";
    }
    case "scheduled":
      return "Scheduled: waiting to be queued.";
    case "up_for_retry":
      return ti.next_retry_at ? `Up for retry: try ${ti.try_number + 1} of ${ti.max_tries + 1} at ${clock(ti.next_retry_at)}.` : "Up for retry.";
    case "up_for_reschedule":
      return ti.reschedule_date ? `Sensor rescheduled: it pokes again at ${clock(ti.reschedule_date)}.` : "Sensor rescheduled: waiting for its next poke.";
    case "queued":
      return queuedReason(db, ti, now);
    default:
      return null;
  }
}

async function queuedReason(
  db: Kysely<Database>,
  ti: { dag_id: string; task_id: string; queue: string; pool: string; pool_slots: number; max_active_tis_per_dag: number | null },
  now: Date,
): Promise<string> {
  const workers = await db
    .selectFrom("workers")
    .select(["worker_id", "slots"])
    .where(sql<boolean>`${ti.queue} = any(queues)`)
    .where("last_heartbeat", ">", new Date(now.getTime() - WORKER_ALIVE_MS))
    .execute();
  if (!workers.length) return `Queued on queue "${ti.queue}", but no live worker listens on it.`;

  const pool = await db.selectFrom("pools").select("slots").where("name", "=", ti.pool).executeTakeFirst();
  if (!pool) return `Queued, but its pool "${ti.pool}" does not exist: create the pool for it to run.`;
  const poolUsed = await db
    .selectFrom("task_instances")
    .select(sql<number>`coalesce(sum(pool_slots), 0)::int`.as("n"))
    .where("pool", "=", ti.pool)
    .where("state", "in", OCCUPYING)
    .executeTakeFirstOrThrow();
  if (poolUsed.n + ti.pool_slots > pool.slots) {
    return `Queued: pool "${ti.pool}" is full (${poolUsed.n} of ${pool.slots} slots used; this task needs ${ti.pool_slots}).`;
  }

  const dag = await db.selectFrom("dags").select("max_active_tasks").where("dag_id", "=", ti.dag_id).executeTakeFirstOrThrow();
  const dagRunning = await db.selectFrom("task_instances").select(sql<number>`count(*)::int`.as("n")).where("dag_id", "=", ti.dag_id).where("state", "in", OCCUPYING).executeTakeFirstOrThrow();
  if (dagRunning.n >= dag.max_active_tasks) return `Queued: the DAG is at maxActiveTasks (${dagRunning.n} of ${dag.max_active_tasks} running).`;

  if (ti.max_active_tis_per_dag !== null) {
    const taskRunning = await db
      .selectFrom("task_instances")
      .select(sql<number>`count(*)::int`.as("n"))
      .where("dag_id", "=", ti.dag_id)
      .where("task_id", "=", ti.task_id)
      .where("state", "in", OCCUPYING)
      .executeTakeFirstOrThrow();
    if (taskRunning.n >= ti.max_active_tis_per_dag) {
      return `Queued: task "${ti.task_id}" is at maxActiveTisPerDag (${taskRunning.n} of ${ti.max_active_tis_per_dag} running across the DAG's runs).`;
    }
  }

  const slots = workers.reduce((n, w) => n + w.slots, 0);
  const busy = await db
    .selectFrom("task_instances")
    .select(sql<number>`count(*)::int`.as("n"))
    .where("state", "in", OCCUPYING)
    .where("worker_id", "in", workers.map((w) => w.worker_id))
    .executeTakeFirstOrThrow();
  if (busy.n >= slots) return `Queued: all ${slots} slots of the workers on queue "${ti.queue}" are busy.`;
  return `Queued on queue "${ti.queue}" (pool "${ti.pool}"): waiting for a worker to claim it.`;
}
