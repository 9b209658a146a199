// The worker's pool of warm runner processes (DESIGN §5). One task per runner at a time; a
// runner whose task timed out, crashed or called process.exit is killed and replaced.
import type { ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { forkTs } from "../engine/process/spawnTs.js";
import { builtEntry, forkBuilt } from "../engine/process/forkBuilt.js";
import type { TaskRunRequest } from "../engine/execution/context.js";
import type { AttemptResult } from "../engine/execution/runTask.js";
import type { FromRunner, ToRunner } from "./runnerChild.js";
import type { SecretKind } from "../engine/execution/taskSecrets.js";

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), "runnerChild.ts");

export interface RunnerJob {
  attempt: string;
  bundleFile: string;
  request: TaskRunRequest;
  timeoutMs: number | null;
  onLog(line: Extract<FromRunner, { type: "log" }>): void;
  pullXcom(taskId: string, key: string): Promise<unknown>;
  /** ctx.variables / ctx.connections: the value, null when unknown; a rejection fails the task's call. */
  lookup?(kind: SecretKind, key: string): Promise<unknown>;
  /** ctx.models.production(name): the registry's production version, null when none. */
  productionModel?(name: string): Promise<unknown>;
}

export interface RunnerOutcome {
  result: AttemptResult;
  startedAt: number;
  endedAt: number;
  /** The result was made here, not by the runner (time-out, crash): its callbacks did not run. */
  lost?: boolean;
}

interface Runner {
  child: ChildProcess;
  busy: boolean;
  ready: Promise<void>;
  /** When it last went back to the idle list (Date.now()). */
  idleSince: number;
}

/**
 * An idle runner beyond the warm ones is stopped after this long without a task (the default of
 * UPDRAFT_RUNNER_IDLE_MS). A burst grows the pool to the worker's slots, and each runner keeps the
 * DAG bundles it imported: with the example DAGs an idle `updraft start` held 8 runners of 115–138
 * MB each (memory benchmark, 8 slots) where it warms 2. Minutes, not seconds: a runner started
 * again imports its bundles again (a 10,000-task DAG: 76–133 ms of CPU per runner), so bursts a
 * little apart should find them warm.
 */
export const RUNNER_IDLE_RETIRE_MS = 300_000;

export class RunnerPool {
  private idle: Runner[] = [];
  private all = new Set<Runner>();
  private active = new Map<string, { runner: Runner; abort(reason: string): void }>();

  /**
   * The runner entry bundled into plain JavaScript (forkBuilt.ts), set by warm(): runners then
   * start on plain node, without tsx's loader thread and esbuild process in each of them. Null
   * until then, or when it cannot be built: runners then start through tsx.
   */
  private builtChild: string | null = null;

