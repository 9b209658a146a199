// Which database a process uses: DATABASE_URL's PostgreSQL, else PGlite in $UPDRAFT_HOME/db.
import path from "node:path";
import type { Config } from "../config.js";
import { openStore, type Store } from "./db.js";

export function pgliteDir(config: Config): string {
  return path.join(config.home, "db");
}

export function openStoreFromConfig(config: Config, applicationName: string): Promise<Store> {
  return config.databaseUrl
    ? openStore({
        databaseUrl: config.databaseUrl,
        applicationName,
        queryTimeoutMs: config.dbQueryTimeoutMs,
        connectTimeoutMs: config.dbConnectTimeoutMs,
        // Pinged as often as a ping may take: a dead LISTEN connection is replaced within 2× that.
        listenPingIntervalMs: config.dbConnectTimeoutMs,
      })
    : openStore({ pgliteDataDir: pgliteDir(config), applicationName });
}
