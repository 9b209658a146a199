// Runs one DAG run in-process, without a database or worker: for `updraft dags test` and for DAG
// authors' own tests (`import { testDag } from "updraft/testing"`). Same task code path as a
// worker (runTask), same trigger rules and run-state rule as the engine, mapped tasks expanded
// and callbacks run as in a worker; no retries.
import type { DagDefinition } from "../authoring/index.js";
import { buildStructure } from "../model/structure.js";
import type { TaskStructure } from "../model/structure.js";
import { runTask, type AttemptResult } from "../execution/runTask.js";
import type { LogLevel, TaskHost, TaskRunRequest } from "../execution/context.js";
import { runDagCallback, runTaskCallback } from "../execution/callbacks.js";
import { runMappedInTest } from "./testMapped.js";
import { countUpstreams, evaluateTriggerRule } from "../semantics/triggerRules.js";
import { runStateFromLeaves } from "../semantics/runState.js";
import type { TiState } from "../semantics/states.js";

export interface TestLogLine {
  taskId: string;
  stream: "stdout" | "stderr" | "log";
  level: LogLevel;
  line: string;
}

export interface TestTaskResult {
  state: Exclude<TiState, null | "queued" | "running" | "scheduled"> | "none";
  value?: unknown;
  xcom: Record<string, unknown>;
  error?: string;
  logs: TestLogLine[];
  durationMs: number;
  /** d.map: the result of each item's run, by map index (value is then the list of their values). */
  mapped?: TestTaskResult[];
}

export interface TestDagResult {
  state: "success" | "failed";
  tasks: Record<string, TestTaskResult>;
}

export interface TestDagOptions {
  /** Logical date of the run; default now. */
  date?: Date | string;
  conf?: Record<string, unknown>;
  /** Called as each task ends, e.g. to print progress. */
  onTaskEnd?: (taskId: string, result: TestTaskResult) => void;
  /** Receives every log line as it happens. */
  onLog?: (line: TestLogLine) => void;
}

