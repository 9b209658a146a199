// Callbacks the worker starts itself (callbacks.ts). A DAG's run callback (onSuccess / onFailure):
// the worker whose report ended the run
// asks one of its runners to run it, bounded in time by the runner's time-out (a hung callback
// costs that runner, not the worker). Its log lines go into the log of the try that ended the run
// — the place a user looks — and the worker's own log; nothing it does changes any state. And a
// task's callback when its runner was lost (a time-out that killed it, a crash) before running it.
import type { Logger } from "pino";
import type { Kysely } from "kysely";
import { ensureBundleFile } from "../engine/dagfile/bundleCache.js";
import { CALLBACK_TIMEOUT_MS } from "../engine/execution/callbacks.js";
import type { TaskRunRequest } from "../engine/execution/context.js";
import type { AttemptResult } from "../engine/execution/runTask.js";
import { appendFinishedTryLogs } from "../engine/store/logs/appendFinishedTryLogs.js";
import type { LogLine } from "../engine/store/logs/appendLogs.js";
import type { Database } from "../engine/store/schema.js";
import type { ClaimedTask } from "../engine/store/tasks/claimTasks.js";
import { getBundle, type LoadedVersion } from "../engine/store/versions.js";
import { pullXcom } from "../engine/store/xcom/pullXcom.js";
import type { RunnerJob, RunnerPool } from "./runnerPool.js";

export interface RunCallbackInput {
  db: Kysely<Database>;
  pool: RunnerPool;
  cacheDir: string;
  workerId: string;
  logger: Logger;
  /** The TI whose report ended the run. */
  task: ClaimedTask;
  version: LoadedVersion;
  state: "success" | "failed";
  mask?: (line: string) => string;
  /** ctx.variables / ctx.connections for the callback (as for its task: engine/execution/taskSecrets.ts). */
  lookup?: RunnerJob["lookup"];
}

export async function runRunCallback(input: RunCallbackInput): Promise<void> {
  const { task, version, state } = input;
  // Only when the DAG has one: otherwise a run's end costs no runner round trip.
  if (!version.structure.callbacks?.includes(state === "success" ? "onSuccess" : "onFailure")) return;
  const lines: LogLine[] = [];
  try {
    const bundleFile = ensureBundleFile(input.cacheDir, version.codeHash, await getBundle(input.db, version.codeHash));
    const outcome = await input.pool.run({
      attempt: `${task.tiId}:${task.tryNumber}:run-callback`,
      bundleFile,
      // The callback bounds itself; the runner is killed a little after, should it not return.
      timeoutMs: CALLBACK_TIMEOUT_MS + 5_000,
      request: { ...requestOf(task), runCallback: state },
      onLog: (l) => lines.push({ ts: l.ts, stream: l.stream, level: l.level, line: `[run ${state} callback] ${input.mask ? input.mask(l.line) : l.line}` }),
      pullXcom: (taskId, key) => pullXcom(input.db, task.runPk, taskId, key),
      lookup: input.lookup,
    });
    if (outcome.result.outcome !== "success") lines.push({ ts: Date.now(), stream: "log", level: "error", line: `[run ${state} callback] ${"error" in outcome.result ? outcome.result.error : "did not finish"}` });
  } catch (err) {
    lines.push({ ts: Date.now(), stream: "log", level: "error", line: `[run ${state} callback] could not run: ${(err as Error).message}` });
  }
  for (const l of lines) if (l.level === "error") input.logger.warn({ dagId: task.dagId, runId: task.runId }, l.line);
  await appendFinishedTryLogs(input.db, { tiId: task.tiId, tryNumber: task.tryNumber, workerId: input.workerId, lines }).catch((err: unknown) =>
    input.logger.warn({ err, ti: task.tiId }, "storing the run callback's log failed"),
  );
}

/** A task's callback for an attempt whose runner was lost (time-out, crash), in a fresh runner. */
export async function runLostAttemptCallback(input: {
  db: Kysely<Database>;
  pool: RunnerPool;
  bundleFile: string;
  task: ClaimedTask;
  result: AttemptResult;
  onLog: (line: LogLine) => void;
}): Promise<void> {
  const { task, result } = input;
  if (result.outcome !== "failed") return;
  const outcome = await input.pool.run({
    attempt: `${task.tiId}:${task.tryNumber}:callback`,
    bundleFile: input.bundleFile,
    timeoutMs: CALLBACK_TIMEOUT_MS + 5_000,
    request: { ...requestOf(task), callbackFor: { outcome: "failed", error: result.error } },
    onLog: (l) => input.onLog({ ts: l.ts, stream: l.stream, level: l.level, line: l.line }),
    pullXcom: (taskId, key) => pullXcom(input.db, task.runPk, taskId, key),
  });
  if (outcome.lost) input.onLog({ ts: Date.now(), stream: "log", level: "error", line: `[updraft] the task's callback did not finish: ${"error" in outcome.result ? outcome.result.error : ""}` });
}

/** What a runner needs of a claimed TI to run its task (or its callbacks): no inputs. */
export function requestOf(task: ClaimedTask): TaskRunRequest {
  return {
    dagId: task.dagId,
    taskId: task.taskId,
    runId: task.runId,
    mapIndex: task.mapIndex,
    tryNumber: task.tryNumber,
    maxTries: task.maxTries,
    logicalDate: task.logicalDate?.toISOString() ?? null,
    dataIntervalStart: task.dataIntervalStart?.toISOString() ?? null,
    dataIntervalEnd: task.dataIntervalEnd?.toISOString() ?? null,
    runStartDate: task.runStartDate?.toISOString() ?? null,
    conf: task.conf ?? {},
    inputs: [],
  };
}
