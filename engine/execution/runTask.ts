// Runs one attempt of one task of a loaded DAG definition, and says how it ended. Used by the
// worker's runner child and by `updraft dags test`; knows nothing about the database.
import { checkHttpUrl, httpGuardFromEnv } from "./httpGuard.js";
import { spawn } from "node:child_process";
import type { DagDefinition, TaskDefinition } from "../authoring/index.js";
import { buildContext, TaskFailedNoRetry, TaskSkipped, toJson, type TaskHost, type TaskRunRequest } from "./context.js";
import type { TaskContext } from "../authoring/types.js";
import { runSql } from "./runSql.js";
import { runSensor, SensorReschedule } from "./runSensor.js";
import { isEmptyRecords, newTaskRecords, type TaskRecords } from "./taskRecords.js";

/** records: the attempt's ctx.metrics / ctx.models calls (taskRecords.ts), when it made any. */
export type AttemptResult = { records?: TaskRecords } & (
  /** skipDownstream: the tasks a branch or short-circuit decided to skip (the store skips them). */
  | { outcome: "success"; xcom: Record<string, unknown>; skipDownstream?: string[] }
  | { outcome: "skipped"; reason: string; xcom: Record<string, unknown> }
  | { outcome: "failed" | "failed_no_retry"; error: string; xcom: Record<string, unknown> }
  /** A reschedule-mode sensor whose condition is not met yet: poke again at `rescheduleAt` (ms). */
  | { outcome: "up_for_reschedule"; rescheduleAt: number; xcom: Record<string, unknown> }
);

/** Airflow's BashOperator skips on this exit code. */
export const SHELL_SKIP_EXIT_CODE = 99;

export function paramsFor(def: DagDefinition, conf: Record<string, unknown>): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(def.spec.params ?? {})) if (spec.default !== undefined) params[name] = spec.default;
  return { ...params, ...conf };
}

export async function runTask(def: DagDefinition, req: TaskRunRequest, host: TaskHost, signal: AbortSignal): Promise<AttemptResult> {
  const records = newTaskRecords();
  const result = await runAttempt(def, req, host, signal, records);
  return isEmptyRecords(records) ? result : { ...result, records };
}

async function runAttempt(def: DagDefinition, req: TaskRunRequest, host: TaskHost, signal: AbortSignal, records: TaskRecords): Promise<AttemptResult> {
  const task = def.tasks.get(req.taskId);
  const xcom: Record<string, unknown> = {};
  if (!task) return { outcome: "failed_no_retry", error: `task "${req.taskId}" is not in DAG "${def.id}" of this version`, xcom };
  const ctx = buildContext(req, paramsFor(def, req.conf), host, signal, xcom, records);
  try {
    const value =
      task.kind === "shell" ? await runShell(task, ctx, host, signal) : task.kind === "http" ? await runHttp(task, ctx, host, signal) : task.kind === "sql" ? await runSql(task, ctx, host, signal) : task.kind === "sensor" ? await runSensor(task, ctx, host, signal, req.sensorStartedAt) : await task.fn!(ctx, ...req.inputs);
    if (signal.aborted) throw signal.reason ?? new Error("aborted");
    if (task.kind === "branch") {
      const followed = branchDecision(def, task, value);
      xcom.return_value = followed;
      const skipDownstream = directDownstream(def, task.id).filter((id) => !followed.includes(id));
      host.log("log", "info", `following ${followed.length ? followed.join(", ") : "no task"}; skipping ${skipDownstream.length ? skipDownstream.join(", ") : "no task"}`);
      return { outcome: "success", xcom, skipDownstream };
    }
    xcom.return_value = toJson(value, "the task's return value");
    if (task.kind === "short_circuit" && !value) {
      // Airflow's default ignore_downstream_trigger_rules=True: everything downstream is skipped.
      const skipDownstream = allDownstream(def, task.id);
      host.log("log", "info", `condition is falsy: skipping ${skipDownstream.length ? skipDownstream.join(", ") : "no task"}`);
      return { outcome: "success", xcom, skipDownstream };
    }
    return { outcome: "success", xcom };
  } catch (err) {
    if (err instanceof TaskSkipped) return { outcome: "skipped", reason: err.message, xcom };
    if (err instanceof SensorReschedule) return { outcome: "up_for_reschedule", rescheduleAt: err.at, xcom };
    const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
    if (err instanceof TaskFailedNoRetry) return { outcome: "failed_no_retry", error: err.message, xcom };
    return { outcome: "failed", error: message, xcom };
  }
}

function directDownstream(def: DagDefinition, taskId: string): string[] {
  return [...def.tasks.values()].filter((t) => t.upstream.has(taskId)).map((t) => t.id).sort();
}

