// The worker: claims queued TIs (woken by NOTIFY, polling as a fallback), runs each in a warm
// runner, ships its logs, heartbeats, and reports the end through finishTask — taking the
// downstream it made ready straight back into the freed slot (DESIGN §3).
import os from "node:os";
import { randomUUID } from "node:crypto";
import path from "node:path";
import type { Logger } from "pino";
import type { Store } from "../engine/store/db.js";
import { CHANNELS } from "../engine/store/channels.js";
import { claimTasks, type ClaimedTask } from "../engine/store/tasks/claimTasks.js";
import { releaseRestartedTask } from "../engine/store/tasks/clearTaskInstances.js";
import { finishTask } from "../engine/store/tasks/finishTask.js";
import { withDbRetry } from "../engine/store/sqlstate.js";
import { handBackTask } from "../engine/store/tasks/handBackTask.js";
import { heartbeatTasks } from "../engine/store/tasks/heartbeatTasks.js";
import { appendLogs, type LogLine } from "../engine/store/logs/appendLogs.js";
import { getBundle, getVersion } from "../engine/store/versions.js";
import { pullInputs, pullXcom } from "../engine/store/xcom/pullXcom.js";
import { ensureBundleFile } from "../engine/dagfile/bundleCache.js";
import { retryDelayMs } from "../engine/semantics/retry.js";
import { registerWorker, unregisterWorker } from "../engine/store/workers.js";
import { RunnerPool } from "./runnerPool.js";

export interface WorkerOptions {
  workerId?: string;
  queues: string[];
  slots: number;
  cacheDir: string;
  heartbeatIntervalMs: number;
  pollIntervalMs: number;
  killGraceMs: number;
  logger: Logger;
}

/** Log lines are shipped in batches at this period while a task runs. */
const LOG_FLUSH_MS = 200;

interface Running {
  task: ClaimedTask;
  attempt: string;
  logs: LogLine[];
}

export class Worker {
  readonly workerId: string;
  private readonly hostname = os.hostname();
  private readonly pool: RunnerPool;
  private readonly running = new Map<string, Running>();
  private claiming = false;
  private wakeAgain = false;
  /** Queued TIs may be waiting that no claim has looked for yet (see wake). */
  private backlog = true;
  private stopped = false;
  private timers: NodeJS.Timeout[] = [];
  private unlisten: (() => Promise<void>) | null = null;
  private idleWaiters: (() => void)[] = [];
  /** TIs given back to the queue by stop(): their attempts' reports are dropped. */
  private readonly handedBack = new Set<string>();

