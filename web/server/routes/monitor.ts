// Public endpoints (no token): health, for load balancers and `updraft` itself, and version.
import express from "express";
import { sql } from "kysely";
import type { Store } from "../../../engine/store/db.js";
import { iso } from "../serializers.js";

/** A scheduler that has not heartbeat for this long is reported unhealthy (it beats every 5 s). */
export const SCHEDULER_HEALTH_THRESHOLD_MS = 30_000;

export function monitorRouter(store: Store, version: string): express.Router {
  const router = express.Router();

  router.get("/monitor/health", async (_req, res) => {
    let database = "healthy";
    let latest: Date | null = null;
    let alive = false;
    try {
      // Judged by the database's clock, the one the heartbeats were written with.
      const row = await store.db
        .selectFrom("scheduler_heartbeats")
        .select([
          sql<Date | null>`max(last_heartbeat)`.as("latest"),
          sql<boolean>`coalesce(max(last_heartbeat) >= now() - ${sql.lit(SCHEDULER_HEALTH_THRESHOLD_MS / 1000)} * interval '1 second', false)`.as("alive"),
        ])
        .executeTakeFirstOrThrow();
      latest = row.latest;
      alive = row.alive;
    } catch {
      database = "unhealthy";
    }
    const scheduler = alive ? "healthy" : "unhealthy";
    res.json({
      metadatabase: { status: database },
      scheduler: { status: scheduler, latest_scheduler_heartbeat: iso(latest) },
      // Updraft has no triggerer; Airflow reports one that never ran as nulls.
      triggerer: { status: null, latest_triggerer_heartbeat: null },
      // The DAG processor lives in the scheduler, so it is alive exactly when the scheduler is.
      dag_processor: { status: scheduler, latest_dag_processor_heartbeat: iso(latest) },
    });
  });

  router.get("/version", (_req, res) => {
    res.json({ version, git_version: null });
  });

  return router;
}
