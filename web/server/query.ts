// The list endpoints' shared query parameters — order_by, date ranges, LIKE patterns — turned into
// SQL fragments over whitelisted columns, so that both the page query and its count use them.
import { sql, type Expression, type RawBuilder, type SqlBool } from "kysely";
import { z } from "zod";
import { badRequest } from "./errors.js";
import { queryDatetime, queryList, queryString } from "./validate.js";

export type Condition = RawBuilder<SqlBool>;

export interface OrderClause {
  column: string;
  direction: "asc" | "desc";
}

export const orderByParam = queryList(z.string()).optional();

/**
 * `order_by=a&order_by=-b` → clauses over the allowed columns, then `tiebreak` so that pages are
 * stable. An attribute that is not allowed is a 400 in Airflow's words.
 */
export function orderClauses(values: string[] | undefined, fallback: string[], allowed: Record<string, string>, tiebreak: string): OrderClause[] {
  const clauses: OrderClause[] = [];
  for (const value of values?.length ? values : fallback) {
    const desc = value.startsWith("-");
    const name = desc ? value.slice(1) : value;
    const column = Object.hasOwn(allowed, name) ? allowed[name] : undefined;
    if (!column) throw badRequest(`Ordering with '${name}' is disallowed or the attribute does not exist on the model`);
    clauses.push({ column, direction: desc ? "desc" : "asc" });
  }
  if (!clauses.some((c) => c.column === tiebreak)) clauses.push({ column: tiebreak, direction: clauses[0]?.direction ?? "asc" });
  return clauses;
}

/** ORDER BY for a raw list of clauses; columns come only from the whitelists above. */
export function orderSql(clauses: OrderClause[]): RawBuilder<unknown> {
  return sql.join(clauses.map((c) => sql`${sql.ref(c.column)} ${sql.raw(c.direction)}`));
}

const RANGE_OPS = { gte: ">=", gt: ">", lte: "<=", lt: "<" } as const;
type RangeOp = keyof typeof RANGE_OPS;

/** `{logical_date_gte, logical_date_gt, …}` query parameters for each field. */
export function rangeParams<F extends string>(fields: readonly F[]) {
  const shape: Record<string, typeof optionalDatetime> = {};
  for (const f of fields) for (const op of Object.keys(RANGE_OPS)) shape[`${f}_${op}`] = optionalDatetime;
  return shape as Record<`${F}_${RangeOp}`, typeof optionalDatetime>;
}
const optionalDatetime = queryDatetime.optional();

export function rangeConditions(query: Record<string, unknown>, columns: Record<string, string>): Condition[] {
  const conditions: Condition[] = [];
  for (const [field, column] of Object.entries(columns)) {
    for (const [op, operator] of Object.entries(RANGE_OPS)) {
      const value = query[`${field}_${op}`];
      if (value instanceof Date) conditions.push(sql<SqlBool>`${sql.ref(column)} ${sql.raw(operator)} ${value}`);
    }
  }
  return conditions;
}

export const patternParam = queryString.optional();

/** Airflow's `*_pattern` parameters: SQL LIKE (`%`, `_`), case-insensitive. */
export function likeCondition(column: string, pattern: string | undefined): Condition[] {
  return pattern ? [sql<SqlBool>`${sql.ref(column)} ilike ${pattern}`] : [];
}

export function inCondition(column: string, values: readonly unknown[] | undefined): Condition[] {
  if (!values?.length) return [];
  return [sql<SqlBool>`${sql.ref(column)} in (${sql.join(values)})`];
}

export function allOf(conditions: Condition[]): Expression<SqlBool> {
  return conditions.length ? sql<SqlBool>`${sql.join(conditions.map((c) => sql`(${c})`), sql` and `)}` : sql<SqlBool>`true`;
}
