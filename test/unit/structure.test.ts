// buildStructure: the validated, serialized DAG that the processor stores and the engine reads.
import { describe, expect, it } from "vitest";
import { dag, type DagBuilder, type Task } from "../../engine/authoring/index.js";
import type { WeightRule } from "../../engine/authoring/types.js";
import { buildStructure, DagDefinitionError, taskIndex } from "../../engine/model/structure.js";

const noop = async () => null;

function structureOf(build: (d: DagBuilder) => void, spec: Partial<Parameters<typeof dag>[0]> = {}) {
  return buildStructure(dag({ id: "unit", ...spec }, build));
}

function errorOf(build: (d: DagBuilder) => void): DagDefinitionError {
  try {
    structureOf(build);
  } catch (err) {
    expect(err).toBeInstanceOf(DagDefinitionError);
    return err as DagDefinitionError;
  }
  throw new Error("expected buildStructure to throw");
}

describe("validation", () => {
  it("reports a cycle naming the tasks in it, in order", () => {
    const err = errorOf((d) => {
      const a = d.task("extract", noop);
      const b = d.task("transform", noop);
      const c = d.task("load", noop);
      d.task("unrelated", noop);
      d.chain(a, b, c);
      c.before(a);
    });
    expect(err.message).toMatch(/^DAG "unit" has a cycle: /);
    const cycle = err.message.replace(/^.*has a cycle: /, "").split(" → ");
    expect(cycle[0]).toBe(cycle.at(-1)); // closed
    expect(new Set(cycle)).toEqual(new Set(["extract", "transform", "load"]));
    // Consecutive names are real edges: extract → transform → load → extract.
    const next = { extract: "transform", transform: "load", load: "extract" } as Record<string, string>;
    for (let i = 0; i + 1 < cycle.length; i++) expect(next[cycle[i]!]).toBe(cycle[i + 1]);
    expect(err.message).not.toContain("unrelated");
  });

  it("reports a self-loop", () => {
    expect(errorOf((d) => {
      const a = d.task("again", noop);
      a.before(a);
    }).message).toBe('DAG "unit" has a cycle: again → again');
  });

  it("reports a duplicate task id, naming it", () => {
    const err = errorOf((d) => {
      d.task("extract", noop);
      d.shell("extract", "echo hi");
    });
    expect(err.message).toBe('duplicate task id "extract" in DAG "unit"');
  });

  it("reports an invalid task id", () => {
    expect(errorOf((d) => d.task("has space", noop)).message).toMatch(/task id "has space" is invalid/);
  });

  it("reports an unknown trigger rule, naming the task", () => {
    expect(errorOf((d) => d.task("t", noop, { triggerRule: "sometimes" as never })).message).toMatch(/task "t": triggerRule "sometimes" is not one of all_success, /);
  });

  it("reports a bad schedule, naming the DAG", () => {
    expect(() => structureOf((d) => d.task("t", noop), { schedule: "@fortnightly" })).toThrow(/^DAG "unit": schedule "@fortnightly" is not a known preset/);
  });

  it("rejects an invalid DAG id at definition", () => {
    expect(() => dag({ id: "no/slashes" }, () => {})).toThrow(/dag id "no\/slashes" is invalid/);
  });
});

describe("shape", () => {
  // extract → [clean, validate] → load → [report, notify]
  const s = structureOf((d) => {
    const extract = d.task("extract", noop);
    const clean = d.task("clean", [extract], async (_ctx, rows) => rows);
    const validate = d.task("validate", noop);
    const load = d.task("load", noop);
    extract.before(validate);
    load.after(clean, validate);
    d.chain(load, [d.shell("report", "echo done"), d.task("notify", noop)]);
  });
  const tasks = taskIndex(s);

  it("finds roots and leaves", () => {
    expect(s.roots).toEqual(["extract"]);
    expect([...s.leaves].sort()).toEqual(["notify", "report"]);
  });

  it("records both directions of every edge, and data inputs", () => {
    expect(tasks.get("load")!.upstream).toEqual(["clean", "validate"]);
    expect(tasks.get("extract")!.downstream).toEqual(["clean", "validate"]);
    expect(tasks.get("clean")!.inputs).toEqual(["extract"]);
    expect(tasks.get("validate")!.inputs).toEqual([]);
  });

  it("lists tasks in topological order", () => {
    const position = new Map(s.tasks.map((t, i) => [t.taskId, i]));
    for (const t of s.tasks) for (const up of t.upstream) expect(position.get(up)!).toBeLessThan(position.get(t.taskId)!);
  });

  it("applies Airflow's defaults", () => {
    const t = tasks.get("extract")!;
    expect(t).toMatchObject({ triggerRule: "all_success", retries: 0, retryDelayMs: 300_000, pool: "default_pool", poolSlots: 1, queue: "default", priorityWeight: 1, weightRule: "downstream" });
    expect(tasks.get("report")!.operator).toBe("BashOperator");
    expect(s).toMatchObject({ catchup: false, maxActiveRuns: 16, schedule: null, timezone: "UTC" });
  });

  it("takes DAG defaults, overridden per task, and parses durations", () => {
    const s2 = structureOf(
      (d) => {
        d.task("a", noop);
        d.task("b", noop, { retries: 5, timeout: "2m" });
      },
      { defaults: { retries: 2, retryDelay: "10s", timeout: "5m" } },
    );
    const t = taskIndex(s2);
    expect(t.get("a")).toMatchObject({ retries: 2, retryDelayMs: 10_000, timeoutMs: 300_000 });
    expect(t.get("b")).toMatchObject({ retries: 5, retryDelayMs: 10_000, timeoutMs: 120_000 });
  });
});

describe("effective priority weight (Airflow's weight rules)", () => {
  //      ┌→ b ─┐
  //  a ──┤      ├→ d
  //      └→ c ─┘
  // weights: a=1, b=2, c=3, d=4
  function diamond(rule: WeightRule) {
    const s = structureOf((d) => {
      const opts = (w: number) => ({ priorityWeight: w, weightRule: rule });
      const a = d.task("a", noop, opts(1));
      const b = d.task("b", noop, opts(2));
      const c = d.task("c", noop, opts(3));
      const e = d.task("d", noop, opts(4));
      a.before(b, c);
      e.after(b, c);
    });
    return Object.fromEntries(s.tasks.map((t) => [t.taskId, t.effectivePriority]));
  }

  it("downstream (the default): own weight plus every task downstream, each counted once", () => {
    expect(diamond("downstream")).toEqual({ a: 1 + 2 + 3 + 4, b: 2 + 4, c: 3 + 4, d: 4 });
  });

  it("upstream: own weight plus every task upstream, each counted once", () => {
    expect(diamond("upstream")).toEqual({ a: 1, b: 2 + 1, c: 3 + 1, d: 4 + 2 + 3 + 1 });
  });

  it("absolute: own weight only", () => {
    expect(diamond("absolute")).toEqual({ a: 1, b: 2, c: 3, d: 4 });
  });

  it("defaults every weight to 1, so a chain's head outranks its tail", () => {
    const s = structureOf((d) => {
      const steps: Task<unknown>[] = ["s1", "s2", "s3", "s4"].map((id) => d.task(id, noop));
      d.chain(...steps);
    });
    expect(s.tasks.map((t) => t.effectivePriority)).toEqual([4, 3, 2, 1]);
  });
});
