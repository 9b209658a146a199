// Marking a TI success or failed by hand (Airflow's PATCH …/taskInstances/{task_id} new_state).
// The TI's row is the first lock (as on every finishing path); a worker still running it loses its
// lease, so its late result is fenced off. Its waiting downstream TIs are then re-evaluated
// (settleDownstream) and the run is recounted and, when nothing is left, decided from its leaves
// — a failed run whose failed leaf is marked success ends success.
import { sql, type Transaction } from "kysely";
import { CHANNELS } from "../channels.js";
import { notify } from "../db.js";
import type { Database } from "../schema.js";
import { getVersion } from "../versions.js";
import { recountRun } from "./clearTaskInstances.js";
import { settleDownstream } from "./settleDownstream.js";
import { notifySlotFreed } from "./slotFreed.js";

export interface MarkInput {
  runPk: number;
  taskId: string;
  mapIndex: number;
  newState?: "success" | "failed" | null;
  /** undefined: unchanged; null: cleared. */
  note?: string | null;
}

/** Returns the TI's id, or null when the run has no such TI. */
export async function markTaskInstance(tx: Transaction<Database>, input: MarkInput): Promise<string | null> {
  const ti = await tx
    .selectFrom("task_instances")
    .select(["id", "state", "dag_version_id", "pool", "dag_id"])
    .where("run_pk", "=", input.runPk)
    .where("task_id", "=", input.taskId)
    .where("map_index", "=", input.mapIndex)
    .forUpdate()
    .executeTakeFirst();
  if (!ti) return null;
  if (input.note !== undefined) {
    await tx.updateTable("task_instances").set({ note: input.note, updated_at: sql`now()` }).where("id", "=", ti.id).execute();
  }
  if (!input.newState || ti.state === input.newState) return ti.id;
  await tx
    .updateTable("task_instances")
    .set({
      state: input.newState,
      start_date: sql`coalesce(start_date, now())`,
      end_date: sql`now()`,
      duration: sql`extract(epoch from now() - coalesce(start_date, now()))`,
      heartbeat_at: null,
      next_retry_at: null,
      updated_at: sql`now()`,
    })
    .where("id", "=", ti.id)
    .execute();
  const version = await getVersion(tx, ti.dag_version_id);
  const settled = await settleDownstream(tx, input.runPk, version, [input.taskId]);
  for (const q of settled.queued) await notify(CHANNELS.tiQueued, q).execute(tx);
  // Marking a running TI frees its slot (its worker's late result is fenced off).
  if (ti.state === "running" || ti.state === "restarting") await notifySlotFreed(tx, { pool: ti.pool, dagId: ti.dag_id });
  // A finished run is decided again from its leaves (and runs again if downstream got queued).
  await tx
    .updateTable("dag_runs")
    .set({ state: "running", end_date: null, updated_at: sql`now()` })
    .where("id", "=", input.runPk)
    .where("state", "in", ["success", "failed"])
    .execute();
  await recountRun(tx, input.runPk, version);
  return ti.id;
}
