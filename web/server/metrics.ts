// GET /metrics: Prometheus text format (prom-client). The scheduler, workers and web servers meet
// only in the database, so most figures are read from it at scrape time — the same answer from any
// web server: runs and task instances by state, queue depth per queue and per pool, pool slots,
// worker slots, and the hand-off latency of tasks started since the previous scrape. This process's
// own figures are added: its database pool, Node's runtime, and (standalone mode) the scheduler loop.
//
// Access: like the API, a bearer token — an API token of any role, or UPDRAFT_METRICS_TOKEN, a
// static secret for Prometheus's `authorization` scrape setting (API tokens expire).
import { timingSafeEqual } from "node:crypto";
import express, { type RequestHandler } from "express";
import { sql } from "kysely";
import { collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { AuthError } from "../../engine/errors.js";
import { processRegistry } from "../../engine/observability/metrics.js";
import type { Store } from "../../engine/store/db.js";
import { verifyToken } from "./auth.js";

/** The first scrape looks back this far for hand-offs. */
const FIRST_LOOKBACK_MS = 5 * 60_000;
/** At most this many hand-offs are read per scrape (a backlog is read over the next scrapes). */
const HANDOFF_BATCH = 10_000;

function metricsAuth(secretKey: string, metricsToken: string | undefined): RequestHandler {
  return async (req, res, next) => {
    const token = /^Bearer\s+(\S+)\s*$/i.exec(req.get("authorization") ?? "")?.[1];
    if (!token) throw new AuthError("Not authenticated");
    if (metricsToken && token.length === metricsToken.length && timingSafeEqual(Buffer.from(token), Buffer.from(metricsToken))) return next();
    res.locals.user = await verifyToken(token, secretKey);
    next();
  };
}

export function metricsRouter(store: Store, options: { secretKey: string; metricsToken?: string }): express.Router {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "updraft_web_" });
  const db = store.db;

  const gauge = (name: string, help: string, labelNames: string[], collect: (g: Gauge) => Promise<void> | void) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      async collect() {
        this.reset();
        await collect(this);
      },
    });

  gauge("updraft_dag_runs", "DAG runs by state", ["state"], async (g) => {
    const rows = await db.selectFrom("dag_runs").select(["state", sql<number>`count(*)::int`.as("n")]).groupBy("state").execute();
    for (const r of rows) g.set({ state: r.state }, r.n);
  });
  gauge("updraft_task_instances", "Task instances by state (`none`: waiting for upstreams)", ["state"], async (g) => {
    const rows = await db.selectFrom("task_instances").select(["state", sql<number>`count(*)::int`.as("n")]).groupBy("state").execute();
    for (const r of rows) g.set({ state: r.state ?? "none" }, r.n);
  });
  gauge("updraft_queue_depth", "Queued task instances waiting for a worker, per queue", ["queue"], async (g) => {
    const rows = await db.selectFrom("task_instances").select(["queue", sql<number>`count(*)::int`.as("n")]).where("state", "=", "queued").groupBy("queue").execute();
    for (const r of rows) g.set({ queue: r.queue }, r.n);
  });
  gauge("updraft_pool_queue_depth", "Queued task instances per pool", ["pool"], async (g) => {
    const rows = await db.selectFrom("task_instances").select(["pool", sql<number>`count(*)::int`.as("n")]).where("state", "=", "queued").groupBy("pool").execute();
    for (const r of rows) g.set({ pool: r.pool }, r.n);
  });
  gauge("updraft_pool_slots", "Pool slots: total, and used by running task instances", ["pool", "kind"], async (g) => {
    const rows = await sql<{ name: string; slots: number; used: number }>`
      select p.name, p.slots, coalesce((select sum(ti.pool_slots) from task_instances ti where ti.pool = p.name and ti.state = 'running'), 0)::int as used
      from pools p`.execute(db);
    for (const r of rows.rows) {
      g.set({ pool: r.name, kind: "total" }, r.slots);
      g.set({ pool: r.name, kind: "used" }, r.used);
    }
  });
  gauge("updraft_worker_slots", "Task slots of live workers (heartbeat within 60 s): total and busy", ["kind"], async (g) => {
    const row = await sql<{ workers: number; total: number; busy: number }>`
      select count(*)::int as workers, coalesce(sum(w.slots), 0)::int as total,
             (select count(*)::int from task_instances ti where ti.state = 'running' and ti.worker_id in
               (select worker_id from workers where last_heartbeat > now() - interval '60 seconds')) as busy
      from workers w where w.last_heartbeat > now() - interval '60 seconds'`.execute(db);
    const r = row.rows[0] ?? { workers: 0, total: 0, busy: 0 };
    g.set({ kind: "total" }, r.total);
    g.set({ kind: "busy" }, r.busy);
    g.set({ kind: "workers" }, r.workers);
  });
  gauge("updraft_scheduler_heartbeat_age_seconds", "Seconds since the most recent scheduler heartbeat", [], async (g) => {
    const row = await sql<{ age: number | null }>`select extract(epoch from now() - max(last_heartbeat))::float8 as age from scheduler_heartbeats`.execute(db);
    const age = row.rows[0]?.age;
    if (age !== null && age !== undefined) g.set(age);
  });
  gauge("updraft_db_pool_connections", "This web server's PostgreSQL connections (absent on PGlite)", ["state"], (g) => {
    const stats = store.poolStats?.();
    if (!stats) return;
    g.set({ state: "total" }, stats.total);
    g.set({ state: "idle" }, stats.idle);
    g.set({ state: "waiting" }, stats.waiting);
    g.set({ state: "max" }, stats.max);
  });

  // Hand-off: upstream end → downstream start (claim), both stamped by the database, for each task
  // instance that started since the previous scrape. A downstream claimed in its upstream's own
  // finishing transaction (the worker's fast path) shares its timestamp: 0 s.
  let since: Date | null = null;
  const handoff = new Histogram({
    name: "updraft_handoff_latency_seconds",
    help: "Upstream task end to downstream task start (claim), from the database's timestamps",
    buckets: [0, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
    async collect() {
      const now = (await sql<{ now: Date }>`select now() as now`.execute(db)).rows[0]!.now;
      const from = since ?? new Date(new Date(now).getTime() - FIRST_LOOKBACK_MS);
      const rows = await sql<{ s: number; started: Date }>`
        select extract(epoch from ti.start_date - max(u.end_date))::float8 as s, ti.start_date as started
        from task_instances ti
        join dag_versions v on v.id = ti.dag_version_id
        cross join lateral jsonb_array_elements(v.structure -> 'tasks') t
        join task_instances u on u.run_pk = ti.run_pk and u.end_date is not null
          and u.task_id in (select jsonb_array_elements_text(t -> 'upstream'))
        where ti.start_date > ${from} and ti.start_date <= ${now} and t ->> 'taskId' = ti.task_id
        group by ti.id, ti.start_date
        order by ti.start_date
        limit ${HANDOFF_BATCH}`.execute(db);
      for (const r of rows.rows) if (r.s >= 0) this.observe(r.s);
      since = rows.rows.length === HANDOFF_BATCH ? rows.rows.at(-1)!.started : now;
    },
  });
  void handoff;

  const router = express.Router();
  router.get("/metrics", metricsAuth(options.secretKey, options.metricsToken), async (_req, res) => {
    const merged = Registry.merge([registry, processRegistry]);
    res.type(merged.contentType).send(await merged.metrics());
  });
  return router;
}
