// PATCH …/dagRuns/{id} with a state: Airflow's set_dag_run_state_to_success/failed/queued.
// - success: every unfinished TI is marked success, as Airflow does.
// - failed: running TIs fail; every other unfinished TI is skipped, as Airflow does.
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
  const waiting = ["none", "scheduled", "queued", "up_for_retry", "up_for_reschedule"];
  const finished =
    state === "success"
      ? await mark([...waiting, "running", "restarting"], "success")
      : [...(await mark(["running", "restarting"], "failed")), ...(await mark(waiting, "skipped"))];
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
