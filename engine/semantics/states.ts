// Task-instance and DAG-run states, named as Airflow names them (DESIGN §3, §6).

export const TI_STATES = [
  "scheduled",
  "queued",
  "running",
  "success",
  "failed",
  "up_for_retry",
  "up_for_reschedule",
  "upstream_failed",
  "skipped",
  "removed",
  "restarting",
] as const;
/** `null` is Airflow's `none`: created, waiting for its upstreams. */
export type TiState = (typeof TI_STATES)[number] | null;

export const FINISHED_TI_STATES = ["success", "failed", "upstream_failed", "skipped", "removed"] as const;
export type FinishedTiState = (typeof FINISHED_TI_STATES)[number];

export function isFinished(state: TiState): state is FinishedTiState {
  return state !== null && (FINISHED_TI_STATES as readonly string[]).includes(state);
}

export const RUN_STATES = ["queued", "running", "success", "failed"] as const;
export type RunState = (typeof RUN_STATES)[number];

/**
 * Every transition a TI may take. The store's compare-and-set writes must stay inside this table
 * (test/unit/states.test.ts lists each write the store makes, by module), so a transition not
 * listed here is a bug.
 */
const TRANSITIONS: Record<string, readonly (TiState)[]> = {
  // none → running: the zero-round-trip hand-off (DESIGN §3) — the worker that finished an upstream
  // claims the downstream it just made ready in the same transaction, without a queued stop.
  // → success / → skipped from waiting states: marking a run success or failed (Airflow's
  // set_dag_run_state_to_success/failed), engine/store/runs/setRunState.ts.
  none: ["scheduled", "queued", "running", "skipped", "upstream_failed", "removed", "success"],
  scheduled: ["queued", "skipped", "upstream_failed", "removed", null, "success"],
  queued: ["running", "scheduled", "removed", null, "success", "failed", "skipped"],
  // running → queued: a stopping worker hands back what it could not finish (handBackTask).
  running: ["success", "failed", "up_for_retry", "up_for_reschedule", "skipped", "restarting", null, "queued"],
  up_for_retry: ["queued", "scheduled", "failed", null, "success", "skipped"],
  up_for_reschedule: ["queued", "scheduled", "failed", null, "success", "skipped"],
  restarting: ["up_for_retry", "failed", null],
  success: [null, "failed"],
  failed: [null, "success"],
  upstream_failed: [null, "success", "failed"],
  skipped: [null, "success", "failed"],
  removed: [null],
};

export function canTransition(from: TiState, to: TiState): boolean {
  return (TRANSITIONS[from ?? "none"] ?? []).includes(to);
}

export function assertTransition(from: TiState, to: TiState): void {
  if (!canTransition(from, to)) throw new Error(`illegal task-instance transition ${from ?? "none"} → ${to ?? "none"}`);
}
