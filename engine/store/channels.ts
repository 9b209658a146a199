// NOTIFY channels: the only way scheduler, worker and web server wake each other (DESIGN §1).
// Lower-case, because LISTEN folds unquoted names and PGlite does not quote them.
export const CHANNELS = {
  /** A TI became queued; payload: its queue. Wakes workers. */
  tiQueued: "updraft_ti_queued",
  /** A TI went up_for_retry; payload: ISO time it is due. Wakes the scheduler's retry timer. */
  retryScheduled: "updraft_retry_scheduled",
  /** A run finished or was created; payload: dag_id. Wakes the scheduler's run creation. */
  runChanged: "updraft_run_changed",
} as const;
