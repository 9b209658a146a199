// Bad task options (issue 4's bad-input list, the authoring side): each is refused when the DAG file
// is parsed, with an error naming the DAG, the task and the option — negative pool slots, negative or
// fractional retries, retry delays that are not durations, an unknown trigger rule. (The rest of the
// list runs end to end: an unknown pool in test/integration/limits.test.ts, a negative pool size in
// test/web/pools.test.ts, a branch to a task that is not a direct downstream in
// test/integration/taskSemantics.test.ts, a mapped input that is not a list in
// test/integration/mapping.test.ts.)
import { describe, expect, it } from "vitest";
import { dag, type TaskOptions } from "../../engine/authoring/index.js";
import { buildStructure, DagDefinitionError } from "../../engine/model/structure.js";

const build = (options: TaskOptions) => () => buildStructure(dag({ id: "bad" }, (d) => void d.task("t", () => 1, options)));

describe("task options refused at parse time", () => {
  it.each<[TaskOptions, RegExp]>([
    [{ poolSlots: -1 }, /DAG "bad" task "t": poolSlots must be an integer of at least 1, got -1/],
    [{ poolSlots: 1.5 }, /poolSlots must be an integer of at least 1, got 1.5/],
    [{ retries: -1 }, /DAG "bad" task "t": retries must be a non-negative integer, got -1/],
    [{ retries: 2.5 }, /retries must be a non-negative integer, got 2.5/],
    [{ retryDelay: "-5s" as never }, /retryDelay: "-5s" is not a duration/],
    [{ retryDelay: "soon" as never }, /retryDelay: "soon" is not a duration/],
    [{ retryDelay: -100 }, /retryDelay: -100 is not a non-negative number of milliseconds/],
    [{ maxRetryDelay: "1 hour" as never }, /maxRetryDelay: "1 hour" is not a duration/],
    [{ triggerRule: "some_success" as never }, /some_success/],
  ])("%j", (options, message) => {
    expect(build(options)).toThrow(DagDefinitionError);
    expect(build(options)).toThrow(message);
  });

  it("accepts the same options when they are valid", () => {
    const s = build({ poolSlots: 2, retries: 3, retryDelay: "200ms", retryExponentialBackoff: true, maxRetryDelay: "1s", triggerRule: "one_done" })();
    expect(s.tasks[0]).toMatchObject({ poolSlots: 2, retries: 3, retryDelayMs: 200, retryExponentialBackoff: true, maxRetryDelayMs: 1000, triggerRule: "one_done" });
  });
});
