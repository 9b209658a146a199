// The one seam between standalone and distributed mode (DESIGN §2): a Kysely dialect and a
// notifier, over real PostgreSQL (`pg`) or embedded PGlite. Everything above uses `Store`.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import { createRequire } from "node:module";
import { promisify } from "node:util";
import { Kysely, PostgresDialect, sql, type RawBuilder } from "kysely";
import pg from "pg";
import type { Database } from "./schema.js";

// bigint ids (bigserial) fit easily in a double; parse them as numbers, as PGlite does.
pg.types.setTypeParser(20, (v) => Number(v));

/**
 * Put at the start of a hot statement's SQL: it then runs as a named prepared statement, parsed
 * and planned once per connection (on PGlite, once per database: pglitePrepared.ts). The hand-off
 * statement in finishTask spent more time in parse and plan than in execution (0.46 + 0.77 ms vs 0.68 ms, server log); preparing
 * it took the chain benchmark's hand-off p50 from 5.40 to 3.53 ms (bench helper's measurement,
 * alternating runs). Only for statements with a bounded number of distinct texts: each distinct
 * text is one prepared statement per connection.
 */
export const PREPARED = sql.raw("/*prepared*/");

/**
 * A value written into the SQL text instead of sent as a parameter: for a state that must match a
 * partial index's predicate (`WHERE state = 'queued'`, …). Every plan here is a generic one, made
 * without the parameters' values (plan_cache_mode = force_generic_plan, see openPostgres — it
 * applies to unnamed statements too), so with `state = $1` the planner cannot prove the index's
 * predicate and reads the whole table: auto_explain showed the scheduler's retry and reschedule
 * timers and the workers' orphan check each reading all 10,000 TIs of a fan-out on every tick.
 */
export const lit = <T extends string>(value: T): RawBuilder<T> => sql.lit(value);
const PREPARED_MARK = "/*prepared*/";

/** A marked statement's name, the same for the same text on every connection (and on PGlite). */
export function preparedStatementName(text: string): string {
  return `updraft_${createHash("sha1").update(text).digest("hex").slice(0, 20)}`;
}

/** Wraps the pool so that marked statements go to pg as named (prepared) queries. */
function preparingPool(pool: pg.Pool): pg.Pool {
  const prepare = (client: pg.PoolClient): pg.PoolClient => {
    const marked = client as pg.PoolClient & { updraftPreparing?: true };
    if (marked.updraftPreparing) return client;
    // The server may drop a checked-out client between two statements of a transaction (a
    // restart): pg then emits 'error' on it, which would crash the process with no listener. The
    // next statement fails instead, retryably, and the pool discards the client on release.
    client.on("error", () => {});
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as unknown as { query: (...args: unknown[]) => unknown }).query = (text: unknown, ...rest: unknown[]) => {
      const result =
        typeof text === "string" && text.startsWith(PREPARED_MARK)
          ? query({ name: preparedStatementName(text), text, values: rest[0] }, ...rest.slice(1))
          : query(text, ...rest);
      // A query that timed out leaves pg's client waiting for the reply forever (a half-open
      // connection): destroy it, so the pool drops it on release instead of queueing behind it.
      // Its idle siblings most likely went down the same path: drop them too, or each would cost
      // the next callers another full timeout (the half-open chaos scenario saw a TI reaped so).
      if (result instanceof Promise)
        return result.catch((err: unknown) => {
          if (isQueryTimeout(err)) {
            destroyClient(client);
            for (const idle of (pool as unknown as { _idle?: { client: pg.PoolClient }[] })._idle ?? []) destroyClient(idle.client);
          }
          throw err;
        });
      return result;
    };
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
  /** PostgreSQL only: this process's connection pool, for /metrics. */
  poolStats?(): { total: number; idle: number; waiting: number; max: number };
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
  /**
   * Client-side limit on one statement's reply (pg `query_timeout`). It is what detects a
   * half-open connection — a peer that stopped answering without closing — since TCP
   * retransmissions take minutes to give up. Default 15 s.
   */
  queryTimeoutMs?: number;
  /** Limit on opening a connection (pg `connectionTimeoutMillis`). Default 5 s. */
  connectTimeoutMs?: number;
  /** How often the LISTEN connection is pinged; a ping that gets no answer in connectTimeoutMs reconnects. Default 5 s. */
  listenPingIntervalMs?: number;
}

