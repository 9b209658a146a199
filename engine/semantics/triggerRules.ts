// Trigger rules, as Airflow's TriggerRuleDep evaluates them. Pure: the store counts upstream states,
// this decides. Issue 2 needs all_success; every rule is here so later issues only add tests.
import type { TriggerRule } from "../authoring/types.js";
import type { TiState } from "./states.js";

export interface UpstreamCounts {
  total: number;
  success: number;
  failed: number;
  upstreamFailed: number;
  skipped: number;
  removed: number;
}

/** What becomes of a waiting TI: run it, keep waiting, or settle it without running. */
export type Readiness = "ready" | "wait" | "skipped" | "upstream_failed";

export function countUpstreams(states: TiState[]): UpstreamCounts {
  const counts: UpstreamCounts = { total: states.length, success: 0, failed: 0, upstreamFailed: 0, skipped: 0, removed: 0 };
  for (const s of states) {
    if (s === "success") counts.success++;
    else if (s === "failed") counts.failed++;
    else if (s === "upstream_failed") counts.upstreamFailed++;
    else if (s === "skipped") counts.skipped++;
    else if (s === "removed") counts.removed++;
  }
  return counts;
}

export function evaluateTriggerRule(rule: TriggerRule, c: UpstreamCounts): Readiness {
  const total = c.total - c.removed;
  const failed = c.failed + c.upstreamFailed;
  const done = c.success + failed + c.skipped;
  const allDone = done >= total;
  if (total === 0) return "ready";
  switch (rule) {
    case "all_success":
      if (failed > 0) return "upstream_failed";
      if (c.skipped > 0) return "skipped";
      return c.success >= total ? "ready" : "wait";
    case "all_failed":
      if (c.success > 0 || c.skipped > 0) return "skipped";
      return allDone ? "ready" : "wait";
    case "all_done":
      return allDone ? "ready" : "wait";
    case "all_done_min_one_success":
      // As Airflow's TriggerRuleDep (3.1): a skipped upstream skips the task at once; once every
      // upstream is done, none succeeding is upstream_failed.
      if (c.skipped > 0) return "skipped";
      if (!allDone) return "wait";
      return c.success > 0 ? "ready" : "upstream_failed";
    case "all_skipped":
      if (c.success > 0 || failed > 0) return "skipped";
      return allDone ? "ready" : "wait";
    case "one_success":
      if (c.success > 0) return "ready";
      if (!allDone) return "wait";
      return failed > 0 ? "upstream_failed" : "skipped";
    case "one_failed":
      if (failed > 0) return "ready";
      return allDone ? "skipped" : "wait";
    case "one_done":
      // "At least one upstream task succeeded or failed": upstream_failed ones never ran, so they
      // do not count (Airflow counts success + failed only).
      if (c.success > 0 || c.failed > 0) return "ready";
      return allDone ? "skipped" : "wait";
    case "none_failed":
      if (failed > 0) return "upstream_failed";
      return allDone ? "ready" : "wait";
    case "none_failed_min_one_success":
      if (failed > 0) return "upstream_failed";
      if (!allDone) return "wait";
      return c.success > 0 ? "ready" : "skipped";
    case "none_skipped":
      if (c.skipped > 0) return "skipped";
      return allDone ? "ready" : "wait";
    case "always":
      return "ready";
  }
}
