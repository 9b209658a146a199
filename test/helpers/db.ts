// Test databases: each test file gets a fresh one — PGlite from the migrated snapshot, PostgreSQL
// cloned from the migrated template (see globalSetup.ts).
import fs from "node:fs";
import { randomBytes } from "node:crypto";
import { openStore, type Store } from "../../engine/store/db.js";
import { adminQuery, IN_CI, POSTGRES_URL, withDatabase } from "./postgres.js";
import { TEMPLATE_ENV } from "./paths.js";

export type Backend = "pglite" | "postgres";

export interface TestDatabase {
  backend: Backend;
  store: Store;
  /** Set for PostgreSQL: other processes (workers, CLI) can connect to the same database. */
  url?: string;
  drop(): Promise<void>;
}

/** The backends this machine can test; in CI both, always. */
export function backends(): Backend[] {
  const pgAvailable = Boolean(process.env[TEMPLATE_ENV]);
  if (!pgAvailable && IN_CI) throw new Error("CI: the PostgreSQL template database is missing");
  return pgAvailable ? ["pglite", "postgres"] : ["pglite"];
}

export async function createTestDatabase(backend: Backend): Promise<TestDatabase> {
  if (backend === "pglite") {
    const file = process.env.UPDRAFT_TEST_PGLITE_SNAPSHOT;
    const snapshot = file ? new Blob([fs.readFileSync(file)]) : undefined;
    const store = await openStore({ pgliteSnapshot: snapshot });
    return { backend, store, drop: () => store.close() };
  }
  const template = process.env[TEMPLATE_ENV];
  if (!template) throw new Error("PostgreSQL template database is not prepared");
  const name = `updraft_test_${randomBytes(6).toString("hex")}`;
  await adminQuery(`create database ${name} template ${template}`);
  const url = withDatabase(POSTGRES_URL, name);
  const store = await openStore({ databaseUrl: url });
  return {
    backend,
    store,
    url,
    async drop() {
      await store.close();
      await adminQuery(`drop database if exists ${name} with (force)`);
    },
  };
}
