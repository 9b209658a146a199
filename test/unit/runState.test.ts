// A run's state is decided by its leaves once nothing is unfinished (Airflow's DagRun.update_state).
import { describe, expect, it } from "vitest";
import { runStateFromLeaves } from "../../engine/semantics/runState.js";
import type { RunState, TiState } from "../../engine/semantics/states.js";

describe("runStateFromLeaves", () => {
  it.each([
    // [leaf states, unfinished TIs in the run, expected]
    [["success"], 0, "success"],
    [["success", "success"], 0, "success"],
    [["success", "skipped"], 0, "success"],
    [["skipped", "skipped"], 0, "success"],
    [["success", "removed"], 0, "success"],
    [["failed"], 0, "failed"],
    [["upstream_failed"], 0, "failed"],
    [["success", "failed"], 0, "failed"],
    [["skipped", "upstream_failed"], 0, "failed"],
    // A leaf still going keeps the run running, whatever the others did.
    [["failed", "running"], 1, "running"],
    [["success", null], 1, "running"],
    [["success", "queued"], 1, "running"],
    [["success", "up_for_retry"], 1, "running"],
    [["success", "up_for_reschedule"], 1, "running"],
    // Leaves finished but an inner TI is not (e.g. an all_done leaf cannot exist yet, a retry mid-way):
    // the run waits for it rather than deciding early.
    [["failed"], 2, "running"],
    [["success"], 1, "running"],
  ] as [TiState[], number, RunState][])("leaves %j with %i unfinished → %s", (leaves, unfinished, expected) => {
    expect(runStateFromLeaves(leaves, unfinished)).toBe(expected);
  });
});
