// The long-running commands: `updraft start` (standalone) and the distributed components.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Config } from "../../engine/config.js";
import { createLogger, type Logger } from "../../engine/logger.js";
import { UpdraftError } from "../../engine/errors.js";
import type { Store } from "../../engine/store/db.js";
import { openMigratedStore } from "../../engine/store/openFromConfig.js";
import { isRetryableDbError } from "../../engine/store/sqlstate.js";
import { startScheduler } from "../../scheduler/main.js";
import { startWorker } from "../../worker/main.js";

/** The web server's modules load only for the commands that serve HTTP. */
async function webModules() {
  const [{ startWebServer }, { resolveSecretKey }, { ensureAdminUser }] = await Promise.all([
    import("../../web/server/main.js"),
    import("../../engine/secretKey.js"),
    import("../../engine/store/users/ensureAdminUser.js"),
  ]);
  return { startWebServer, resolveSecretKey, ensureAdminUser };
}
import { SERVER_FILE } from "./localApi.js";

/** `npm start` serves the built UI: build web/ui into web/ui/dist at first start if it is missing. */
async function ensureUiBuilt(logger: Logger): Promise<void> {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../web/ui");
  if (fs.existsSync(path.join(root, "dist", "index.html"))) return;
  logger.info("building the web UI (first start)");
  try {
    const { build } = await import("vite");
    await build({ configFile: path.join(root, "vite.config.ts"), logLevel: "warn" });
  } catch (err) {
    // The API still serves; only the UI is missing (e.g. installed without dev dependencies).
    logger.warn({ err }, "the web UI could not be built: run `npm run build`; the API is served without it");
  }
}

type Stoppable = { stop?: () => Promise<void>; close?: () => Promise<void> };

/** Stops components in reverse order on SIGINT/SIGTERM, then closes the database. */
function stopOnSignals(store: Store, logger: Logger, parts: Stoppable[], onStop?: () => void): void {
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down");
    for (const p of [...parts].reverse()) await (p.stop?.() ?? p.close?.())?.catch((err: unknown) => logger.warn({ err }, "stopping a component failed"));
    onStop?.();
    await store.close().catch(() => {});
    process.exit(0);
  };
  process.once("SIGINT", () => void stop("SIGINT"));
  process.once("SIGTERM", () => void stop("SIGTERM"));
}

/** Waits for a PostgreSQL that is not up yet (one log line per attempt), then migrates. */
async function openMigrated(config: Config, name: string, logger: Logger): Promise<Store> {
  fs.mkdirSync(config.home, { recursive: true });
  return openMigratedStore(config, name, logger);
}

/**
 * Opens the database and starts the components, pushing each into `parts` as it starts. PostgreSQL
 * restarting between the open and the last component's start (seen in the restart chaos scenario:
 * a web server that was still starting exited on ECONNREFUSED) is waited out like the open itself:
 * what started is stopped, the store closed, and the whole start tried again with jittered backoff.
 * Any other error — and any error on PGlite — ends the command as before.
 */
async function startWithRetry<T>(
  config: Config,
  name: string,
  logger: Logger,
  start: (store: Store, parts: Stoppable[]) => Promise<T>,
): Promise<{ store: Store; parts: Stoppable[]; started: T }> {
  for (let attempt = 1; ; attempt++) {
    const store = await openMigrated(config, name, logger);
    const parts: Stoppable[] = [];
    try {
      return { store, parts, started: await start(store, parts) };
    } catch (err) {
      for (const p of [...parts].reverse()) await (p.stop?.() ?? p.close?.())?.catch(() => {});
      await store.close().catch(() => {});
      if (!config.databaseUrl || !isRetryableDbError(err)) throw err;
      const delayMs = Math.min(3_000, 200 * 2 ** attempt) * (0.5 + Math.random() / 2);
      logger.warn(`the database went away while starting (${(err as Error).message}); starting again in ${(delayMs / 1000).toFixed(1)} s`);
      await new Promise((r) => setTimeout(r, delayMs));
    }
  }
}

