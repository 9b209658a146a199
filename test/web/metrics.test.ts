// GET /metrics on PGlite and PostgreSQL: a bearer token (API or UPDRAFT_METRICS_TOKEN) is needed,
// and the figures match what the engine did — runs and TIs by state, queue depth per queue and
// pool, pool and worker slots, hand-offs of a chain, the scheduler loop in this process.
import request from "supertest";
import type { Express } from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../engine/logger.js";
import { createApp } from "../../web/server/app.js";
import { backends, createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { dagsFolderWith, startEngine, waitFor, type TestEngine } from "../helpers/engine.js";
import { bearer, loginAs, SECRET_KEY } from "./helpers.js";

const METRICS_TOKEN = "prometheus-scrape-token-0123";
const DAGS = {
  "chain.ts": `import { dag } from "updraft";
export default dag({ id: "chain" }, (d) => { d.chain(d.task("a", () => 1), d.task("b", () => 2), d.task("c", () => 3)); });`,
  "stuck.ts": `import { dag } from "updraft";
export default dag({ id: "stuck" }, (d) => { d.task("waits", () => 1, { queue: "nowhere" }); });`,
};

/** The value of one sample line, e.g. value(text, 'updraft_dag_runs{state="success"}'). */
function value(text: string, sample: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${sample} `));
  return line === undefined ? undefined : Number(line.slice(sample.length + 1));
}

describe.each(backends())("/metrics on %s", (backend) => {
  let db: TestDatabase;
  let engine: TestEngine;
  let app: Express;
  let viewer: string;

  beforeAll(async () => {
    db = await createTestDatabase(backend);
    engine = await startEngine(db.store, { dagsFolder: dagsFolderWith(DAGS), slots: 2 });
    app = createApp(db.store, { secretKey: SECRET_KEY, tokenTtlMs: 60_000, version: "t", logger: createLogger("silent"), metricsToken: METRICS_TOKEN, loginRateLimitPerMinute: 1000 });
    viewer = await loginAs(app, db.store, "viewer");
    const operator = await loginAs(app, db.store, "operator");
    for (const dagId of ["chain", "stuck"]) {
      const res = await request(app).post(`/api/v2/dags/${dagId}/dagRuns`).set(bearer(operator)).send({ dag_run_id: "m1", logical_date: null });
      expect(res.status).toBe(200);
    }
    await waitFor("chain to succeed", async () => (await request(app).get("/api/v2/dags/chain/dagRuns/m1").set(bearer(viewer))).body.state === "success");
  });
  afterAll(async () => {
    await engine?.stop();
    await db?.drop();
  });

  it("needs a bearer token: an API token or the metrics token", async () => {
    expect((await request(app).get("/metrics")).status).toBe(401);
    expect((await request(app).get("/metrics").set(bearer("not-the-metrics-token-xx"))).status).toBe(401);
    expect((await request(app).get("/metrics").set(bearer(METRICS_TOKEN))).status).toBe(200);
    const res = await request(app).get("/metrics").set(bearer(viewer));
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^text\/plain/);
  });

  it("reports what the engine did", async () => {
    const text = (await request(app).get("/metrics").set(bearer(METRICS_TOKEN))).text;
    expect(value(text, 'updraft_dag_runs{state="success"}')).toBe(1);
    expect(value(text, 'updraft_dag_runs{state="running"}')).toBe(1);
    expect(value(text, 'updraft_task_instances{state="success"}')).toBe(3);
    expect(value(text, 'updraft_task_instances{state="queued"}')).toBe(1);
    expect(value(text, 'updraft_queue_depth{queue="nowhere"}')).toBe(1);
    expect(value(text, 'updraft_queue_depth{queue="default"}')).toBeUndefined();
    expect(value(text, 'updraft_pool_queue_depth{pool="default_pool"}')).toBe(1);
    expect(value(text, 'updraft_pool_slots{pool="default_pool",kind="total"}')).toBe(128);
    expect(value(text, 'updraft_worker_slots{kind="total"}')).toBe(2);
    expect(value(text, 'updraft_worker_slots{kind="workers"}')).toBe(1);
    // a → b and b → c: two hand-offs, each well under a minute.
    expect(value(text, "updraft_handoff_latency_seconds_count")).toBe(2);
    expect(value(text, 'updraft_handoff_latency_seconds_bucket{le="10"}')).toBe(2);
    expect(value(text, "updraft_scheduler_loop_duration_seconds_count")).toBeGreaterThan(0);
    expect(value(text, "updraft_scheduler_heartbeat_age_seconds")).toBeLessThan(30);
    if (backend === "postgres") expect(value(text, 'updraft_db_pool_connections{state="max"}')).toBe(10);
    // The next scrape counts only hand-offs since this one.
    const again = (await request(app).get("/metrics").set(bearer(METRICS_TOKEN))).text;
    expect(value(again, "updraft_handoff_latency_seconds_count")).toBe(2);
  });
});
