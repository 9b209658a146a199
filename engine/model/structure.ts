// The serialized shape of a DAG: what the DAG processor stores in a DAG version, what the
// scheduler and workers read. Built and validated from a DagDefinition with graphology.
import { DirectedGraph } from "graphology";
import { hasCycle, topologicalSort } from "graphology-dag";
import type { DagDefinition, TaskDefinition } from "../authoring/index.js";
import { TRIGGER_RULES, type ParamSpec, type TriggerRule, type WeightRule } from "../authoring/types.js";
import { parseDuration } from "../semantics/duration.js";
import { SENSOR_DEFAULTS } from "../authoring/sensor.js";
import { serializeSchedule, type SerializedSchedule } from "../semantics/schedule.js";
import { paramSpecProblems } from "../params.js";

/** Airflow's operator class for each kind of task (shown as `operator` in the API). */
const OPERATORS: Record<TaskDefinition["kind"], string> = {
  task: "PythonOperator",
  shell: "BashOperator",
  branch: "BranchPythonOperator",
  short_circuit: "ShortCircuitOperator",
  http: "HttpOperator",
  sql: "SQLExecuteQueryOperator",
  sensor: "PythonSensor",
};

export interface TaskStructure {
  taskId: string;
  operator: "PythonOperator" | "BashOperator" | string;
  kind: TaskDefinition["kind"];
  upstream: string[];
  downstream: string[];
  /** Upstream tasks whose return values are this task's arguments, in order. */
  inputs: string[];
  triggerRule: TriggerRule;
  retries: number;
  retryDelayMs: number;
  retryExponentialBackoff: boolean;
  maxRetryDelayMs: number | null;
  timeoutMs: number | null;
  pool: string;
  poolSlots: number;
  queue: string;
  priorityWeight: number;
  weightRule: WeightRule;
  /** Effective weight after `weightRule`, used for claim order. */
  effectivePriority: number;
  dependsOnPast: boolean;
  /** Running TIs of this task across the DAG's runs; null: no limit. Absent in versions stored before it existed. */
  maxActiveTisPerDag?: number | null;
  /** `d.sensor`'s settings (engine/authoring/sensor.ts); absent for other kinds. */
  sensor?: { mode: "poke" | "reschedule"; pokeIntervalMs: number; timeoutMs: number; softFail: boolean };
  doc: string | null;
  /** `d.map`: the upstream task whose list this task expands over, one TI per item; null if unmapped. */
  mapSource: string | null;
  /** The most TIs a mapped task expands to. */
  maxMapLength: number;
  /** `d.group`: the task group path (`extract.inner`), for the UI to collapse; null outside groups. */
  group: string | null;
  /** Which task callbacks the task has (they run in its runner; the functions stay in the bundle). */
  callbacks: ("onSuccess" | "onFailure" | "onRetry")[];
}

export interface DagStructure {
  dagId: string;
  description: string | null;
  doc: string | null;
  schedule: SerializedSchedule | null;
  timezone: string;
  start: string | null;
  end: string | null;
  catchup: boolean;
  maxActiveRuns: number;
  maxActiveTasks: number;
  params: Record<string, ParamSpec>;
  tags: string[];
  owners: string[];
  tasks: TaskStructure[];
  roots: string[];
  leaves: string[];
  /** Which DAG-level run callbacks the DAG has: the worker asks a runner only when there is one. */
  callbacks: ("onSuccess" | "onFailure")[];
}

/** A problem in a DAG file, with the line that caused it when known. */
export class DagDefinitionError extends Error {
  constructor(
    message: string,
    readonly at?: Error,
  ) {
    super(message);
    this.name = "DagDefinitionError";
  }
}

export const DEFAULT_MAX_ACTIVE_RUNS = 16;
export const DEFAULT_MAX_ACTIVE_TASKS = 16;
/** Airflow's `max_map_length` default. */
export const DEFAULT_MAX_MAP_LENGTH = 1024;

function toIso(value: string | Date | undefined, field: string): string | null {
  if (value === undefined || value === null) return null;
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) throw new DagDefinitionError(`${field}: ${JSON.stringify(value)} is not a date`);
  return date.toISOString();
}

function positiveInt(value: unknown, field: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || (value as number) < 0) throw new DagDefinitionError(`${field} must be a non-negative integer, got ${JSON.stringify(value)}`);
  return value as number;
}