export async function startCommand(config: Config): Promise<void> {
  const logger = createLogger(config.logLevel, "updraft", config.logFormat);
  const { startWebServer, resolveSecretKey, ensureAdminUser } = await webModules();
  await ensureUiBuilt(logger);
  const secretKey = resolveSecretKey(config);
  const { store, parts, started } = await startWithRetry(config, "updraft-standalone", logger, async (store, parts) => {
    const admin = await ensureAdminUser(store.db, config.adminPassword);
    parts.push(await startScheduler(store, config, logger));
    parts.push(await startWorker(store, config, logger));
    const web = await startWebServer(store, { ...config, secretKey }, logger);
    parts.push(web);
    return { admin, web };
  });
  const { admin, web } = started;
  const serverFile = path.join(config.home, SERVER_FILE);
  if (store.kind === "pglite") fs.writeFileSync(serverFile, JSON.stringify({ url: web.url, pid: process.pid }), { mode: 0o600 });
  stopOnSignals(store, logger, parts, () => fs.rmSync(serverFile, { force: true }));

  const password = admin.password
    ? `${admin.password}   (generated: shown only now; set UPDRAFT_ADMIN_PASSWORD to choose one)`
    : config.adminPassword
      ? "(from UPDRAFT_ADMIN_PASSWORD)"
      : "(generated at first start; set UPDRAFT_ADMIN_PASSWORD and restart to reset it)";
  console.log(
    [
      "",
      "  Updraft is running (standalone)",
      `  UI:          ${web.url}/`,
      `  API:         ${web.url}/api/v2`,
      `  health:      ${web.url}/api/v2/monitor/health`,
      `  login:       admin / ${password}`,
      `  database:    ${store.kind === "pglite" ? `PGlite in ${path.join(config.home, "db")}` : "PostgreSQL (DATABASE_URL)"}`,
      `  DAGs folder: ${config.dagsFolder}`,
      "",
    ].join("\n"),
  );
}

export async function schedulerCommand(config: Config): Promise<void> {
  const logger = createLogger(config.logLevel, "updraft", config.logFormat);
  const { store, parts } = await startWithRetry(config, "updraft-scheduler", logger, async (store, parts) => {
    parts.push(await startScheduler(store, config, logger));
  });
  stopOnSignals(store, logger, parts);
}

export async function workerCommand(config: Config, overrides: { slots?: number; queues?: string[] }): Promise<void> {
  if (!config.databaseUrl) {
    throw new UpdraftError(
      "a separate worker needs DATABASE_URL: the embedded PGlite database lives inside one process, so use `updraft start` or point DATABASE_URL at PostgreSQL",
      "usage",
      2,
    );
  }
  if (overrides.queues && !overrides.queues.length) throw new UpdraftError("--queues needs at least one queue name", "usage", 2);
  const logger = createLogger(config.logLevel, "updraft", config.logFormat);
  const { store, parts } = await startWithRetry(config, "updraft-worker", logger, async (store, parts) => {
    parts.push(await startWorker(store, config, logger, overrides));
  });
  stopOnSignals(store, logger, parts);
}

export async function webCommand(config: Config): Promise<void> {
  const logger = createLogger(config.logLevel, "updraft", config.logFormat);
  const { startWebServer, resolveSecretKey, ensureAdminUser } = await webModules();
  await ensureUiBuilt(logger);
  const secretKey = resolveSecretKey(config);
  const { store, parts, started: web } = await startWithRetry(config, "updraft-web", logger, async (store, parts) => {
    await ensureAdminUser(store.db, config.adminPassword);
    const web = await startWebServer(store, { ...config, secretKey }, logger);
    parts.push(web);
    return web;
  });
  console.log(`Updraft web server at ${web.url}`);
  stopOnSignals(store, logger, parts);
}
