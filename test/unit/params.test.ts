// DAG params (a JSON-Schema subset): specs checked at import, a run's conf checked against them.
import { describe, expect, it } from "vitest";
import { dag } from "../../engine/authoring/index.js";
import { buildStructure } from "../../engine/model/structure.js";
import { checkValue, confProblems, paramSpecProblems, serializeParams } from "../../engine/params.js";
import type { ParamSpec } from "../../engine/authoring/types.js";

describe("checkValue", () => {
  it.each<[ParamSpec, unknown, string[]]>([
    [{ type: "string" }, "x", []],
    [{ type: "string" }, 3, ["must be of type string, got 3"]],
    [{ type: "integer" }, 3, []],
    [{ type: "integer" }, 3.5, ["must be of type integer, got 3.5"]],
    [{ type: "number" }, 3.5, []],
    [{ type: "number" }, "3", ['must be of type number, got "3"']],
    [{ type: "boolean" }, false, []],
    [{ type: "boolean" }, "false", ['must be of type boolean, got "false"']],
    [{ type: "object" }, { a: 1 }, []],
    [{ type: "object" }, [1], ["must be of type object, got [1]"]],
    [{ type: "object" }, null, ["must be of type object, got null"]],
    [{ type: "array" }, [1], []],
    [{ enum: ["a", "b"] }, "b", []],
    [{ enum: ["a", "b"] }, "c", ['must be one of "a", "b", got "c"']],
    [{ type: "integer", minimum: 1, maximum: 10 }, 1, []],
    [{ type: "integer", minimum: 1, maximum: 10 }, 0, ["must be >= 1, got 0"]],
    [{ type: "integer", minimum: 1, maximum: 10 }, 11, ["must be <= 10, got 11"]],
    [{}, { anything: true }, []],
  ])("%j with %j → %j", (spec, value, problems) => {
    expect(checkValue(spec, value)).toEqual(problems);
  });
});

describe("param specs at import", () => {
  it.each<[unknown, boolean, string | null]>([
    [{ city: { type: "string", default: "Seattle", description: "d" } }, true, null],
    [{ n: { type: "integer", minimum: 1, maximum: 5, default: 3 } }, true, null],
    [{ n: { type: "int" } }, false, "params.n.type"],
    [{ n: { type: "integer", default: "3" } }, true, "params.n.default"],
    [{ n: { type: "integer", minimum: 5, maximum: 1 } }, false, "params.n.minimum"],
    [{ n: { type: "integer", minimum: "1" } }, false, "params.n.minimum"],
    [{ n: { enum: [] } }, false, "params.n.enum"],
    [{ n: { enum: ["a"], default: "b" } }, false, "params.n.default"],
    [{ n: { format: "date" } }, false, "params.n.format"],
    [{ n: "string" }, false, "params.n"],
    [{ n: { type: "string" } }, true, "params.n.default"], // scheduled: a default is required
    [{ n: { type: "string" } }, false, null], // manual only: may be required at trigger
  ])("%j (scheduled: %s) → problem at %s", (params, scheduled, field) => {
    expect(paramSpecProblems(params, scheduled)[0]?.field ?? null).toBe(field);
  });

  it("a DAG file with a bad param is an import error naming the DAG and the field", () => {
    const def = dag({ id: "p", params: { n: { type: "integer", default: "three" as unknown as number } } }, (d) => void d.task("t", () => 1));
    expect(() => buildStructure(def)).toThrow('DAG "p": params.n.default must be of type integer, got "three"');
  });

  it("a DAG file with an invalid cron is an import error naming the schedule", () => {
    const def = dag({ id: "c", schedule: "0 25 * * *" }, (d) => void d.task("t", () => 1));
    expect(() => buildStructure(def)).toThrow(/DAG "c": schedule "0 25 \* \* \*" is not a valid cron expression/);
  });
});

describe("conf against params", () => {
  const params: Record<string, ParamSpec> = {
    city: { type: "string", default: "Seattle" },
    days: { type: "integer", minimum: 1, maximum: 30, default: 7 },
    mode: { enum: ["fast", "full"] },
  };
  it.each<[Record<string, unknown>, { field: string; message: string }[]]>([
    [{ mode: "fast" }, []],
    [{ mode: "full", city: "Oslo", days: 30, extra: [1] }, []],
    [{ city: "Oslo" }, [{ field: "mode", message: "is required (the param has no default)" }]],
    [{ mode: "slow" }, [{ field: "mode", message: 'must be one of "fast", "full", got "slow"' }]],
    [{ mode: "fast", days: 0 }, [{ field: "days", message: "must be >= 1, got 0" }]],
    [{ mode: "fast", days: "7" }, [{ field: "days", message: 'must be of type integer, got "7"' }]],
  ])("%j → %j", (conf, problems) => {
    expect(confProblems(params, conf)).toEqual(problems);
  });

  it("serializes params as Airflow's details endpoint does, defaults as values", () => {
    expect(serializeParams(params)).toEqual({
      city: { __class: "airflow.sdk.definitions.param.Param", value: "Seattle", description: null, schema: { type: "string" } },
      days: { __class: "airflow.sdk.definitions.param.Param", value: 7, description: null, schema: { type: "integer", minimum: 1, maximum: 30 } },
      mode: { __class: "airflow.sdk.definitions.param.Param", value: null, description: null, schema: { enum: ["fast", "full"] } },
    });
  });
});
