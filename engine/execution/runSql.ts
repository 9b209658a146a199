// `d.sql` (Airflow's SQLExecuteQueryOperator): one statement on a named connection, run in the
// task's runner with `pg`. The connection comes through ctx.connections.get — the same path as a
// task's own lookups — so its password is registered for masking before anything is logged.
import pg from "pg";
import type { TaskDefinition } from "../authoring/index.js";
import type { TaskContext } from "../authoring/types.js";
import type { TaskHost } from "./context.js";

/** Rows kept as the task's value unless the task says otherwise: XCom lives in the database. */
export const DEFAULT_SQL_MAX_ROWS = 1000;
const POSTGRES_TYPES = new Set(["postgres", "postgresql"]);

export async function runSql(task: TaskDefinition, ctx: TaskContext, host: TaskHost, signal: AbortSignal): Promise<Record<string, unknown>[]> {
  const spec = task.sql!;
  const conn = await ctx.connections.get(spec.conn);
  if (!POSTGRES_TYPES.has(conn.connType)) {
    throw new Error(`d.sql runs on PostgreSQL connections; connection "${spec.conn}" is of type "${conn.connType}"`);
  }
  const text = typeof spec.sql === "function" ? spec.sql(ctx) : spec.sql;
  const params = typeof spec.params === "function" ? spec.params(ctx) : (spec.params ?? []);
  if (!Array.isArray(params)) throw new Error(`sql task "${task.id}": params must be an array (or a function returning one)`);
  const maxRows = spec.maxRows ?? DEFAULT_SQL_MAX_ROWS;
  if (!Number.isInteger(maxRows) || maxRows < 0) throw new Error(`sql task "${task.id}": maxRows must be a non-negative integer`);

  const client = new pg.Client({ connectionString: conn.uri, application_name: `updraft:${ctx.dagId}.${ctx.taskId}` });
  // Closing the connection is how a timed-out or cancelled query stops: the server ends it.
  const onAbort = () => void client.end().catch(() => {});
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    host.log("log", "info", `connecting to "${spec.conn}" (${conn.host ?? "localhost"}:${conn.port ?? 5432}/${conn.schema ?? ""})`);
    await client.connect();
    host.log("log", "info", `running: ${text}${params.length ? ` (${params.length} parameter${params.length === 1 ? "" : "s"})` : ""}`);
    const result = await client.query({ text, values: params });
    // A multi-statement string yields one result per statement: the last one is the value.
    const last = Array.isArray(result) ? (result.at(-1) as pg.QueryResult) : result;
    const rows = (last?.rows ?? []) as Record<string, unknown>[];
    host.log("log", "info", `${last?.command ?? "query"}: ${last?.rowCount ?? rows.length} row(s)`);
    if (rows.length > maxRows) host.log("log", "warn", `keeping the first ${maxRows} of ${rows.length} rows as the task's value (maxRows)`);
    return rows.slice(0, maxRows);
  } finally {
    signal.removeEventListener("abort", onAbort);
    await client.end().catch(() => {});
  }
}
