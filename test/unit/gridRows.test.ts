// The grid's task-group rows (web/ui/src/pages/dag/gridRows.ts): nesting in first-appearance order,
// collapsing hides a group's whole subtree, a group's cell shows its most telling task state.
import { describe, expect, it } from "vitest";
import { describeCounts, groupSummaries, groupTree, visibleRows } from "../../web/ui/src/pages/dag/gridRows.js";

const LEGEND = { none: ".", queued: "q", running: "r", success: "s", failed: "f", skipped: "k", absent: "-" };
const DECODE = Object.fromEntries(Object.entries(LEGEND).map(([s, c]) => [c, s]));
// Members of a group need not be adjacent in task order: `g.b` comes after `end`.
const TASKS = ["start", "g.a", "g.inner.c", "end", "g.b"];
const GROUPS = [null, "g", "g.inner", null, "g"];

const show = (rows: ReturnType<typeof visibleRows>) => rows.map((r) => (r.kind === "group" ? `${"  ".repeat(r.depth)}[${r.path}${r.collapsed ? "+" : "-"}]` : `${"  ".repeat(r.depth)}${TASKS[r.task]}`));

describe("grid rows", () => {
  it("puts each group's tasks under its header, nested, in first-appearance order", () => {
    expect(show(visibleRows(groupTree(TASKS.length, GROUPS), new Set()))).toEqual(["start", "[g-]", "  g.a", "  [g.inner-]", "    g.inner.c", "  g.b", "end"]);
  });

  it("a collapsed group hides everything under it; collapsing an inner group keeps its siblings", () => {
    const tree = groupTree(TASKS.length, GROUPS);
    expect(show(visibleRows(tree, new Set(["g"])))).toEqual(["start", "[g+]", "end"]);
    expect(show(visibleRows(tree, new Set(["g.inner"])))).toEqual(["start", "[g-]", "  g.a", "  [g.inner+]", "  g.b", "end"]);
  });

  it("without groups: one row per task in order, no summaries", () => {
    const tree = groupTree(3, undefined);
    expect(visibleRows(tree, new Set()).map((r) => r.kind === "task" && r.task)).toEqual([0, 1, 2]);
    expect(groupSummaries(tree, ["sss"], LEGEND).size).toBe(0);
  });

  it("a group's cell per run: failed over running over success; absent when none of its tasks has a TI", () => {
    const tree = groupTree(TASKS.length, GROUPS);
    // runs × tasks (start, g.a, g.inner.c, end, g.b)
    const cells = ["ssfsr", "sssks", "s--s-", "srs.s"];
    const s = groupSummaries(tree, cells, LEGEND);
    expect(s.get("g")).toEqual(["f", "s", "-", "r"]);
    expect(s.get("g.inner")).toEqual(["f", "s", "-", "s"]);
  });

  it("describes a mapped cell's counts, most first", () => {
    expect(describeCounts({ f: 1, s: 3 }, DECODE)).toBe("3 success, 1 failed");
  });
});
