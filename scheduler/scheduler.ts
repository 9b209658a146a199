// The scheduler: the DAG processor, scheduled run creation (timed to the next due run, woken by
// NOTIFY), the retry timer and the reaper. Any number may run at once: every write it makes is
// guarded by a unique index or a compare-and-set.
import os from "node:os";
import { schedulerLoopSeconds } from "../engine/observability/metrics.js";
import { randomUUID } from "node:crypto";
import { sql } from "kysely";
import type { Logger } from "pino";
import type { Store } from "../engine/store/db.js";
import { CHANNELS } from "../engine/store/channels.js";
import { createDueRuns, nextDueAt, startAllQueuedRuns } from "../engine/store/runs/scheduleRuns.js";
import { completeBackfills } from "../engine/store/backfills/updateBackfill.js";
import { queueDueRetries } from "../engine/store/tasks/queueDueRetries.js";
import { queueDueReschedules } from "../engine/store/tasks/queueDueReschedules.js";
import { reapLostTasks } from "../engine/store/tasks/reapLostTasks.js";
import { endCountedRuns } from "../engine/store/runs/endCountedRuns.js";
import { refreshStatistics } from "../engine/store/maintenance/refreshStatistics.js";
import { DagProcessor } from "./dagProcessor.js";

export interface SchedulerOptions {
  dagsFolder: string;
  cacheDir: string;
  dagImportTimeoutMs: number;
  /** UPDRAFT_DAG_FILE_MAX_BYTES; default 5 MB. */
  dagFileMaxBytes?: number;
  heartbeatTimeoutMs: number;
  logger: Logger;
  watch?: boolean;
}

/** Upper bound on any sleep: a missed NOTIFY costs at most this much delay. */
const MAX_SLEEP_MS = 5_000;

