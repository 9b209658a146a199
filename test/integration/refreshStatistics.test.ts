// The scheduler re-analyzes a hot table once it has doubled since its last ANALYZE
// (engine/store/maintenance/refreshStatistics.ts), so that prepared statements re-plan with its
// real size. What must hold: a table grown from nothing is analyzed, once; it is analyzed again
// only after it doubles; a small table is left alone.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sql } from "kysely";
import { refreshStatistics } from "../../engine/store/maintenance/refreshStatistics.js";
import { backends, createTestDatabase, type TestDatabase } from "../helpers/db.js";

describe.each(backends())("planner statistics on %s", (backend) => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase(backend);
  });
  afterAll(async () => {
    await db?.drop();
  });

  const relpages = async (table: string) => (await sql<{ relpages: number }>`select relpages from pg_class where oid = to_regclass(${table})`.execute(db.store.db)).rows[0]!.relpages;
  // Filler rows: xcom with its foreign keys off for the test (no TI or run behind them).
  const grow = async (rows: number) =>
    sql`insert into xcom (ti_id, key, run_pk, task_id, map_index, value)
        select gen_random_uuid(), 'k', 1, 't', -1, to_jsonb(repeat('x', 200)) from generate_series(1, ${rows})`.execute(db.store.db);

  it("analyzes a table that grew from nothing, and again only once it has doubled", async () => {
    await sql`alter table xcom disable trigger all`.execute(db.store.db);
    try {
      expect(await refreshStatistics(db.store.db)).toEqual([]);
      await grow(2_000);
      expect(await refreshStatistics(db.store.db)).toEqual(["xcom"]);
      const first = await relpages("xcom");
      expect(first).toBeGreaterThanOrEqual(8);
      expect(await refreshStatistics(db.store.db)).toEqual([]);
      await grow(500);
      expect(await refreshStatistics(db.store.db)).toEqual([]);
      await grow(3_000);
      expect(await refreshStatistics(db.store.db)).toEqual(["xcom"]);
      expect(await relpages("xcom")).toBeGreaterThan(2 * first);
    } finally {
      await sql`delete from xcom`.execute(db.store.db);
      await sql`alter table xcom enable trigger all`.execute(db.store.db);
    }
  });
});