function atLeastOne(value: unknown, field: string, t: TaskDefinition): number {
  if (!Number.isInteger(value) || (value as number) < 1) throw new DagDefinitionError(`${field} must be an integer of at least 1, got ${JSON.stringify(value)}`, t.definedAt);
  return value as number;
}

function taskStructure(t: TaskDefinition, dagId: string, dagMaxMapLength: number | undefined): Omit<TaskStructure, "downstream" | "effectivePriority"> {
  const o = t.options;
  const field = (name: string) => `DAG "${dagId}" task "${t.id}": ${name}`;
  const rule = o.triggerRule ?? "all_success";
  if (!TRIGGER_RULES.includes(rule)) throw new DagDefinitionError(`${field("triggerRule")} ${JSON.stringify(rule)} is not one of ${TRIGGER_RULES.join(", ")}`, t.definedAt);
  const weightRule = o.weightRule ?? "downstream";
  if (!["downstream", "upstream", "absolute"].includes(weightRule)) throw new DagDefinitionError(`${field("weightRule")} must be downstream, upstream or absolute`, t.definedAt);
  const duration = (v: TaskDefinition["options"]["timeout"], name: string) => {
    try {
      return v === undefined ? null : parseDuration(v, field(name));
    } catch (err) {
      throw new DagDefinitionError((err as Error).message, t.definedAt);
    }
  };
  return {
    taskId: t.id,
    kind: t.kind,
    operator: OPERATORS[t.kind],
    upstream: [...t.upstream].sort(),
    inputs: t.inputs,
    triggerRule: rule,
    retries: positiveInt(o.retries, field("retries"), 0),
    retryDelayMs: duration(o.retryDelay, "retryDelay") ?? 300_000,
    retryExponentialBackoff: o.retryExponentialBackoff ?? false,
    maxRetryDelayMs: duration(o.maxRetryDelay, "maxRetryDelay"),
    timeoutMs: duration(o.timeout, "timeout"),
    pool: o.pool ?? "default_pool",
    // At least 1, as in Airflow: a task taking no slot would escape its pool.
    poolSlots: o.poolSlots === undefined ? 1 : atLeastOne(o.poolSlots, field("poolSlots"), t),
    queue: o.queue ?? "default",
    priorityWeight: Number.isInteger(o.priorityWeight) ? (o.priorityWeight as number) : 1,
    weightRule,
    dependsOnPast: o.dependsOnPast ?? false,
    maxActiveTisPerDag: o.maxActiveTisPerDag === undefined ? null : atLeastOne(o.maxActiveTisPerDag, field("maxActiveTisPerDag"), t),
    ...(t.sensor
      ? {
          sensor: {
            mode: t.sensor.mode ?? SENSOR_DEFAULTS.mode,
            pokeIntervalMs: duration(t.sensor.pokeInterval, "pokeInterval") ?? SENSOR_DEFAULTS.pokeIntervalMs,
            timeoutMs: duration(t.sensor.timeout, "timeout") ?? SENSOR_DEFAULTS.timeoutMs,
            softFail: t.sensor.softFail ?? false,
          },
        }
      : {}),
    doc: o.doc ?? null,
    ...mappingStructure(t, field),
    maxMapLength: positiveInt(o.maxMapLength ?? dagMaxMapLength, field("maxMapLength"), DEFAULT_MAX_MAP_LENGTH),
    group: t.group ?? null,
    callbacks: (["onSuccess", "onFailure", "onRetry"] as const).filter((name) => typeof o[name] === "function"),
  };
}

/**
 * A mapped task expands when its upstreams let it run (settleDownstream): a rule that needs no
 * upstream (`always`) or depends_on_past would queue it unexpanded, so they are refused here.
 */
function mappingStructure(t: TaskDefinition, field: (name: string) => string): Pick<TaskStructure, "mapSource"> {
  if (!t.mapSource) return { mapSource: null };
  if (t.options.triggerRule === "always") throw new DagDefinitionError(`${field("triggerRule")} "always" is not supported on a mapped task: it must wait for "${t.mapSource}"`, t.definedAt);
  if (t.options.dependsOnPast) throw new DagDefinitionError(`${field("dependsOnPast")} is not supported on a mapped task`, t.definedAt);
  return { mapSource: t.mapSource };
}

