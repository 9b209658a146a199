// `d.sensor`: Airflow's sensors (BaseSensorOperator / PythonSensor) for DAG files. A poke function
// says whether the condition holds; the worker pokes every `pokeInterval` until it does or
// `timeout` (over all tries, from the first poke) passes. In "poke" mode the attempt sleeps between
// pokes, holding its worker slot; in "reschedule" mode an unmet poke ends the attempt as
// `up_for_reschedule`, freeing the slot, and the scheduler queues it again when due.
// Bundled into every DAG bundle: it imports nothing outside this folder.
import type { Duration, TaskContext } from "./types.js";

/** `true` / `false`, or Airflow's PokeReturnValue: `{ done, xcom }` (xcom becomes the return value). */
export type PokeResult = boolean | { done: boolean; xcom?: unknown };

export interface SensorSpec {
  poke: (ctx: TaskContext) => PokeResult | Promise<PokeResult>;
  /** Between pokes; default 60s (Airflow's poke_interval). */
  pokeInterval?: Duration;
  /** Over all tries and reschedules, from the first poke; default 7 days (Airflow's). */
  timeout?: Duration;
  /** Default "poke". */
  mode?: "poke" | "reschedule";
  /** On timeout, end `skipped` instead of `failed`. */
  softFail?: boolean;
}

export const SENSOR_DEFAULTS = { pokeIntervalMs: 60_000, timeoutMs: 7 * 24 * 3_600_000, mode: "poke" as const };

/** What is wrong with a sensor's spec, before any duration is parsed (structure.ts parses those). */
export function sensorProblems(id: string, spec: unknown): string[] {
  const s = spec as Partial<SensorSpec> | null;
  if (!s || typeof s !== "object") return [`sensor "${id}" needs a spec object with a poke function`];
  const problems: string[] = [];
  if (typeof s.poke !== "function") problems.push(`sensor "${id}" needs a poke function`);
  if (s.mode !== undefined && s.mode !== "poke" && s.mode !== "reschedule") problems.push(`sensor "${id}": mode must be "poke" or "reschedule", got ${JSON.stringify(s.mode)}`);
  return problems;
}

/** A poke's answer as {done, xcom}; anything else than a boolean or {done} is the author's error. */
export function pokeOutcome(id: string, value: unknown): { done: boolean; xcom: unknown } {
  if (typeof value === "boolean") return { done: value, xcom: null };
  if (value && typeof value === "object" && typeof (value as { done?: unknown }).done === "boolean") {
    const v = value as { done: boolean; xcom?: unknown };
    return { done: v.done, xcom: v.xcom ?? null };
  }
  throw new Error(`sensor "${id}": poke must return true, false or { done, xcom }, got ${JSON.stringify(value)}`);
}
