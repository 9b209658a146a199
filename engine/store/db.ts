// The one seam between standalone and distributed mode (DESIGN §2): a Kysely dialect and a
// notifier, over real PostgreSQL (`pg`) or embedded PGlite. Everything above uses `Store`.
import { createHash } from "node:crypto";
import fs from "node:fs";
import { PGlite } from "@electric-sql/pglite";
import { Kysely, PostgresDialect, sql } from "kysely";
import { PGliteDialect } from "kysely-pglite-dialect";
import pg from "pg";
import type { Database } from "./schema.js";

// bigint ids (bigserial) fit easily in a double; parse them as numbers, as PGlite does.
pg.types.setTypeParser(20, (v) => Number(v));

/**
 * Put at the start of a hot statement's SQL: on PostgreSQL it then runs as a named prepared
 * statement, parsed and planned once per connection. The hand-off statement in finishTask spent
 * more time in parse and plan than in execution (0.46 + 0.77 ms vs 0.68 ms, server log); preparing
 * it took the chain benchmark's hand-off p50 from 5.40 to 3.53 ms (bench helper's measurement,
 * alternating runs). Only for statements with a bounded number of distinct texts: each distinct
 * text is one prepared statement per connection.
 */
export const PREPARED = sql.raw("/*prepared*/");
const PREPARED_MARK = "/*prepared*/";

/** Wraps the pool so that marked statements go to pg as named (prepared) queries. */
function preparingPool(pool: pg.Pool): pg.Pool {
  const prepare = (client: pg.PoolClient): pg.PoolClient => {
    const marked = client as pg.PoolClient & { updraftPreparing?: true };
    if (marked.updraftPreparing) return client;
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as unknown as { query: (...args: unknown[]) => unknown }).query = (text: unknown, values?: unknown) =>
      typeof text === "string" && text.startsWith(PREPARED_MARK)
        ? query({ name: `updraft_${createHash("sha1").update(text).digest("hex").slice(0, 20)}`, text, values })
        : query(text, values);
    marked.updraftPreparing = true;
    return client;
  };
  return new Proxy(pool, {
    get(target, prop) {
      if (prop === "connect") return async () => prepare(await target.connect());
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

export type Listener = (payload: string) => void;

export interface Store {
  readonly db: Kysely<Database>;
  readonly kind: "postgres" | "pglite";
  /** Subscribes to a NOTIFY channel; resolves once LISTEN is active. Returns the unsubscribe. */
  listen(channel: string, listener: Listener): Promise<() => Promise<void>>;
  /**
   * Runs `fn` on one dedicated connection whose `exec` takes multi-statement scripts (migrations).
   * On PGlite the whole database is one connection, so this also excludes other queries.
   */
  session<T>(fn: (exec: (script: string, params?: unknown[]) => Promise<Record<string, unknown>[]>) => Promise<T>): Promise<T>;
  close(): Promise<void>;
  /** PGlite only: the database as a tarball, to start tests from a snapshot. */
  dump?(): Promise<Blob>;
}

export interface OpenOptions {
  databaseUrl?: string;
  /** PGlite data directory; omitted means in memory. */
  pgliteDataDir?: string;
  /** PGlite snapshot from `Store.dump()`: loads in ~0.8 s where a fresh database takes ~4 s. */
  pgliteSnapshot?: Blob;
  poolSize?: number;
  /** Set on connections, shown in pg_stat_activity. */
  applicationName?: string;
}

export async function openStore(options: OpenOptions): Promise<Store> {
  return options.databaseUrl ? openPostgres(options.databaseUrl, options) : openPglite(options);
}

async function openPostgres(url: string, options: OpenOptions): Promise<Store> {
  const pool = new pg.Pool({ connectionString: url, max: options.poolSize ?? 10, application_name: options.applicationName ?? "updraft" });
  // An idle client that errors (server restart) must not crash the process; the pool replaces it.
  pool.on("error", () => {});
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: preparingPool(pool) }) });
  await sql`select 1`.execute(db);

  const listeners = new Map<string, Set<Listener>>();
  let client: pg.Client | null = null;
  let closed = false;
  let connecting: Promise<pg.Client> | null = null;

  // One dedicated connection for LISTEN, re-established (and re-subscribed) if it drops.
  const connect = (): Promise<pg.Client> => {
    connecting ??= (async () => {
      const c = new pg.Client({ connectionString: url, application_name: `${options.applicationName ?? "updraft"}-listen` });
      c.on("notification", (msg) => {
        for (const l of listeners.get(msg.channel) ?? []) l(msg.payload ?? "");
      });
      c.on("error", () => {
        if (client === c) client = null;
        connecting = null;
        if (!closed) setTimeout(() => void connect().catch(() => {}), 500).unref();
      });
      await c.connect();
      for (const channel of listeners.keys()) await c.query(`LISTEN "${channel}"`);
      client = c;
      return c;
    })();
    return connecting;
  };

  return {
    db,
    kind: "postgres",
    async session(fn) {
      const c = await pool.connect();
      try {
        return await fn(async (script, params) => {
          const res = await c.query(script, params);
          return (Array.isArray(res) ? (res.at(-1)?.rows ?? []) : res.rows) as Record<string, unknown>[];
        });
      } finally {
        c.release();
      }
    },
    async listen(channel, listener) {
      let set = listeners.get(channel);
      const fresh = !set;
      if (!set) listeners.set(channel, (set = new Set()));
      set.add(listener);
      const c = client ?? (await connect());
      if (fresh) await c.query(`LISTEN "${channel}"`);
      return async () => {
        set!.delete(listener);
      };
    },
    async close() {
      closed = true;
      const c = client ?? (connecting ? await connecting.catch(() => null) : null);
      await c?.end().catch(() => {});
      await db.destroy();
    },
  };
}

async function openPglite(options: OpenOptions): Promise<Store> {
  if (options.pgliteDataDir) fs.mkdirSync(options.pgliteDataDir, { recursive: true });
  const pglite = await PGlite.create({ dataDir: options.pgliteDataDir, loadDataDir: options.pgliteSnapshot });
  const db = new Kysely<Database>({ dialect: new PGliteDialect(pglite) });
  return {
    db,
    kind: "pglite",
    async session(fn) {
      // Borrow Kysely's only connection so that no other query interleaves with the script.
      return db.connection().execute(() =>
        fn(async (script, params) => {
          if (params?.length) return (await pglite.query<Record<string, unknown>>(script, params)).rows;
          const results = await pglite.exec(script);
          return (results.at(-1)?.rows ?? []) as Record<string, unknown>[];
        }),
      );
    },
    async listen(channel, listener) {
      const unsubscribe = await pglite.listen(channel, listener);
      return async () => unsubscribe();
    },
    async close() {
      await db.destroy();
    },
    dump: () => pglite.dumpDataDir("none") as Promise<Blob>,
  };
}

/** Notifies `channel` inside the caller's transaction: delivered only if it commits. */
export function notify(channel: string, payload = "") {
  return sql`select pg_notify(${channel}, ${payload})`;
}
