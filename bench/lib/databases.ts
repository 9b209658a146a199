// Databases for benchmarks: a fresh, migrated in-memory PGlite per use, and fresh PostgreSQL
// databases (`updraft_bench_<random>`) on the server at DATABASE_URL, dropped afterwards — so no
// figure depends on what an earlier run left behind.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { openStore, type Store } from "../../engine/store/db.js";
import { migrate } from "../../engine/store/migrate.js";

export const POSTGRES_URL = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const IN_CI = process.env.CI === "true" || process.env.CI === "1";

export interface FreshDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

export interface BenchDatabases {
  /** Null when no PostgreSQL answers (outside CI only: in CI that is an error). */
  postgres: { url: string; version: string } | null;
  freshPostgres(): Promise<FreshDatabase>;
  /** A migrated in-memory PGlite store. */
  freshPglite(): Promise<Store>;
  /** A migrated store on a fresh PostgreSQL database; `drop` closes it and drops the database. */
  freshPostgresStore(): Promise<{ store: Store; url: string; drop(): Promise<void> }>;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

async function adminQuery<T extends pg.QueryResultRow>(text: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: withDatabase(POSTGRES_URL, "postgres"), connectionTimeoutMillis: 3_000 });
  await client.connect();
  try {
    return (await client.query<T>(text)).rows;
  } finally {
    await client.end();
  }
}

export async function openBenchDatabases(): Promise<BenchDatabases> {
  let postgres: BenchDatabases["postgres"] = null;
  try {
    const [row] = await adminQuery<{ server_version: string }>("show server_version");
    postgres = { url: POSTGRES_URL, version: row!.server_version };
  } catch (err) {
    if (IN_CI) throw new Error(`CI: PostgreSQL is not reachable at ${POSTGRES_URL}: ${(err as Error).message}`);
  }
  const freshPostgres = async (): Promise<FreshDatabase> => {
    if (!postgres) throw new Error(`PostgreSQL is not reachable at ${POSTGRES_URL}`);
    const name = `updraft_bench_${randomBytes(5).toString("hex")}`;
    await adminQuery(`create database ${name}`);
    return { name, url: withDatabase(POSTGRES_URL, name), drop: async () => void (await adminQuery(`drop database if exists ${name} with (force)`)) };
  };
  return {
    postgres,
    freshPostgres,
    async freshPglite() {
      const store = await openStore({});
      await migrate(store);
      return store;
    },
    async freshPostgresStore() {
      const database = await freshPostgres();
      try {
        const store = await openStore({ databaseUrl: database.url, applicationName: "updraft-bench" });
        await migrate(store);
        return {
          store,
          url: database.url,
          async drop() {
            await store.close();
            await database.drop();
          },
        };
      } catch (err) {
        await database.drop();
        throw err;
      }
    },
  };
}
