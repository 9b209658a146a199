// Trigger rules as Airflow documents them ("Trigger Rules" in the DAGs concepts page) and as its
// TriggerRuleDep evaluates them with flag_upstream_failed (the scheduler's mode): a rule either lets
// the TI run, keeps it waiting, or settles it as skipped / upstream_failed without running it.
import { describe, expect, it } from "vitest";
import { TRIGGER_RULES, type TriggerRule } from "../../engine/authoring/types.js";
import type { TiState } from "../../engine/semantics/states.js";
import { countUpstreams, evaluateTriggerRule, type Readiness } from "../../engine/semantics/triggerRules.js";

const evaluate = (rule: TriggerRule, upstream: TiState[]) => evaluateTriggerRule(rule, countUpstreams(upstream));

type Row = [TiState[], Readiness];

describe("all_success (the default)", () => {
  it.each<Row>([
    [["success"], "ready"],
    [["success", "success", "success"], "ready"],
    [[null], "wait"],
    [["running"], "wait"],
    [["success", "queued"], "wait"],
    [["success", "up_for_retry"], "wait"],
    [["success", "running", "scheduled"], "wait"],
    // A failure upstream propagates at once, without waiting for the siblings.
    [["failed"], "upstream_failed"],
    [["success", "failed"], "upstream_failed"],
    [["running", "failed"], "upstream_failed"],
    [[null, "failed"], "upstream_failed"],
    // ... and keeps propagating down the chain as upstream_failed.
    [["upstream_failed"], "upstream_failed"],
    [["success", "upstream_failed"], "upstream_failed"],
    [["running", "upstream_failed"], "upstream_failed"],
    // A skip propagates as a skip (branching), also without waiting.
    [["skipped"], "skipped"],
    [["success", "skipped"], "skipped"],
    [["running", "skipped"], "skipped"],
    // A failure outranks a skip.
    [["skipped", "failed"], "upstream_failed"],
    [["skipped", "upstream_failed"], "upstream_failed"],
    // A removed upstream no longer counts.
    [["success", "removed"], "ready"],
  ])("%j → %s", (upstream, expected) => {
    expect(evaluate("all_success", upstream)).toBe(expected);
  });
});

describe.each<[TriggerRule, Row[]]>([
  [
    "all_failed", // All upstream tasks are in a failed or upstream_failed state
    [
      [["failed", "failed"], "ready"],
      [["failed", "upstream_failed"], "ready"],
      [["failed", "running"], "wait"],
      [["failed", "success"], "skipped"],
      [["failed", "skipped"], "skipped"],
      [["running", "success"], "skipped"],
    ],
  ],
  [
    "all_done", // All upstream tasks are done with their execution
    [
      [["success", "failed", "skipped", "upstream_failed"], "ready"],
      [["skipped", "skipped"], "ready"],
      [["failed", "running"], "wait"],
      [["success", "up_for_retry"], "wait"],
      [["success", null], "wait"],
    ],
  ],
  [
    "all_done_min_one_success", // All non-skipped upstreams done, at least one succeeded
    [
      [["success", "failed"], "ready"],
      [["success", "upstream_failed"], "ready"],
      [["success", "success"], "ready"],
      [["success", "running"], "wait"],
      [["failed", "running"], "wait"],
      // Airflow's TriggerRuleDep: no success once all are done is upstream_failed, not skipped...
      [["failed", "failed"], "upstream_failed"],
      [["failed", "upstream_failed"], "upstream_failed"],
      // ... and a skipped upstream skips the task at once (Airflow issue #59925, by design).
      [["success", "skipped"], "skipped"],
      [["running", "skipped"], "skipped"],
    ],
  ],
  [
    "all_skipped", // All upstream tasks are in a skipped state
    [
      [["skipped", "skipped"], "ready"],
      [["skipped", "running"], "wait"],
      [["skipped", "success"], "skipped"],
      [["skipped", "failed"], "skipped"],
      [["running", "upstream_failed"], "skipped"],
    ],
  ],
  [
    "one_success", // At least one upstream succeeded (does not wait for all)
    [
      [["success", "running"], "ready"],
      [["success", null], "ready"],
      [["success", "failed"], "ready"],
      [["failed", "running"], "wait"],
      [["skipped", "running"], "wait"],
      [["skipped", "skipped"], "skipped"],
      [["failed", "skipped"], "upstream_failed"],
      [["upstream_failed", "failed"], "upstream_failed"],
    ],
  ],
  [
    "one_failed", // At least one upstream failed (does not wait for all)
    [
      [["failed", "running"], "ready"],
      [["upstream_failed", null], "ready"],
      [["success", "running"], "wait"],
      [["success", "skipped"], "skipped"],
      [["success", "success"], "skipped"],
    ],
  ],
  [
    "one_done", // At least one upstream succeeded or failed
    [
      [["success", "running"], "ready"],
      [["failed", "running"], "ready"],
      [["skipped", "running"], "wait"],
      // upstream_failed never ran: it is neither a success nor a failure for this rule.
      [["upstream_failed", "running"], "wait"],
      [["skipped", "skipped"], "skipped"],
      [["upstream_failed", "skipped"], "skipped"],
    ],
  ],
  [
    "none_failed", // Nothing failed or upstream_failed: all succeeded or were skipped
    [
      [["success", "skipped"], "ready"],
      [["skipped", "skipped"], "ready"],
      [["success", "running"], "wait"],
      [["failed", "running"], "upstream_failed"],
      [["upstream_failed", "success"], "upstream_failed"],
    ],
  ],
  [
    "none_failed_min_one_success", // Nothing failed, and at least one succeeded
    [
      [["success", "skipped"], "ready"],
      [["success", "success"], "ready"],
      [["success", "running"], "wait"],
      [["skipped", "skipped"], "skipped"],
      [["failed", "success"], "upstream_failed"],
      [["upstream_failed", "running"], "upstream_failed"],
    ],
  ],
  [
    "none_skipped", // No upstream skipped: all are success, failed or upstream_failed
    [
      [["success", "failed"], "ready"],
      [["upstream_failed", "success"], "ready"],
      [["success", "running"], "wait"],
      [["skipped", "running"], "skipped"],
      [["skipped", "success"], "skipped"],
    ],
  ],
  [
    "always", // No dependencies at all
    [
      [[null, "running"], "ready"],
      [["failed", "upstream_failed"], "ready"],
      [["skipped"], "ready"],
    ],
  ],
])("%s", (rule, rows) => {
  it.each(rows)("%j → %s", (upstream, expected) => {
    expect(evaluate(rule, upstream)).toBe(expected);
  });
});

