// Keeps the planner's statistics of the tables the hot path writes in step with their size. The
// hot-path statements are prepared (db.ts PREPARED), and a prepared statement keeps the plan it
// made while a table was small until that table's statistics change: on a young database a
// batch of ends (finishLeaves.ts) kept a plan that scanned every TI, 12,600 rows per batch, as
// the run grew — PostgreSQL's autovacuum analyzes a table only after its naptime (1 min) and
// a 10 % change, and PGlite has no autovacuum at all. So the scheduler, every few seconds,
// ANALYZEs a table that has doubled in size since its last ANALYZE (or was never analyzed and
// is no longer tiny): O(log n) ANALYZEs as a table grows, each a bounded sample (30,000 rows at
// most), taking no lock that writers wait for. An ANALYZE invalidates the cached plans that read
// the table, in every session: the next execution plans again, with the table's real size.
import { sql, type Kysely } from "kysely";
import type { Database } from "../schema.js";

/** The tables whose growth the hot path's plans depend on. */
const TABLES = ["task_instances", "dag_runs", "task_instance_tries", "xcom", "task_logs"];

/** Below this many pages (8 kB each) a table's plan hardly matters. */
const MIN_PAGES = 8;

/** ANALYZEs each table of TABLES that at least doubled since its last ANALYZE; returns their names. */
export async function refreshStatistics(db: Kysely<Database>): Promise<string[]> {
  const rows = (
    await sql<{ name: string; relpages: number; pages: number }>`
      select t.name, c.relpages, (pg_relation_size(c.oid) / current_setting('block_size')::int)::int as pages
        from unnest(${TABLES}::text[]) as t(name) join pg_class c on c.oid = to_regclass(t.name)`.execute(db)
  ).rows;
  const stale = rows.filter((r) => r.pages >= MIN_PAGES && r.pages > 2 * Math.max(r.relpages, 0)).map((r) => r.name);
  for (const name of stale) await sql`analyze ${sql.table(name)}`.execute(db);
  return stale;
}
