// The long-running commands: `updraft start` (standalone) and the distributed components.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Config } from "../../engine/config.js";
import { createLogger, type Logger } from "../../engine/logger.js";
import { UpdraftError } from "../../engine/errors.js";
import type { Store } from "../../engine/store/db.js";
import { openMigratedStore } from "../../engine/store/openFromConfig.js";
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

export async function startCommand(config: Config): Promise<void> {
  const logger = createLogger(config.logLevel, "updraft", config.logFormat);
  const { startWebServer, resolveSecretKey, ensureAdminUser } = await webModules();
  await ensureUiBuilt(logger);
  const store = await openMigrated(config, "updraft-standalone", logger);
  const secretKey = resolveSecretKey(config);
  const admin = await ensureAdminUser(store.db, config.adminPassword);
  const scheduler = await startScheduler(store, config, logger);
  const worker = await startWorker(store, config, logger);
  const web = await startWebServer(store, { ...config, secretKey }, logger);
  const serverFile = path.join(config.home, SERVER_FILE);
  if (store.kind === "pglite") fs.writeFileSync(serverFile, JSON.stringify({ url: web.url, pid: process.pid }), { mode: 0o600 });
  stopOnSignals(store, logger, [scheduler, worker, web], () => fs.rmSync(serverFile, { force: true }));

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
  const store = await openMigrated(config, "updraft-scheduler", logger);
  const scheduler = await startScheduler(store, config, logger);
  stopOnSignals(store, logger, [scheduler]);
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
  const store = await openMigrated(config, "updraft-worker", logger);
  const worker = await startWorker(store, config, logger, overrides);
  stopOnSignals(store, logger, [worker]);
}

export async function webCommand(config: Config): Promise<void> {
  const logger = createLogger(config.logLevel, "updraft", config.logFormat);
  const { startWebServer, resolveSecretKey, ensureAdminUser } = await webModules();
  await ensureUiBuilt(logger);
  const store = await openMigrated(config, "updraft-web", logger);
  const secretKey = resolveSecretKey(config);
  await ensureAdminUser(store.db, config.adminPassword);
  const web = await startWebServer(store, { ...config, secretKey }, logger);
  console.log(`Updraft web server at ${web.url}`);
  stopOnSignals(store, logger, [web]);
}