/** pg's own error when `query_timeout` passes without a reply. */
function isQueryTimeout(err: unknown): boolean {
  return /Query read timeout/.test((err as Error | null)?.message ?? "");
}

/** Closes the socket without the goodbye handshake, which would wait on a dead peer. */
function destroyClient(client: pg.Client | pg.PoolClient): void {
  (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function openStore(options: OpenOptions): Promise<Store> {
  return options.databaseUrl ? openPostgres(options.databaseUrl, options) : openPglite(options);
}

async function openPostgres(url: string, options: OpenOptions): Promise<Store> {
  const appName = options.applicationName ?? "updraft";
  const queryTimeoutMs = options.queryTimeoutMs ?? 15_000;
  const connectTimeoutMs = options.connectTimeoutMs ?? 5_000;
  // keepAlive lets the kernel notice an idle dead peer; query_timeout and connectionTimeoutMillis
  // bound every wait on a busy one, so no call hangs on a half-open connection. The server gets
  // the same limits: a client that gave up must not leave its backend waiting on a lock, or idle
  // in a transaction, holding row locks that block everyone else (seen in the two-scheduler chaos
  // scenario before these were set). The client's limit is a little longer, so that the server's
  // cancel (57014, retryable) normally comes first and the connection stays usable.
  const connection = {
    connectionString: url,
    keepAlive: true,
    keepAliveInitialDelayMillis: 5_000,
    connectionTimeoutMillis: connectTimeoutMs,
    query_timeout: queryTimeoutMs + 2_000,
    statement_timeout: queryTimeoutMs,
    idle_in_transaction_session_timeout: queryTimeoutMs,
    // Prepared statements (PREPARED) run their cached generic plan, never a plan made for each
    // execution: under plan_cache_mode = auto PostgreSQL kept choosing custom plans for the
    // hand-off statement and planned its dozen CTEs on every hand-off (chain-40 on PostgreSQL,
    // same run: 107.1 ms and a hand-off p50 of 2.47 ms with auto, 68.5 ms and 1.38 ms forced
    // generic). Their plans are written not to depend on parameter values or on the tables'
    // size (finishTask.ts's lockDownstream), and refreshStatistics (engine/store/maintenance)
    // has them re-planned as the tables grow. Unnamed statements too are planned generically (for
    // each execution, without their parameters' values): a state that must reach a partial index
    // is written into the text (lit, above).
    // An options= in DATABASE_URL replaces this (the URL's settings win).
    options: [process.env.PGOPTIONS, "-c plan_cache_mode=force_generic_plan"].filter(Boolean).join(" "),
  };
  // Idle connections are closed within the query timeout too (pg's default is 10 s): a half-open
  // one then goes even if no query picks it.
  const pool = new pg.Pool({ ...connection, max: options.poolSize ?? 10, idleTimeoutMillis: Math.min(10_000, queryTimeoutMs), application_name: appName });
  // An idle client that errors (server restart) must not crash the process; the pool replaces it.
  pool.on("error", () => {});
  // And a checked-out one likewise, from its first moment, whoever checked it out (Kysely through
  // preparingPool, session() directly): with no listener, pg re-emits the server's FATAL (57P01
  // on a restart) as an unhandled 'error' and the process dies — seen once in the PostgreSQL
  // restart chaos scenario. The statement in flight fails instead, retryably.
  pool.on("connect", (client) => client.on("error", () => {}));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: preparingPool(pool) }) });
  try {
    await sql`select 1`.execute(db);
  } catch (err) {
    // A process waiting for its database opens again and again: leave no pool behind.
    await db.destroy().catch(() => {});
    throw err;
  }

  const listeners = new Map<string, Set<Listener>>();
  let client: pg.Client | null = null;
  let closed = false;
  let connecting: Promise<pg.Client> | null = null;
  let reconnecting = false;

  // One dedicated connection for LISTEN. When it drops (server restart, failed ping) it is
  // re-established with jittered backoff and re-subscribed; NOTIFYs sent meanwhile are lost, so
  // every listener is then called once with an empty payload to catch up (workers claim,
  // schedulers re-check).
  const connect = (): Promise<pg.Client> => {
    connecting ??= (async () => {
      const c = new pg.Client({ ...connection, query_timeout: connectTimeoutMs, application_name: `${appName}-listen` });
      c.on("notification", (msg) => {
        for (const l of listeners.get(msg.channel) ?? []) l(msg.payload ?? "");
      });
      c.on("error", () => lost(c));
      c.on("end", () => lost(c));
      try {
        await c.connect();
        for (const channel of listeners.keys()) await c.query(`LISTEN "${channel}"`);
        if (closed) throw new Error("store closed");
      } catch (err) {
        destroyClient(c);
        throw err;
      } finally {
        connecting = null;
      }
      client = c;
      return c;
    })();
    return connecting;
  };

  const lost = (c: pg.Client): void => {
    if (client !== c) return;
    client = null;
    destroyClient(c);
    if (!closed) void reconnect();
  };

  const reconnect = async (): Promise<void> => {
    if (reconnecting) return;
    reconnecting = true;
    try {
      for (let attempt = 1; !closed; attempt++) {
        try {
          await connect();
          break;
        } catch {
          await sleep(Math.random() * Math.min(2_000, 50 * 2 ** attempt));
        }
      }
    } finally {
      reconnecting = false;
    }
    if (closed) return;
    for (const set of listeners.values()) for (const l of set) l("");
  };

  // A half-open LISTEN connection raises no error: it just never delivers again. Ping it.
  const pingTimer = setInterval(() => {
    const c = client;
    if (!c) return;
    c.query("select 1").catch(() => lost(c));
  }, options.listenPingIntervalMs ?? 5_000);
  pingTimer.unref();

  return {
    db,
    kind: "postgres",
    poolStats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount, max: pool.options.max ?? 10 }),
    async session(fn) {
      const c = await pool.connect();
      // Migrations may legitimately run long, or wait for another process's migration lock.
      await c.query("set statement_timeout = 0");
      try {
        return await fn(async (script, params) => {
          // Migrations may legitimately run long: no client-side timeout for them.
          const res = await c.query({ text: script, values: params, query_timeout: 24 * 3_600_000 } as pg.QueryConfig);
          return (Array.isArray(res) ? (res.at(-1)?.rows ?? []) : res.rows) as Record<string, unknown>[];
        });
      } finally {
        await c.query("reset statement_timeout").then(() => c.release(), (err: Error) => c.release(err));
      }
    },
    async listen(channel, listener) {
      let set = listeners.get(channel);
      const fresh = !set;
      if (!set) listeners.set(channel, (set = new Set()));
      set.add(listener);
      const c = client ?? (await connect());
      // A connection made after the channel was added already LISTENs on it.
      if (fresh && c === client) await c.query(`LISTEN "${channel}"`).catch(() => lost(c));
      return async () => {
        set!.delete(listener);
      };
    },
    async close() {
      closed = true;
      clearInterval(pingTimer);
      const c = client ?? (connecting ? await connecting.catch(() => null) : null);
      client = null;
      await c?.end().catch(() => {});
      await db.destroy();
    },
  };
}

