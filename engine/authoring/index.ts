// `import { dag } from "updraft"` — the authoring API of DAG files (DESIGN §6).
// Bundled into every DAG bundle: it must stay free of imports outside this folder.
import type { DagSpec, Duration, ParamSpec, TaskContext, TaskFn, TaskOptions } from "./types.js";
import { sensorProblems, type SensorSpec } from "./sensor.js";

export * from "./types.js";
export type { PokeResult, SensorSpec } from "./sensor.js";

/** Brands survive bundling: the DAG bundle carries its own copy of this module. */
export const DAG_BRAND = Symbol.for("updraft.dag");

export type TaskKind = "task" | "shell" | "branch" | "short_circuit" | "http" | "sql" | "sensor";

export interface ShellOptions extends TaskOptions {
  env?: Record<string, string>;
  cwd?: string;
}

/** `d.http`: one request; the response body (JSON when it parses, else text) is the task's value. */
/**
 * `d.sql`: one statement on a named connection (PostgreSQL), `$1`-style params; the result rows
 * (the first `maxRows`, default 1000, so that a large result cannot flood XCom) are the task's value.
 */
export interface SqlSpec {
  conn: string;
  sql: string | ((ctx: TaskContext) => string);
  params?: unknown[] | ((ctx: TaskContext) => unknown[]);
  maxRows?: number;
}

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
  sensor?: SensorSpec;
  sql?: SqlSpec;
  /** `d.map`: the upstream task whose list this task expands over (one TI per item). */
  mapSource?: string;
  /** `d.group`: the path of the task group it was defined in (`extract.inner`). */
  group?: string;
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
  before(...tasks: (Node | Node[])[]): this {
    for (const t of tasks.flat()) link(this.dag, this, t);
    return this;
  }

  /** `b.after(a)`: b runs after a. */
  after(...tasks: (Node | Node[])[]): this {
    for (const t of tasks.flat()) link(this.dag, t, this);
    return this;
  }
}

/**
 * `d.group(id, (g) => …)`: tasks defined through `g` get ids prefixed `id.`; groups nest. A
 * dependency on the group is one on its tasks at that moment: `group.before(t)` links every leaf of
 * the group (no downstream inside it) to t, `t.before(group)` links t to every root.
 */
export class TaskGroup {
  /** Every task id in the group, nested groups' included. */
  readonly taskIds = new Set<string>();
  constructor(
    /** The full path: `outer.inner`. */
    readonly id: string,
    readonly dag: DagDefinition,
  ) {}

  /** Tasks of the group with no upstream task inside it. */
  roots(): string[] {
    return [...this.taskIds].filter((id) => ![...(this.dag.tasks.get(id)?.upstream ?? [])].some((u) => this.taskIds.has(u)));
  }

  /** Tasks of the group that no task inside it runs after. */
  leaves(): string[] {
    const inner = new Set([...this.taskIds].flatMap((id) => [...(this.dag.tasks.get(id)?.upstream ?? [])]));
    return [...this.taskIds].filter((id) => !inner.has(id));
  }

  before(...tasks: (Node | Node[])[]): this {
    for (const t of tasks.flat()) link(this.dag, this, t);
    return this;
  }

  after(...tasks: (Node | Node[])[]): this {
    for (const t of tasks.flat()) link(this.dag, t, this);
    return this;
  }
}

/** What a dependency can be set on: a task or a whole task group. */
export type Node = Task<unknown> | TaskGroup;

function link(owner: DagDefinition, up: Node, down: Node): void {
  const foreign = (n: Node) => !(n instanceof Task || n instanceof TaskGroup) || n.dag !== owner || (n instanceof Task && !owner.tasks.has(n.id));
  if (foreign(up) || foreign(down)) {
    owner.problems.push({ message: `cannot link "${up?.id}" → "${down?.id}": both must be tasks or task groups of DAG "${owner.id}"`, at: new Error() });
    return;
  }
  const ups = up instanceof TaskGroup ? up.leaves() : [up.id];
  const downs = down instanceof TaskGroup ? down.roots() : [down.id];
  // A self-edge from expanding a group (a one-task group linked to itself) is dropped; a task
  // linked to itself is kept, for the structure check to report the cycle by name.
  const viaGroup = up instanceof TaskGroup || down instanceof TaskGroup;
  for (const d of downs) for (const u of ups) if (u !== d || !viaGroup) owner.tasks.get(d)!.upstream.add(u);
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
  /** A sensor (engine/authoring/sensor.ts): pokes until true or `timeout`; mode "poke" or "reschedule". */
  sensor(id: string, spec: SensorSpec, options?: TaskOptions): Task<unknown>;
  /** One query on a named connection; the rows (first `maxRows`, default 1000) are the task's value. */
  sql<Row = Record<string, unknown>>(id: string, spec: SqlSpec, options?: TaskOptions): Task<Row[]>;
  /** `d.chain(a, b, [c, e], f)`: each element (a task or a task group) runs after the one before it. */
  chain(...steps: (Node | Node[])[]): void;
  /**
   * Dynamic task mapping: one task instance per item of `source`'s list, made when `source`
   * succeeds (`ctx.mapIndex` is the item's index). An empty list skips the task; a list longer
   * than `maxMapLength` (default 1024), or a value that is not a list, fails it. Downstream tasks
   * that take this task as an input get the list of its results, in item order.
   */
  map<I, T>(id: string, source: Task<readonly I[]>, fn: TaskFn<[item: I], T>, options?: TaskOptions): Task<Awaited<T>[]>;
  /** A task group: tasks defined through `g` get ids prefixed `id.`; `options.defaults` apply to them. */
  group(id: string, build: (g: DagBuilder) => void, options?: { defaults?: TaskOptions }): TaskGroup;
}

