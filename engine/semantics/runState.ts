import { isFinished, type RunState, type TiState } from "./states.js";

/**
 * A run's state from its TIs, decided by its leaves as Airflow's DagRun.update_state does:
 * while any TI is unfinished the run keeps running; then any failed or upstream_failed leaf
 * fails it, otherwise it succeeds.
 */
export function runStateFromLeaves(leafStates: TiState[], unfinishedCount: number): RunState {
  if (unfinishedCount > 0 || leafStates.some((s) => !isFinished(s))) return "running";
  return leafStates.some((s) => s === "failed" || s === "upstream_failed") ? "failed" : "success";
}
