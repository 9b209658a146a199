// DAG params: a JSON-Schema subset (type, default, enum, minimum, maximum, description). A DAG's
// param specs are checked when its file is imported (a bad spec is an import error naming the
// field); a run's conf is checked against them when the run is created (422 naming the field),
// and merged over the defaults into ctx.params (engine/execution/runTask.ts paramsFor).
import type { ParamSpec } from "./authoring/types.js";

export const PARAM_TYPES = ["string", "number", "integer", "boolean", "object", "array"] as const;
const SPEC_KEYS = new Set(["type", "default", "enum", "minimum", "maximum", "description", "title"]);

export interface ParamProblem {
  /** The param's name. */
  field: string;
  message: string;
}

/** Problems of `value` against `spec`, as messages (empty when it fits). */
export function checkValue(spec: ParamSpec, value: unknown): string[] {
  const problems: string[] = [];
  const type = spec.type;
  if (type) {
    const ok =
      type === "string" ? typeof value === "string"
      : type === "number" ? typeof value === "number" && Number.isFinite(value)
      : type === "integer" ? Number.isInteger(value)
      : type === "boolean" ? typeof value === "boolean"
      : type === "array" ? Array.isArray(value)
      : typeof value === "object" && value !== null && !Array.isArray(value);
    if (!ok) return [`must be of type ${type}, got ${JSON.stringify(value)}`];
  }
  if (spec.enum && !spec.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) {
    problems.push(`must be one of ${spec.enum.map((e) => JSON.stringify(e)).join(", ")}, got ${JSON.stringify(value)}`);
  }
  if (typeof value === "number") {
    if (spec.minimum !== undefined && value < spec.minimum) problems.push(`must be >= ${spec.minimum}, got ${value}`);
    if (spec.maximum !== undefined && value > spec.maximum) problems.push(`must be <= ${spec.maximum}, got ${value}`);
  }
  return problems;
}

/**
 * Checks a DAG's param specs (at import). `scheduled`: a scheduled DAG cannot have a param without
 * a default, since its scheduled runs have no conf to fill it (Airflow refuses such a DAG too).
 */
export function paramSpecProblems(params: unknown, scheduled: boolean): ParamProblem[] {
  if (params === undefined || params === null) return [];
  if (typeof params !== "object" || Array.isArray(params)) return [{ field: "params", message: "must be an object of param specs" }];
  const problems: ParamProblem[] = [];
  for (const [name, raw] of Object.entries(params as Record<string, unknown>)) {
    const field = `params.${name}`;
    const bad = (key: string, message: string) => problems.push({ field: `${field}.${key}`, message });
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
      problems.push({ field, message: `must be a param spec object ({ type, default, enum, minimum, maximum, description })` });
      continue;
    }
    const spec = raw as Record<string, unknown>;
    for (const key of Object.keys(spec)) if (!SPEC_KEYS.has(key)) bad(key, `is not a supported param keyword (${[...SPEC_KEYS].join(", ")})`);
    if (spec.type !== undefined && !(PARAM_TYPES as readonly unknown[]).includes(spec.type)) bad("type", `must be one of ${PARAM_TYPES.join(", ")}, got ${JSON.stringify(spec.type)}`);
    if (spec.enum !== undefined && (!Array.isArray(spec.enum) || spec.enum.length === 0)) bad("enum", "must be a non-empty array");
    for (const key of ["minimum", "maximum"] as const) if (spec[key] !== undefined && (typeof spec[key] !== "number" || !Number.isFinite(spec[key]))) bad(key, `must be a number, got ${JSON.stringify(spec[key])}`);
    if (typeof spec.minimum === "number" && typeof spec.maximum === "number" && spec.minimum > spec.maximum) bad("minimum", `must not exceed maximum (${spec.minimum} > ${spec.maximum})`);
    if (spec.description !== undefined && typeof spec.description !== "string") bad("description", "must be a string");
    if (problems.some((p) => p.field.startsWith(`${field}.`))) continue;
    if (spec.default !== undefined) {
      for (const m of checkValue(spec as ParamSpec, spec.default)) bad("default", m);
    } else if (scheduled) {
      bad("default", "is required: a scheduled DAG's runs have no conf to fill this param (give it a default, or make the schedule null)");
    }
  }
  return problems;
}

/** Problems of a run's conf against the DAG's params: wrong values, and required params missing. */
export function confProblems(params: Record<string, ParamSpec>, conf: Record<string, unknown>): ParamProblem[] {
  const problems: ParamProblem[] = [];
  for (const [name, spec] of Object.entries(params)) {
    if (Object.hasOwn(conf, name)) {
      for (const message of checkValue(spec, conf[name])) problems.push({ field: name, message });
    } else if (spec.default === undefined) {
      problems.push({ field: name, message: "is required (the param has no default)" });
    }
  }
  return problems;
}

/** Airflow's serialized params, as GET /dags/{id}/details returns them (what the trigger form reads). */
export function serializeParams(params: Record<string, ParamSpec>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(params).map(([name, spec]) => {
      const { default: value, description, ...schema } = spec;
      return [name, { __class: "airflow.sdk.definitions.param.Param", value: value ?? null, description: description ?? null, schema }];
    }),
  );
}
