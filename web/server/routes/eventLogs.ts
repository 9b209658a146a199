// GET /api/v2/eventLogs[/{event_log_id}] (admins): the audit log (web/server/audit.ts) in the shape
// of Airflow's event logs. `owner` is the user who made the call, `event` its operation id, and
// `extra` (a JSON string, as Airflow's) holds the method, path, status, role and client address.
import express from "express";
import { sql, type SqlBool } from "kysely";
import { z } from "zod";
import { NotFoundError } from "../../../engine/errors.js";
import type { Store } from "../../../engine/store/db.js";
import type { AuditLogTable } from "../../../engine/store/schema.js";
import type { Selectable } from "kysely";
import { requireRole } from "../auth.js";
import { allOf, likeCondition, orderByParam, orderClauses, orderSql, patternParam, type Condition } from "../query.js";
import { iso } from "../serializers.js";
import { paginationParams, parse, pathParams, queryDatetime, queryInt, queryList, queryString } from "../validate.js";

export const EventLogsQuery = z.object({
  ...paginationParams,
  order_by: orderByParam,
  dag_id: queryString.optional(),
  task_id: queryString.optional(),
  run_id: queryString.optional(),
  map_index: queryInt().optional(),
  try_number: queryInt().optional(),
  owner: queryString.optional(),
  event: queryString.optional(),
  excluded_events: queryList(z.string()).optional(),
  included_events: queryList(z.string()).optional(),
  before: queryDatetime.optional(),
  after: queryDatetime.optional(),
  dag_id_pattern: patternParam,
  task_id_pattern: patternParam,
  run_id_pattern: patternParam,
  owner_pattern: patternParam,
  event_pattern: patternParam,
});
const IdPath = z.object({ event_log_id: queryInt() });

/** The response shape, Airflow's EventLogResponse (documented in the OpenAPI document from this schema). */
export const EventLogResponse = z.object({
  event_log_id: z.number().int(),
  when: z.iso.datetime({ offset: true }),
  dag_id: z.string().nullable(),
  task_id: z.string().nullable(),
  run_id: z.string().nullable(),
  map_index: z.number().int().nullable(),
  try_number: z.number().int().nullable(),
  event: z.string(),
  logical_date: z.iso.datetime({ offset: true }).nullable(),
  owner: z.string().nullable(),
  extra: z.string().nullable(),
  dag_display_name: z.string().nullable(),
  task_display_name: z.string().nullable(),
});
export const EventLogCollectionResponse = z.object({ event_logs: z.array(EventLogResponse), total_entries: z.number().int() });

const ORDER: Record<string, string> = {
  id: "id",
  event_log_id: "id",
  when: "ts",
  dts: "ts",
  dag_id: "dag_id",
  task_id: "task_id",
  run_id: "run_id",
  event: "event",
  owner: "username",
  map_index: "map_index",
  try_number: "try_number",
};

function eventLogResponse(row: Selectable<AuditLogTable>): z.output<typeof EventLogResponse> {
  return {
    event_log_id: Number(row.id),
    when: iso(row.ts)!,
    dag_id: row.dag_id,
    task_id: row.task_id,
    run_id: row.run_id,
    map_index: row.map_index,
    try_number: row.try_number,
    event: row.event,
    // Calls are not tied to a logical date; Airflow leaves it null for API events too.
    logical_date: null,
    owner: row.username,
    extra: JSON.stringify({ method: row.method, path: row.path, status: row.status, role: row.role, client_address: row.client_address, ...(row.extra ?? {}) }),
    dag_display_name: row.dag_id,
    task_display_name: row.task_id,
  };
}

export function eventLogsRouter(store: Store): express.Router {
  const router = express.Router();

  router.get("/eventLogs", requireRole("admin"), async (req, res) => {
    const q = parse(EventLogsQuery, req.query, "query");
    const order = orderClauses(q.order_by, ["id"], ORDER, "id");
    const eq = (column: string, value: unknown): Condition[] => (value === undefined ? [] : [sql<SqlBool>`${sql.ref(column)} = ${value}`]);
    const conditions: Condition[] = [
      ...eq("dag_id", q.dag_id),
      ...eq("task_id", q.task_id),
      ...eq("run_id", q.run_id),
      ...eq("map_index", q.map_index),
      ...eq("try_number", q.try_number),
      ...eq("username", q.owner),
      ...eq("event", q.event),
      ...(q.included_events?.length ? [sql<SqlBool>`event in (${sql.join(q.included_events)})`] : []),
      ...(q.excluded_events?.length ? [sql<SqlBool>`event not in (${sql.join(q.excluded_events)})`] : []),
      ...(q.before ? [sql<SqlBool>`ts < ${q.before}`] : []),
      ...(q.after ? [sql<SqlBool>`ts > ${q.after}`] : []),
      ...likeCondition("dag_id", q.dag_id_pattern),
      ...likeCondition("task_id", q.task_id_pattern),
      ...likeCondition("run_id", q.run_id_pattern),
      ...likeCondition("username", q.owner_pattern),
      ...likeCondition("event", q.event_pattern),
    ];
    const [rows, total] = await Promise.all([
      store.db.selectFrom("audit_log").selectAll().where(allOf(conditions)).orderBy(orderSql(order)).limit(q.limit).offset(q.offset).execute(),
      store.db.selectFrom("audit_log").select(sql<number>`count(*)::int`.as("n")).where(allOf(conditions)).executeTakeFirstOrThrow(),
    ]);
    res.json({ event_logs: rows.map(eventLogResponse), total_entries: total.n });
  });

  router.get("/eventLogs/:event_log_id", requireRole("admin"), async (req, res) => {
    const { event_log_id: id } = parse(IdPath, pathParams(req.params, "event_log_id"), "path");
    const row = await store.db.selectFrom("audit_log").selectAll().where("id", "=", id).executeTakeFirst();
    if (!row) throw new NotFoundError(`The Event Log with id: \`${id}\` not found`);
    res.json(eventLogResponse(row));
  });

  return router;
}