  /** How many runners stay up however long they idle: the last warm() count. */
  private keep = 0;
  private retireTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly killGraceMs: number,
    private readonly idleRetireMs = RUNNER_IDLE_RETIRE_MS,
  ) {}

  /** Starts `n` runners ahead of time, so the first tasks do not pay for process start; `n` stay up while idle. */
  async warm(n: number): Promise<void> {
    this.keep = n;
    this.builtChild ??= await builtEntry(CHILD);
    const fresh = Array.from({ length: Math.max(0, n - this.all.size) }, () => this.spawn());
    this.idle.push(...fresh);
    await Promise.all(fresh.map((r) => r.ready));
  }

  private spawn(): Runner {
    // JSON over the IPC channel, not "advanced" (V8's serializer): everything a runner is sent or
    // sends back is JSON already (inputs and XComs come from jsonb, a task's return value and pushes
    // go through toJson, metrics are finite numbers, model records are JSON-copied), and the
    // advanced channel cost twice the CPU per message. Measured with 4 runners, 10,000 no-op tasks
    // each way (a RunnerPool alone): advanced 4,536–4,776 tasks/s, 121–124 µs of the worker's CPU
    // and 243–254 µs of the runners' per task; JSON 9,422–11,282 tasks/s, 55–69 and 97–101 µs.
    const child = this.builtChild ? forkBuilt(this.builtChild, { serialization: "json" }) : forkTs(CHILD, { serialization: "json" });
    const runner: Runner = { child, busy: false, ready: Promise.resolve(), idleSince: Date.now() };
    // A runner that prints outside a task (a library at import) must not fill its pipe and block.
    child.stdout?.resume();
    child.stderr?.resume();
    // Ready once the child has loaded its modules and says so, not merely when it was spawned.
    runner.ready = new Promise((resolve) => {
      const onReady = (msg: { type?: string }) => {
        if (msg?.type !== "ready") return;
        child.off("message", onReady);
        resolve();
      };
      child.on("message", onReady);
      child.once("exit", () => resolve());
    });
    child.once("exit", () => {
      this.all.delete(runner);
      this.idle = this.idle.filter((r) => r !== runner);
    });
    this.all.add(runner);
    return runner;
  }

  run(job: RunnerJob): Promise<RunnerOutcome> {
    const runner = this.idle.pop() ?? this.spawn();
    runner.busy = true;
    const { child } = runner;
    return new Promise<RunnerOutcome>((resolve) => {
      let settled = false;
      let killTimer: NodeJS.Timeout | undefined;
      const startedAt = Date.now();
      const finish = (outcome: RunnerOutcome, healthy: boolean) => {
        if (settled) return;
        settled = true;
        clearTimeout(timeoutTimer);
        clearTimeout(killTimer);
        child.off("message", onMessage);
        child.off("exit", onExit);
        this.active.delete(job.attempt);
        runner.busy = false;
        if (healthy && child.connected) this.release(runner);
        else this.destroy(runner);
        resolve(outcome);
      };
      const failed = (error: string): RunnerOutcome => ({ result: { outcome: "failed", error, xcom: {} }, startedAt, endedAt: Date.now(), lost: true });
      const abort = (reason: string) => {
        if (settled) return;
        this.send(runner, { type: "abort", attempt: job.attempt, reason });
        // Give ctx.signal a moment to end the task cleanly, then kill the runner regardless.
        killTimer = setTimeout(() => finish(failed(reason), false), this.killGraceMs);
      };
      const onMessage = (msg: FromRunner) => {
        if (msg.attempt !== job.attempt) return;
        if (msg.type === "log") job.onLog(msg);
        else if (msg.type === "pullXcom") {
          void job.pullXcom(msg.taskId, msg.key).then(
            (value) => this.send(runner, { type: "xcom", call: msg.call, value }),
            () => this.send(runner, { type: "xcom", call: msg.call, value: null }),
          );
        } else if (msg.type === "lookup") {
          const lookup = job.lookup ? job.lookup(msg.kind, msg.key) : Promise.resolve(null);
          void lookup.then(
            (value) => this.send(runner, { type: "lookup", call: msg.call, value }),
            (err: Error) => this.send(runner, { type: "lookup", call: msg.call, error: err?.message ?? String(err) }),
          );
        } else if (msg.type === "productionModel") {
          void (job.productionModel?.(msg.name) ?? Promise.resolve(null)).then(
            (value) => this.send(runner, { type: "lookup", call: msg.call, value }),
            (err: Error) => this.send(runner, { type: "lookup", call: msg.call, error: err?.message ?? String(err) }),
          );
        } else if (msg.type === "done") {
          const timedOut = killTimer !== undefined;
          // Timed out but reported: the runner ran the task's callbacks itself (not `lost`).
          finish(timedOut ? { ...failed(`task timed out after ${job.timeoutMs} ms`), lost: false } : { result: msg.result, startedAt: msg.startedAt, endedAt: msg.endedAt }, !timedOut);
        }
      };
      const onExit = (code: number | null, signal: string | null) =>
        finish(failed(`the task's runner process ended (${signal ? `signal ${signal}` : `exit code ${code}`}) before the task finished`), false);
      const timeoutTimer = job.timeoutMs ? setTimeout(() => abort(`task timed out after ${job.timeoutMs} ms`), job.timeoutMs) : undefined;
      this.active.set(job.attempt, { runner, abort });
      child.on("message", onMessage);
      child.once("exit", onExit);
      this.send(runner, { type: "run", attempt: job.attempt, bundleFile: job.bundleFile, request: job.request });
    });
  }

  /** Back to the idle list; the pool checks for runners idle too long while it has more than it keeps. */
  private release(runner: Runner): void {
    runner.idleSince = Date.now();
    this.idle.push(runner);
    if (this.all.size > this.keep && !this.retireTimer) {
      // Checked at least every second (a timer only while the pool is above what it keeps).
      this.retireTimer = setInterval(() => this.retireIdle(), Math.min(1_000, Math.max(50, this.idleRetireMs / 2)));
      this.retireTimer.unref();
    }
  }

  /** Stops the runners idle for longer than idleRetireMs, least recently used first, down to `keep`. */
  private retireIdle(): void {
    const cutoff = Date.now() - this.idleRetireMs;
    // `idle` is a stack (run() takes the most recently used): its front idled longest.
    while (this.all.size > this.keep && this.idle.length && this.idle[0]!.idleSince <= cutoff) this.destroy(this.idle[0]!);
    if (this.all.size <= this.keep && this.retireTimer) {
      clearInterval(this.retireTimer);
      this.retireTimer = null;
    }
  }

  /** Aborts a running attempt (lost lease, shutdown); the runner is killed after the grace period. */
  abort(attempt: string, reason: string): void {
    this.active.get(attempt)?.abort(reason);
  }

  private send(runner: Runner, msg: ToRunner): void {
    // A runner killed from outside may still look connected until its exit is processed: the write
    // then fails (EPIPE), and without a callback node would emit it as an unhandled 'error' and end
    // the whole process (seen: `pkill` of the runners, then the next task's send). The runner's
    // exit, which follows, fails the attempt as a lost runner.
    if (runner.child.connected) runner.child.send(msg, () => {});
  }

  private destroy(runner: Runner): void {
    this.all.delete(runner);
    this.idle = this.idle.filter((r) => r !== runner);
    runner.child.removeAllListeners("message");
    if (runner.child.exitCode === null && runner.child.signalCode === null) runner.child.kill("SIGKILL");
  }

  get size(): number {
    return this.all.size;
  }

  async close(): Promise<void> {
    if (this.retireTimer) clearInterval(this.retireTimer);
    this.retireTimer = null;
    const exits = [...this.all].map((r) => new Promise<void>((resolve) => {
      if (r.child.exitCode !== null || r.child.signalCode !== null) return resolve();
      r.child.once("exit", () => resolve());
      r.child.kill("SIGKILL");
    }));
    this.idle = [];
    await Promise.all(exits);
    this.all.clear();
  }
}