/**
 * PGlite's buffer pool. PostgreSQL's default, 128 MB, lives inside the WebAssembly memory of the
 * process that runs `updraft start`, and is filled as pages are read: it was most of that
 * process's resident memory (issue 9: restart, example DAGs, 156 MB of a 480 MB RSS were wasm
 * memory). A PGlite database is one user's local one, and a page the pool misses is read from the
 * OS page cache through the same process, so a small pool costs little.
 */
const PGLITE_SHARED_BUFFERS = "16MB";

/**
 * Creates a new PGlite database directory (initdb) in a short-lived child process. A process that
 * ran initdb itself stays far above one that opened an existing database (measured: 303 vs 154 MB
 * RSS, even after a forced GC; WebAssembly memory never shrinks): a first `updraft start` was about
 * 100 MB above a restart (issue 9, memory benchmark: 388 vs 297 MB, example DAGs; 239 vs 240 MB
 * with initdb in a child). Should the child fail, the caller creates the database itself, as before.
 */
async function initdbInChild(dataDir: string, startParams: string[]): Promise<void> {
  // PGlite's CommonJS entry, so that `node -e` can require it by path from anywhere.
  const entry = createRequire(import.meta.url).resolve("@electric-sql/pglite");
  const script = "const { PGlite } = require(process.argv[1]); PGlite.create({ dataDir: process.argv[2], startParams: JSON.parse(process.argv[3]) }).then((db) => db.close());";
  // Created beside the data directory and renamed into place: a child that fails half-way leaves
  // no half-made database behind.
  const staging = `${dataDir}.initdb-${process.pid}`;
  try {
    await promisify(execFile)(process.execPath, ["-e", script, entry, staging, JSON.stringify(startParams)]);
    fs.rmdirSync(dataDir); // empty (checked by the caller); rename does not replace a directory
    fs.renameSync(staging, dataDir);
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
    fs.mkdirSync(dataDir, { recursive: true });
  }
}