  constructor(
    private readonly store: Store,
    private readonly options: WorkerOptions,
  ) {
    this.workerId = options.workerId ?? `${this.hostname}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.pool = new RunnerPool(options.killGraceMs);
  }

  async start(): Promise<void> {
    await this.pool.warm(Math.min(this.options.slots, 2));
    this.unlisten = await this.store.listen(CHANNELS.tiQueued, (queue) => {
      if (!queue || this.options.queues.includes(queue)) this.wake();
    });
    // Registered last: a row in `workers` means this worker is ready to take tasks.
    await registerWorker(this.store.db, { workerId: this.workerId, hostname: this.hostname, pid: process.pid, queues: this.options.queues, slots: this.options.slots });
    this.timers.push(setInterval(() => this.wake(), this.options.pollIntervalMs));
    this.timers.push(setInterval(() => void this.heartbeat(), this.options.heartbeatIntervalMs));
    this.timers.push(setInterval(() => void this.flushLogs(), LOG_FLUSH_MS));
    this.options.logger.info({ workerId: this.workerId, queues: this.options.queues, slots: this.options.slots }, "worker started");
    this.wake();
  }

  private get free(): number {
    return this.options.slots - this.running.size;
  }

  /**
   * Claims as many TIs as there are free slots. Re-entrant calls fold into one more round. A
   * wake-up that finds every slot busy, or a claim that fills them all, leaves `backlog` set: the
   * next freed slot claims again. Otherwise a finished task does not query for more — its own
   * downstream came back with finishTask, and anything queued since arrives as a NOTIFY (or, if
   * that was lost, by the poll) — so a hand-off costs no extra claim round trip.
   */
  wake(): void {
    if (this.stopped) return;
    if (this.claiming) {
      this.wakeAgain = true;
      return;
    }
    if (this.free <= 0) {
      this.backlog = true;
      return;
    }
    this.claiming = true;
    void (async () => {
      try {
        do {
          this.wakeAgain = false;
          this.backlog = false;
          const limit = this.free;
          const claimed = await claimTasks(this.store.db, { workerId: this.workerId, hostname: this.hostname, queues: this.options.queues, limit });
          for (const task of claimed) this.execute(task);
          // As many as asked: more may be waiting — claim again now if a slot freed meanwhile,
          // else when one does. (Fewer means the queue was drained: claiming again at once would
          // only cost a round trip.)
          if (claimed.length >= limit) {
            this.backlog = true;
            if (this.free > 0) this.wakeAgain = true;
          }
        } while (this.wakeAgain && this.free > 0 && !this.stopped);
        if (this.wakeAgain) this.backlog = true;
      } catch (err) {
        this.backlog = true;
        this.options.logger.warn({ err }, "claiming tasks failed; retrying on the next wake-up");
      } finally {
        this.claiming = false;
      }
    })();
  }

  /** A slot was freed: claim again only if a wake-up could not be served while slots were full. */
  private slotFreed(): void {
    if (this.backlog) this.wake();
  }

  private execute(task: ClaimedTask): void {
    const attempt = `${task.tiId}:${task.tryNumber}`;
    const entry: Running = { task, attempt, logs: [] };
    this.running.set(task.tiId, entry);
    void this.runAttempt(entry).then(
      (next) => {
        this.running.delete(task.tiId);
        for (const t of next) this.execute(t);
        this.slotFreed();
        this.notifyIdle();
      },
      (err) => {
        this.running.delete(task.tiId);
        this.options.logger.error({ err, ti: task.tiId }, "reporting a task's end failed; the reaper will retry it");
        this.slotFreed();
        this.notifyIdle();
      },
    );
  }

  private async runAttempt(entry: Running): Promise<ClaimedTask[]> {
    const { task } = entry;
    const db = this.store.db;
    const version = await getVersion(db, task.versionId);
    const def = version.tasks.get(task.taskId);
    let outcome;
    if (!def) {
      outcome = { result: { outcome: "failed_no_retry" as const, error: `task ${task.taskId} is not in version ${version.versionNumber} of ${task.dagId}`, xcom: {} } };
    } else {
      const bundleFile = ensureBundleFile(this.options.cacheDir, version.codeHash, await getBundle(db, version.codeHash));
      const inputs = await pullInputs(db, task.runPk, def.inputs);
      outcome = await this.pool.run({
        attempt: entry.attempt,
        bundleFile,
        timeoutMs: def.timeoutMs,
        request: {
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
          inputs: def.inputs.map((id) => inputs.get(id) ?? null),
        },
        onLog: (l) => entry.logs.push({ ts: l.ts, stream: l.stream, level: l.level, line: l.line }),
        pullXcom: (taskId, key) => pullXcom(db, task.runPk, taskId, key),
      });
    }
    // Handed back at shutdown: the queue has it again; this attempt reports nothing.
    if (this.handedBack.has(task.tiId)) return [];
    const { result } = outcome;
    if (result.outcome === "failed" || result.outcome === "failed_no_retry") {
      entry.logs.push({ ts: Date.now(), stream: "log", level: "error", line: `[updraft] task failed: ${result.error}` });
    } else if (result.outcome === "skipped") {
      entry.logs.push({ ts: Date.now(), stream: "log", level: "info", line: `[updraft] task skipped: ${result.reason}` });
    }
    const logs = entry.logs.splice(0);
    // A deadlock or a dropped connection must not strand the TI in `running` until the reaper
    // fails it: the report is one transaction, safe to run again.
    const finished = await withDbRetry(() => finishTask(db, {
      tiId: task.tiId,
      tryNumber: task.tryNumber,
      workerId: this.workerId,
      outcome: result.outcome,
      error: "error" in result ? result.error : null,
      retryDelayMs: def ? retryDelayMs({ retryDelayMs: def.retryDelayMs, exponential: def.retryExponentialBackoff, maxRetryDelayMs: def.maxRetryDelayMs, tryNumber: task.tryNumber, seed: task.tiId }) : 0,
      xcom: result.xcom,
      logs,
      // This slot is free again: take a downstream it just made ready, without another round trip.
      claim: this.stopped ? undefined : { workerId: this.workerId, hostname: this.hostname, queues: this.options.queues, limit: 1 },
      known: { taskId: task.taskId, versionId: task.versionId },
      skipDownstream: result.outcome === "success" ? result.skipDownstream : undefined,
    }));
    if (!finished.accepted) {
      this.options.logger.warn({ ti: task.tiId, try: task.tryNumber }, "task finished after losing its lease; its result was dropped");
      // Cleared while running (restarting): now that this attempt is over, it may run again.
      await db.transaction().execute((tx) => releaseRestartedTask(tx, { tiId: task.tiId, tryNumber: task.tryNumber, workerId: this.workerId }));
    }
    return finished.claimed;
  }

  private async flushLogs(): Promise<void> {
    for (const entry of this.running.values()) {
      if (!entry.logs.length) continue;
      const lines = entry.logs.splice(0);
      await appendLogs(this.store.db, { tiId: entry.task.tiId, tryNumber: entry.task.tryNumber, workerId: this.workerId, lines }).catch(() => {
        entry.logs.unshift(...lines);
      });
    }
  }

  private async heartbeat(): Promise<void> {
    const ids = [...this.running.keys()];
    try {
      const alive = await heartbeatTasks(this.store.db, { workerId: this.workerId, tiIds: ids });
      for (const id of ids) {
        const entry = this.running.get(id);
        // Not ours any more (reaped or cleared): stop it; its late result will be fenced off anyway.
        if (entry && !alive.has(id)) this.pool.abort(entry.attempt, "the task instance is no longer owned by this worker");
      }
    } catch (err) {
      this.options.logger.warn({ err }, "heartbeat failed");
    }
  }

  private notifyIdle(): void {
    if (this.running.size === 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  /** Stops claiming, lets running tasks finish (up to `graceMs`), then shuts the runners down. */
  async stop(graceMs = 10_000): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    await this.unlisten?.();
    if (this.running.size) {
      await Promise.race([new Promise<void>((r) => this.idleWaiters.push(r)), new Promise((r) => setTimeout(r, graceMs).unref())]);
    }
    // What did not finish in time goes back to the queue, its try not consumed, before its
    // runner is killed; its report, if it still comes, is dropped.
    for (const entry of this.running.values()) {
      this.handedBack.add(entry.task.tiId);
      await handBackTask(this.store.db, { tiId: entry.task.tiId, tryNumber: entry.task.tryNumber, workerId: this.workerId }).catch((err) =>
        this.options.logger.warn({ err, ti: entry.task.tiId }, "handing a task back failed; the reaper will retry it"),
      );
    }
    await this.pool.close();
    await unregisterWorker(this.store.db, this.workerId).catch(() => {});
  }
}

/** Where a worker keeps bundle files by default. */
export function defaultCacheDir(home: string): string {
  return path.join(home, "cache", "bundles");
}
