// Configuration, parsed once from the environment with a schema (CONVENTIONS: units in names,
// every option documented with its default; invalid config fails at start with one clear line).
import path from "node:path";
import { z } from "zod";

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

/**
 * Default limit on one DAG file's size. Real DAG files are kilobytes (the largest example is 7 KB);
 * a file of megabytes is data pasted into code. Each version stores the source and the bundle in
 * the database and every worker fetches them, and bundling a 50 MB file took 2.5 s and 300 MB of the
 * scheduler's memory (measured): 5 MB keeps ~700× headroom over real files and bounds that cost.
 */
export const DAG_FILE_MAX_BYTES_DEFAULT = 5 * 1024 * 1024;

export const configSchema = z.object({
  /** UPDRAFT_HOME: where standalone mode keeps its PGlite database, logs and bundle cache. */
  home: z.string().default("./.updraft"),
  /** UPDRAFT_DAGS_FOLDER: the DAG files to load. */
  dagsFolder: z.string().default("./dags"),
  /** DATABASE_URL: a PostgreSQL URL; unset means embedded PGlite in `$UPDRAFT_HOME/db`. */
  databaseUrl: z.string().url().optional(),
  /** UPDRAFT_HOST / UPDRAFT_PORT: where the web server listens. */
  host: z.string().default("127.0.0.1"),
  port: z.coerce.number().int().min(0).max(65535).default(8080),
  /** UPDRAFT_ADMIN_PASSWORD: the `admin` user's password; generated and printed once when unset. */
  adminPassword: z.string().min(1).optional(),
  /** UPDRAFT_SECRET_KEY: signs API tokens; generated and kept in `$UPDRAFT_HOME/secret_key` when unset. */
  secretKey: z.string().min(16).optional(),
  /** UPDRAFT_TOKEN_TTL_MS: lifetime of an API token. */
  tokenTtlMs: positiveInt(24 * 3_600_000),
  /** UPDRAFT_WORKER_SLOTS: tasks one worker runs at once (`updraft worker --slots N` overrides). */
  workerSlots: positiveInt(8),
  /** UPDRAFT_WORKER_QUEUES: comma-separated queues a worker takes from. */
  workerQueues: z.string().default("default"),
  /** UPDRAFT_HEARTBEAT_INTERVAL_MS: how often a worker heartbeats its running tasks. */
  heartbeatIntervalMs: positiveInt(5_000),
  /** UPDRAFT_HEARTBEAT_TIMEOUT_MS: a running task whose heartbeat is older is reaped. */
  heartbeatTimeoutMs: positiveInt(30_000),
  /** UPDRAFT_POLL_INTERVAL_MS: claim fallback when no NOTIFY arrives. */
  pollIntervalMs: positiveInt(1_000),
  /** UPDRAFT_DAG_IMPORT_TIMEOUT_MS: a DAG file whose import takes longer is an import error. */
  dagImportTimeoutMs: positiveInt(30_000),
  /** UPDRAFT_DAG_FILE_MAX_BYTES: a DAG file larger than this is not bundled or imported but recorded as an import error. */
  dagFileMaxBytes: positiveInt(DAG_FILE_MAX_BYTES_DEFAULT),
  /** UPDRAFT_KILL_GRACE_MS: after a timeout aborts `ctx.signal`, how long before the runner is killed. */
  killGraceMs: positiveInt(2_000),
  /** UPDRAFT_RUNNER_IDLE_MS: a worker's idle task runners beyond its warm ones stop after this long without a task. */
  runnerIdleMs: positiveInt(300_000),
  /** UPDRAFT_DB_QUERY_TIMEOUT_MS: a statement without a reply this long fails and its connection is dropped (detects half-open connections; keep it below the heartbeat timeout). */
  dbQueryTimeoutMs: positiveInt(15_000),
  /** UPDRAFT_DB_CONNECT_TIMEOUT_MS: limit on opening a PostgreSQL connection (and on a LISTEN ping). */
  dbConnectTimeoutMs: positiveInt(5_000),
  /** UPDRAFT_LOGIN_RATE_LIMIT: login attempts (POST /auth/token) per client address per minute. */
  loginRateLimit: positiveInt(20),
  /** UPDRAFT_CORS_ORIGINS: comma-separated origins allowed to call the API from a browser; empty: no CORS. */
  corsOrigins: z.string().default(""),
  /** UPDRAFT_METRICS_TOKEN: a static bearer token Prometheus may scrape /metrics with (API tokens work too). */
  metricsToken: z.string().min(16).optional(),
  /** UPDRAFT_LOG_FORMAT: `json` (one JSON object per line, for collectors) or `pretty` (for people). */
  logFormat: z.enum(["json", "pretty"]).default("json"),
  /** UPDRAFT_LOG_LEVEL: pino level for Updraft's own logs. */
  logLevel: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
});

export type Config = z.infer<typeof configSchema>;

const ENV_NAMES: Record<keyof Config, string> = {
  home: "UPDRAFT_HOME",
  dagsFolder: "UPDRAFT_DAGS_FOLDER",
  databaseUrl: "DATABASE_URL",
  host: "UPDRAFT_HOST",
  port: "UPDRAFT_PORT",
  adminPassword: "UPDRAFT_ADMIN_PASSWORD",
  secretKey: "UPDRAFT_SECRET_KEY",
  tokenTtlMs: "UPDRAFT_TOKEN_TTL_MS",
  workerSlots: "UPDRAFT_WORKER_SLOTS",
  workerQueues: "UPDRAFT_WORKER_QUEUES",
  heartbeatIntervalMs: "UPDRAFT_HEARTBEAT_INTERVAL_MS",
  heartbeatTimeoutMs: "UPDRAFT_HEARTBEAT_TIMEOUT_MS",
  pollIntervalMs: "UPDRAFT_POLL_INTERVAL_MS",
  dagImportTimeoutMs: "UPDRAFT_DAG_IMPORT_TIMEOUT_MS",
  dagFileMaxBytes: "UPDRAFT_DAG_FILE_MAX_BYTES",
  killGraceMs: "UPDRAFT_KILL_GRACE_MS",
  runnerIdleMs: "UPDRAFT_RUNNER_IDLE_MS",
  dbQueryTimeoutMs: "UPDRAFT_DB_QUERY_TIMEOUT_MS",
  dbConnectTimeoutMs: "UPDRAFT_DB_CONNECT_TIMEOUT_MS",
  loginRateLimit: "UPDRAFT_LOGIN_RATE_LIMIT",
  corsOrigins: "UPDRAFT_CORS_ORIGINS",
  metricsToken: "UPDRAFT_METRICS_TOKEN",
  logFormat: "UPDRAFT_LOG_FORMAT",
  logLevel: "UPDRAFT_LOG_LEVEL",
};

export class ConfigError extends Error {}

/** Reads the configuration from `env`, overridden by `overrides`. Throws ConfigError with one clear line. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  const raw: Record<string, unknown> = {};
  for (const [key, name] of Object.entries(ENV_NAMES)) {
    const value = env[name];
    if (value !== undefined && value !== "") raw[key] = value;
  }
  const parsed = configSchema.safeParse({ ...raw, ...overrides });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key = String(issue.path[0]) as keyof Config;
    throw new ConfigError(`invalid configuration: ${ENV_NAMES[key] ?? key}: ${issue.message}`);
  }
  const config = parsed.data;
  return { ...config, home: path.resolve(config.home), dagsFolder: path.resolve(config.dagsFolder) };
}

export { ENV_NAMES };
