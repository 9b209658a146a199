// A warm runner: a child process that imports DAG bundles once (by hash) and runs one task at a
// time for its worker. A task that crashes, exits or hangs takes only this process with it.
import { formatArgs, type TaskHost, type TaskRunRequest } from "../engine/execution/context.js";
import { dagsOf, importBundle } from "../engine/dagfile/extractDags.js";
import type { AttemptResult } from "../engine/execution/runTask.js";
import { runWithCallbacks } from "../engine/execution/callbacks.js";
import type { DagDefinition } from "../engine/authoring/index.js";
import type { SecretKind } from "../engine/execution/taskSecrets.js";

export type ToRunner =
  | { type: "run"; attempt: string; bundleFile: string; request: TaskRunRequest }
  | { type: "abort"; attempt: string; reason: string }
  | { type: "xcom"; call: number; value: unknown }
  | { type: "lookup"; call: number; value?: unknown; error?: string };

export type FromRunner =
  | { type: "log"; attempt: string; ts: number; stream: "stdout" | "stderr" | "log"; level: "debug" | "info" | "warn" | "error"; line: string }
  | { type: "pullXcom"; attempt: string; call: number; taskId: string; key: string }
  | { type: "lookup"; attempt: string; call: number; kind: SecretKind; key: string }
  /** ctx.models.production(name); answered with a "lookup" message (value, or error). */
  | { type: "productionModel"; attempt: string; call: number; name: string }
  | { type: "done"; attempt: string; result: AttemptResult; startedAt: number; endedAt: number };

const modules = new Map<string, Promise<DagDefinition[]>>();
const pendingCalls = new Map<number, (value: unknown) => void>();
const pendingLookups = new Map<number, { resolve: (value: unknown) => void; reject: (err: Error) => void }>();
let nextCall = 1;
let current: { attempt: string; controller: AbortController } | null = null;

const send = (msg: FromRunner) => process.send?.(msg);
/** Wall-clock time with sub-millisecond precision, comparable across processes. */
const now = () => performance.timeOrigin + performance.now();

// console.* inside a task goes to that task's log, not to the runner's stdout.
for (const [method, level] of [["log", "info"], ["info", "info"], ["warn", "warn"], ["error", "error"], ["debug", "debug"]] as const) {
  console[method] = (...args: unknown[]) => {
    if (current) send({ type: "log", attempt: current.attempt, ts: Date.now(), stream: method === "error" || method === "warn" ? "stderr" : "stdout", level, line: formatArgs(args) });
  };
}

async function run(msg: Extract<ToRunner, { type: "run" }>): Promise<void> {
  const controller = new AbortController();
  current = { attempt: msg.attempt, controller };
  const host: TaskHost = {
    log: (stream, level, line) => send({ type: "log", attempt: msg.attempt, ts: Date.now(), stream, level, line }),
    pullXcom: (taskId, key) =>
      new Promise((resolve) => {
        const call = nextCall++;
        pendingCalls.set(call, resolve);
        send({ type: "pullXcom", attempt: msg.attempt, call, taskId, key });
      }),
    // Variables and connections come from the worker, which holds the secret key and masks what it hands out.
    lookup: (kind, key) =>
      new Promise((resolve, reject) => {
        const call = nextCall++;
        pendingLookups.set(call, { resolve, reject });
        send({ type: "lookup", attempt: msg.attempt, call, kind, key });
      }),
    productionModel: (name) =>
      new Promise((resolve, reject) => {
        const call = nextCall++;
        pendingLookups.set(call, { resolve: resolve as (value: unknown) => void, reject });
        send({ type: "productionModel", attempt: msg.attempt, call, name });
      }),
  };
  let loaded = modules.get(msg.bundleFile);
  if (!loaded) {
    loaded = importBundle(msg.bundleFile).then(dagsOf);
    modules.set(msg.bundleFile, loaded);
  }
  const startedAt = now();
  let result: AttemptResult;
  try {
    const def = (await loaded).find((d) => d.id === msg.request.dagId);
    result = def
      ? await runWithCallbacks(def, msg.request, host, controller.signal)
      : { outcome: "failed_no_retry", error: `DAG "${msg.request.dagId}" is not defined by its bundle`, xcom: {} };
  } catch (err) {
    modules.delete(msg.bundleFile);
    result = { outcome: "failed", error: `importing the DAG bundle failed: ${(err as Error).stack ?? String(err)}`, xcom: {} };
  }
  const endedAt = now();
  current = null;
  send({ type: "done", attempt: msg.attempt, result, startedAt, endedAt });
}

process.on("message", (msg: ToRunner) => {
  if (msg.type === "run") void run(msg);
  else if (msg.type === "abort" && current?.attempt === msg.attempt) current.controller.abort(new Error(msg.reason));
  else if (msg.type === "xcom") {
    pendingCalls.get(msg.call)?.(msg.value);
    pendingCalls.delete(msg.call);
  } else if (msg.type === "lookup") {
    const pending = pendingLookups.get(msg.call);
    pendingLookups.delete(msg.call);
    if (msg.error !== undefined) pending?.reject(new Error(msg.error));
    else pending?.resolve(msg.value ?? null);
  }
});
// A task's stray rejection fails nothing else; its own awaited errors are caught in runTask.
process.on("unhandledRejection", (err) => {
  if (current) send({ type: "log", attempt: current.attempt, ts: Date.now(), stream: "stderr", level: "error", line: `unhandled rejection: ${String((err as Error)?.stack ?? err)}` });
});
process.on("disconnect", () => process.exit(0));
process.send?.({ type: "ready" });
