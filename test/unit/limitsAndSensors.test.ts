// The DAG structure's concurrency options and sensors (issue 4 items 5–7): pool slots and per-task
// limits validated as Airflow does, sensor settings serialized with Airflow's defaults, a sensor
// with a bad spec reported at parse time; and the sensor runner's poke/timeout rules in-process.
import { describe, expect, it } from "vitest";
import { dag, type DagBuilder } from "../../engine/authoring/index.js";
import { buildStructure, DagDefinitionError, taskIndex } from "../../engine/model/structure.js";
import { runTask } from "../../engine/execution/runTask.js";
import type { TaskRunRequest } from "../../engine/execution/context.js";

const structureOf = (build: (d: DagBuilder) => void) => buildStructure(dag({ id: "unit" }, build));
const request = (taskId: string, sensorStartedAt?: string): TaskRunRequest => ({
  dagId: "unit", taskId, runId: "r", mapIndex: -1, tryNumber: 1, maxTries: 0, logicalDate: null,
  dataIntervalStart: null, dataIntervalEnd: null, runStartDate: null, conf: {}, inputs: [], sensorStartedAt,
});
const host = { log: () => {}, pullXcom: async () => null };

describe("limits in the structure", () => {
  it("copies pool, poolSlots, queue and maxActiveTisPerDag; defaults: default_pool, 1 slot, no per-task limit", () => {
    const tasks = taskIndex(structureOf((d) => {
      d.task("a", () => 1, { pool: "etl", poolSlots: 2, queue: "gpu", maxActiveTisPerDag: 3 });
      d.task("b", () => 1);
    }));
    expect(tasks.get("a")).toMatchObject({ pool: "etl", poolSlots: 2, queue: "gpu", maxActiveTisPerDag: 3 });
    expect(tasks.get("b")).toMatchObject({ pool: "default_pool", poolSlots: 1, queue: "default", maxActiveTisPerDag: null });
  });

  it.each([
    [{ poolSlots: 0 }, /poolSlots must be an integer of at least 1/],
    [{ maxActiveTisPerDag: 0 }, /maxActiveTisPerDag must be an integer of at least 1/],
    [{ maxActiveTisPerDag: 1.5 }, /maxActiveTisPerDag/],
  ])("refuses %j", (options, message) => {
    expect(() => structureOf((d) => void d.task("a", () => 1, options))).toThrow(DagDefinitionError);
    expect(() => structureOf((d) => void d.task("a", () => 1, options))).toThrow(message);
  });
});

describe("sensors", () => {
  it("serializes mode, poke interval, timeout and softFail, with Airflow's defaults", () => {
    const tasks = taskIndex(structureOf((d) => {
      d.sensor("s1", { poke: () => true });
      d.sensor("s2", { poke: () => true, pokeInterval: "5s", timeout: "1h", mode: "reschedule", softFail: true });
    }));
    expect(tasks.get("s1")).toMatchObject({ operator: "PythonSensor", kind: "sensor", sensor: { mode: "poke", pokeIntervalMs: 60_000, timeoutMs: 604_800_000, softFail: false } });
    expect(tasks.get("s2")!.sensor).toEqual({ mode: "reschedule", pokeIntervalMs: 5_000, timeoutMs: 3_600_000, softFail: true });
  });

  it("reports a sensor without a poke function or with an unknown mode", () => {
    expect(() => structureOf((d) => void d.sensor("s", {} as never))).toThrow(/sensor "s" needs a poke function/);
    expect(() => structureOf((d) => void d.sensor("s", { poke: () => true, mode: "sometimes" as never }))).toThrow(/mode must be "poke" or "reschedule"/);
  });

  const sensorDag = dag({ id: "unit" }, (d) => {
    d.sensor("later", { poke: () => false, pokeInterval: "1s", timeout: "1h", mode: "reschedule" });
    d.sensor("late", { poke: () => false, pokeInterval: "1s", timeout: "1m", mode: "reschedule" });
    d.sensor("late_soft", { poke: () => false, timeout: "1m", mode: "reschedule", softFail: true });
    d.sensor("odd", { poke: () => "yes" as never });
  });

  it("reschedule mode: an unmet poke asks to run again after pokeInterval", async () => {
    const before = Date.now();
    const result = await runTask(sensorDag, request("later", new Date().toISOString()), host, new AbortController().signal);
    expect(result.outcome).toBe("up_for_reschedule");
    if (result.outcome === "up_for_reschedule") expect(result.rescheduleAt).toBeGreaterThanOrEqual(before + 1_000);
  });

  it("the timeout counts from the first poke, not this attempt: failed without retry, or skipped with softFail", async () => {
    const twoMinutesAgo = new Date(Date.now() - 120_000).toISOString();
    const failed = await runTask(sensorDag, request("late", twoMinutesAgo), host, new AbortController().signal);
    expect(failed).toMatchObject({ outcome: "failed_no_retry" });
    if (failed.outcome === "failed_no_retry") expect(failed.error).toMatch(/Sensor has timed out/);
    expect(await runTask(sensorDag, request("late_soft", twoMinutesAgo), host, new AbortController().signal)).toMatchObject({ outcome: "skipped" });
  });

  it("a poke returning something else than a boolean or { done } fails the attempt", async () => {
    const result = await runTask(sensorDag, request("odd"), host, new AbortController().signal);
    expect(result.outcome).toBe("failed");
  });
});

describe("sensors in testDag (updraft dags test)", () => {
  it("pokes a reschedule-mode sensor again in-process until its condition holds", async () => {
    const { testDag } = await import("../../engine/testing/testDag.js");
    let pokes = 0;
    const def = dag({ id: "unit" }, (d) => {
      d.sensor("wait", { poke: () => ++pokes >= 3 && { done: true, xcom: pokes }, pokeInterval: "10ms", timeout: "10s", mode: "reschedule" });
    });
    const result = await testDag(def);
    expect(result.state).toBe("success");
    expect(result.tasks.wait).toMatchObject({ state: "success", value: 3 });
  });
});
