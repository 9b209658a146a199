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
import { poolsRouter } from "./routes/pools.js";
import { authRefreshRouter } from "./routes/authRefresh.js";
import { docsRouter, openApiRouter } from "./routes/docs.js";
import { tasksRouter } from "./routes/tasks.js";
import { taskInstancesBatchRouter } from "./routes/taskInstancesBatch.js";
import { xcomRouter } from "./routes/xcom.js";
import { variablesRouter } from "./routes/variables.js";
import { connectionsRouter } from "./routes/connections.js";
import { dagRunsBatchRouter } from "./routes/dagRunsBatch.js";
import { taskInstanceActionsRouter } from "./routes/taskInstanceActions.js";
import { taskInstancesRouter } from "./routes/taskInstances.js";
import { mappedTaskInstancesRouter } from "./routes/mappedTaskInstances.js";
import { uiRouter } from "./routes/ui.js";
import { modelsRouter } from "./routes/models.js";
import { serveUi } from "./static.js";
import { corsFor, jsonBodiesOnly, loginRateLimit, securityHeaders } from "./security.js";
import { auditLog } from "./audit.js";
import { eventLogsRouter } from "./routes/eventLogs.js";
import { metricsRouter } from "./metrics.js";

export interface AppOptions {
  secretKey: string;
  tokenTtlMs: number;
  /** Reported by GET /api/v2/version. */
  version: string;
  /** Where unexpected errors are logged. */
  logger?: Logger;
  /** The built UI to serve at `/` (web/server/main.ts passes web/ui/dist); unset serves none. */
  uiDir?: string;
  /** Login attempts per client address per minute (UPDRAFT_LOGIN_RATE_LIMIT); default 20. */
  loginRateLimitPerMinute?: number;
  /** Origins allowed to call the API from a browser (UPDRAFT_CORS_ORIGINS); default none. */
  corsOrigins?: string[];
  /** A static bearer token for Prometheus at /metrics (UPDRAFT_METRICS_TOKEN); API tokens work too. */
  metricsToken?: string;
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

  app.use(securityHeaders());
  if (options.corsOrigins?.length) app.use(corsFor(options.corsOrigins));
  app.use(auditLog(store, logger));
  app.post("/auth/token", loginRateLimit(options.loginRateLimitPerMinute ?? 20));
  app.use("/auth", json, tokenRouter(store, options));

  const api = express.Router();
  api.use(monitorRouter(store, options.version)); // health and version: no token
  api.use(authRefreshRouter(options)); // a fresh token for a valid one, else a redirect: no token needed
  api.use(openApiRouter(options.version)); // the API's description: public, like /docs
  // Default-deny from here on; bodies are parsed only for authenticated callers.
  api.use(authenticate(options.secretKey), writesNeedOperator, jsonBodiesOnly, json);
  api.use(dagsRouter(store));
  api.use(tasksRouter(store));
  // Before the TI routers: `…/{task_id}/xcomEntries` must not be read as a map index.
  api.use(xcomRouter(store, options.secretKey, logger));
  api.use(taskInstancesBatchRouter(store));
  api.use(dagRunsBatchRouter(store));
  api.use(eventLogsRouter(store));
  api.use(dagRunsRouter(store));
  api.use(taskInstancesRouter(store));
  api.use(taskInstanceActionsRouter(store));
  api.use(mappedTaskInstancesRouter(store)); // after the TI routers: `…/{task_id}/{map_index}`
  api.use(importErrorsRouter(store));
  api.use(backfillsRouter(store));
  api.use(dagVersionsRouter(store));
  api.use(poolsRouter(store));
  api.use(modelsRouter(store)); // model registry, serving and run metrics (issue 7)
  api.use(variablesRouter(store, options.secretKey));
  api.use(connectionsRouter(store, options.secretKey));
  app.use("/api/v2", api);
  app.use("/docs", docsRouter());
  app.use(metricsRouter(store, { secretKey: options.secretKey, metricsToken: options.metricsToken }));
  // The UI's own read endpoints (grid matrix, structure, waiting reasons), default-deny as the API.
  app.use("/ui", authenticate(options.secretKey), uiRouter(store));
  // The built UI (web/ui/dist) with an SPA fallback to index.html, when it has been built.
  if (options.uiDir) app.use(serveUi(options.uiDir));

  app.use(notFoundRoute);
  app.use(errorHandler(logger));
  return app;
}