describe("every rule", () => {
  it.each([...TRIGGER_RULES])("%s: a task without upstreams is ready", (rule) => {
    expect(evaluate(rule, [])).toBe("ready");
  });

  /**
   * Airflow's TriggerRuleDep._evaluate_direct_relatives, transcribed in its own terms (counts of
   * finished upstream states; first the settling branch, then the passing condition), as an oracle
   * for every combination of up to three upstream states.
   */
  function airflow(rule: TriggerRule, states: TiState[]): Readiness {
    const n = (s: TiState) => states.filter((x) => x === s).length;
    const [success, skipped, failed, upstreamFailed] = [n("success"), n("skipped"), n("failed"), n("upstream_failed")];
    const done = success + skipped + failed + upstreamFailed;
    const upstream = states.length;
    const upstreamDone = done >= upstream;
    let settled: Readiness | null = null;
    switch (rule) {
      case "all_success":
        if (upstreamFailed || failed) settled = "upstream_failed";
        else if (skipped) settled = "skipped";
        break;
      case "all_failed":
        if (success || skipped) settled = "skipped";
        break;
      case "one_success":
        if (upstreamDone && done === skipped) settled = "skipped";
        else if (upstreamDone && success <= 0) settled = "upstream_failed";
        break;
      case "one_failed":
        if (upstreamDone && !(failed || upstreamFailed)) settled = "skipped";
        break;
      case "one_done":
        if (upstreamDone && !(failed || success)) settled = "skipped";
        break;
      case "none_failed":
        if (upstreamFailed || failed) settled = "upstream_failed";
        break;
      case "none_failed_min_one_success":
        if (upstreamFailed || failed) settled = "upstream_failed";
        else if (skipped === upstream) settled = "skipped";
        break;
      case "none_skipped":
        if (skipped) settled = "skipped";
        break;
      case "all_skipped":
        if (success || failed || upstreamFailed) settled = "skipped";
        break;
      case "all_done_min_one_success":
        if (skipped > 0) settled = "skipped";
        else if (success + failed + upstreamFailed >= upstream - skipped && success === 0) settled = "upstream_failed";
        break;
    }
    if (settled) return settled;
    const passes: Record<TriggerRule, boolean> = {
      all_success: upstream - success <= 0,
      all_failed: upstream - failed - upstreamFailed <= 0,
      all_done: upstreamDone,
      all_done_min_one_success: skipped === 0 && success + failed + upstreamFailed >= upstream && success > 0,
      all_skipped: upstream - skipped <= 0,
      one_success: success > 0,
      one_failed: failed > 0 || upstreamFailed > 0,
      one_done: success + failed > 0,
      none_failed: upstream - success - skipped <= 0,
      none_failed_min_one_success: upstream - success - skipped <= 0,
      none_skipped: upstreamDone && skipped === 0,
      always: true,
    };
    return passes[rule] ? "ready" : "wait";
  }

  const STATES: TiState[] = [null, "queued", "running", "up_for_retry", "success", "failed", "upstream_failed", "skipped"];
  const combos: TiState[][] = [];
  const grow = (prefix: TiState[], from: number) => {
    if (prefix.length) combos.push(prefix);
    if (prefix.length === 3) return;
    for (let i = from; i < STATES.length; i++) grow([...prefix, STATES[i]!], i);
  };
  grow([], 0);

  it.each([...TRIGGER_RULES])("%s agrees with Airflow's TriggerRuleDep on every upstream combination", (rule) => {
    const disagreements = combos
      .map((c) => ({ upstream: c.map((s) => s ?? "none").join(","), airflow: airflow(rule, c), updraft: evaluate(rule, c) }))
      .filter((r) => r.airflow !== r.updraft);
    expect(disagreements).toEqual([]);
    expect(combos.length).toBe(164); // 8 + 36 + 120 multisets of 1..3 states
  });
});

describe("countUpstreams", () => {
  it("counts finished states and the total, ignoring unfinished ones", () => {
    expect(countUpstreams(["success", "success", "failed", "upstream_failed", "skipped", "removed", null, "running"])).toEqual({
      total: 8,
      success: 2,
      failed: 1,
      upstreamFailed: 1,
      skipped: 1,
      removed: 1,
    });
  });
});
