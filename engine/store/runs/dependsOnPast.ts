// depends_on_past (Airflow's PrevDagrunDep): a TI of a task with `dependsOnPast` runs only once
// the same task's TI in the previous run of the DAG (by logical date) is success or skipped. The
// first run is exempt, and so is a task the previous run did not have. Checked where TIs become
// ready (startQueuedRuns, settleDownstream); a held TI stays `none` and is released when the
// previous run's TI finishes (releaseNextRuns, from settleDownstream).
import { sql, type Transaction } from "kysely";
import { countUpstreams, evaluateTriggerRule } from "../../semantics/triggerRules.js";
import type { TiState } from "../../semantics/states.js";
import type { Database } from "../schema.js";
import { getVersion, type LoadedVersion } from "../versions.js";

/** A run's place in its DAG's history: its logical date, or when it was due if it has none. */
const runOrder = sql`coalesce(logical_date, run_after)`;

/** Of `taskIds` (ready to run in run `runPk`), those depends_on_past holds back. */
export async function heldByPast(tx: Transaction<Database>, dagId: string, runPk: number, version: LoadedVersion, taskIds: string[]): Promise<Set<string>> {
  const held = new Set<string>();
  const checked = taskIds.filter((id) => version.tasks.get(id)?.dependsOnPast);
  if (!checked.length) return held;
  const previous = await tx
    .selectFrom("dag_runs")
    .select("id")
    .where("dag_id", "=", dagId)
    .where("id", "!=", runPk)
    .where(sql<boolean>`${runOrder} < (select coalesce(logical_date, run_after) from dag_runs where id = ${runPk})`)
    .orderBy(runOrder, "desc")
    .orderBy("id", "desc")
    .limit(1)
    .executeTakeFirst();
  if (!previous) return held;
  const tis = await tx.selectFrom("task_instances").select(["task_id", "state"]).where("run_pk", "=", previous.id).where("task_id", "in", checked).execute();
  for (const ti of tis) if (ti.state !== "success" && ti.state !== "skipped") held.add(ti.task_id);
  return held;
}

/**
 * TIs of `finishedTaskIds` in run `runPk` finished: the next run's TIs of those tasks that
 * depends_on_past held, and whose upstreams are met, are queued now. Returns the queues to notify.
 */
export async function releaseNextRuns(tx: Transaction<Database>, runPk: number, version: LoadedVersion, finishedTaskIds: string[]): Promise<Set<string>> {
  const queues = new Set<string>();
  const tasks = finishedTaskIds.filter((id) => version.tasks.get(id)?.dependsOnPast);
  if (!tasks.length) return queues;
  const next = await tx
    .selectFrom("dag_runs")
    .select(["id", "dag_id", "dag_version_id"])
    .where("dag_id", "=", version.dagId)
    .where("id", "!=", runPk)
    .where("state", "=", "running")
    .where(sql<boolean>`${runOrder} > (select coalesce(logical_date, run_after) from dag_runs where id = ${runPk})`)
    .orderBy(runOrder)
    .orderBy("id")
    .limit(1)
    .executeTakeFirst();
  if (!next) return queues;
  const nextVersion = next.dag_version_id === version.id ? version : await getVersion(tx, next.dag_version_id);
  const waiting = await tx
    .selectFrom("task_instances")
    .select(["id", "task_id", "queue"])
    .where("run_pk", "=", next.id)
    .where("task_id", "in", tasks)
    .where("state", "is", null)
    .orderBy("id")
    .forUpdate()
    .execute();
  if (!waiting.length) return queues;
  const upstreamIds = [...new Set(waiting.flatMap((w) => nextVersion.tasks.get(w.task_id)?.upstream ?? []))];
  const states = new Map<string, TiState[]>();
  if (upstreamIds.length) {
    const rows = await tx.selectFrom("task_instances").select(["task_id", "state"]).where("run_pk", "=", next.id).where("task_id", "in", upstreamIds).execute();
    for (const r of rows) states.set(r.task_id, [...(states.get(r.task_id) ?? []), r.state as TiState]);
  }
  const ready = waiting.filter((w) => {
    const task = nextVersion.tasks.get(w.task_id);
    return task && evaluateTriggerRule(task.triggerRule, countUpstreams(task.upstream.flatMap((u) => states.get(u) ?? [null]))) === "ready";
  });
  const held = await heldByPast(tx, next.dag_id, next.id, nextVersion, ready.map((w) => w.task_id));
  const release = ready.filter((w) => !held.has(w.task_id));
  if (!release.length) return queues;
  await tx
    .updateTable("task_instances")
    .set({ state: "queued", queued_when: sql`now()`, updated_at: sql`now()` })
    .where("id", "in", release.map((w) => w.id))
    .where("state", "is", null)
    .execute();
  for (const w of release) queues.add(w.queue);
  return queues;
}