export class Scheduler {
  readonly schedulerId = `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  readonly processor: DagProcessor;
  private stopped = false;
  private runTimer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private intervals: NodeJS.Timeout[] = [];
  private unlisteners: (() => Promise<void>)[] = [];
  private creating = false;
  /** The loops and periodic statements in flight, if any: stop() waits for them. */
  private runLoop: Promise<void> = Promise.resolve();
  private retryLoop: Promise<void> = Promise.resolve();
  private reaping: Promise<void> = Promise.resolve();
  private beating: Promise<void> = Promise.resolve();
  private analyzing: Promise<void> = Promise.resolve();
  private createAgain = false;
  /** When a database call last failed: workers could not heartbeat then either (see reap). */
  private lastDbErrorAt = 0;

  constructor(
    private readonly store: Store,
    private readonly options: SchedulerOptions,
  ) {
    this.processor = new DagProcessor(store, {
      dagsFolder: options.dagsFolder,
      cacheDir: options.cacheDir,
      importTimeoutMs: options.dagImportTimeoutMs,
      maxFileBytes: options.dagFileMaxBytes,
      logger: options.logger,
      watch: options.watch ?? true,
      onChange: () => this.wakeRuns(),
    });
  }

  async start(): Promise<void> {
    await this.heartbeat();
    this.unlisteners.push(await this.store.listen(CHANNELS.runChanged, () => this.wakeRuns()));
    this.unlisteners.push(await this.store.listen(CHANNELS.retryScheduled, () => this.wakeRetries()));
    await this.processor.start();
    this.intervals.push(setInterval(() => (this.reaping = this.reap()), Math.max(1_000, Math.floor(this.options.heartbeatTimeoutMs / 3))));
    this.intervals.push(setInterval(() => (this.beating = this.heartbeat()), 5_000));
    this.intervals.push(setInterval(() => {
      if (!this.refreshing) this.analyzing = this.statistics();
    }, 5_000));
    this.wakeRuns();
    this.wakeRetries();
    this.options.logger.info({ schedulerId: this.schedulerId, dagsFolder: this.options.dagsFolder }, "scheduler started");
  }

  /** Creates due runs, then sleeps until the next one is due (or a NOTIFY says something changed). */
  wakeRuns(): void {
    if (this.stopped) return;
    if (this.creating) {
      this.createAgain = true;
      return;
    }
    this.creating = true;
    this.runLoop = (async () => {
      let sleepMs = MAX_SLEEP_MS;
      try {
        do {
          this.createAgain = false;
          const endLoop = schedulerLoopSeconds.startTimer();
          await createDueRuns(this.store.db);
          // Backfills (and runs queued while a DAG was paused) live in the database: whichever
          // scheduler is up keeps starting their queued runs and closes the finished backfills.
          await startAllQueuedRuns(this.store.db);
          const completed = await completeBackfills(this.store.db);
          if (completed) this.options.logger.info({ completed }, "backfills completed");
          endLoop();
        } while (this.createAgain && !this.stopped);
        const next = await nextDueAt(this.store.db);
        // A due time in the past means those DAGs are at maxActiveRuns: a finishing run wakes us.
        if (next && new Date(next).getTime() > Date.now()) sleepMs = Math.min(MAX_SLEEP_MS, new Date(next).getTime() - Date.now() + 5);
      } catch (err) {
        this.lastDbErrorAt = Date.now();
        this.options.logger.warn({ err }, "creating scheduled runs failed; retrying");
        sleepMs = 1_000;
      } finally {
        this.creating = false;
      }
      if (this.stopped) return;
      if (this.runTimer) clearTimeout(this.runTimer);
      this.runTimer = setTimeout(() => this.wakeRuns(), sleepMs);
    })();
  }

  /** Queues retries and sensor reschedules that are due and arms a timer for the next one. */
  wakeRetries(): void {
    if (this.stopped) return;
    this.retryLoop = Promise.all([queueDueRetries(this.store.db), queueDueReschedules(this.store.db)]).then(
      (due) => {
        const times = due.map((d) => d.nextDueAt).filter((t): t is Date => t !== null);
        const nextDueAt = times.length ? new Date(Math.min(...times.map((t) => new Date(t).getTime()))) : null;
        if (this.stopped) return;
        if (this.retryTimer) clearTimeout(this.retryTimer);
        const wait = nextDueAt ? Math.max(0, new Date(nextDueAt).getTime() - Date.now()) + 5 : MAX_SLEEP_MS;
        this.retryTimer = setTimeout(() => this.wakeRetries(), Math.min(wait, MAX_SLEEP_MS));
      },
      (err) => {
        this.lastDbErrorAt = Date.now();
        this.options.logger.warn({ err }, "queueing due retries failed; retrying");
        if (!this.stopped) this.retryTimer = setTimeout(() => this.wakeRetries(), 1_000);
      },
    );
  }

  private async reap(): Promise<void> {
    // After a database outage, workers get one full timeout to heartbeat again before their
    // silence counts: an outage is not a lost worker.
    if (Date.now() - this.lastDbErrorAt < this.options.heartbeatTimeoutMs) return;
    try {
      const reaped = await reapLostTasks(this.store.db, this.options.heartbeatTimeoutMs);
      if (reaped) this.options.logger.warn({ reaped }, "reaped task instances of lost workers");
      const ended = await endCountedRuns(this.store.db);
      if (ended) this.options.logger.warn({ ended }, "ended runs whose last TIs were counted but not settled");
    } catch (err) {
      this.lastDbErrorAt = Date.now();
      this.options.logger.warn({ err }, "reaping lost tasks failed");
    }
  }

  private refreshing = false;

  /** Keeps the planner's statistics in step with the tables' growth (refreshStatistics.ts). */
  private async statistics(): Promise<void> {
    if (this.stopped) return;
    this.refreshing = true;
    try {
      const analyzed = await refreshStatistics(this.store.db);
      if (analyzed.length) this.options.logger.debug({ analyzed }, "refreshed planner statistics");
    } catch (err) {
      this.options.logger.warn({ err }, "refreshing planner statistics failed; retrying");
    } finally {
      this.refreshing = false;
    }
  }

  private async heartbeat(): Promise<void> {
    await this.store.db
      .insertInto("scheduler_heartbeats")
      .values({ scheduler_id: this.schedulerId, hostname: os.hostname() })
      .onConflict((oc) => oc.column("scheduler_id").doUpdateSet({ last_heartbeat: sql`now()` }))
      .execute()
      .catch(() => {
        this.lastDbErrorAt = Date.now();
      });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.runTimer) clearTimeout(this.runTimer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    for (const i of this.intervals) clearInterval(i);
    for (const u of this.unlisteners) await u();
    // Whatever loop is in flight finishes its statements first: the caller closes the store next,
    // and closing PGlite under a statement in flight wedges it for good (a synchronous spin that
    // blocks the event loop: electric-sql/pglite#1084) — seen when a run's end NOTIFY woke the
    // run loop just before a test stopped the scheduler and closed its database.
    await Promise.allSettled([this.runLoop, this.retryLoop, this.reaping, this.beating, this.analyzing]);
    await this.processor.close();
    await this.store.db.deleteFrom("scheduler_heartbeats").where("scheduler_id", "=", this.schedulerId).execute().catch(() => {});
  }
}
