// Prepared once per `vitest run`: a migrated PGlite snapshot (loading one takes ~0.8 s where a
// fresh database takes ~4 s) and a migrated PostgreSQL template database that every test file
// clones into a database of its own.
import fs from "node:fs";
import path from "node:path";
import { createHash } from "node:crypto";
import { openStore } from "../engine/store/db.js";
import { migrate, readMigrations } from "../engine/store/migrate.js";
import { adminQuery, IN_CI, pgQuery, POSTGRES_URL, postgresReachable, withDatabase } from "./helpers/postgres.js";
import { PGLITE_SNAPSHOT, TEMPLATE_ENV } from "./helpers/paths.js";

export default async function setup(): Promise<void> {
  const hash = createHash("sha256").update(readMigrations().map((m) => m.sql).join("\n")).digest("hex").slice(0, 12);

  const snapshot = PGLITE_SNAPSHOT(hash);
  if (!fs.existsSync(snapshot)) {
    fs.mkdirSync(path.dirname(snapshot), { recursive: true });
    const store = await openStore({});
    await migrate(store);
    const blob = await store.dump!();
    fs.writeFileSync(`${snapshot}.tmp`, Buffer.from(await blob.arrayBuffer()));
    fs.renameSync(`${snapshot}.tmp`, snapshot);
    await store.close();
  }
  process.env.UPDRAFT_TEST_PGLITE_SNAPSHOT = snapshot;

  if (await postgresReachable()) {
    const template = `updraft_template_${hash}`;
    // Named by the migrations' hash, so an existing template is current and is reused: two test
    // runs at once must not drop the template under each other. It is built under another name
    // and renamed, so no run ever clones a half-migrated template.
    const exists = await pgQuery<{ n: number }>(`select count(*)::int as n from pg_database where datname = $1`, [template]);
    if (!exists[0]?.n) {
      const building = `${template}_${process.pid}`;
      await adminQuery(`create database ${building}`);
      const store = await openStore({ databaseUrl: withDatabase(POSTGRES_URL, building) });
      await migrate(store);
      await store.close();
      await adminQuery(`alter database ${building} rename to ${template}`).catch(async () => {
        await adminQuery(`drop database if exists ${building}`); // another run renamed its own first
      });
    }
    process.env[TEMPLATE_ENV] = template;
  } else if (IN_CI) {
    throw new Error(`CI: PostgreSQL is not reachable at ${POSTGRES_URL}`);
  } else {
    console.log(`PostgreSQL not reachable at ${POSTGRES_URL}: PostgreSQL suites will skip`);
  }
}