async function openPglite(options: OpenOptions): Promise<Store> {
  // Loaded only for PGlite: a process on PostgreSQL does not carry the embedded database's code.
  const [{ PGlite }, { PGliteDialect }, { preparedQuery }] = await Promise.all([import("@electric-sql/pglite"), import("kysely-pglite-dialect"), import("./pglitePrepared.js")]);
  // plan_cache_mode as on PostgreSQL (openPostgres says why): with the PREPARED statements now
  // prepared on PGlite too (pglitePrepared.ts), chain-40 went 157–168 → 92–98 ms and the hand-off
  // p50 3.5–3.8 → 1.9–2.0 ms under force_generic_plan (chain benchmark, PGlite only, alternating
  // runs); auto kept planning the hand-off statement on every hand-off.
  const startParams = [...PGlite.defaultStartParams, "-c", `shared_buffers=${PGLITE_SHARED_BUFFERS}`, "-c", "plan_cache_mode=force_generic_plan"];
  if (options.pgliteDataDir) {
    fs.mkdirSync(options.pgliteDataDir, { recursive: true });
    if (!options.pgliteSnapshot && fs.readdirSync(options.pgliteDataDir).length === 0) {
      await initdbInChild(options.pgliteDataDir, startParams).catch(() => {});
    }
  }
  const pglite = await PGlite.create({
    dataDir: options.pgliteDataDir,
    loadDataDir: options.pgliteSnapshot,
    startParams,
  });
  // Statements marked PREPARED run as named prepared statements (pglitePrepared.ts), the rest
  // through PGlite's query() as kysely-pglite-dialect runs them.
  const prepared = preparedQuery(pglite);
  const client = new Proxy(pglite, {
    get(target, prop) {
      if (prop === "query") return (text: string, params: unknown[] = []) => (text.startsWith(PREPARED_MARK) ? prepared(text, params) : target.query(text, params));
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  const db = new Kysely<Database>({ dialect: new PGliteDialect(client) });
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