function allDownstream(def: DagDefinition, taskId: string): string[] {
  const found = new Set<string>();
  const stack = [taskId];
  while (stack.length) {
    for (const id of directDownstream(def, stack.pop()!)) {
      if (!found.has(id)) {
        found.add(id);
        stack.push(id);
      }
    }
  }
  return [...found].sort();
}

/** The branch's return value as task ids; each must be a direct downstream task (else it fails). */
function branchDecision(def: DagDefinition, task: TaskDefinition, value: unknown): string[] {
  const ids = value === null || value === undefined ? [] : Array.isArray(value) ? value : [value];
  if (!ids.every((id): id is string => typeof id === "string")) {
    throw new Error(`branch "${task.id}" must return a task id or a list of task ids, got ${JSON.stringify(value)}`);
  }
  const direct = directDownstream(def, task.id);
  const invalid = ids.filter((id) => !direct.includes(id));
  if (invalid.length) {
    throw new Error(
      `branch "${task.id}" returned ${invalid.map((id) => `"${id}"`).join(", ")}, which ${invalid.length === 1 ? "is not a direct downstream task" : "are not direct downstream tasks"} of it (direct downstream: ${direct.join(", ") || "none"})`,
    );
  }
  return [...new Set(ids)];
}

/** `d.http`: fetch, bounded by the task's signal; JSON (or text) is the value. */
async function runHttp(task: TaskDefinition, ctx: TaskContext, host: TaskHost, signal: AbortSignal): Promise<unknown> {
  const spec = typeof task.http === "function" ? task.http(ctx) : task.http!;
  const method = (spec.method ?? "GET").toUpperCase();
  const headers: Record<string, string> = { ...spec.headers };
  let body: string | undefined;
  if (spec.body !== undefined && spec.body !== null) {
    if (typeof spec.body === "string") body = spec.body;
    else {
      body = JSON.stringify(spec.body);
      if (!Object.keys(headers).some((h) => h.toLowerCase() === "content-type")) headers["content-type"] = "application/json";
    }
  }
  const guard = httpGuardFromEnv();
  await checkHttpUrl(spec.url, guard);
  host.log("log", "info", `${method} ${spec.url}`);
  // With the guard on, a redirect is an error: it could lead to an address the guard refuses.
  const response = await fetch(spec.url, { method, headers, body, signal, redirect: guard.enabled ? "error" : "follow" });
  const text = await response.text();
  const expected = spec.expectStatus === undefined ? null : [spec.expectStatus].flat();
  const ok = expected ? expected.includes(response.status) : response.status >= 200 && response.status < 300;
  host.log("log", "info", `${method} ${spec.url} → ${response.status}`);
  if (!ok) {
    throw new Error(`${method} ${spec.url} answered ${response.status}${expected ? ` (expected ${expected.join(" or ")})` : ""}: ${text.slice(0, 500)}`);
  }
  if (!text) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** bash in its own process group, so a timeout kills everything it started. */
function runShell(task: TaskDefinition, ctx: TaskContext, host: TaskHost, signal: AbortSignal): Promise<string> {
  const command = typeof task.command === "function" ? task.command(ctx) : String(task.command);
  host.log("log", "info", `running: ${command}`);
  return new Promise((resolve, reject) => {
    const child = spawn("bash", ["-c", command], {
      detached: true,
      cwd: task.shell?.cwd,
      env: {
        ...process.env,
        ...task.shell?.env,
        UPDRAFT_DAG_ID: ctx.dagId,
        UPDRAFT_TASK_ID: ctx.taskId,
        UPDRAFT_RUN_ID: ctx.runId,
        UPDRAFT_TRY_NUMBER: String(ctx.tryNumber),
        UPDRAFT_DS: ctx.ds,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let last = "";
    const lines = (stream: "stdout" | "stderr") => {
      let buffer = "";
      return (chunk: Buffer) => {
        buffer += chunk.toString("utf8");
        const parts = buffer.split("\n");
        buffer = parts.pop() ?? "";
        for (const line of parts) {
          host.log(stream, stream === "stderr" ? "warn" : "info", line);
          if (stream === "stdout" && line.trim()) last = line;
        }
      };
    };
    child.stdout.on("data", lines("stdout"));
    child.stderr.on("data", lines("stderr"));
    const killGroup = (sig: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, sig);
      } catch {
        /* already gone */
      }
    };
    const onAbort = () => {
      killGroup("SIGTERM");
      setTimeout(() => killGroup("SIGKILL"), 2000).unref();
    };
    signal.addEventListener("abort", onAbort, { once: true });
    child.on("error", reject);
    child.on("close", (code, sig) => {
      signal.removeEventListener("abort", onAbort);
      if (code === 0) resolve(last);
      else if (code === SHELL_SKIP_EXIT_CODE) reject(new TaskSkipped(`command exited with code ${SHELL_SKIP_EXIT_CODE}`));
      else reject(new Error(sig ? `command killed by ${sig}` : `command exited with code ${code}`));
    });
  });
}
