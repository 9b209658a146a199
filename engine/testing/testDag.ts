// Runs one DAG run in-process, without a database or worker: for `updraft dags test` and for DAG
// authors' own tests (`import { testDag } from "updraft/testing"`). Same task code path as a
// worker (runTask), same trigger rules and run-state rule as the engine; no retries.
import type { DagDefinition } from "../authoring/index.js";
import { buildStructure } from "../model/structure.js";
import { runTask } from "../execution/runTask.js";
import type { LogLevel } from "../execution/context.js";
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
  for (const task of structure.tasks) {
    if (skippedByDecision.has(task.taskId)) {
      const skipped: TestTaskResult = { state: "skipped", xcom: {}, logs: [], durationMs: 0 };
      results.set(task.taskId, skipped);
      options.onTaskEnd?.(task.taskId, skipped);
      continue;
    }
    // Topological order: every upstream has a result when its downstream is reached.
    const upstreamStates = task.upstream.map((u) => (results.get(u)?.state ?? null) as TiState);
    const decision = evaluateTriggerRule(task.triggerRule, countUpstreams(upstreamStates));
    if (decision !== "ready") {
      const settled: TestTaskResult = { state: decision === "wait" ? "none" : decision, xcom: {}, logs: [], durationMs: 0 };
      results.set(task.taskId, settled);
      options.onTaskEnd?.(task.taskId, settled);
      continue;
    }
    const logs: TestLogLine[] = [];
    const log = (stream: TestLogLine["stream"], level: LogLevel, line: string) => {
      const entry = { taskId: task.taskId, stream, level, line };
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
      attempt = await runTask(
        def,
        {
          dagId: def.id,
          taskId: task.taskId,
          runId,
          mapIndex: -1,
          tryNumber: 1,
          maxTries: task.retries,
          logicalDate: logicalDate.toISOString(),
          dataIntervalStart: logicalDate.toISOString(),
          dataIntervalEnd: logicalDate.toISOString(),
          runStartDate: new Date().toISOString(),
          conf: options.conf ?? {},
          inputs: task.inputs.map((id) => results.get(id)?.xcom.return_value ?? null),
        },
        {
          log,
          pullXcom: async (taskId, key) => results.get(taskId)?.xcom[key] ?? null,
        },
        controller.signal,
      );
      if (timer) clearTimeout(timer);
    } finally {
      globalThis.console = console_;
    }
    const result: TestTaskResult = {
      state: attempt.outcome === "success" ? "success" : attempt.outcome === "skipped" ? "skipped" : "failed",
      value: attempt.xcom.return_value,
      xcom: attempt.xcom,
      error: "error" in attempt ? attempt.error : undefined,
      logs,
      durationMs: performance.now() - started,
    };
    if (attempt.outcome === "success") for (const id of attempt.skipDownstream ?? []) skippedByDecision.add(id);
    results.set(task.taskId, result);
    options.onTaskEnd?.(task.taskId, result);
  }
  const leafStates = structure.leaves.map((l) => {
    const s = results.get(l)?.state;
    return (s === "none" ? null : s) as TiState;
  });
  const unfinished = [...results.values()].filter((r) => r.state === "none").length;
  const state = runStateFromLeaves(leafStates, unfinished);
  return { state: state === "success" ? "success" : "failed", tasks: Object.fromEntries(results) };
}
