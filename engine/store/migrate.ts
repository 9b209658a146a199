// Applies migrations/NNNN_name.sql in order, each once, under an advisory lock so that two
// processes starting together are safe (graphile-worker's src/migrate.ts does the same).
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Store } from "./db.js";

export const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../migrations");

/** Arbitrary but fixed: the advisory lock key of Updraft's migrator. */
const MIGRATION_LOCK_KEY = 7_240_553_118;

export interface MigrationFile {
  version: number;
  name: string;
  sql: string;
}

export function readMigrations(dir = MIGRATIONS_DIR): MigrationFile[] {
  return fs
    .readdirSync(dir)
    .filter((f) => /^\d{4}_.+\.sql$/.test(f))
    .sort()
    .map((f) => ({ version: Number(f.slice(0, 4)), name: f, sql: fs.readFileSync(path.join(dir, f), "utf8") }));
}

/** Returns the names of the migrations it applied (empty when the schema was current). */
export async function migrate(store: Store, dir = MIGRATIONS_DIR): Promise<string[]> {
  const migrations = readMigrations(dir);
  return store.session(async (exec) => {
    await exec(`select pg_advisory_lock(${MIGRATION_LOCK_KEY})`);
    try {
      await exec(`create table if not exists updraft_migrations (version integer primary key, name text not null, applied_at timestamptz not null default now())`);
      const done = await exec(`select version from updraft_migrations`);
      const applied = new Set(done.map((r) => Number(r.version)));
      const ran: string[] = [];
      for (const m of migrations) {
        if (applied.has(m.version)) continue;
        await exec("begin");
        try {
          await exec(m.sql);
          await exec(`insert into updraft_migrations (version, name) values (${m.version}, '${m.name.replace(/'/g, "''")}')`);
          await exec("commit");
        } catch (err) {
          await exec("rollback");
          // The SQLSTATE stays on the error: a server restart mid-migration is retried (sqlstate.ts).
          throw Object.assign(new Error(`migration ${m.name} failed: ${(err as Error).message}`, { cause: err }), { code: (err as { code?: string }).code });
        }
        ran.push(m.name);
      }
      return ran;
    } finally {
      await exec(`select pg_advisory_unlock(${MIGRATION_LOCK_KEY})`);
    }
  });
}