const DAG_ID = /^[A-Za-z0-9_.-]+$/;
const TASK_ID = /^[A-Za-z0-9_.-]+$/;

export function dag<P extends Record<string, ParamSpec>>(spec: DagSpec<P>, build: (d: DagBuilder) => void): DagDefinition {
  if (typeof spec?.id !== "string" || !DAG_ID.test(spec.id)) {
    throw new Error(`dag id ${JSON.stringify(spec?.id)} is invalid: use letters, digits, "_", "." or "-"`);
  }
  const definition: DagDefinition = { [DAG_BRAND]: true, id: spec.id, spec: spec as DagSpec, tasks: new Map(), problems: [] };
  // The groups being built, innermost last: a task is added to all of them, its id prefixed by the last.
  const groups: { group: TaskGroup; defaults?: TaskOptions }[] = [];
  const groupIds = new Set<string>();

  const add = (given: Omit<TaskDefinition, "upstream" | "definedAt">): Task<never> => {
    const definedAt = new Error();
    const inner = groups.at(-1);
    const def = inner && typeof given.id === "string" ? { ...given, id: `${inner.group.id}.${given.id}`, group: inner.group.id } : given;
    if (groupIds.has(def.id)) {
      definition.problems.push({ message: `task id "${def.id}" is already the id of a task group in DAG "${spec.id}"`, at: definedAt });
      return new Task(def.id, definition);
    }
    if (typeof def.id !== "string" || !TASK_ID.test(def.id)) {
      definition.problems.push({ message: `task id ${JSON.stringify(def.id)} is invalid: use letters, digits, "_", "." or "-"`, at: definedAt });
    } else if (definition.tasks.has(def.id)) {
      definition.problems.push({ message: `duplicate task id "${def.id}" in DAG "${spec.id}"`, at: definedAt });
      return new Task(def.id, definition);
    }
    const groupDefaults = groups.map((g) => g.defaults);
    definition.tasks.set(def.id, { ...def, options: Object.assign({}, spec.defaults, ...groupDefaults, def.options), upstream: new Set(def.inputs), definedAt });
    for (const g of groups) g.group.taskIds.add(def.id);
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
    sql(id, spec, options = {}) {
      if (typeof spec?.conn !== "string" || !spec.conn || (typeof spec.sql !== "string" && typeof spec.sql !== "function") || !spec.sql) {
        definition.problems.push({ message: `sql task "${id}" needs a connection id (conn) and a query (sql)`, at: new Error() });
      }
      return add({ id, kind: "sql", inputs: [], sql: spec, options });
    },
    sensor(id, spec, options = {}) {
      for (const message of sensorProblems(id, spec)) definition.problems.push({ message, at: new Error() });
      return add({ id, kind: "sensor", inputs: [], sensor: spec, options });
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
    map(id: string, source: unknown, fn: unknown, options: TaskOptions = {}): Task<never> {
      if (!(source instanceof Task) || source.dag !== definition || !definition.tasks.has(source.id)) {
        definition.problems.push({ message: `mapped task "${id}" must map over a task of DAG "${spec.id}"`, at: new Error() });
      }
      if (typeof fn !== "function") definition.problems.push({ message: `mapped task "${id}" needs a function`, at: new Error() });
      const sourceId = source instanceof Task ? source.id : String(source);
      return add({ id, kind: "task", inputs: source instanceof Task ? [sourceId] : [], fn: fn as TaskDefinition["fn"], options, mapSource: sourceId });
    },
    group(id, build, options = {}) {
      const parent = groups.at(-1)?.group;
      const full = parent ? `${parent.id}.${id}` : id;
      const group = new TaskGroup(full, definition);
      if (typeof id !== "string" || !TASK_ID.test(id)) {
        definition.problems.push({ message: `task group id ${JSON.stringify(id)} is invalid: use letters, digits, "_", "." or "-"`, at: new Error() });
      } else if (groupIds.has(full) || definition.tasks.has(full)) {
        definition.problems.push({ message: `duplicate task group id "${full}" in DAG "${spec.id}"`, at: new Error() });
      }
      groupIds.add(full);
      // `g` is this builder run with the group (and its ancestors) as the current groups, so every
      // kind of task — and any kind added later — is grouped the same way, and `g` stays usable
      // after `build` returns.
      const chain = [...groups, { group, defaults: options.defaults }];
      const g = Object.fromEntries(
        Object.entries(builder).map(([name, method]) => [
          name,
          (...args: unknown[]) => {
            const saved = groups.splice(0, groups.length, ...chain);
            try {
              return (method as (...a: unknown[]) => unknown)(...args);
            } finally {
              groups.splice(0, groups.length, ...saved);
            }
          },
        ]),
      ) as unknown as DagBuilder;
      build(g);
      return group;
    },
  };
  build(builder);
  return definition;
}

export function isDagDefinition(value: unknown): value is DagDefinition {
  return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[DAG_BRAND] === true;
}

export type { Duration };
