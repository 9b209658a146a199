// Moves a DAG's queued runs to running, oldest first, while it is under maxActiveRuns; creates
// their TIs and queues the roots. Called when a run is created and when one finishes, in the
// same transaction, so no loop has to look for startable runs.
import { sql, type Transaction } from "kysely";
import { notify } from "../db.js";
import { CHANNELS } from "../channels.js";
import type { Database } from "../schema.js";
import { getVersion } from "../versions.js";
import { countUpstreams, evaluateTriggerRule } from "../../semantics/triggerRules.js";

export async function startQueuedRuns(tx: Transaction<Database>, dagId: string): Promise<number[]> {
  // Row lock on the DAG: concurrent creators and finishers of this DAG's runs take turns here,
  // so the active count below is exact.
  const dag = await tx.selectFrom("dags").select(["max_active_runs", "is_paused"]).where("dag_id", "=", dagId).forUpdate().executeTakeFirst();
  if (!dag || dag.is_paused) return [];
  const active = await tx
    .selectFrom("dag_runs")
    .select([sql<number>`count(*) filter (where state = 'running')::int`.as("running")])
    .where("dag_id", "=", dagId)
    .where("state", "in", ["queued", "running"])
    .executeTakeFirstOrThrow();
  const free = dag.max_active_runs - active.running;
  if (free <= 0) return [];
  const runs = await tx
    .selectFrom("dag_runs")
    .select(["id", "run_id", "dag_version_id"])
    .where("dag_id", "=", dagId)
    .where("state", "=", "queued")
    .orderBy("run_after")
    .orderBy("id")
    .limit(free)
    .execute();
  const queues = new Set<string>();
  for (const run of runs) {
    const version = await getVersion(tx, run.dag_version_id);
    const tasks = version.structure.tasks;
    await tx
      .updateTable("dag_runs")
      .set({ state: "running", start_date: sql`now()`, unfinished_tis: tasks.length, updated_at: sql`now()` })
      .where("id", "=", run.id)
      .execute();
    if (tasks.length === 0) {
      await tx.updateTable("dag_runs").set({ state: "success", end_date: sql`now()` }).where("id", "=", run.id).execute();
      continue;
    }
    const rows = tasks.map((t) => {
          // Roots, and tasks whose rule needs no upstream to finish (`always`), start at once.
          const root = evaluateTriggerRule(t.triggerRule, countUpstreams(t.upstream.map(() => null))) === "ready";
          if (root) queues.add(t.queue);
          return {
            run_pk: run.id,
            dag_id: dagId,
            run_id: run.run_id,
            task_id: t.taskId,
            dag_version_id: run.dag_version_id,
            operator: t.operator,
            state: root ? "queued" : null,
            queued_when: root ? sql<Date>`now()` : null,
            max_tries: t.retries,
            pool: t.pool,
            pool_slots: t.poolSlots,
            queue: t.queue,
            priority_weight: t.effectivePriority,
          };
        });
    // Chunked: PostgreSQL takes at most 65,535 parameters in one statement.
    for (let i = 0; i < rows.length; i += 4000) await tx.insertInto("task_instances").values(rows.slice(i, i + 4000)).execute();
  }
  for (const q of queues) await notify(CHANNELS.tiQueued, q).execute(tx);
  if (runs.length) await notify(CHANNELS.runChanged, dagId).execute(tx);
  return runs.map((r) => r.id);
}
