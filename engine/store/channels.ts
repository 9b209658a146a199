// NOTIFY channels: the only way scheduler, worker and web server wake each other (DESIGN §1).
// Lower-case, because LISTEN folds unquoted names and PGlite does not quote them.
export const CHANNELS = {
  /** A TI became queued; payload: its queue. Wakes workers. */
  tiQueued: "updraft_ti_queued",
  /** A TI went up_for_retry; payload: ISO time it is due. Wakes the scheduler's retry timer. */
  retryScheduled: "updraft_retry_scheduled",
  /**
   * A run ended, or runs were queued, started, cleared or changed by hand; payload: dag_id. Wakes
   * the scheduler's run loop (queued runs, backfills, the next schedule). A manual run that starts
   * at once (createRun) does not send it: the loop has nothing to do for it.
   */
  runChanged: "updraft_run_changed",
  /**
   * TI/run state changes and log lines, sent by triggers (migrations/0005_live_events.sql); payload:
   * {"k": "ti" | "run" | "log", "e": [events]}. Feeds the web servers' socket.io rooms.
   */
  live: "updraft_live",
} as const;
