// Reading XComs within one run: `ctx.xcom.pull` and a task's typed inputs. A mapped task's value
// (d.map) is the list of its TIs' values, in map_index order.
import type { Kysely } from "kysely";
import type { Database } from "../schema.js";

/** An unmapped TI's value as is; a mapped task's values (map_index ≥ 0) as one list. */
function valueOf(rows: { map_index: number; value: unknown }[]): unknown {
  if (rows.length === 1 && rows[0]!.map_index === -1) return rows[0]!.value;
  return rows.filter((r) => r.map_index >= 0).map((r) => r.value);
}

/** `ctx.xcom.pull(taskId, key)` within one run. */
export async function pullXcom(db: Kysely<Database>, runPk: number, taskId: string, key = "return_value"): Promise<unknown> {
  const rows = await db.selectFrom("xcom").select(["map_index", "value"]).where("run_pk", "=", runPk).where("task_id", "=", taskId).where("key", "=", key).orderBy("map_index").execute();
  return rows.length ? valueOf(rows) : null;
}

/** The return values of `taskIds` in one query: a task's typed inputs. */
export async function pullInputs(db: Kysely<Database>, runPk: number, taskIds: string[]): Promise<Map<string, unknown>> {
  if (!taskIds.length) return new Map();
  const rows = await db
    .selectFrom("xcom")
    .select(["task_id", "map_index", "value"])
    .where("run_pk", "=", runPk)
    .where("task_id", "in", taskIds)
    .where("key", "=", "return_value")
    .orderBy("task_id")
    .orderBy("map_index")
    .execute();
  const byTask = new Map<string, typeof rows>();
  for (const r of rows) byTask.set(r.task_id, [...(byTask.get(r.task_id) ?? []), r]);
  return new Map([...byTask].map(([taskId, values]) => [taskId, valueOf(values)]));
}
