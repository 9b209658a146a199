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
  /** `d.map`: the most items a mapped task expands to (default 1024); a longer list fails it. */
  maxMapLength?: number;
  /** After a successful attempt, in the worker's runner. A throw is logged, never changes the state. */
  onSuccess?: TaskCallback;
  /** After the last failed attempt (no retry left, or `ctx.fail()`), with the error. */
  onFailure?: TaskErrorCallback;
  /** After a failed attempt that will be retried, with the error. */
  onRetry?: TaskErrorCallback;
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
  /** Default `maxMapLength` of this DAG's mapped tasks (1024 when unset). */
  maxMapLength?: number;
  /** When a run ends `success`: runs in the runner of the worker that finished its last TI. */
  onSuccess?: DagRunCallback;
  /** When a run ends `failed` (same place, bounded in time, a throw is only logged). */
  onFailure?: DagRunCallback;
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
  /**
   * Variables: UPDRAFT_VAR_<KEY> in the environment, else the stored variable. An unknown key
   * without a default is an error naming it. Values of secret-looking keys are masked in logs.
   */
  variables: {
    get(key: string, defaultValue?: string): Promise<string>;
    /** The value parsed as JSON. */
    getJson<T = unknown>(key: string, defaultValue?: T): Promise<T>;
  };
  /** Connections: UPDRAFT_CONN_<ID> (URI or JSON) in the environment, else the stored one; the password is masked in logs. */
  connections: {
    get(connId: string): Promise<TaskConnection>;
  };
  /** Run metrics, as in an experiment tracker: stored per try when the attempt ends, charted across runs. */
  metrics: {
    /** A finite number; `step` orders several values of one name (epochs, folds). */
    log(name: string, value: number, step?: number): void;
  };
  /** The model registry (`/api/v2/models`). */
  models: {
    /** The version of `name` in production now, or null. */
    production(name: string): Promise<ModelVersionInfo | null>;
    /** Registers a new version of `name` when this attempt succeeds (and promotes it if asked). */
    register(name: string, version: ModelRegistration): void;
  };
  /** Ends this task as `skipped`. */
  skip(reason?: string): never;
  /** Ends this task as `failed`, without retry. */
  fail(reason?: string): never;
}

/** What `ctx.connections.get` returns (Airflow's Connection). */
export interface TaskConnection {
  connId: string;
  connType: string;
  host: string | null;
  port: number | null;
  login: string | null;
  password: string | null;
  schema: string | null;
  extra: Record<string, unknown>;
  /** `postgres://login:password@host:port/schema?extra…` */
  uri: string;
}

/** A registered model version, as `ctx.models.production` and the API give it. */
export interface ModelVersionInfo {
  name: string;
  version: number;
  stage: "none" | "production" | "archived";
  /** The artifact (JSON) in the lake. */
  artifactPath: string;
  featureSchema: Record<string, unknown>;
  metrics: Record<string, unknown>;
  params: Record<string, unknown>;
  source: { dagId: string | null; runId: string | null; taskId: string | null; tryNumber: number | null };
  createdAt: string;
}

/** What `ctx.models.register` records; the version number is assigned when it is stored. */
export interface ModelRegistration {
  artifactPath: string;
  featureSchema?: Record<string, unknown>;
  metrics?: Record<string, unknown>;
  params?: Record<string, unknown>;
  /** Make it the production version (the previous one is archived). */
  promote?: boolean;
}

export type TaskFn<Args extends unknown[], T> = (ctx: TaskContext, ...args: Args) => T | Promise<T>;

/** Task callbacks (`onSuccess`, `onFailure`, `onRetry`): run after the attempt, in its runner. */
export type TaskCallback = (ctx: TaskContext) => void | Promise<void>;
export type TaskErrorCallback = (ctx: TaskContext, error: Error) => void | Promise<void>;

/** What a DAG-level run callback receives. */
export interface DagRunContext {
  dagId: string;
  runId: string;
  /** The run's final state. */
  state: "success" | "failed";
  logicalDate: Date | null;
  dataIntervalStart: Date | null;
  dataIntervalEnd: Date | null;
  ds: string;
  params: Record<string, unknown>;
  conf: Record<string, unknown>;
  log: TaskLogger;
  /** Aborted when the callback runs out of time. */
  signal: AbortSignal;
}
export type DagRunCallback = (ctx: DagRunContext) => void | Promise<void>;
