// `import { dag } from "updraft"` — the authoring API of DAG files (DESIGN §6).
// Bundled into every DAG bundle: it must stay free of imports outside this folder.
import type { DagSpec, Duration, ParamSpec, TaskContext, TaskFn, TaskOptions } from "./types.js";

export * from "./types.js";

/** Brands survive bundling: the DAG bundle carries its own copy of this module. */
export const DAG_BRAND = Symbol.for("updraft.dag");

export type TaskKind = "task" | "shell" | "branch" | "short_circuit" | "http";

export interface ShellOptions extends TaskOptions {
  env?: Record<string, string>;
  cwd?: string;
}

/** `d.http`: one request; the response body (JSON when it parses, else text) is the task's value. */
export interface HttpRequestSpec {
  method?: string;
  url: string;
  headers?: Record<string, string>;
  /** A string is sent as is; anything else as JSON (with content-type application/json). */
  body?: unknown;
  /** Status codes that count as success; default: any 2xx. */
  expectStatus?: number | number[];
}

/** Everything the engine needs to know about one task; `fn` runs in the worker. */
export interface TaskDefinition {
  id: string;
  kind: TaskKind;
  inputs: string[];
  upstream: Set<string>;
  options: TaskOptions;
  fn?: (ctx: TaskContext, ...args: unknown[]) => unknown;
  command?: string | ((ctx: TaskContext) => string);
  shell?: { env?: Record<string, string>; cwd?: string };
  http?: HttpRequestSpec | ((ctx: TaskContext) => HttpRequestSpec);
  /** Captured at definition, read only to point an error at the line that defined the task. */
  definedAt: Error;
}

export interface DagDefinition {
  readonly [DAG_BRAND]: true;
  readonly id: string;
  readonly spec: DagSpec;
  readonly tasks: Map<string, TaskDefinition>;
  /** Errors found while building (duplicate ids, edges to foreign tasks); reported as import errors. */
  readonly problems: { message: string; at?: Error }[];
}

/** A task handle: its value type `T` flows to downstream tasks that take it as an input. */
export class Task<T = unknown> {
  declare readonly __value: T;
  constructor(
    readonly id: string,
    /** The DAG this task belongs to. */
    readonly dag: DagDefinition,
  ) {}

  /** `a.before(b, c)`: b and c run after a. */
  before(...tasks: (Task<unknown> | Task<unknown>[])[]): this {
    for (const t of tasks.flat()) link(this.dag, this, t);
    return this;
  }

  /** `b.after(a)`: b runs after a. */
  after(...tasks: (Task<unknown> | Task<unknown>[])[]): this {
    for (const t of tasks.flat()) link(this.dag, t, this);
    return this;
  }
}

function link(owner: DagDefinition, up: Task<unknown>, down: Task<unknown>): void {
  const target = owner.tasks.get(down.id);
  if (!owner.tasks.has(up.id) || !target || up.dag !== owner || down.dag !== owner) {
    owner.problems.push({ message: `cannot link "${up.id}" → "${down.id}": both tasks must belong to DAG "${owner.id}"`, at: new Error() });
    return;
  }
  target.upstream.add(up.id);
}

type ValuesOf<I extends readonly Task<unknown>[]> = { [K in keyof I]: I[K] extends Task<infer V> ? V : never };

export interface DagBuilder {
  /** A task with no data inputs. */
  task<T>(id: string, fn: TaskFn<[], T>, options?: TaskOptions): Task<Awaited<T>>;
  /** A task whose arguments are the (JSON) return values of `inputs`, typed. */
  task<const I extends readonly Task<unknown>[], T>(
    id: string,
    inputs: I,
    fn: TaskFn<[...ValuesOf<I>], T>,
    options?: TaskOptions,
  ): Task<Awaited<T>>;
  /** Runs `command` with bash in its own process group; its last stdout line is the task's value. */
  shell(id: string, command: string | ((ctx: TaskContext) => string), options?: ShellOptions): Task<string>;
  /**
   * Airflow's BranchPythonOperator: `fn` returns the id (or ids) of the direct downstream tasks to
   * follow; the other direct downstream tasks are skipped. An id that is not a direct downstream
   * task fails the branch task.
   */
  branch(id: string, fn: TaskFn<[], string | string[] | null | undefined>, options?: TaskOptions): Task<string[]>;
  branch<const I extends readonly Task<unknown>[]>(
    id: string,
    inputs: I,
    fn: TaskFn<[...ValuesOf<I>], string | string[] | null | undefined>,
    options?: TaskOptions,
  ): Task<string[]>;
  /**
   * Airflow's ShortCircuitOperator (ignore_downstream_trigger_rules=True): a falsy result skips
   * every task downstream of this one, whatever their trigger rules.
   */
  shortCircuit<T>(id: string, fn: TaskFn<[], T>, options?: TaskOptions): Task<Awaited<T>>;
  shortCircuit<const I extends readonly Task<unknown>[], T>(id: string, inputs: I, fn: TaskFn<[...ValuesOf<I>], T>, options?: TaskOptions): Task<Awaited<T>>;
  /** One HTTP request (fetch); the response's JSON (or text) is the task's value. */
  http(id: string, request: HttpRequestSpec | ((ctx: TaskContext) => HttpRequestSpec), options?: TaskOptions): Task<unknown>;
  /** `d.chain(a, b, [c, e], f)`: each element runs after the one before it. */
  chain(...steps: (Task<unknown> | Task<unknown>[])[]): void;
}