/** Validates a DAG definition and serializes it. Throws DagDefinitionError naming the tasks at fault. */
export function buildStructure(def: DagDefinition): DagStructure {
  const first = def.problems[0];
  if (first) throw new DagDefinitionError(first.message, first.at);
  const spec = def.spec;

  const graph = new DirectedGraph();
  for (const id of def.tasks.keys()) graph.addNode(id);
  for (const t of def.tasks.values()) for (const up of t.upstream) graph.mergeEdge(up, t.id);
  if (hasCycle(graph)) {
    const cycle = findCycle(graph);
    throw new DagDefinitionError(`DAG "${def.id}" has a cycle: ${cycle.join(" → ")}`, def.tasks.get(cycle[0] ?? "")?.definedAt);
  }

  let schedule: SerializedSchedule | null;
  try {
    schedule = serializeSchedule(spec.schedule, spec.timezone ?? "UTC");
  } catch (err) {
    throw new DagDefinitionError(`DAG "${def.id}": ${(err as Error).message}`);
  }

  const paramProblem = paramSpecProblems(spec.params, schedule !== null)[0];
  if (paramProblem) throw new DagDefinitionError(`DAG "${def.id}": ${paramProblem.field} ${paramProblem.message}`);

  const partial = new Map([...def.tasks.values()].map((t) => [t.id, taskStructure(t, def.id, spec.maxMapLength)]));
  const order = topologicalSort(graph);
  const tasks: TaskStructure[] = order.map((id) => {
    const t = partial.get(id)!;
    return { ...t, downstream: graph.outNeighbors(id).sort(), effectivePriority: effectiveWeight(graph, partial, id) };
  });
  return {
    dagId: def.id,
    description: spec.description ?? null,
    doc: spec.doc ?? null,
    schedule,
    timezone: spec.timezone ?? "UTC",
    start: toIso(spec.start, `DAG "${def.id}": start`),
    end: toIso(spec.end, `DAG "${def.id}": end`),
    catchup: spec.catchup ?? false,
    maxActiveRuns: positiveInt(spec.maxActiveRuns, `DAG "${def.id}": maxActiveRuns`, DEFAULT_MAX_ACTIVE_RUNS),
    maxActiveTasks: positiveInt(spec.maxActiveTasks, `DAG "${def.id}": maxActiveTasks`, DEFAULT_MAX_ACTIVE_TASKS),
    params: spec.params ?? {},
    tags: spec.tags ?? [],
    owners: spec.owners ?? ["airflow"],
    tasks,
    roots: tasks.filter((t) => t.upstream.length === 0).map((t) => t.taskId),
    leaves: tasks.filter((t) => t.downstream.length === 0).map((t) => t.taskId),
    callbacks: (["onSuccess", "onFailure"] as const).filter((name) => typeof spec[name] === "function"),
  };
}

/** Airflow's weight rules: own weight plus that of every task downstream (or upstream). */
function effectiveWeight(graph: DirectedGraph, tasks: Map<string, { priorityWeight: number; weightRule: WeightRule }>, id: string): number {
  const own = tasks.get(id)!;
  if (own.weightRule === "absolute") return own.priorityWeight;
  const seen = new Set<string>([id]);
  const stack = [id];
  let total = 0;
  while (stack.length) {
    const node = stack.pop()!;
    total += tasks.get(node)!.priorityWeight;
    const next = own.weightRule === "downstream" ? graph.outNeighbors(node) : graph.inNeighbors(node);
    for (const n of next) {
      if (!seen.has(n)) {
        seen.add(n);
        stack.push(n);
      }
    }
  }
  return total;
}

/** One cycle's tasks, for the error message (graphology-dag says whether, not where). */
function findCycle(graph: DirectedGraph): string[] {
  const state = new Map<string, 1 | 2>();
  const path: string[] = [];
  const visit = (node: string): string[] | null => {
    state.set(node, 1);
    path.push(node);
    for (const next of graph.outNeighbors(node)) {
      if (state.get(next) === 1) return [...path.slice(path.indexOf(next)), next];
      if (!state.has(next)) {
        const found = visit(next);
        if (found) return found;
      }
    }
    path.pop();
    state.set(node, 2);
    return null;
  };
  for (const node of graph.nodes()) {
    if (!state.has(node)) {
      const found = visit(node);
      if (found) return found;
    }
  }
  return [];
}

export function taskIndex(structure: DagStructure): Map<string, TaskStructure> {
  return new Map(structure.tasks.map((t) => [t.taskId, t]));
}
