// The trigger-rule truth table end to end on PostgreSQL (and PGlite): for each of the 12 rules and
// every combination of one to three upstream outcomes (success, failed via ctx.fail, skipped via
// ctx.skip, upstream_failed via a failed grand-upstream), a downstream task whose final state must
// be what the pure evaluator (engine/semantics/triggerRules.ts, also the one test/unit/triggerRules
// checks against Airflow's TriggerRuleDep) decides — the expectations are computed from it, so the
// two tables cannot drift. One DAG holds the whole table (one run); a second shows the one_* rules
// firing, and the settling rules settling, while another upstream is still running.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TRIGGER_RULES, type TriggerRule } from "../../engine/authoring/types.js";
import type { TiState } from "../../engine/semantics/states.js";
import { countUpstreams, evaluateTriggerRule, type Readiness } from "../../engine/semantics/triggerRules.js";
import { createRun } from "../../engine/store/runs/createRun.js";
import { backends, createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { dagsFolderWith, startEngine, waitFor, waitForRunEnd, type TestEngine } from "../helpers/engine.js";

type Outcome = "success" | "failed" | "upstream_failed" | "skipped";

/**
 * The order the upstream outcomes happen in, enforced by the DAG (each phase waits for the one
 * before). It matters for one cell only: all_success settles as soon as it sees a skip or a
 * failure, so with a skip seen first it would be skipped, with a failure first upstream_failed (as
 * in Airflow). With failures before skips, the first decision is always the one the final states
 * give — checked below, in pure terms, for every cell.
 */
const PHASES: Outcome[] = ["success", "failed", "upstream_failed", "skipped"];
const LETTER: Record<Outcome, string> = { success: "s", failed: "f", upstream_failed: "u", skipped: "k" };

/** Every multiset of 1..3 outcomes, in phase order: 4 + 10 + 20 = 34. */
function combinations(): Outcome[][] {
  const out: Outcome[][] = [];
  const grow = (prefix: Outcome[], from: number) => {
    if (prefix.length) out.push(prefix);
    if (prefix.length === 3) return;
    for (let i = from; i < PHASES.length; i++) grow([...prefix, PHASES[i]!], i);
  };
  grow([], 0);
  return out;
}

interface Cell {
  id: string;
  rule: TriggerRule;
  outcomes: Outcome[];
  /** The upstream task ids: the i-th upstream with outcome X is X's i-th task (s1, s2, …). */
  upstream: string[];
}

const CELLS: Cell[] = combinations().flatMap((outcomes) =>
  TRIGGER_RULES.map((rule) => {
    const seen: Record<string, number> = {};
    const upstream = outcomes.map((o) => `${LETTER[o]}${(seen[o] = (seen[o] ?? 0) + 1)}`);
    return { id: `${rule}__${outcomes.map((o) => LETTER[o]).join("")}`, rule, outcomes, upstream };
  }),
);

/** The state a TI ends in when the evaluator decides `r` for it (it runs, and returns, if ready). */
const finalState = (r: Readiness): string => (r === "ready" ? "success" : r === "wait" ? "still waiting" : r);

/** What the engine decides, re-evaluating on each upstream's end in phase order: the first decision. */
function decidedInOrder(rule: TriggerRule, outcomes: Outcome[]): Readiness {
  const states: TiState[] = outcomes.map(() => null);
  // Nothing finished yet (e.g. always is ready at once).
  let r = evaluateTriggerRule(rule, countUpstreams(states));
  for (let i = 0; r === "wait" && i < outcomes.length; i++) {
    states[i] = outcomes[i]!;
    r = evaluateTriggerRule(rule, countUpstreams(states));
  }
  return r;
}

const tableDag = () => `
import { dag } from "updraft";
const CELLS = ${JSON.stringify(CELLS.map(({ id, rule, upstream }) => ({ id, rule, upstream })))};
export default dag({ id: "truth_table" }, (d) => {
  const ids = (p) => [1, 2, 3].map((i) => p + i);
  const s = ids("s").map((id) => d.task(id, () => "ok"));
  const f = ids("f").map((id) => d.task(id, (ctx) => ctx.fail("failed on purpose"), { retries: 2 }).after(...s));
  // g fails; the u tasks, downstream of it, are upstream_failed without running.
  const g = d.task("g", (ctx) => ctx.fail("grand-upstream fails"), { triggerRule: "all_done" }).after(...f);
  const u = ids("u").map((id) => d.task(id, () => "never runs").after(g));
  const k = ids("k").map((id) => d.task(id, (ctx) => ctx.skip("skipped on purpose"), { triggerRule: "all_done" }).after(...u));
  const byId = Object.fromEntries([...s, ...f, ...u, ...k].map((t) => [t.id, t]));
  for (const c of CELLS) d.task(c.id, () => "ran", { triggerRule: c.rule }).after(...c.upstream.map((id) => byId[id]));
});`;

const eagerDag = (flag: string) => `
import fs from "node:fs";
import { dag } from "updraft";
export default dag({ id: "eager" }, (d) => {
  const ok = d.task("ok", () => 1);
  const bad = d.task("bad", (ctx) => ctx.fail("bad fails"));
  const skip = d.task("skip", (ctx) => ctx.skip("skip skips"));
  // Bounded: poke mode holds its slot and gives up after 30 s.
  const slow = d.sensor("slow", { poke: () => fs.existsSync(${JSON.stringify(flag)}), pokeInterval: "50ms", timeout: "30s" });
  const rule = (id, triggerRule, ...up) => d.task(id, () => "ran", { triggerRule }).after(...up, slow);
  rule("one_success", "one_success", ok);
  rule("one_failed", "one_failed", bad);
  rule("one_done_s", "one_done", ok);
  rule("one_done_f", "one_done", bad);
  rule("all_success_f", "all_success", bad);
  rule("all_success_k", "all_success", skip);
  rule("none_failed_f", "none_failed", bad);
  rule("all_failed_s", "all_failed", ok);
  rule("all_skipped_s", "all_skipped", ok);
  rule("none_skipped_k", "none_skipped", skip);
  rule("admos_k", "all_done_min_one_success", skip);
  // These must wait for slow.
  rule("all_done", "all_done", ok);
  rule("none_failed_s", "none_failed", ok);
  rule("one_failed_s", "one_failed", ok);
});`;

/** The eager DAG's tasks besides slow: their rule and the state of their other upstream. */
const EAGER: Record<string, [TriggerRule, Outcome]> = {
  one_success: ["one_success", "success"],
  one_failed: ["one_failed", "failed"],
  one_done_s: ["one_done", "success"],
  one_done_f: ["one_done", "failed"],
  all_success_f: ["all_success", "failed"],
  all_success_k: ["all_success", "skipped"],
  none_failed_f: ["none_failed", "failed"],
  all_failed_s: ["all_failed", "success"],
  all_skipped_s: ["all_skipped", "success"],
  none_skipped_k: ["none_skipped", "skipped"],
  admos_k: ["all_done_min_one_success", "skipped"],
  all_done: ["all_done", "success"],
  none_failed_s: ["none_failed", "success"],
  one_failed_s: ["one_failed", "success"],
};

describe("the truth table, in pure terms", () => {
  it("covers all 12 rules over 34 upstream combinations", () => {
    expect(new Set(CELLS.map((c) => c.rule)).size).toBe(12);
    expect(CELLS).toHaveLength(12 * 34);
    expect(new Set(CELLS.map((c) => c.id)).size).toBe(CELLS.length);
  });

  it("in phase order, the first decision is the one the final upstream states give", () => {
    for (const c of CELLS) expect(decidedInOrder(c.rule, c.outcomes), c.id).toBe(evaluateTriggerRule(c.rule, countUpstreams(c.outcomes)));
  });
});

describe.each(backends())("trigger rules end to end on %s", (backend) => {
  let db: TestDatabase;
  let engine: TestEngine;
  const flags = fs.mkdtempSync(path.join(os.tmpdir(), "updraft-eager-"));
  const flag = path.join(flags, "release");

  beforeAll(async () => {
    db = await createTestDatabase(backend);
    engine = await startEngine(db.store, { dagsFolder: dagsFolderWith({ "table.ts": tableDag(), "eager.ts": eagerDag(flag) }), slots: 4 });
  });
  afterAll(async () => {
    fs.writeFileSync(flag, ""); // lets a still-poking sensor end if a test failed early
    await engine?.stop();
    await db?.drop();
    fs.rmSync(flags, { recursive: true, force: true });
  });

  const states = async (runPk: number) =>
    Object.fromEntries(
      (await db.store.db.selectFrom("task_instances").select(["task_id", "state"]).where("run_pk", "=", runPk).execute()).map((t) => [t.task_id, t.state as string | null]),
    );

  it("each rule × upstream combination ends as the pure evaluator decides", async () => {
    const run = await createRun(db.store.db, { dagId: "truth_table", runType: "manual", logicalDate: new Date() });
    await waitForRunEnd(db.store, run.id, 90_000);
    const got = await states(run.id);
    // The upstream outcomes are what the cells assume; ctx.fail failed without its retries.
    for (const [prefix, state] of [["s", "success"], ["f", "failed"], ["u", "upstream_failed"], ["k", "skipped"]]) {
      for (const i of [1, 2, 3]) expect(got[`${prefix}${i}`], `${prefix}${i}`).toBe(state);
    }
    expect(got.g).toBe("failed");
    const expected = Object.fromEntries(CELLS.map((c) => [c.id, finalState(evaluateTriggerRule(c.rule, countUpstreams(c.outcomes)))]));
    const actual = Object.fromEntries(CELLS.map((c) => [c.id, got[c.id]]));
    expect(actual).toEqual(expected);
    // Every verdict occurs somewhere in the table (no rule degenerates to one answer unnoticed).
    expect(new Set(Object.values(expected))).toEqual(new Set(["success", "skipped", "upstream_failed"]));
    const run2 = await db.store.db.selectFrom("dag_runs").select("unfinished_tis").where("id", "=", run.id).executeTakeFirstOrThrow();
    expect(run2.unfinished_tis).toBe(0);
  }, 120_000);

  it("one_success / one_failed / one_done fire, and settling rules settle, while another upstream still runs", async () => {
    const run = await createRun(db.store.db, { dagId: "eager", runType: "manual", logicalDate: new Date() });
    const early = Object.entries(EAGER).filter(([, [rule, other]]) => evaluateTriggerRule(rule, countUpstreams([other, "running"])) !== "wait");
    const waiting = Object.entries(EAGER).filter(([, [rule, other]]) => evaluateTriggerRule(rule, countUpstreams([other, "running"])) === "wait");
    expect(early.map(([id]) => id).sort()).toEqual(
      ["admos_k", "all_failed_s", "all_skipped_s", "all_success_f", "all_success_k", "none_failed_f", "none_skipped_k", "one_done_f", "one_done_s", "one_failed", "one_success"].sort(),
    );
    const decided = await waitFor("the eager tasks to end while slow pokes", async () => {
      const s = await states(run.id);
      return early.every(([id]) => s[id] === "success" || s[id] === "skipped" || s[id] === "upstream_failed") ? s : null;
    }, 20_000);
    // slow was still running all along: nothing has released it yet.
    expect(fs.existsSync(flag)).toBe(false);
    expect(decided.slow).toBe("running");
    for (const [id, [rule, other]] of early) expect(decided[id], id).toBe(finalState(evaluateTriggerRule(rule, countUpstreams([other, "running"]))));
    for (const [id] of waiting) expect(decided[id], id).toBeNull();

    fs.writeFileSync(flag, "");
    await waitForRunEnd(db.store, run.id, 20_000);
    const end = await states(run.id);
    expect(end.slow).toBe("success");
    for (const [id, [rule, other]] of Object.entries(EAGER)) expect(end[id], id).toBe(finalState(evaluateTriggerRule(rule, countUpstreams([other, "success"]))));
  }, 60_000);
});
