// What a claimed TI's function is called with (DESIGN §6): the return values of its inputs — a
// mapped input (d.map) as the list of its results in map_index order, [] when it made none — or,
// for a TI of a mapped task, its own item of the source's list. A mapped task's placeholder
// (map_index -1) is queued only when its source cannot be expanded (expandMappedTasks): it gets
// the reason instead, for its worker to fail it.
import { sql, type Kysely } from "kysely";
import type { TaskStructure } from "../../model/structure.js";
import type { Database } from "../schema.js";
import type { LoadedVersion } from "../versions.js";
import { mapProblem, readSourceShape, sourceValueSql } from "../tasks/expandMappedTasks.js";
import { pullInputs } from "./pullXcom.js";

export interface TaskInputs {
  inputs: unknown[];
  /** Set for a mapped task's placeholder: why it fails. */
  mapError?: string;
}

/**
 * `known`: an upstream's return value the caller already holds as stored (a hand-off's,
 * ClaimedTask.upstreamXcom). When it is the task's only input, and that upstream is not mapped,
 * no query is made: the hand-off of a chain that passes data costs no extra round trip. Chain
 * benchmark, the chain passing data, before → after: hand-off p50 1.32 → 1.05 ms and p99 5.25 →
 * 4.19 ms on PostgreSQL, p50 1.78 → 1.17 ms and p99 5.74 → 3.54 ms on PGlite.
 */
export async function taskInputs(
  db: Kysely<Database>,
  version: LoadedVersion,
  runPk: number,
  mapIndex: number,
  task: TaskStructure,
  known?: { taskId: string; value: unknown },
): Promise<TaskInputs> {
  if (known && !task.mapSource && task.inputs.length > 0 && task.inputs.every((id) => id === known.taskId) && !version.tasks.get(known.taskId)?.mapSource) {
    return { inputs: task.inputs.map(() => known.value) };
  }
  if (task.mapSource) {
    if (mapIndex < 0) {
      const problem = mapProblem(task, await readSourceShape(db, version, runPk, task.mapSource));
      return { inputs: [], mapError: problem ?? `mapped task "${task.taskId}" was queued without being expanded over "${task.mapSource}"` };
    }
    // Only this TI's item crosses the wire, not the whole list.
    const row = (await sql<{ item: unknown }>`select ${sourceValueSql(version, runPk, task.mapSource)} -> ${mapIndex}::int as item`.execute(db)).rows[0];
    return { inputs: [row?.item ?? null] };
  }
  const values = await pullInputs(db, runPk, task.inputs);
  return { inputs: task.inputs.map((id) => values.get(id) ?? (version.tasks.get(id)?.mapSource ? [] : null)) };
}
