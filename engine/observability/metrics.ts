// Process-wide Prometheus metrics that only the process doing the work can observe (the
// scheduler's loop). The web server's /metrics (web/server/metrics.ts) serves them next to the
// figures it reads from the database at scrape time — so in standalone mode one scrape sees all;
// a separately started scheduler's loop timings stay in its own process.
import { Histogram, Registry } from "prom-client";

export const processRegistry = new Registry();

export const schedulerLoopSeconds = new Histogram({
  name: "updraft_scheduler_loop_duration_seconds",
  help: "One pass of the scheduler's run-creation loop (due runs, queued runs, backfills)",
  buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  registers: [processRegistry],
});
