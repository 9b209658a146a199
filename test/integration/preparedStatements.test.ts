// Statements marked PREPARED (engine/store/db.ts) run as named prepared statements: through pg's
// `name` on PostgreSQL, through engine/store/pglitePrepared.ts on PGlite. What must hold: the rows
// are the ones an unmarked statement returns (same parsed types, nulls, affected rows); the
// statement is prepared once and reused; an error is the database's error, with its code, and
// leaves the next statement working; in a rolled-back transaction its writes are undone.
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PREPARED } from "../../engine/store/db.js";
import { backends, createTestDatabase, type TestDatabase } from "../helpers/db.js";

describe.each(backends())("PREPARED statements on %s", (backend) => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase(backend);
    await sql`create table prepared_probe (id int primary key, label text, doc jsonb, at timestamptz, tags text[])`.execute(db.store.db);
  });
  afterAll(async () => {
    await db?.drop();
  });

  const select = (id: number) => sql<Record<string, unknown>>`select id, label, doc, at, tags, ${id}::bigint as big, 1.5::float8 as f from prepared_probe where id = ${id}`;
  const selectPrepared = (id: number) => sql<Record<string, unknown>>`${PREPARED}select id, label, doc, at, tags, ${id}::bigint as big, 1.5::float8 as f from prepared_probe where id = ${id}`;

  it("returns the rows an unmarked statement returns, parsed the same, nulls included", async () => {
    const insert = (id: number, label: string | null, doc: unknown, at: Date | null, tags: string[] | null) =>
      sql`${PREPARED}insert into prepared_probe (id, label, doc, at, tags) values (${id}, ${label}, ${doc === null ? null : JSON.stringify(doc)}::jsonb, ${at}, ${tags})`.execute(db.store.db);
    const first = await insert(1, "one", { a: [1, 2], b: "x" }, new Date("2026-01-02T03:04:05.678Z"), ["p", "q"]);
    await insert(2, null, null, null, null);
    expect(first.numAffectedRows).toBe(1n);
    for (const id of [1, 2, 3]) {
      const plain = (await select(id).execute(db.store.db)).rows;
      const prepared = (await selectPrepared(id).execute(db.store.db)).rows;
      expect(prepared).toEqual(plain);
    }
    const [row] = (await selectPrepared(1).execute(db.store.db)).rows;
    expect(row).toMatchObject({ id: 1, label: "one", doc: { a: [1, 2], b: "x" }, tags: ["p", "q"], big: 1, f: 1.5 });
    expect(row!.at).toBeInstanceOf(Date);
    expect((row!.at as Date).toISOString()).toBe("2026-01-02T03:04:05.678Z");
  });

  it("prepares a text once and runs it again by name", async () => {
    const update = (id: number, label: string) => sql`${PREPARED}update prepared_probe set label = ${label} where id = ${id}`;
    await db.store.db.connection().execute(async (conn) => {
      for (let i = 0; i < 5; i++) expect((await update(1, `v${i}`).execute(conn)).numAffectedRows).toBe(1n);
      // No row: whatever the unmarked statement reports (kysely-pglite-dialect leaves it unset).
      const unmarked = await sql`update prepared_probe set label = ${"none"} where id = ${99}`.execute(conn);
      expect((await update(99, "none").execute(conn)).numAffectedRows).toBe(unmarked.numAffectedRows);
      expect(unmarked.numAffectedRows ?? 0n).toBe(0n);
      const statements = await sql<{ name: string }>`select name from pg_prepared_statements where statement like '%update prepared_probe set label%'`.execute(conn);
      expect(statements.rows).toHaveLength(1);
      expect(statements.rows[0]!.name).toMatch(/^updraft_[0-9a-f]{20}$/);
    });
    expect((await select(1).execute(db.store.db)).rows[0]!.label).toBe("v4");
  });

  it("an error is the database's, with its code, and the next statement works", async () => {
    const insert = (id: number) => sql`${PREPARED}insert into prepared_probe (id, label) values (${id}, 'dup')`;
    await expect(insert(1).execute(db.store.db)).rejects.toMatchObject({ code: "23505" });
    await expect(sql`${PREPARED}select no_such_column from prepared_probe`.execute(db.store.db)).rejects.toMatchObject({ code: "42703" });
    expect((await insert(10).execute(db.store.db)).numAffectedRows).toBe(1n);
    expect((await selectPrepared(10).execute(db.store.db)).rows).toHaveLength(1);
  });

  it("inside a transaction: an error aborts it, and a rollback undoes the prepared writes", async () => {
    const insert = (id: number) => sql`${PREPARED}insert into prepared_probe (id, label) values (${id}, 'tx')`;
    await expect(
      db.store.db.transaction().execute(async (trx) => {
        await insert(20).execute(trx);
        await insert(20).execute(trx); // duplicate: the transaction is rolled back
      }),
    ).rejects.toMatchObject({ code: "23505" });
    expect((await select(20).execute(db.store.db)).rows).toHaveLength(0);
    await db.store.db.transaction().execute(async (trx) => {
      await insert(21).execute(trx);
    });
    expect((await selectPrepared(21).execute(db.store.db)).rows).toHaveLength(1);
  });
});
