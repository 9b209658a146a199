// Request validation with zod, answered the way Airflow (FastAPI + pydantic) answers it: 422 with
// `{detail: [{type, loc: ["body" | "query" | "path", field…], msg, input}]}`. Clients written
// against Airflow read these fields, so the `type` and `msg` follow pydantic's wording where one
// exists. Nothing is stored before validation passes: handlers parse first, then write.
import { z } from "zod";

export type Location = "body" | "query" | "path";

export interface ValidationDetail {
  type: string;
  loc: (string | number)[];
  msg: string;
  input: unknown;
  ctx?: Record<string, unknown>;
}

export class RequestValidationError extends Error {
  constructor(readonly detail: ValidationDetail[]) {
    super(detail.map((d) => `${d.loc.join(".")}: ${d.msg}`).join("; "));
    this.name = "RequestValidationError";
  }
}

/** Parses `data` found in `where`, or throws RequestValidationError naming every bad field. */
export function parse<S extends z.ZodType>(schema: S, data: unknown, where: Location): z.output<S> {
  const result = schema.safeParse(data, { reportInput: true });
  if (result.success) return result.data;
  throw new RequestValidationError(result.error.issues.flatMap((issue) => toDetails(issue, data, where)));
}

// Schemas whose error message we set carry their pydantic error type through this table.
const TYPE_OF_MESSAGE = new Map<string, string>();
function pydantic(type: string, msg: string): string {
  TYPE_OF_MESSAGE.set(msg, type);
  return msg;
}

const MESSAGES = {
  datetime: pydantic("datetime_parsing", "Input should be a valid datetime with a timezone (ISO 8601, e.g. 2024-01-01T00:00:00Z)"),
  queryDatetime: pydantic("datetime_parsing", "Input should be a valid datetime or date (ISO 8601)"),
  int: pydantic("int_parsing", "Input should be a valid integer, unable to parse string as an integer"),
  bool: pydantic("bool_parsing", "Input should be a valid boolean, unable to interpret input"),
};

const TYPE_NAMES: Record<string, [string, string]> = {
  string: ["string_type", "Input should be a valid string"],
  number: ["float_type", "Input should be a valid number"],
  int: ["int_type", "Input should be a valid integer"],
  boolean: ["bool_type", "Input should be a valid boolean"],
  object: ["dict_type", "Input should be a valid dictionary"],
  record: ["dict_type", "Input should be a valid dictionary"],
  array: ["list_type", "Input should be a valid list"],
  null: ["none_required", "Input should be None"],
};

function toDetails(issue: z.core.$ZodIssue, root: unknown, where: Location): ValidationDetail[] {
  const path = issue.path.map((p) => (typeof p === "symbol" ? String(p) : p));
  const loc = [where, ...path];
  // With reportInput, each issue carries the value its schema saw (after preprocessing, so a
  // single query value wrapped into a list is found); a missing field has none.
  const input = (issue as { input?: unknown }).input;
  if (issue.code === "unrecognized_keys") {
    return issue.keys.map((key) => ({ type: "extra_forbidden", loc: [...loc, key], msg: "Extra inputs are not permitted", input: valueAt(input, [key]) }));
  }
  if (input === undefined && (issue.code === "invalid_type" || issue.code === "invalid_union")) {
    return [{ type: "missing", loc, msg: "Field required", input: path.length ? (valueAt(root, path.slice(0, -1)) ?? null) : null }];
  }
  const known = TYPE_OF_MESSAGE.get(issue.message);
  if (known) return [{ type: known, loc, msg: issue.message, input }];
  switch (issue.code) {
    case "invalid_type": {
      if (!path.length && where === "body") {
        return [{ type: "model_attributes_type", loc, msg: "Input should be a valid dictionary or object to extract fields from", input }];
      }
      const [type, msg] = TYPE_NAMES[issue.expected] ?? ["type_error", issue.message];
      return [{ type, loc, msg, input }];
    }
    case "too_small":
    case "too_big": {
      const small = issue.code === "too_small";
      const bound = small ? (issue as z.core.$ZodIssueTooSmall).minimum : (issue as z.core.$ZodIssueTooBig).maximum;
      if (issue.origin === "string") {
        return [{ type: small ? "string_too_short" : "string_too_long", loc, msg: `String should have ${small ? "at least" : "at most"} ${bound} characters`, input }];
      }
      if (issue.origin === "number" || issue.origin === "int") {
        const type = small ? (issue.inclusive ? "greater_than_equal" : "greater_than") : issue.inclusive ? "less_than_equal" : "less_than";
        const words = { greater_than_equal: "greater than or equal to", greater_than: "greater than", less_than_equal: "less than or equal to", less_than: "less than" }[type];
        return [{ type, loc, msg: `Input should be ${words} ${bound}`, input, ctx: { [small ? "ge" : "le"]: bound } }];
      }
      return [{ type: small ? "too_short" : "too_long", loc, msg: issue.message, input }];
    }
    case "invalid_value": {
      const options = issue.values.map((v) => `'${String(v)}'`);
      const list = options.length > 1 ? `${options.slice(0, -1).join(", ")} or ${options.at(-1)}` : (options[0] ?? "");
      return [{ type: "enum", loc, msg: `Input should be ${list}`, input }];
    }
    case "invalid_format":
      if (issue.format === "regex") {
        const pattern = (issue as z.core.$ZodIssueInvalidStringFormat).pattern ?? "";
        return [{ type: "string_pattern_mismatch", loc, msg: `String should match pattern '${pattern.replace(/^\/|\/$/g, "")}'`, input }];
      }
      return [{ type: "value_error", loc, msg: issue.message, input }];
    case "custom":
      return [{ type: "value_error", loc, msg: `Value error, ${issue.message}`, input }];
    default:
      return [{ type: "value_error", loc, msg: issue.message, input }];
  }
}

