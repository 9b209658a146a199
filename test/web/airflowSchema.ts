// Checks a response body against an Airflow REST API v2 schema as listed in
// ../shared/airflow-api/SUMMARY.md (generated from the OpenAPI document): every required field
// present, every value of the declared type and nullability, enums respected, no unknown fields.
// Returns the problems found, so a test can `expect(problems).toEqual([])` and see them all.
import fs from "node:fs";
import path from "node:path";
import { ROOT } from "../helpers/paths.js";

const SUMMARY = path.resolve(ROOT, "../shared/airflow-api/SUMMARY.md");

interface Field {
  name: string;
  type: string;
  required: boolean;
}

interface Schemas {
  objects: Map<string, Field[]>;
  enums: Map<string, string[]>;
}

/**
 * StructuredLogMessage is `additionalProperties: true` in the spec. ValidationError items carry
 * pydantic's `input` and `ctx` in real Airflow answers, though FastAPI's schema omits them.
 */
const OPEN_SCHEMAS = new Set(["StructuredLogMessage", "ValidationError"]);

let cached: Schemas | null = null;

function load(): Schemas {
  if (cached) return cached;
  if (!fs.existsSync(SUMMARY)) throw new Error(`the Airflow API contract is missing: ${SUMMARY}`);
  const objects = new Map<string, Field[]>();
  const enums = new Map<string, string[]>();
  let current: string | null = null;
  for (const line of fs.readFileSync(SUMMARY, "utf8").split("\n")) {
    const heading = /^#{3,4} (\w+)\s*$/.exec(line);
    if (heading) {
      current = heading[1]!;
      continue;
    }
    if (!current) continue;
    const enumLine = /^enum \(string\): (.*)$/.exec(line);
    if (enumLine) enums.set(current, [...enumLine[1]!.matchAll(/`([^`]*)`/g)].map((m) => m[1]!));
    const field = /^- (\w+): (.*), (required|optional)\b/.exec(line);
    if (field) {
      const list = objects.get(current) ?? [];
      list.push({ name: field[1]!, type: field[2]!, required: field[3] === "required" });
      objects.set(current, list);
    }
  }
  cached = { objects, enums };
  return cached;
}

/** `A | B[] | null` → alternatives, not splitting inside parentheses or braces. */
function alternatives(type: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < type.length; i++) {
    const c = type[i];
    if (c === "(" || c === "{" || c === "[") depth++;
    else if (c === ")" || c === "}" || c === "]") depth--;
    else if (depth === 0 && type.startsWith(" | ", i)) {
      parts.push(type.slice(start, i));
      start = i + 3;
    }
  }
  parts.push(type.slice(start));
  return parts.map((p) => p.trim());
}

const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function matchesType(value: unknown, type: string, where: string, schemas: Schemas): string[] | null {
  // null = matches; an array = the problems found inside a structure of that type.
  if (type.endsWith("[]")) {
    if (!Array.isArray(value)) return [`${where}: expected ${type}, got ${JSON.stringify(value)}`];
    let item = type.slice(0, -2);
    if (item.startsWith("(") && item.endsWith(")")) item = item.slice(1, -1);
    const problems = value.flatMap((v, i) => check(v, item, `${where}[${i}]`, schemas));
    return problems.length ? problems : null;
  }
  switch (type) {
    case "null":
      return value === null ? null : [];
    case "any":
      return null;
    case "string":
      return typeof value === "string" ? null : [];
    case "string(date-time)":
      return typeof value === "string" && ISO_WITH_ZONE.test(value) && !Number.isNaN(Date.parse(value)) ? null : [];
    case "string(uuid)":
      return typeof value === "string" && UUID.test(value) ? null : [];
    case "string(duration)":
      return typeof value === "string" ? null : [];
    case "integer":
      return Number.isInteger(value) ? null : [];
    case "number":
      return typeof value === "number" && Number.isFinite(value) ? null : [];
    case "boolean":
      return typeof value === "boolean" ? null : [];
  }
  if (type.startsWith("{[k: string]:")) return value !== null && typeof value === "object" && !Array.isArray(value) ? null : [];
  const enumValues = schemas.enums.get(type);
  if (enumValues) return typeof value === "string" && enumValues.includes(value) ? null : [];
  if (schemas.objects.has(type)) {
    if (value === null || typeof value !== "object" || Array.isArray(value)) return [];
    const problems = checkObject(value as Record<string, unknown>, type, where, schemas);
    return problems.length ? problems : null;
  }
  throw new Error(`airflowSchema: unknown type ${type} at ${where}`);
}

function check(value: unknown, type: string, where: string, schemas: Schemas): string[] {
  const alts = alternatives(type);
  let best: string[] | null = null;
  for (const alt of alts) {
    const result = matchesType(value, alt, where, schemas);
    if (result === null) return [];
    if (result.length && (!best || result.length < best.length)) best = result;
  }
  return best ?? [`${where}: expected ${type}, got ${JSON.stringify(value)}`];
}

function checkObject(body: Record<string, unknown>, schema: string, where: string, schemas: Schemas): string[] {
  const fields = schemas.objects.get(schema)!;
  const problems: string[] = [];
  for (const f of fields) {
    if (!(f.name in body)) {
      if (f.required) problems.push(`${where}.${f.name}: required field missing (${schema})`);
      continue;
    }
    problems.push(...check(body[f.name], f.type, `${where}.${f.name}`, schemas));
  }
  if (!OPEN_SCHEMAS.has(schema)) {
    const known = new Set(fields.map((f) => f.name));
    for (const key of Object.keys(body)) if (!known.has(key)) problems.push(`${where}.${key}: not a field of ${schema}`);
  }
  return problems;
}

/** Problems of `body` as an instance of the named schema; [] when it conforms. */
export function schemaProblems(body: unknown, schema: string): string[] {
  const schemas = load();
  if (!schemas.objects.has(schema)) throw new Error(`airflowSchema: no schema ${schema} in ${SUMMARY}`);
  return check(body, schema, schema, schemas);
}
