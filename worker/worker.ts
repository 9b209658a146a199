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
import type { FinishInput } from "../engine/store/tasks/finishTask.js";
import { markSensorStarted, rescheduleTask } from "../engine/store/tasks/rescheduleTask.js";
import { withDbRetry } from "../engine/store/sqlstate.js";
import { handBackTask } from "../engine/store/tasks/handBackTask.js";
import { findOrphanedClaims } from "../engine/store/tasks/findOrphanedClaims.js";
import { heartbeatTasks } from "../engine/store/tasks/heartbeatTasks.js";
import { appendLogs, type LogLine } from "../engine/store/logs/appendLogs.js";
import { getBundle, getVersion } from "../engine/store/versions.js";
import { pullXcom } from "../engine/store/xcom/pullXcom.js";
import { taskInputs } from "../engine/store/xcom/taskInputs.js";
import { ensureBundleFile } from "../engine/dagfile/bundleCache.js";
import { retryDelayMs } from "../engine/semantics/retry.js";
import { registerWorker, unregisterWorker } from "../engine/store/workers.js";
import { RunnerPool } from "./runnerPool.js";
import { EndReporter } from "./endReporter.js";
import { requestOf, runLostAttemptCallback, runRunCallback } from "./runCallback.js";
import { recordTaskRecords } from "../engine/store/metrics/recordTaskRecords.js";
import { getProductionVersion } from "../engine/store/models/readModels.js";
import { isEmptyRecords } from "../engine/execution/taskRecords.js";
import { WorkerSecrets, type AttemptSecrets } from "./attemptSecrets.js";
import { flushTracing, recordTaskTry } from "../engine/observability/tracing.js";

export interface WorkerOptions {
  workerId?: string;
  queues: string[];
  slots: number;
  cacheDir: string;
  heartbeatIntervalMs: number;
  pollIntervalMs: number;
  killGraceMs: number;
  /** Idle runners beyond the warm ones stop after this long without a task; unset: RUNNER_IDLE_RETIRE_MS. */
  runnerIdleMs?: number;
  logger: Logger;
  /** Decrypts stored variables and connections for ctx.variables / ctx.connections; unset: they cannot be read. */
  secretKey?: string;
}

/** Log lines are shipped in batches at this period while a task runs. */
const LOG_FLUSH_MS = 200;

/**
 * How a task's start and end reach the database when it is down: retried with jittered backoff
 * for up to 5 minutes (a PostgreSQL restart takes seconds), while the task itself keeps running in
 * its runner. A report that comes after the reaper took the TI is fenced off anyway.
 */
const OUTAGE_RETRY = { forMs: 300_000, maxMs: 2_000 };

interface Running {
  task: ClaimedTask;
  attempt: string;
  logs: LogLine[];
  secrets: AttemptSecrets;
}

export class Worker {
  readonly workerId: string;
  private readonly hostname = os.hostname();
  private readonly pool: RunnerPool;
  private readonly secrets: WorkerSecrets;
  private readonly running = new Map<string, Running>();
  private claiming = false;
  /** The claim round in flight, if any (stop() waits for it). */
  private claimLoop: Promise<void> = Promise.resolve();
  private wakeAgain = false;
  /** Queued TIs may be waiting that no claim has looked for yet (see wake). */
  private backlog = true;
  private stopped = false;
  private timers: NodeJS.Timeout[] = [];
  private unlisten: (() => Promise<void>) | null = null;
  private idleWaiters: (() => void)[] = [];
  /** TIs given back to the queue by stop(): their attempts' reports are dropped. */
  private readonly handedBack = new Set<string>();
  /** Reports the ends (endReporter.ts: under load, the ends of one run together). */
  private readonly ends: EndReporter;

