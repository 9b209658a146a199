import { describe, expect, it } from "vitest";
import { assertTransition, canTransition, FINISHED_TI_STATES, isFinished, TI_STATES, type TiState } from "../../engine/semantics/states.js";

const ALL: TiState[] = [null, ...TI_STATES];
const name = (s: TiState) => s ?? "none";

describe("task-instance transitions", () => {
  // Every state change the store writes, by the module that writes it. If one of these becomes
  // illegal, the store and the state machine disagree.
  it.each([
    [null, "queued", "settleDownstream: a ready TI is queued"],
    [null, "running", "settleDownstream: the finishing worker claims a ready downstream (hand-off)"],
    [null, "skipped", "settleDownstream: trigger rule settles it as skipped"],
    [null, "upstream_failed", "settleDownstream: trigger rule settles it as upstream_failed"],
    ["queued", "running", "claimTasks"],
    ["running", "success", "finishTask"],
    ["running", "failed", "finishTask"],
    ["running", "up_for_retry", "finishTask: failed with tries left"],
    ["running", "skipped", "finishTask: ctx.skip()"],
    ["up_for_retry", "queued", "queueDueRetries"],
    ["running", "up_for_reschedule", "rescheduleTask: a reschedule-mode sensor's unmet poke"],
    ["up_for_reschedule", "queued", "queueDueReschedules"],
    ["running", "queued", "handBackTask: a stopping worker hands back what it could not finish"],
    [null, "success", "setRunState: mark the run success"],
    ["scheduled", "success", "setRunState: mark the run success"],
    ["queued", "skipped", "setRunState: mark the run failed"],
    ["up_for_retry", "skipped", "setRunState: mark the run failed"],
  ] as [TiState, TiState, string][])("%s → %s is legal (%s)", (from, to) => {
    expect(canTransition(from, to)).toBe(true);
    expect(() => assertTransition(from, to)).not.toThrow();
  });

  it.each([
    // Airflow's "clear": every finished TI may be reset to none and run again.
    ...FINISHED_TI_STATES.map((s) => [s, null] as [TiState, TiState]),
    // Mark success / mark failed on a finished TI.
    ["failed", "success"],
    ["success", "failed"],
    ["upstream_failed", "success"],
    ["skipped", "failed"],
    ["running", "up_for_reschedule"],
    ["up_for_reschedule", "queued"],
  ] as [TiState, TiState][])("%s → %s is legal", (from, to) => {
    expect(canTransition(from, to)).toBe(true);
  });

  it.each([
    [null, "failed"],
    [null, "up_for_retry"],
    ["queued", "upstream_failed"],
    ["queued", "up_for_retry"],
    ["running", "upstream_failed"],
    ["running", "removed"],
    ["up_for_retry", "running"],
    ["success", "running"],
    ["success", "queued"],
    ["success", "skipped"],
    ["failed", "running"],
    ["failed", "up_for_retry"],
    ["skipped", "running"],
    ["upstream_failed", "running"],
    ["upstream_failed", "queued"],
    ["removed", "success"],
    ["removed", "running"],
  ] as [TiState, TiState][])("%s → %s is illegal", (from, to) => {
    expect(canTransition(from, to)).toBe(false);
    expect(() => assertTransition(from, to)).toThrow(`illegal task-instance transition ${name(from)} → ${name(to)}`);
  });

  it("never allows a state to 'transition' to itself (a CAS that changes nothing is a bug)", () => {
    for (const s of ALL) expect(canTransition(s, s), name(s)).toBe(false);
  });

  it("sends a finished TI back to work only through none (clear), never straight to queued or running", () => {
    for (const s of FINISHED_TI_STATES) {
      expect(canTransition(s, "queued"), s).toBe(false);
      expect(canTransition(s, "running"), s).toBe(false);
      expect(canTransition(s, "scheduled"), s).toBe(false);
    }
  });

  it("never fails a TI that did not run (a waiting TI is marked success or skipped, never failed)", () => {
    for (const s of [null, "scheduled"] as TiState[]) expect(canTransition(s, "failed")).toBe(false);
  });

  it("gives every state a way out", () => {
    for (const from of ALL) expect(ALL.some((to) => canTransition(from, to)), name(from)).toBe(true);
  });

  it("rejects unknown states", () => {
    expect(canTransition("bogus" as TiState, "running")).toBe(false);
    expect(canTransition(null, "bogus" as TiState)).toBe(false);
  });
});

describe("isFinished", () => {
  it.each([
    ["success", true],
    ["failed", true],
    ["upstream_failed", true],
    ["skipped", true],
    ["removed", true],
    [null, false],
    ["scheduled", false],
    ["queued", false],
    ["running", false],
    ["up_for_retry", false],
    ["up_for_reschedule", false],
    ["restarting", false],
  ] as [TiState, boolean][])("%s → %s", (state, finished) => {
    expect(isFinished(state)).toBe(finished);
  });
});
