// What a DAG author gets: `import { dag } from "updraft"` and `import { testDag } from "updraft/testing"`
// (the package's own exports), typed inputs, skip/fail, trigger-rule propagation and the run state.
import { describe, expect, it } from "vitest";
import { dag } from "updraft";
import { testDag } from "updraft/testing";

describe("updraft/testing", () => {
  it("runs a DAG in-process with typed data, logs and the run's state", async () => {
    const def = dag({ id: "authoring", params: { n: { type: "integer", default: 3 } } }, (d) => {
      const numbers = d.task("numbers", (ctx) => Array.from({ length: Number(ctx.params.n) }, (_, i) => i + 1));
      const total = d.task("total", [numbers], (ctx, xs) => {
        ctx.log.info(`summing ${xs.length}`);
        return xs.reduce((a, b) => a + b, 0);
      });
      const report = d.shell("report", "echo first && echo last");
      d.chain(total, report);
    });
    const result = await testDag(def, { conf: { n: 4 }, date: "2024-03-01" });
    expect(result.state).toBe("success");
    expect(result.tasks.numbers!.value).toEqual([1, 2, 3, 4]);
    expect(result.tasks.total!.value).toBe(10);
    expect(result.tasks.total!.logs.map((l) => l.line)).toEqual(["summing 4"]);
    expect(result.tasks.report!.value).toBe("last");
  });

  it("propagates skip and failure as Airflow does and decides the run from its leaves", async () => {
    const def = dag({ id: "outcomes" }, (d) => {
      const skipper = d.task("skipper", (ctx) => ctx.skip("nothing to do"));
      d.task("after_skip", [skipper], () => 1);
      const failer = d.task("failer", (ctx) => ctx.fail("bad input"));
      d.task("after_fail", [failer], () => 1);
    });
    const result = await testDag(def);
    expect(Object.fromEntries(Object.entries(result.tasks).map(([id, t]) => [id, t.state]))).toEqual({
      skipper: "skipped",
      after_skip: "skipped",
      failer: "failed",
      after_fail: "upstream_failed",
    });
    expect(result.tasks.failer!.error).toBe("bad input");
    expect(result.state).toBe("failed");
  });
  it("branches and short-circuits as the engine does (typed branch inputs, skipped paths)", async () => {
    const def = dag({ id: "decisions" }, (d) => {
      const n = d.task("n", () => 2);
      const pick = d.branch("pick", [n], (ctx, value) => (value % 2 === 0 ? "even" : "odd"));
      const even = d.task("even", () => "E");
      const odd = d.task("odd", () => "O");
      pick.before(even, odd);
      d.task("join", () => 1, { triggerRule: "none_failed_min_one_success" }).after(even, odd);
      const gate = d.shortCircuit("gate", [n], (ctx, value) => value > 5);
      const gated = d.task("gated", () => 1, { triggerRule: "all_done" });
      gate.before(gated);
    });
    const result = await testDag(def);
    expect(Object.fromEntries(Object.entries(result.tasks).map(([id, t]) => [id, t.state]))).toEqual({
      n: "success",
      pick: "success",
      even: "success",
      odd: "skipped",
      join: "success",
      gate: "success",
      gated: "skipped",
    });
    expect(result.tasks.pick!.value).toEqual(["even"]);
  });
});