const DAG_ID = /^[A-Za-z0-9_.-]+$/;
const TASK_ID = /^[A-Za-z0-9_.-]+$/;

export function dag<P extends Record<string, ParamSpec>>(spec: DagSpec<P>, build: (d: DagBuilder) => void): DagDefinition {
  if (typeof spec?.id !== "string" || !DAG_ID.test(spec.id)) {
    throw new Error(`dag id ${JSON.stringify(spec?.id)} is invalid: use letters, digits, "_", "." or "-"`);
  }
  const definition: DagDefinition = { [DAG_BRAND]: true, id: spec.id, spec: spec as DagSpec, tasks: new Map(), problems: [] };

  const add = (def: Omit<TaskDefinition, "upstream" | "definedAt">): Task<never> => {
    const definedAt = new Error();
    if (typeof def.id !== "string" || !TASK_ID.test(def.id)) {
      definition.problems.push({ message: `task id ${JSON.stringify(def.id)} is invalid: use letters, digits, "_", "." or "-"`, at: definedAt });
    } else if (definition.tasks.has(def.id)) {
      definition.problems.push({ message: `duplicate task id "${def.id}" in DAG "${spec.id}"`, at: definedAt });
      return new Task(def.id, definition);
    }
    definition.tasks.set(def.id, { ...def, options: { ...spec.defaults, ...def.options }, upstream: new Set(def.inputs), definedAt });
    return new Task(def.id, definition);
  };

  const withInputs = (kind: "task" | "branch" | "short_circuit", id: string, a: unknown, b?: unknown, c?: unknown): Task<never> => {
    const inputs = Array.isArray(a) ? (a as Task<unknown>[]) : [];
    const fn = (Array.isArray(a) ? b : a) as TaskDefinition["fn"];
    const options = ((Array.isArray(a) ? c : b) ?? {}) as TaskOptions;
    if (typeof fn !== "function") {
      definition.problems.push({ message: `task "${id}" needs a function`, at: new Error() });
    }
    for (const input of inputs) {
      if (!(input instanceof Task) || !definition.tasks.has(input.id)) {
        definition.problems.push({ message: `task "${id}" takes an input that is not a task of DAG "${spec.id}"`, at: new Error() });
      }
    }
    return add({ id, kind, inputs: inputs.map((t) => t.id), fn, options });
  };

  const builder: DagBuilder = {
    branch(id: string, a: unknown, b?: unknown, c?: unknown): Task<never> {
      return withInputs("branch", id, a, b, c);
    },
    shortCircuit(id: string, a: unknown, b?: unknown, c?: unknown): Task<never> {
      return withInputs("short_circuit", id, a, b, c);
    },
    http(id, request, options = {}) {
      if (typeof request !== "function" && (typeof request?.url !== "string" || !request.url)) {
        definition.problems.push({ message: `http task "${id}" needs a url`, at: new Error() });
      }
      return add({ id, kind: "http", inputs: [], http: request, options });
    },
    task(id: string, a: unknown, b?: unknown, c?: unknown): Task<never> {
      return withInputs("task", id, a, b, c);
    },
    shell(id, command, options = {}) {
      const { env, cwd, ...rest } = options;
      return add({ id, kind: "shell", inputs: [], command, options: rest, shell: { env, cwd } }) as Task<string>;
    },
    chain(...steps) {
      for (let i = 1; i < steps.length; i++) {
        const ups = [steps[i - 1]!].flat();
        const downs = [steps[i]!].flat();
        for (const up of ups) for (const down of downs) link(definition, up, down);
      }
    },
  };
  build(builder);
  return definition;
}

export function isDagDefinition(value: unknown): value is DagDefinition {
  return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[DAG_BRAND] === true;
}

export type { Duration };
