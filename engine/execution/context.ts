// Building the `ctx` a task function receives (DESIGN §6), the same in a worker's runner and in
// `updraft dags test`.
import type { TaskContext } from "../authoring/types.js";
import { environmentResolver, taskSecrets, type SecretResolver } from "./taskSecrets.js";
import { newTaskRecords, taskRecordsApi, type ProductionModelLookup, type TaskRecords } from "./taskRecords.js";

export interface TaskRunRequest {
  dagId: string;
  taskId: string;
  runId: string;
  mapIndex: number;
  tryNumber: number;
  maxTries: number;
  logicalDate: string | null;
  dataIntervalStart: string | null;
  dataIntervalEnd: string | null;
  runStartDate: string | null;
  conf: Record<string, unknown>;
  /** Return values of the task's inputs, in declaration order. */
  inputs: unknown[];
  /** A mapped task's placeholder whose source cannot be expanded: the attempt fails with this (taskInputs.ts). */
  mapError?: string;
  /** Not a task: run the DAG's run callback for a run that ended in this state (callbacks.ts). */
  runCallback?: "success" | "failed";
  /** Not a task: run the task's callback for this outcome of an attempt whose runner was lost (callbacks.ts). */
  callbackFor?: { outcome: "failed"; error: string };
  /** A sensor's first poke (ISO), from which its timeout runs (runSensor.ts); unset: now. */
  sensorStartedAt?: string | null;
}

export type LogLevel = "debug" | "info" | "warn" | "error";

/** What a running task may ask of the process hosting it. */
export interface TaskHost {
  log(stream: "stdout" | "stderr" | "log", level: LogLevel, line: string): void;
  pullXcom(taskId: string, key: string): Promise<unknown>;
  /** Variables and connections by name (taskSecrets.ts); unset: the environment only. */
  lookup?: SecretResolver;
  /** `ctx.models.production(name)` (taskRecords.ts); unset: there is no registry (null). */
  productionModel?: ProductionModelLookup;
}

export class TaskSkipped extends Error {}
export class TaskFailedNoRetry extends Error {}

export function formatArgs(args: unknown[]): string {
  return args.map((a) => (typeof a === "string" ? a : a instanceof Error ? (a.stack ?? a.message) : safeJson(a))).join(" ");
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

const date = (iso: string | null) => (iso ? new Date(iso) : null);

export function buildContext(
  req: TaskRunRequest,
  params: Record<string, unknown>,
  host: TaskHost,
  signal: AbortSignal,
  pushed: Record<string, unknown>,
  /** ctx.metrics / ctx.models calls of this attempt, carried back with its result. */
  records: TaskRecords = newTaskRecords(),
): TaskContext {
  const logicalDate = date(req.logicalDate);
  const dsSource = logicalDate ?? date(req.runStartDate) ?? new Date();
  const log = (level: LogLevel) => (...args: unknown[]) => host.log("log", level, formatArgs(args));
  return {
    dagId: req.dagId,
    runId: req.runId,
    taskId: req.taskId,
    mapIndex: req.mapIndex,
    tryNumber: req.tryNumber,
    maxTries: req.maxTries,
    logicalDate,
    dataIntervalStart: date(req.dataIntervalStart),
    dataIntervalEnd: date(req.dataIntervalEnd),
    ds: dsSource.toISOString().slice(0, 10),
    params,
    conf: req.conf,
    log: { debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") },
    signal,
    xcom: {
      push(key, value) {
        if (key === "return_value") throw new Error(`xcom key "return_value" is reserved for the task's return value`);
        pushed[key] = toJson(value, `xcom "${key}"`);
      },
      pull: async <T>(taskId: string, key = "return_value") => (await host.pullXcom(taskId, key)) as T | null,
    },
    ...taskSecrets(host.lookup ?? environmentResolver),
    ...taskRecordsApi(records, host.productionModel),
    skip(reason) {
      throw new TaskSkipped(reason ?? "skipped by the task");
    },
    fail(reason) {
      throw new TaskFailedNoRetry(reason ?? "failed by the task");
    },
  };
}

/** XCom values are JSON: `undefined` becomes null, anything else unserialisable is an error. */
export function toJson(value: unknown, what: string): unknown {
  if (value === undefined) return null;
  try {
    return JSON.parse(JSON.stringify(value)) as unknown;
  } catch (err) {
    throw new Error(`${what} is not JSON-serialisable: ${(err as Error).message}`);
  }
}
