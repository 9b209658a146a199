// The web server's Express app: `/auth/token` and Airflow's REST API v2 under `/api/v2`. It
// reads and writes only the database (DESIGN §1), so any number of web servers may run.
import express from "express";
import { createLogger, type Logger } from "../../engine/logger.js";
import type { Store } from "../../engine/store/db.js";
import { authenticate, tokenRouter, writesNeedOperator } from "./auth.js";
import { errorHandler, notFoundRoute } from "./errors.js";
import { dagRunsRouter } from "./routes/dagRuns.js";
import { dagsRouter } from "./routes/dags.js";
import { backfillsRouter } from "./routes/backfills.js";
import { dagVersionsRouter } from "./routes/dagVersions.js";
import { importErrorsRouter } from "./routes/importErrors.js";
import { monitorRouter } from "./routes/monitor.js";
import { taskInstanceActionsRouter } from "./routes/taskInstanceActions.js";
import { taskInstancesRouter } from "./routes/taskInstances.js";
import { uiRouter } from "./routes/ui.js";
import { serveUi } from "./static.js";

export interface AppOptions {
  secretKey: string;
  tokenTtlMs: number;
  /** Reported by GET /api/v2/version. */
  version: string;
  /** Where unexpected errors are logged. */
  logger?: Logger;
  /** The built UI to serve at `/` (web/server/main.ts passes web/ui/dist); unset serves none. */
  uiDir?: string;
}

/** Largest JSON body accepted (a trigger's conf is the biggest thing clients send); larger → 413. */
export const JSON_BODY_LIMIT = "1mb";

export function createApp(store: Store, options: AppOptions): express.Express {
  const logger = options.logger ?? createLogger("info", "updraft-web");
  const app = express();
  app.disable("x-powered-by");
  // `?state=a&state=b` → ["a", "b"]; no nested objects from `a[b]=c`.
  app.set("query parser", "simple");
  const json = express.json({ limit: JSON_BODY_LIMIT });

  app.use("/auth", json, tokenRouter(store, options));

  const api = express.Router();
  api.use(monitorRouter(store, options.version)); // health and version: no token
  // Default-deny from here on; bodies are parsed only for authenticated callers.
  api.use(authenticate(options.secretKey), writesNeedOperator, json);
  api.use(dagsRouter(store));
  api.use(dagRunsRouter(store));
  api.use(taskInstancesRouter(store));
  api.use(taskInstanceActionsRouter(store));
  api.use(importErrorsRouter(store));
  api.use(backfillsRouter(store));
  api.use(dagVersionsRouter(store));
  app.use("/api/v2", api);
  // The UI's own read endpoints (grid matrix, structure, waiting reasons), default-deny as the API.
  app.use("/ui", authenticate(options.secretKey), uiRouter(store));
  // The built UI (web/ui/dist) with an SPA fallback to index.html, when it has been built.
  if (options.uiDir) app.use(serveUi(options.uiDir));

  app.use(notFoundRoute);
  app.use(errorHandler(logger));
  return app;
}
