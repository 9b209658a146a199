// The live-event lease of one web server (migrations/0019, engine/store/liveWatchers.ts): held
// while a socket.io client is connected, so that the triggers build and NOTIFY live events only
// while someone can receive them. A client's connection completes only once the lease is in
// effect, and every transaction that might have checked for a watcher before has ended — so what
// a client reads after connecting, plus the events it receives, misses nothing. The lease is
// renewed while clients stay, expires on its own if this server dies, and is given up a little
// after the last client leaves (a page reload reconnects within that grace).
import { randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import type { Logger } from "../../engine/logger.js";
import type { Database } from "../../engine/store/schema.js";
import { holdLiveWatch, releaseLiveWatch, waitForOpenTransactions } from "../../engine/store/liveWatchers.js";

export interface LiveWatchOptions {
  /** How long a lease lasts unless renewed. */
  ttlMs: number;
  /** How often it is renewed while held. */
  renewMs: number;
  /** How long it is kept after the last client left. */
  graceMs: number;
  /** The longest a connecting client waits for the transactions open at the lease's start. */
  settleMs: number;
}

export const LIVE_WATCH_DEFAULTS: LiveWatchOptions = { ttlMs: 60_000, renewMs: 15_000, graceMs: 30_000, settleMs: 2_000 };

export class LiveWatch {
  readonly serverId = `web:${process.pid}:${randomUUID().slice(0, 8)}`;
  private clients = 0;
  /** The last take or renewal of the lease succeeded (and it was not given up since). */
  private leased = false;
  private renewTimer: NodeJS.Timeout | null = null;
  private releaseTimer: NodeJS.Timeout | null = null;
  /** Lease operations run one after another: a release never overtakes a later take. */
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly logger: Logger,
    private readonly options: LiveWatchOptions = LIVE_WATCH_DEFAULTS,
  ) {}

  /** A client connected: resolves once live events are sent (never rejects; a database outage only logs). */
  async enter(): Promise<void> {
    this.clients++;
    if (this.releaseTimer) clearTimeout(this.releaseTimer);
    this.releaseTimer = null;
    if (!this.renewTimer && !this.closed) this.renewTimer = setInterval(() => void this.serial(() => this.hold()), this.options.renewMs).unref();
    if (!this.leased) await this.serial(() => (this.leased ? Promise.resolve() : this.hold()));
  }

  /** A client disconnected. */
  leave(): void {
    this.clients = Math.max(0, this.clients - 1);
    if (this.clients > 0 || this.releaseTimer || this.closed) return;
    this.releaseTimer = setTimeout(() => {
      this.releaseTimer = null;
      if (this.clients === 0) void this.serial(() => this.release());
    }, this.options.graceMs).unref();
  }

  /** Whether this server holds the lease now (for tests). */
  get holding(): boolean {
    return this.leased;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.releaseTimer) clearTimeout(this.releaseTimer);
    this.releaseTimer = null;
    await this.serial(() => this.release());
  }

  private serial(op: () => Promise<void>): Promise<void> {
    const next = this.queue.then(op, op);
    this.queue = next.catch(() => {});
    return next;
  }

  private async hold(): Promise<void> {
    if (this.closed) return;
    try {
      const lapsed = await holdLiveWatch(this.db, this.serverId, this.options.ttlMs);
      // Taken anew: wait out the statements that may have found no watcher (see liveWatchers.ts).
      if (lapsed) {
        if (this.leased) this.logger.warn("the live-event lease had lapsed (database unreachable?): events in between were not sent");
        if (!(await waitForOpenTransactions(this.db, this.options.settleMs))) {
          this.logger.warn({ waitedMs: this.options.settleMs }, "transactions open when the live-event lease was taken are still running; their changes may reach clients only on their next read");
        }
      }
      this.leased = true;
    } catch (err) {
      this.leased = false;
      this.logger.warn({ err }, "taking the live-event lease failed; retrying");
    }
  }

  private async release(): Promise<void> {
    // A client came back after this release was queued: keep the lease.
    if (this.clients > 0 && !this.closed) return;
    if (this.renewTimer) clearInterval(this.renewTimer);
    this.renewTimer = null;
    if (!this.leased && !this.closed) return;
    this.leased = false;
    await releaseLiveWatch(this.db, this.serverId).catch((err: unknown) => this.logger.warn({ err }, "giving up the live-event lease failed; it expires on its own"));
  }
}