  constructor(
    private readonly store: Store,
    private readonly options: WorkerOptions,
  ) {
    this.workerId = options.workerId ?? `${this.hostname}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.pool = new RunnerPool(options.killGraceMs, options.runnerIdleMs);
    this.secrets = new WorkerSecrets(store.db, options.secretKey);
    this.ends = new EndReporter(store.db, { workerId: this.workerId, hostname: this.hostname, queues: options.queues }, OUTAGE_RETRY, (runPk) => {
      let n = 0;
      for (const r of this.running.values()) if (r.task.runPk === runPk) n++;
      return n;
    });
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
    this.claimLoop = (async () => {
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
    const entry: Running = { task, attempt, logs: [], secrets: this.secrets.forAttempt() };
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
    const startedAt = new Date();
    const db = this.store.db;
    const version = await withDbRetry(() => getVersion(db, task.versionId), OUTAGE_RETRY);
    const def = version.tasks.get(task.taskId);
    let outcome;
    if (!def) {
      outcome = { result: { outcome: "failed_no_retry" as const, error: `task ${task.taskId} is not in version ${version.versionNumber} of ${task.dagId}`, xcom: {} } };
    } else if (task.poolMissing) {
      // Airflow leaves such a TI scheduled forever, with a warning only in the scheduler's log; here
      // it fails, without retry, and says why in its own log.
      outcome = { result: { outcome: "failed_no_retry" as const, error: `pool '${task.pool}' does not exist`, xcom: {} } };
    } else {
      const bundleFile = ensureBundleFile(this.options.cacheDir, version.codeHash, await withDbRetry(() => getBundle(db, version.codeHash), OUTAGE_RETRY));
      // A mapped TI gets its item; a mapped input arrives as the list of its results.
      const { inputs, mapError } = await taskInputs(db, version, task.runPk, task.mapIndex, def, task.upstreamXcom);
      // A sensor's timeout runs from its first poke, over tries and reschedules.
      const sensorStartedAt = def.sensor ? ((await markSensorStarted(db, { tiId: task.tiId, tryNumber: task.tryNumber, workerId: this.workerId }))?.toISOString() ?? null) : undefined;
      outcome = await this.pool.run({
        attempt: entry.attempt,
        bundleFile,
        timeoutMs: def.timeoutMs,
        request: { ...requestOf(task), inputs, mapError, sensorStartedAt },
        // Masked before it is stored: the logs API and live events read the stored line.
        onLog: (l) => entry.logs.push({ ts: l.ts, stream: l.stream, level: l.level, line: entry.secrets.mask(l.line) }),
        pullXcom: (taskId, key) => pullXcom(db, task.runPk, taskId, key),
        lookup: (kind, key) => entry.secrets.lookup(kind, key),
        productionModel: (name) => getProductionVersion(db, name),
      });
      // Timed out or crashed before its runner got to the task's callback: a fresh runner runs it.
      if (outcome.lost && def.callbacks?.length && !this.handedBack.has(task.tiId)) {
        await runLostAttemptCallback({ db, pool: this.pool, bundleFile, task, result: outcome.result, onLog: (l) => entry.logs.push({ ...l, line: entry.secrets.mask(l.line) }) });
      }
    }
    // Handed back at shutdown: the queue has it again; this attempt reports nothing.
    if (this.handedBack.has(task.tiId)) return [];
    const result = entry.secrets.maskResult(outcome.result);
    if (result.outcome === "failed" || result.outcome === "failed_no_retry") {
      entry.logs.push({ ts: Date.now(), stream: "log", level: "error", line: `[updraft] task failed: ${result.error}` });
    } else if (result.outcome === "skipped") {
      entry.logs.push({ ts: Date.now(), stream: "log", level: "info", line: `[updraft] task skipped: ${result.reason}` });
    }
    // ctx.metrics / ctx.models (issue 7): stored fenced, before the end is reported; rare, so the
    // hand-off path of other tasks is untouched.
    if (result.records && !isEmptyRecords(result.records)) {
      const records = result.records;
      await withDbRetry(() => recordTaskRecords(db, { tiId: task.tiId, tryNumber: task.tryNumber, workerId: this.workerId, succeeded: result.outcome === "success", records }), OUTAGE_RETRY);
    }
    if (result.outcome === "up_for_reschedule") {
      // A sensor waiting in reschedule mode: its slot (worker and pool) is free until it is due.
      const lines = entry.logs.splice(0);
      const accepted = await withDbRetry(() => rescheduleTask(db, { tiId: task.tiId, tryNumber: task.tryNumber, workerId: this.workerId, rescheduleAt: new Date(result.rescheduleAt), logs: lines }));
      if (!accepted) this.options.logger.warn({ ti: task.tiId, try: task.tryNumber }, "sensor rescheduled after losing its lease; dropped");
      return [];
    }
    const logs = entry.logs.splice(0);
    const report: FinishInput = {
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
    };
    // A deadlock or a dropped connection must not strand the TI in `running` until the reaper
    // fails it: each report is one transaction, safe to run again.
    const finished = await this.ends.report(task.runPk, report, version, def);
    // OpenTelemetry (only when OTEL_EXPORTER_OTLP_ENDPOINT is set): a span for this try, and for
    // the run when this try ended it.
    if (finished.accepted) {
      const ended = finished.runState === "success" || finished.runState === "failed";
      recordTaskTry({ dagId: task.dagId, runId: task.runId, taskId: task.taskId, mapIndex: task.mapIndex, tryNumber: task.tryNumber, start: startedAt, end: new Date(), outcome: result.outcome, workerId: this.workerId, run: ended ? { state: finished.runState as "success" | "failed", start: task.runStartDate ?? null } : undefined });
    }
    if (!finished.accepted) {
      this.options.logger.warn({ ti: task.tiId, try: task.tryNumber }, "task finished after losing its lease; its result was dropped");
      // Cleared while running (restarting): now that this attempt is over, it may run again.
      await withDbRetry(() => db.transaction().execute((tx) => releaseRestartedTask(tx, { tiId: task.tiId, tryNumber: task.tryNumber, workerId: this.workerId })), OUTAGE_RETRY);
    }
    // This report ended the run: the DAG's run callback, if it has one, runs here (runCallback.ts).
    if (finished.accepted && (finished.runState === "success" || finished.runState === "failed")) {
      await runRunCallback({ db, pool: this.pool, cacheDir: this.options.cacheDir, workerId: this.workerId, logger: this.options.logger, task, version, state: finished.runState, mask: (l) => entry.secrets.mask(l), lookup: (kind, key) => entry.secrets.lookup(kind, key) });
    }
    return finished.claimed;
  }

  private flushing = false;

  private async flushLogs(): Promise<void> {
    // Database down: one flush at a time waits it out; lines stay buffered in order meanwhile.
    if (this.flushing) return;
    this.flushing = true;
    try {
      await this.flushEach();
    } finally {
      this.flushing = false;
    }
  }

  private async flushEach(): Promise<void> {
    for (const entry of this.running.values()) {
      if (!entry.logs.length) continue;
      const lines = entry.logs.splice(0);
      await appendLogs(this.store.db, { tiId: entry.task.tiId, tryNumber: entry.task.tryNumber, workerId: this.workerId, lines }).catch(() => {
        entry.logs.unshift(...lines);
      });
    }
  }

  private heartbeating = false;

  /** A failed heartbeat (database down) only logs: tasks keep running; the reaper decides. */
  private async heartbeat(): Promise<void> {
    // During an outage a heartbeat waits up to the connect timeout: never stack them up.
    if (this.heartbeating) return;
    this.heartbeating = true;
    const ids = [...this.running.keys()];
    try {
      const alive = await heartbeatTasks(this.store.db, { workerId: this.workerId, tiIds: ids });
      for (const id of ids) {
        const entry = this.running.get(id);
        // Not ours any more (reaped or cleared): stop it; its late result will be fenced off anyway.
        if (entry && !alive.has(id)) this.pool.abort(entry.attempt, "the task instance is no longer owned by this worker");
      }
      // Claimed for us, but the claim's reply was lost (connection died just then): give it back.
      const orphans = await findOrphanedClaims(this.store.db, { workerId: this.workerId, knownTiIds: [...this.running.keys()], olderThanMs: 3 * this.options.heartbeatIntervalMs });
      for (const o of orphans) {
        if (await handBackTask(this.store.db, { ...o, workerId: this.workerId })) this.options.logger.warn({ ti: o.tiId, try: o.tryNumber }, "handed back a task claimed for this worker whose claim reply was lost");
      }
    } catch (err) {
      this.options.logger.warn({ err }, "heartbeat failed");
    } finally {
      this.heartbeating = false;
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
    // A claim already sent may still bring TIs back: wait for it, so that they are among the
    // running ones below (finished within the grace, or handed back) rather than started after
    // the runners are gone and left `running` for the reaper to fail.
    await this.claimLoop;
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
    await flushTracing().catch((err: unknown) => this.options.logger.warn({ err }, "exporting the last traces failed"));
  }
}

/** Where a worker keeps bundle files by default. */
export function defaultCacheDir(home: string): string {
  return path.join(home, "cache", "bundles");
}
