// The public types of the authoring API (what `import … from "updraft"` gives a DAG file).
// This folder is bundled into every DAG bundle, so it imports nothing but itself.

/** `"500ms"`, `"30s"`, `"5m"`, `"1h"`, `"1d"` or a number of milliseconds. */
export type Duration = number | `${number}${"ms" | "s" | "m" | "h" | "d"}`;

export const TRIGGER_RULES = [
  "all_success",
  "all_failed",
  "all_done",
  "all_done_min_one_success",
  "all_skipped",
  "one_success",
  "one_failed",
  "one_done",
  "none_failed",
  "none_failed_min_one_success",
  "none_skipped",
  "always",
] as const;
export type TriggerRule = (typeof TRIGGER_RULES)[number];

export type WeightRule = "downstream" | "upstream" | "absolute";

/** cron string | preset | `{ every: "15m" }` | null (manual only). */
export type Schedule = string | { every: Duration } | null;

export interface ParamSpec {
  type?: "string" | "number" | "integer" | "boolean" | "object" | "array";
  default?: unknown;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  description?: string;
}

export interface TaskOptions {
  retries?: number;
  retryDelay?: Duration;
  retryExponentialBackoff?: boolean;
  maxRetryDelay?: Duration;
  /** Per attempt: aborts `ctx.signal`, then kills the runner. */
  timeout?: Duration;
  pool?: string;
  poolSlots?: number;
  priorityWeight?: number;
  weightRule?: WeightRule;
  queue?: string;
  triggerRule?: TriggerRule;
  dependsOnPast?: boolean;
  maxActiveTisPerDag?: number;
  doc?: string;
}

export interface DagSpec<P extends Record<string, ParamSpec> = Record<string, ParamSpec>> {
  /** `[A-Za-z0-9_.-]+`, unique across the DAGs folder. */
  id: string;
  schedule?: Schedule;
  start?: string | Date;
  end?: string | Date;
  catchup?: boolean;
  timezone?: string;
  maxActiveRuns?: number;
  maxActiveTasks?: number;
  params?: P;
  defaults?: TaskOptions;
  tags?: string[];
  owners?: string[];
  description?: string;
  /** Markdown, rendered safely in the UI. */
  doc?: string;
}

export interface TaskLogger {
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
  debug(...args: unknown[]): void;
}

export interface TaskContext {
  dagId: string;
  runId: string;
  taskId: string;
  mapIndex: number;
  tryNumber: number;
  maxTries: number;
  logicalDate: Date | null;
  dataIntervalStart: Date | null;
  dataIntervalEnd: Date | null;
  /** `YYYY-MM-DD` of the logical date (of the run's start when it has none). */
  ds: string;
  params: Record<string, unknown>;
  conf: Record<string, unknown>;
  log: TaskLogger;
  /** Aborted when the attempt times out or is cancelled. */
  signal: AbortSignal;
  xcom: {
    push(key: string, value: unknown): void;
    pull<T = unknown>(taskId: string, key?: string): Promise<T | null>;
  };
  /** Ends this task as `skipped`. */
  skip(reason?: string): never;
  /** Ends this task as `failed`, without retry. */
  fail(reason?: string): never;
}

export type TaskFn<Args extends unknown[], T> = (ctx: TaskContext, ...args: Args) => T | Promise<T>;
