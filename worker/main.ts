// `updraft worker`: a worker as its own process (and the worker part of `updraft start`).
import path from "node:path";
import type { Config } from "../engine/config.js";
import type { Logger } from "../engine/logger.js";
import type { Store } from "../engine/store/db.js";
import { Worker } from "./worker.js";
import { resolveSecretKey } from "../engine/secretKey.js";

export async function startWorker(store: Store, config: Config, logger: Logger, overrides: { slots?: number; queues?: string[] } = {}): Promise<Worker> {
  const worker = new Worker(store, {
    queues: overrides.queues ?? config.workerQueues.split(",").map((q) => q.trim()).filter(Boolean),
    slots: overrides.slots ?? config.workerSlots,
    cacheDir: path.join(config.home, "cache", "bundles"),
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    pollIntervalMs: config.pollIntervalMs,
    killGraceMs: config.killGraceMs,
    runnerIdleMs: config.runnerIdleMs,
    logger: logger.child({ component: "worker" }),
    // The same key as the web server's: stored variables and connections are encrypted with it.
    secretKey: resolveSecretKey(config),
  });
  await worker.start();
  return worker;
}
