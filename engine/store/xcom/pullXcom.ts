import type { Kysely } from "kysely";
import type { Database } from "../schema.js";

/** `ctx.xcom.pull(taskId, key)` within one run. */
export async function pullXcom(db: Kysely<Database>, runPk: number, taskId: string, key = "return_value"): Promise<unknown> {
  const row = await db.selectFrom("xcom").select("value").where("run_pk", "=", runPk).where("task_id", "=", taskId).where("key", "=", key).executeTakeFirst();
  return row ? row.value : null;
}

/** The return values of `taskIds` in one query: a task's typed inputs. */
export async function pullInputs(db: Kysely<Database>, runPk: number, taskIds: string[]): Promise<Map<string, unknown>> {
  if (!taskIds.length) return new Map();
  const rows = await db.selectFrom("xcom").select(["task_id", "value"]).where("run_pk", "=", runPk).where("task_id", "in", taskIds).where("key", "=", "return_value").execute();
  return new Map(rows.map((r) => [r.task_id, r.value]));
}
