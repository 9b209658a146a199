// `updraft dags test` / testDag for a mapped task (d.map): the same rules as the engine's
// expansion (expandMappedTasks) — one run per item of the source's list, an empty list skips the
// task, a value that is not a list or is longer than maxMapLength fails it with the same message.
import type { TaskStructure } from "../model/structure.js";
import { mapProblem } from "../semantics/mapping.js";
import type { TestTaskResult } from "./testDag.js";

export async function runMappedInTest(
  task: TaskStructure,
  results: Map<string, TestTaskResult>,
  runItem: (mapIndex: number, item: unknown) => Promise<TestTaskResult>,
  failPlaceholder: (error: string) => Promise<TestTaskResult>,
): Promise<TestTaskResult> {
  const source = results.get(task.mapSource!);
  // A source that did not succeed leaves no value, as in the engine.
  const value = source?.state === "success" || source?.mapped ? source.xcom.return_value : undefined;
  const type = value === undefined ? null : value === null ? "null" : Array.isArray(value) ? "array" : typeof value === "object" ? "object" : typeof value;
  const problem = mapProblem(task, { type, length: Array.isArray(value) ? value.length : null });
  if (problem) return failPlaceholder(problem);
  const items = value as unknown[];
  // As the engine: the placeholder TI is skipped (so the downstream sees one skipped upstream).
  if (!items.length) return { state: "skipped", xcom: {}, logs: [], durationMs: 0 };
  const mapped: TestTaskResult[] = [];
  for (const [i, item] of items.entries()) mapped.push(await runItem(i, item));
  const values = mapped.filter((m) => m.state === "success").map((m) => m.value);
  const failed = mapped.find((m) => m.state === "failed");
  return {
    state: failed ? "failed" : mapped.every((m) => m.state === "skipped") ? "skipped" : "success",
    value: values,
    xcom: { return_value: values },
    error: failed?.error,
    logs: mapped.flatMap((m) => m.logs),
    durationMs: mapped.reduce((sum, m) => sum + m.durationMs, 0),
    mapped,
  };
}