function valueAt(root: unknown, path: (string | number)[]): unknown {
  let value = root;
  for (const key of path) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<string | number, unknown>)[key];
  }
  return value;
}

// ---- Building blocks for bodies ----

/** Airflow's AwareDatetime: ISO 8601 with an offset or `Z`. */
export const awareDatetime = z.iso.datetime({ offset: true, error: MESSAGES.datetime }).transform((s) => new Date(s));

// ---- Building blocks for query strings (values arrive as string | string[]) ----

/**
 * What a query parameter means to a client (an integer, a boolean…), for the OpenAPI document
 * (web/server/openapi): its zod schema only sees the raw string, so its JSON Schema would say "string".
 */
export function documentedAs<S extends z.ZodType>(openapi: Record<string, unknown>, schema: S): S {
  return schema.meta({ openapi }) as S;
}

/** A single-valued parameter given twice takes the last value, as FastAPI does. */
export function single<S extends z.ZodType>(schema: S) {
  return z.preprocess((v) => (Array.isArray(v) ? v.at(-1) : v), schema);
}

export const queryString = single(z.string());

export const queryInt = (opts: { min?: number; max?: number } = {}) =>
  documentedAs({ type: "integer", ...(opts.min === undefined ? {} : { minimum: opts.min }), ...(opts.max === undefined ? {} : { maximum: opts.max }) }, single(
    z
      .string()
      .regex(/^[+-]?\d+$/, { error: MESSAGES.int })
      .transform(Number)
      .pipe(
        z
          .number()
          .int()
          .min(opts.min ?? Number.MIN_SAFE_INTEGER)
          .max(opts.max ?? Number.MAX_SAFE_INTEGER),
      ),
  ));

export const queryBool = documentedAs(
  { type: "boolean" },
  single(z.stringbool({ truthy: ["true", "1", "yes", "on", "t", "y"], falsy: ["false", "0", "no", "off", "f", "n"], error: MESSAGES.bool })),
);

/** A repeatable parameter (`?state=a&state=b`). */
export function queryList<S extends z.ZodType>(item: S) {
  return z.preprocess((v) => (v === undefined || Array.isArray(v) ? v : [v]), z.array(item));
}

/**
 * A date filter. Lenient like Airflow's: a date, or a datetime with or without offset (without
 * one means UTC). A `+` sent unencoded arrives as a space; `… 00:00` is read as `…+00:00`.
 */
export const queryDatetime = documentedAs({ type: "string", format: "date-time" }, single(
  z.string().transform((s, ctx) => {
    const date = parseLenientDate(s);
    if (date) return date;
    ctx.issues.push({ code: "custom", message: MESSAGES.queryDatetime, input: s });
    return z.NEVER;
  }),
));

function parseLenientDate(raw: string): Date | null {
  let s = raw.trim().replace(/ (\d{2}:?\d{2})$/, "+$1");
  if (/^\d{4}-\d{2}-\d{2}$/.test(s)) s += "T00:00:00Z";
  else if (/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(s)) s += "Z";
  else if (!/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i.test(s)) return null;
  const date = new Date(s.replace(" ", "T"));
  return Number.isNaN(date.getTime()) ? null : date;
}

/** Airflow's [api] maximum_page_limit: larger limits are cut to it, not refused. */
export const MAX_PAGE_LIMIT = 100;

export const paginationParams = {
  limit: documentedAs(
    { type: "integer", minimum: 0, default: 50, description: `At most ${MAX_PAGE_LIMIT}: a larger limit is cut to it.` },
    queryInt({ min: 0 })
      .optional()
      .transform((v) => Math.min(v ?? 50, MAX_PAGE_LIMIT)),
  ),
  offset: documentedAs(
    { type: "integer", minimum: 0, default: 0 },
    queryInt({ min: 0 })
      .optional()
      .transform((v) => v ?? 0),
  ),
};

/** Named path parameters as strings (express types them loosely; the router always sets them). */
export function pathParams<K extends string>(params: Record<string, unknown>, ...names: K[]): Record<K, string> {
  const out = {} as Record<K, string>;
  for (const name of names) {
    const value = params[name];
    out[name] = Array.isArray(value) ? value.join("/") : String(value ?? "");
  }
  return out;
}
