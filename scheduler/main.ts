// `updraft scheduler`: the scheduler as its own process (and the scheduler part of `updraft start`).
import path from "node:path";
import type { Config } from "../engine/config.js";
import type { Logger } from "../engine/logger.js";
import type { Store } from "../engine/store/db.js";
import { Scheduler } from "./scheduler.js";

export async function startScheduler(store: Store, config: Config, logger: Logger): Promise<Scheduler> {
  const scheduler = new Scheduler(store, {
    dagsFolder: config.dagsFolder,
    cacheDir: path.join(config.home, "cache", "bundles"),
    dagImportTimeoutMs: config.dagImportTimeoutMs,
    dagFileMaxBytes: config.dagFileMaxBytes,
    heartbeatTimeoutMs: config.heartbeatTimeoutMs,
    logger: logger.child({ component: "scheduler" }),
  });
  await scheduler.start();
  return scheduler;
}
