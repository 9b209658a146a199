// Callbacks (DESIGN §6): a task's onSuccess / onRetry / onFailure run after its attempt, in the
// same runner, and a DAG's onSuccess / onFailure run when a run ends, in the runner of the worker
// that finished its last TI. A callback sees the outcome but never changes it: a throw, a
// rejection or a time-out is written to the log and that is all. Each is bounded in time.
import type { DagDefinition } from "../authoring/index.js";
import type { DagRunContext } from "../authoring/types.js";
import { buildContext, formatArgs, type LogLevel, type TaskHost, type TaskRunRequest } from "./context.js";
import { paramsFor, runTask, type AttemptResult } from "./runTask.js";

/** How long one callback may take before it is abandoned (and logged as timed out). */
export const CALLBACK_TIMEOUT_MS = 30_000;

/** Which run callback a runner is asked for instead of a task (worker → runner). */
export type RunCallbackState = "success" | "failed";

/**
 * What a runner does with one request: a DAG's run callback; a mapped task's placeholder that
 * cannot expand (failed with the reason); or the attempt — then the task's callback for its outcome.
 */
export async function runWithCallbacks(def: DagDefinition, req: TaskRunRequest, host: TaskHost, signal: AbortSignal, timeoutMs = CALLBACK_TIMEOUT_MS): Promise<AttemptResult> {
  if (req.runCallback) {
    await runDagCallback(def, req, req.runCallback, host, timeoutMs);
    return { outcome: "success", xcom: {} };
  }
  if (req.callbackFor) {
    await runTaskCallback(def, req, { ...req.callbackFor, xcom: {} }, host, timeoutMs);
    return { outcome: "success", xcom: {} };
  }
  const result: AttemptResult = req.mapError ? { outcome: "failed_no_retry", error: req.mapError, xcom: {} } : await runTask(def, req, host, signal);
  await runTaskCallback(def, req, result, host, timeoutMs);
  return result;
}

/** The callback an attempt's outcome calls for: a failure with tries left is a retry (finishTask's rule). */
export function callbackFor(result: AttemptResult, req: Pick<TaskRunRequest, "tryNumber" | "maxTries">, lastTry = false): "onSuccess" | "onRetry" | "onFailure" | null {
  if (result.outcome === "success") return "onSuccess";
  if (result.outcome === "failed") return req.tryNumber <= req.maxTries && !lastTry ? "onRetry" : "onFailure";
  if (result.outcome === "failed_no_retry") return "onFailure";
  return null;
}

/** `lastTry`: no retry follows whatever the task's retries (`updraft dags test` runs each task once). */
export async function runTaskCallback(def: DagDefinition, req: TaskRunRequest, result: AttemptResult, host: TaskHost, timeoutMs = CALLBACK_TIMEOUT_MS, lastTry = false): Promise<void> {
  const name = callbackFor(result, req, lastTry);
  const fn = name ? def.tasks.get(req.taskId)?.options[name] : undefined;
  if (!name || typeof fn !== "function") return;
  const error = "error" in result ? toError(result.error) : null;
  await bounded(`${name} callback`, host, timeoutMs, (signal) => {
    // Its own ctx: what a callback pushes is not the task's XCom.
    const ctx = buildContext(req, paramsFor(def, req.conf), host, signal, {});
    return name === "onSuccess" ? (fn as (c: typeof ctx) => unknown)(ctx) : (fn as (c: typeof ctx, e: Error) => unknown)(ctx, error!);
  });
}

export async function runDagCallback(def: DagDefinition, req: TaskRunRequest, state: RunCallbackState, host: TaskHost, timeoutMs = CALLBACK_TIMEOUT_MS): Promise<void> {
  const fn = state === "success" ? def.spec.onSuccess : def.spec.onFailure;
  if (typeof fn !== "function") return;
  await bounded(`DAG ${state === "success" ? "onSuccess" : "onFailure"} callback`, host, timeoutMs, (signal) => {
    const base = buildContext(req, paramsFor(def, req.conf), host, signal, {});
    const ctx: DagRunContext = {
      dagId: def.id,
      runId: req.runId,
      state,
      logicalDate: base.logicalDate,
      dataIntervalStart: base.dataIntervalStart,
      dataIntervalEnd: base.dataIntervalEnd,
      ds: base.ds,
      params: base.params,
      conf: base.conf,
      log: base.log,
      signal,
    };
    return fn(ctx);
  });
}

/** Runs `call` with a time limit; whatever goes wrong is logged as `what`, never thrown. */
async function bounded(what: string, host: TaskHost, timeoutMs: number, call: (signal: AbortSignal) => unknown): Promise<void> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const log = (level: LogLevel, line: string) => host.log("log", level, line);
  try {
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const err = new Error(`${what} timed out after ${timeoutMs} ms`);
        controller.abort(err);
        reject(err);
      }, timeoutMs);
    });
    await Promise.race([Promise.resolve().then(() => call(controller.signal)), timedOut]);
  } catch (err) {
    log("error", `${what} failed (the task's state is unchanged): ${formatArgs([err])}`);
  } finally {
    clearTimeout(timer);
  }
}

/** The attempt's error (a message or a stack) as an Error for the callback. */
function toError(text: string): Error {
  const firstLine = text.split("\n")[0] ?? text;
  const err = new Error(firstLine.replace(/^[A-Za-z]*Error: /, ""));
  if (text.includes("\n    at ")) err.stack = text;
  return err;
}
