// One attempt of a `d.sensor` task (engine/authoring/sensor.ts), as Airflow's BaseSensorOperator
// runs it: poke; met → success (the poke's xcom is the return value); not met and the sensor's
// timeout — counted from its first poke, over tries and reschedules — has passed → failed without
// retry (AirflowSensorTimeout), or skipped with softFail; otherwise wait: in "poke" mode sleep
// `pokeInterval` in this attempt, in "reschedule" mode end the attempt `up_for_reschedule`.
import type { TaskDefinition } from "../authoring/index.js";
import { pokeOutcome, SENSOR_DEFAULTS } from "../authoring/sensor.js";
import type { TaskContext } from "../authoring/types.js";
import { parseDuration } from "../semantics/duration.js";
import { TaskFailedNoRetry, TaskSkipped, toJson, type TaskHost } from "./context.js";

/** The sensor's condition is not met yet and it runs in reschedule mode: poke again at `at`. */
export class SensorReschedule extends Error {
  constructor(readonly at: number) {
    super(`rescheduled to ${new Date(at).toISOString()}`);
  }
}

export async function runSensor(task: TaskDefinition, ctx: TaskContext, host: TaskHost, signal: AbortSignal, startedAtIso: string | null | undefined): Promise<unknown> {
  const spec = task.sensor!;
  const intervalMs = spec.pokeInterval === undefined ? SENSOR_DEFAULTS.pokeIntervalMs : parseDuration(spec.pokeInterval, "pokeInterval");
  const timeoutMs = spec.timeout === undefined ? SENSOR_DEFAULTS.timeoutMs : parseDuration(spec.timeout, "timeout");
  const mode = spec.mode ?? SENSOR_DEFAULTS.mode;
  const startedAt = startedAtIso ? Date.parse(startedAtIso) : Date.now();
  for (;;) {
    const { done, xcom } = pokeOutcome(task.id, await spec.poke(ctx));
    if (signal.aborted) throw signal.reason ?? new Error("aborted");
    if (done) {
      host.log("log", "info", "Success criteria met. Exiting.");
      return toJson(xcom, "the sensor's xcom");
    }
    const elapsedMs = Date.now() - startedAt;
    if (elapsedMs >= timeoutMs) {
      const message = `Sensor has timed out; run duration of ${(elapsedMs / 1000).toFixed(3)} seconds is more than the specified timeout of ${(timeoutMs / 1000).toFixed(3)}.`;
      host.log("log", "error", message);
      throw spec.softFail ? new TaskSkipped(`${message} Skipping due to soft_fail.`) : new TaskFailedNoRetry(message);
    }
    if (mode === "reschedule") {
      const at = Date.now() + intervalMs;
      host.log("log", "info", `condition not met; rescheduling to ${new Date(at).toISOString()}`);
      throw new SensorReschedule(at);
    }
    host.log("log", "info", `condition not met; poking again in ${intervalMs} ms`);
    await sleep(intervalMs, signal);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason ?? new Error("aborted"));
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason ?? new Error("aborted"));
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
