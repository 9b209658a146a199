// Stores what an attempt recorded with ctx.metrics / ctx.models (engine/execution/taskRecords.ts),
// fenced like every write of an attempt: only while the TI is still running this try under this
// worker. Called by the worker just before finishTask, and only when there is something to store,
// so the hand-off path of ordinary tasks pays nothing. Model registrations count only for a
// successful attempt; metrics are kept for any outcome (a failed try's numbers are still evidence).
import type { Kysely } from "kysely";
import type { TaskRecords } from "../../execution/taskRecords.js";
import type { Database } from "../schema.js";
import { registerModelVersion } from "../models/registerModelVersion.js";

export interface RecordInput {
  tiId: string;
  tryNumber: number;
  workerId: string;
  succeeded: boolean;
  records: TaskRecords;
}

/** False when the attempt lost its lease: nothing was stored. */
export async function recordTaskRecords(db: Kysely<Database>, input: RecordInput): Promise<boolean> {
  return db.transaction().execute(async (tx) => {
    const ti = await tx
      .selectFrom("task_instances")
      .select(["id", "run_pk", "dag_id", "run_id", "task_id", "map_index"])
      .where("id", "=", input.tiId)
      .where("state", "=", "running")
      .where("try_number", "=", input.tryNumber)
      .where("worker_id", "=", input.workerId)
      .forUpdate()
      .executeTakeFirst();
    if (!ti) return false;
    if (input.records.metrics.length) {
      await tx
        .insertInto("task_metrics")
        .values(
          input.records.metrics.map((m) => ({
            ti_id: ti.id,
            try_number: input.tryNumber,
            run_pk: ti.run_pk,
            dag_id: ti.dag_id,
            task_id: ti.task_id,
            map_index: ti.map_index,
            name: m.name,
            value: m.value,
            step: m.step,
            logged_at: new Date(m.at),
          })),
        )
        .execute();
    }
    if (input.succeeded) {
      for (const reg of input.records.models) {
        await registerModelVersion(tx, reg.name, reg, { dagId: ti.dag_id, runId: ti.run_id, taskId: ti.task_id, tryNumber: input.tryNumber });
      }
    }
    return true;
  });
}
