// `ctx.metrics` and `ctx.models`: what a task records for the experiment tracker and the model
// registry. Recorded in memory during the attempt and carried back with its result (like XCom
// pushes), so the worker stores them fenced on the attempt's lease — a lost attempt records nothing.
import type { ModelRegistration, ModelVersionInfo, TaskContext } from "../authoring/types.js";

export interface MetricPoint {
  name: string;
  value: number;
  step: number | null;
  /** Epoch ms of the call. */
  at: number;
}

export interface TaskRecords {
  metrics: MetricPoint[];
  models: (ModelRegistration & { name: string })[];
}

/** The host side of `ctx.models.production` (a worker asks the database; `dags test` has none). */
export type ProductionModelLookup = (name: string) => Promise<ModelVersionInfo | null>;

export const newTaskRecords = (): TaskRecords => ({ metrics: [], models: [] });

export const isEmptyRecords = (r: TaskRecords | undefined): boolean => !r || (r.metrics.length === 0 && r.models.length === 0);

const METRIC_NAME = /^[A-Za-z0-9_.:/ -]{1,200}$/;
const MODEL_NAME = /^[A-Za-z0-9_.-]{1,200}$/;

export function taskRecordsApi(records: TaskRecords, production: ProductionModelLookup | undefined): Pick<TaskContext, "metrics" | "models"> {
  return {
    metrics: {
      log(name, value, step) {
        // Thrown at the call: a NaN discovered only when stored would be far from its cause.
        if (typeof name !== "string" || !METRIC_NAME.test(name)) throw new Error(`metric name ${JSON.stringify(name)} must be 1-200 characters of letters, digits, space and _ . : / -`);
        if (typeof value !== "number" || !Number.isFinite(value)) throw new Error(`metric "${name}" must be a finite number, got ${String(value)}`);
        if (step !== undefined && !Number.isInteger(step)) throw new Error(`metric "${name}": step must be an integer, got ${String(step)}`);
        records.metrics.push({ name, value, step: step ?? null, at: Date.now() });
      },
    },
    models: {
      production: async (name) => (production ? production(name) : null),
      register(name, version) {
        if (typeof name !== "string" || !MODEL_NAME.test(name)) throw new Error(`model name ${JSON.stringify(name)} must match [A-Za-z0-9_.-]+`);
        if (typeof version?.artifactPath !== "string" || !version.artifactPath) throw new Error(`model "${name}": artifactPath is required`);
        // JSON now, so that what is stored is what the task saw.
        records.models.push(JSON.parse(JSON.stringify({ ...version, name })) as TaskRecords["models"][number]);
      },
    },
  };
}
