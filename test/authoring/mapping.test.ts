// d.map, d.group and callbacks as a DAG author sees them: the types (checked by `tsc --noEmit`:
// each `@ts-expect-error` line must be an error, or tsc fails) and `updraft/testing`'s in-process
// run, which expands mapped tasks and runs callbacks as a worker does.
import { describe, expect, it } from "vitest";
import { dag, type Task } from "updraft";
import { testDag } from "updraft/testing";
import { buildStructure } from "../../engine/model/structure.js";

describe("d.map types", () => {
  it("types the item from the source's list and the downstream's input as the list of results", () => {
    dag({ id: "typed_map" }, (d) => {
      const numbers = d.task("numbers", () => [1, 2, 3]);
      const squares = d.map("squares", numbers, (ctx, n) => n * n);
      const check: Task<number[]> = squares;
      d.task("total", [squares], (ctx, xs) => xs.reduce((a, b) => a + b, 0));
      const labels = d.map("labels", numbers, async (ctx, n) => ({ label: `#${n}`, index: ctx.mapIndex }));
      d.task("names", [labels], (ctx, ls) => ls.map((l) => l.label.toUpperCase()));
      // Mapping over a mapped task's results.
      d.map("again", squares, (ctx, sq) => sq + 1);

      const text = d.task("text", () => "not a list");
      // @ts-expect-error a task whose value is not a list cannot be mapped over
      d.map("bad_source", text, (ctx, x) => x);
      // @ts-expect-error the item is a number, not a string
      d.map("bad_item", numbers, (ctx, n) => n.toUpperCase());
      // @ts-expect-error the downstream gets the list of results, not one result
      d.task("bad_downstream", [squares], (ctx, xs: number) => xs);
      void check;
    });
  });
});

describe("d.map definition errors", () => {
  it("refuses a source that is not a task of the DAG, a rule that would start it unexpanded, and a bad maxMapLength", () => {
    const other = dag({ id: "other" }, (d) => void d.task("list", () => [1]));
    const foreign = dag({ id: "foreign" }, (d) => void d.map("each", [...other.tasks.values()][0] as never, (ctx, x) => x));
    expect(() => buildStructure(foreign)).toThrow('mapped task "each" must map over a task of DAG "foreign"');
    const always = dag({ id: "always" }, (d) => void d.map("each", d.task("list", () => [1]), (ctx, x) => x, { triggerRule: "always" }));
    expect(() => buildStructure(always)).toThrow('DAG "always" task "each": triggerRule "always" is not supported on a mapped task: it must wait for "list"');
    const negative = dag({ id: "negative" }, (d) => void d.map("each", d.task("list", () => [1]), (ctx, x) => x, { maxMapLength: -1 }));
    expect(() => buildStructure(negative)).toThrow('DAG "negative" task "each": maxMapLength must be a non-negative integer, got -1');
    const ok = buildStructure(dag({ id: "ok", maxMapLength: 5 }, (d) => void d.map("each", d.task("list", () => [1]), (ctx, x) => x)));
    expect(ok.tasks.find((t) => t.taskId === "each")).toMatchObject({ mapSource: "list", maxMapLength: 5, upstream: ["list"], inputs: ["list"] });
  });
});

describe("updraft/testing with d.map, d.group and callbacks", () => {
  it("expands mapped tasks, with each item and its map index, and passes the results on in order", async () => {
    const calls: string[] = [];
    const def = dag({ id: "tested_map", onSuccess: (ctx) => void calls.push(`run ${ctx.state}`) }, (d) => {
      const numbers = d.task("numbers", (ctx) => Array.from({ length: Number(ctx.conf.n) }, (_, i) => i + 1));
      d.group("math", (g) => {
        const doubled = g.map("double", numbers, (ctx, n) => ({ n: n * 2, at: ctx.mapIndex }), { onSuccess: (ctx) => void calls.push(`double ${ctx.mapIndex}`) });
        g.task("sum", [doubled], (ctx, xs) => xs.reduce((a, x) => a + x.n, 0));
      });
    });
    const result = await testDag(def, { conf: { n: 3 } });
    expect(result.state).toBe("success");
    expect(result.tasks["math.double"]!.value).toEqual([
      { n: 2, at: 0 },
      { n: 4, at: 1 },
      { n: 6, at: 2 },
    ]);
    expect(result.tasks["math.double"]!.mapped!.map((m) => m.state)).toEqual(["success", "success", "success"]);
    expect(result.tasks["math.sum"]!.value).toBe(12);
    expect(calls).toEqual(["double 0", "double 1", "double 2", "run success"]);

    const empty = await testDag(def, { conf: { n: 0 } });
    expect([empty.state, empty.tasks["math.double"]!.state, empty.tasks["math.sum"]!.state]).toEqual(["success", "skipped", "skipped"]);
  });

  it("fails a mapped task over a value that is not a list, or over a list longer than maxMapLength, with the engine's message", async () => {
    const failures: string[] = [];
    const def = dag({ id: "bad_maps", maxMapLength: 2 }, (d) => {
      const list = d.task("list", (ctx) => (ctx.conf.list ? [1, 2, 3] : "text"));
      d.map("each", list as unknown as Task<number[]>, (ctx, x) => x, { onFailure: (ctx, err) => void failures.push(err.message) });
    });
    const notList = await testDag(def, { conf: { list: false } });
    expect(notList.state).toBe("failed");
    expect(notList.tasks.each!.error).toBe('mapped task "each" needs a list from its upstream "list", which returned a JSON string');
    const tooLong = await testDag(def, { conf: { list: true } });
    expect(tooLong.tasks.each!.error).toBe('upstream "list" returned 3 items, more than the maxMapLength of mapped task "each" (2)');
    expect(failures).toEqual([notList.tasks.each!.error, tooLong.tasks.each!.error]);
  });

  it("runs onFailure (not onRetry: no retries here) and logs a throwing callback without changing the state", async () => {
    const calls: string[] = [];
    // The DAG's `defaults` give every task a callback; a task's own option wins.
    const def = dag({ id: "tested_callbacks", defaults: { onFailure: (ctx) => void calls.push(`default failure: ${ctx.taskId}`) } }, (d) => {
      d.task("boom", () => { throw new Error("boom"); }, { retries: 2, onRetry: () => void calls.push("retry"), onFailure: (ctx, err) => void calls.push(`failure: ${err.message}`) });
      d.task("fine", () => 1, { onSuccess: () => { throw new Error("callback broke"); } });
      d.task("gives_up", (ctx) => ctx.fail("no"));
    });
    const result = await testDag(def);
    expect(calls).toEqual(["failure: boom", "default failure: gives_up"]);
    expect(result.tasks.fine!.state).toBe("success");
    expect(result.tasks.fine!.logs.map((l) => l.line).join("\n")).toMatch(/onSuccess callback failed \(the task's state is unchanged\): Error: callback broke/);
  });
});
