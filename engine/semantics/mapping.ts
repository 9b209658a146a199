// Dynamic task mapping's rule on the source value (pure): what can be expanded, and the message
// a mapped task fails with otherwise. Shared by the engine (expandMappedTasks, taskInputs) and
// the in-process test runner (testMapped).
import type { TaskStructure } from "../model/structure.js";

export interface SourceShape {
  /** jsonb_typeof of the value; null when the source left no value. */
  type: string | null;
  /** Its length when it is an array. */
  length: number | null;
}

/** Why a source value cannot be expanded (not a list, too long), or null when it can. */
export function mapProblem(task: Pick<TaskStructure, "taskId" | "mapSource" | "maxMapLength">, shape: SourceShape): string | null {
  if (shape.type !== "array") {
    const got = shape.type === null ? "no value" : shape.type === "null" ? "null" : `a JSON ${shape.type}`;
    return `mapped task "${task.taskId}" needs a list from its upstream "${task.mapSource}", which returned ${got}`;
  }
  if (shape.length! > task.maxMapLength) {
    return `upstream "${task.mapSource}" returned ${shape.length} items, more than the maxMapLength of mapped task "${task.taskId}" (${task.maxMapLength})`;
  }
  return null;
}