export async function testDag(def: DagDefinition, options: TestDagOptions = {}): Promise<TestDagResult> {
  const structure = buildStructure(def);
  const logicalDate = options.date ? new Date(options.date) : new Date();
  if (Number.isNaN(logicalDate.getTime())) throw new Error(`--date ${JSON.stringify(options.date)} is not a date`);
  const results = new Map<string, TestTaskResult>();
  const runId = `test__${logicalDate.toISOString()}`;
  const console_ = globalThis.console;

  // Tasks a branch or short-circuit chose to skip.
  const skippedByDecision = new Set<string>();
  const structureIndex = new Map(structure.tasks.map((t) => [t.taskId, t]));
  // One TI: its attempt (a reschedule-mode sensor pokes again in this process) and its callback.
  // `mapError`: a mapped task whose source cannot be expanded fails with it (and its onFailure runs).
  const runOne = async (task: TaskStructure, mapIndex: number, inputs: unknown[], mapError?: string): Promise<TestTaskResult> => {
    const logs: TestLogLine[] = [];
    const log = (stream: TestLogLine["stream"], level: LogLevel, line: string) => {
      const entry = { taskId: mapIndex >= 0 ? `${task.taskId}[${mapIndex}]` : task.taskId, stream, level, line };
      logs.push(entry);
      options.onLog?.(entry);
    };
    const started = performance.now();
    // console.* of the task goes to its log, as it does in a worker's runner.
    const patched = Object.create(console_) as Console;
    for (const m of ["log", "info", "warn", "error", "debug"] as const) {
      patched[m] = (...args: unknown[]) => log(m === "warn" || m === "error" ? "stderr" : "stdout", m === "log" ? "info" : m, args.map((a) => (typeof a === "string" ? a : JSON.stringify(a))).join(" "));
    }
    globalThis.console = patched;
    let attempt;
    try {
      const controller = new AbortController();
      const timer = task.timeoutMs ? setTimeout(() => controller.abort(new Error(`task timed out after ${task.timeoutMs} ms`)), task.timeoutMs) : null;
      // A reschedule-mode sensor pokes again when due, in this process (the same try, as in a worker).
      const sensorStartedAt = new Date().toISOString();
      for (;;) {
        const request: TaskRunRequest = {
          dagId: def.id,
          taskId: task.taskId,
          runId,
          mapIndex,
          tryNumber: 1,
          maxTries: task.retries,
          logicalDate: logicalDate.toISOString(),
          dataIntervalStart: logicalDate.toISOString(),
          dataIntervalEnd: logicalDate.toISOString(),
          runStartDate: new Date().toISOString(),
          conf: options.conf ?? {},
          inputs,
          sensorStartedAt,
        };
        const host: TaskHost = {
          log,
          pullXcom: async (taskId, key) => results.get(taskId)?.xcom[key] ?? null,
        };
        const unmappable: AttemptResult | null = mapError ? { outcome: "failed_no_retry", error: mapError, xcom: {} } : null;
        attempt = unmappable ?? (await runTask(def, request, host, controller.signal));
        if (attempt.outcome === "success") for (const id of attempt.skipDownstream ?? []) skippedByDecision.add(id);
        if (attempt.outcome !== "up_for_reschedule") {
          // The task's callback for its outcome: this is its last try (no retries here).
          await runTaskCallback(def, request, attempt, host, undefined, true);
          break;
        }
        const wait = attempt.rescheduleAt - Date.now();
        await new Promise((r) => setTimeout(r, Math.max(0, wait)));
      }
      if (timer) clearTimeout(timer);
    } finally {
      globalThis.console = console_;
    }
    return {
      state: attempt.outcome === "success" ? "success" : attempt.outcome === "skipped" ? "skipped" : "failed",
      value: attempt.xcom.return_value,
      xcom: attempt.xcom,
      error: "error" in attempt ? attempt.error : undefined,
      logs,
      durationMs: performance.now() - started,
    } satisfies TestTaskResult;
  };

  for (const task of structure.tasks) {
    if (skippedByDecision.has(task.taskId)) {
      const skipped: TestTaskResult = { state: "skipped", xcom: {}, logs: [], durationMs: 0 };
      results.set(task.taskId, skipped);
      options.onTaskEnd?.(task.taskId, skipped);
      continue;
    }
    // Topological order: every upstream has a result when its downstream is reached.
    // A mapped upstream counts with the state of each of its TIs, as in the engine.
    const upstreamStates = task.upstream.flatMap((u) => tiStates(results.get(u)));
    const decision = evaluateTriggerRule(task.triggerRule, countUpstreams(upstreamStates));
    if (decision !== "ready") {
      const settled: TestTaskResult = { state: decision === "wait" ? "none" : decision, xcom: {}, logs: [], durationMs: 0 };
      results.set(task.taskId, settled);
      options.onTaskEnd?.(task.taskId, settled);
      continue;
    }
    if (task.mapSource) {
      // d.map: one run of the task per item, as the engine expands it (testMapped.ts).
      const mapped = await runMappedInTest(task, results, (i, item) => runOne(task, i, [item]), (error) => runOne(task, -1, [], error));
      results.set(task.taskId, mapped);
      options.onTaskEnd?.(task.taskId, mapped);
      continue;
    }
    const result = await runOne(task, -1, task.inputs.map((id) => results.get(id)?.xcom.return_value ?? (structureIndex.get(id)?.mapSource ? [] : null)));
    results.set(task.taskId, result);
    options.onTaskEnd?.(task.taskId, result);
  }
  const leafStates = structure.leaves.flatMap((l) => tiStates(results.get(l)));
  const unfinished = [...results.values()].filter((r) => r.state === "none").length;
  const state = runStateFromLeaves(leafStates, unfinished);
  const runState = state === "success" ? "success" : "failed";
  // The DAG's run callback, bounded and only logged on failure, as in a worker.
  const runLog = (stream: TestLogLine["stream"], level: LogLevel, line: string) => options.onLog?.({ taskId: "(run callback)", stream, level, line });
  await runDagCallback(def, { dagId: def.id, taskId: "", runId, mapIndex: -1, tryNumber: 1, maxTries: 0, logicalDate: logicalDate.toISOString(), dataIntervalStart: logicalDate.toISOString(), dataIntervalEnd: logicalDate.toISOString(), runStartDate: new Date().toISOString(), conf: options.conf ?? {}, inputs: [] }, runState, { log: runLog, pullXcom: async (taskId, key) => results.get(taskId)?.xcom[key] ?? null });
  return { state: runState, tasks: Object.fromEntries(results) };
}

/** Each TI's state of a task's result: a mapped task's, one per item. */
function tiStates(result: TestTaskResult | undefined): TiState[] {
  if (result?.mapped) return result.mapped.map((m) => m.state as TiState);
  const s = result?.state;
  return [(s === undefined || s === "none" ? null : s) as TiState];
}
