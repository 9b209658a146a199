// Which database a process uses: DATABASE_URL's PostgreSQL, else PGlite in $UPDRAFT_HOME/db — and
// how a long-running process waits for a PostgreSQL that is not up yet.
import path from "node:path";
import type { Config } from "../config.js";
import { UpdraftError } from "../errors.js";
import type { Logger } from "../logger.js";
import { openStore, type Store } from "./db.js";
import { migrate } from "./migrate.js";
import { isRetryableDbError, withDbRetry } from "./sqlstate.js";

export function pgliteDir(config: Config): string {
  return path.join(config.home, "db");
}

/**
 * Waits between attempts while the database is down: full jitter up to this cap, so that a process
 * is live within about this long of the database answering, and many processes started together
 * do not knock in step.
 */
const WAIT_MAX_DELAY_MS = 3_000;
const WAIT_BASE_DELAY_MS = 200;

/** Opening the database failed; `retryable` comes from the SQLSTATE table (sqlstate.ts). */
export class DatabaseOpenError extends UpdraftError {
  constructor(
    message: string,
    retryable: boolean,
    readonly sqlstate?: string,
  ) {
    super(message, retryable ? "database_unavailable" : "database_config", 2, retryable);
  }
}

/**
 * Opens the configured database. A failure to connect becomes one line naming the server (never
 * its password) and the reason, not a driver stack.
 */
export async function openStoreFromConfig(config: Config, applicationName: string): Promise<Store> {
  if (!config.databaseUrl) return openStore({ pgliteDataDir: pgliteDir(config), applicationName });
  try {
    return await openStore({
      databaseUrl: config.databaseUrl,
      applicationName,
      queryTimeoutMs: config.dbQueryTimeoutMs,
      connectTimeoutMs: config.dbConnectTimeoutMs,
      // Pinged as often as a ping may take: a dead LISTEN connection is replaced within 2× that.
      listenPingIntervalMs: config.dbConnectTimeoutMs,
    });
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new DatabaseOpenError(`cannot connect to the database at ${serverOf(config.databaseUrl)} (DATABASE_URL): ${describeDbError(err)}`, isRetryableDbError(err), code);
  }
}

/**
 * The database of a long-running process (`updraft start|scheduler|worker|web`), migrated. A
 * PostgreSQL that refuses connections or is still starting up is waited for, as long as it takes,
 * with one log line per attempt — so a process started before its database comes up by itself. A
 * configuration error (authentication, no such database, bad host name) is thrown at once.
 */
export async function openMigratedStore(config: Config, applicationName: string, logger: Logger): Promise<Store> {
  let down = false;
  const store = await withDbRetry(
    async () => {
      const s = await openStoreFromConfig(config, applicationName);
      try {
        await migrate(s);
      } catch (err) {
        await s.close().catch(() => {});
        throw err;
      }
      return s;
    },
    {
      forMs: config.databaseUrl ? Infinity : 0,
      baseMs: WAIT_BASE_DELAY_MS,
      maxMs: WAIT_MAX_DELAY_MS,
      retryable: (err) => err instanceof DatabaseOpenError && err.retryable,
      onRetry: (err, attempt, delayMs) => {
        down = true;
        const reason = err instanceof DatabaseOpenError ? err.message : `the database failed during migrations: ${describeDbError(err)}`;
        logger.warn({ attempt, retryInMs: Math.round(delayMs) }, `${reason}; retrying in ${(delayMs / 1000).toFixed(1)} s`);
      },
    },
  );
  if (down) logger.info("the database answers; starting");
  return store;
}

/** host:port/database of a PostgreSQL URL, without user or password. */
function serverOf(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || "5432"}${u.pathname}`;
  } catch {
    return "(unparsable URL)";
  }
}

/** One line: the driver's message, with its SQLSTATE or system code when it has one. */
function describeDbError(err: unknown): string {
  const e = err as { message?: string; code?: string; errors?: { message?: string }[] } | null;
  // Node's connect to a name with several addresses (localhost: ::1 and 127.0.0.1) fails with an
  // AggregateError whose own message is empty.
  const message = (e?.message || e?.errors?.map((x) => x.message).join("; ") || String(err)).split("\n")[0]!;
  return e?.code && !message.includes(e.code) ? `${message} (${e.code})` : message;
}
