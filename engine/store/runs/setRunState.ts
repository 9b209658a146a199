// PATCH …/dagRuns/{id} with a state: Airflow's set_dag_run_state_to_success/failed/queued.
// - success: TIs that started (queued, running, up_for_retry, up_for_reschedule) are marked
//   success; TIs still waiting (none, scheduled) never ran and are marked skipped, since
//   none → success is not a transition Updraft's state machine allows (Airflow marks them success).
// - failed: TIs that started fail; TIs still waiting are skipped (as Airflow does). Airflow skips
//   queued and up_for_retry TIs too; here they fail, as queued → skipped is not a legal transition.
// - queued: the run is cleared and re-queued (Airflow's "set to queued").
// A worker still running a marked TI loses its lease: its late result is dropped (fenced write).
import { sql, type Transaction } from "kysely";
import { CHANNELS } from "../channels.js";
import { notify } from "../db.js";
import type { Database } from "../schema.js";
import { getVersion } from "../versions.js";
import { clearRun } from "./clearRun.js";
import { releaseNextRuns } from "./dependsOnPast.js";
import { startQueuedRuns } from "./startQueuedRuns.js";

export async function setRunState(tx: Transaction<Database>, runPk: number, state: "success" | "failed" | "queued"): Promise<void> {
  const run = await tx.selectFrom("dag_runs").select(["id", "dag_id", "state", "dag_version_id"]).where("id", "=", runPk).forUpdate().executeTakeFirstOrThrow();
  if (state === "queued") {
    await clearRun(tx, runPk);
    return;
  }
  const mark = (from: string[], to: string) =>
    tx
      .updateTable("task_instances")
      .set({ state: to, end_date: sql`now()`, start_date: sql`coalesce(start_date, now())`, heartbeat_at: null, next_retry_at: null, updated_at: sql`now()` })
      .where("run_pk", "=", runPk)
      .where((eb) => (from.includes("none") ? eb.or([eb("state", "in", from.filter((s) => s !== "none")), eb("state", "is", null)]) : eb("state", "in", from)))
      .returning("task_id")
      .execute();
  // Only transitions the TI state machine allows (engine/semantics/states.ts).
  const started = ["queued", "running", "up_for_retry", "up_for_reschedule"];
  const finished = [
    ...(state === "success" ? await mark(started, "success") : await mark([...started, "restarting"], "failed")),
    ...(await mark(["none", "scheduled"], "skipped")),
  ];
  await tx
    .updateTable("dag_runs")
    .set({ state, end_date: sql`now()`, start_date: sql`coalesce(start_date, now())`, unfinished_tis: 0, updated_at: sql`now()` })
    .where("id", "=", runPk)
    .execute();
  if (finished.length) {
    const version = await getVersion(tx, run.dag_version_id);
    const queues = await releaseNextRuns(tx, runPk, version, [...new Set(finished.map((f) => f.task_id))]);
    for (const q of queues) await notify(CHANNELS.tiQueued, q).execute(tx);
  }
  await notify(CHANNELS.runChanged, run.dag_id).execute(tx);
  // The run no longer counts against maxActiveRuns.
  if (run.state === "running" || run.state === "queued") await startQueuedRuns(tx, run.dag_id);
}
