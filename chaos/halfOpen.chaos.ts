// A half-open connection between a worker and PostgreSQL (issue 8 item 7): a proxy in between
// stops forwarding on every open connection, without closing any. The worker must notice by
// itself (query timeouts destroy the dead pool connections; a ping replaces the LISTEN one) and
// be heartbeating and finishing tasks again within the heartbeat timeout — so that nothing of its
// work is reaped.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { sql } from "kysely";
import { afterAll, expect, it } from "vitest";
import { percentile, QUICK, startCluster, waitFor, workerIdPrefix, type Cluster } from "./lib/cluster.js";
import { recordFigure } from "./lib/figures.js";
import { TcpProxy } from "./lib/tcpProxy.js";
import { trigger, unfinishedRuns, waitForRuns, workDag, tally } from "./lib/workload.js";

const FREEZES = QUICK ? 1 : 3;
const HEARTBEAT_TIMEOUT_MS = 6_000;
const marksDir = fs.mkdtempSync(path.join(os.tmpdir(), "updraft-chaos-marks-"));
let cluster: Cluster | undefined;
let proxy: TcpProxy | undefined;

afterAll(async () => {
  await cluster?.stop();
  await proxy?.close();
  fs.rmSync(marksDir, { recursive: true, force: true });
});

it(`detects a half-open database connection and recovers within the heartbeat timeout, ${FREEZES} times`, async () => {
  cluster = await startCluster(
    { "work.ts": workDag({ marksDir, width: 4, minMs: 100, maxMs: 400, retries: 0 }) },
    { UPDRAFT_HEARTBEAT_TIMEOUT_MS: String(HEARTBEAT_TIMEOUT_MS), UPDRAFT_DB_QUERY_TIMEOUT_MS: "1500", UPDRAFT_DB_CONNECT_TIMEOUT_MS: "1000" },
  );
  const { store } = cluster;
  proxy = new TcpProxy(cluster.pg.port);
  const proxyPort = await proxy.listen();
  cluster.start("scheduler");
  await waitFor("the DAG to be parsed", () => store.db.selectFrom("dags").select("dag_id").where("dag_id", "=", "work").executeTakeFirst(), 60_000);
  const worker = cluster.start("worker", { args: ["--slots", "3"], env: { DATABASE_URL: `postgres://postgres@127.0.0.1:${proxyPort}/postgres` } });
  const prefix = workerIdPrefix(worker);
  await waitFor("the worker behind the proxy", () => store.db.selectFrom("workers").select("worker_id").where("worker_id", "like", `${prefix}%`).executeTakeFirst(), 60_000);

  const runs: number[] = [];
  let loading = true;
  const load = (async () => {
    while (loading) {
      if ((await unfinishedRuns(store, runs)) < 3) runs.push(await trigger(store));
      else await new Promise((r) => setTimeout(r, 100));
    }
  })();

  const recoveryMs: number[] = [];
  const detectionMs: number[] = [];
  try {
    for (let i = 0; i < FREEZES; i++) {
      await waitFor("the worker to be running tasks", async () => (await store.db.selectFrom("task_instances").select("id").where("state", "=", "running").where("worker_id", "like", `${prefix}%`).limit(1).execute()).length > 0, 60_000, 20);
      const { rows } = await sql<{ now: Date }>`select clock_timestamp() as now`.execute(store.db);
      const frozenAtDb = rows[0]!.now;
      const frozenAt = Date.now();
      proxy.freeze();
      // Recovered: a heartbeat and a finished task from this worker, both after the freeze.
      await waitFor("the worker to heartbeat and finish a task again", async () => {
        const beat = await store.db.selectFrom("workers").select("worker_id").where("worker_id", "like", `${prefix}%`).where("last_heartbeat", ">", frozenAtDb).executeTakeFirst();
        const done = await store.db.selectFrom("task_instance_tries").select("ti_id").where("worker_id", "like", `${prefix}%`).where("end_date", ">", frozenAtDb).where("state", "=", "success").limit(1).executeTakeFirst();
        return beat && done;
      }, 60_000, 50);
      recoveryMs.push(Date.now() - frozenAt);
      // Detected: every frozen connection given up by the worker (timed-out queries destroyed,
      // the LISTEN ping failed, idle ones closed by the pool).
      await waitFor("the worker to drop every frozen connection", async () => proxy!.droppedByClient === proxy!.frozenCount, 60_000, 50);
      detectionMs.push(Date.now() - frozenAt);
    }
  } finally {
    loading = false;
    await load;
  }
  const unfinished = await waitForRuns(store, runs, 60_000);
  const t = await tally(store, runs);
  const reaped = await store.db.selectFrom("task_instance_tries").select(sql<number>`count(*)::int`.as("n")).where("error", "like", "%heartbeat%").executeTakeFirstOrThrow();

  const scenario = `half-open worker ↔ PostgreSQL connection ×${FREEZES} (query timeout 1.5 s, heartbeat timeout 6 s)`;
  recordFigure({ scenario, figure: "freeze → heartbeating and finishing again, max", value: `${(Math.max(...recoveryMs) / 1000).toFixed(2)} s (p50 ${(percentile(recoveryMs, 50) / 1000).toFixed(2)} s, ${proxy.frozenCount} connections frozen)`, goal: "< heartbeat timeout (6 s)", ok: Math.max(...recoveryMs) < HEARTBEAT_TIMEOUT_MS });
  recordFigure({ scenario, figure: "freeze → every dead connection dropped by the worker, max", value: `${(Math.max(...detectionMs) / 1000).toFixed(2)} s`, goal: "< heartbeat timeout (6 s)", ok: Math.max(...detectionMs) < HEARTBEAT_TIMEOUT_MS });
  recordFigure({ scenario, figure: "TIs reaped / lost", value: `${reaped.n} / ${t.tisLost} of ${t.tis}`, goal: "0 / 0", ok: reaped.n === 0 && t.tisLost === 0 });
  expect(Math.max(...recoveryMs)).toBeLessThan(HEARTBEAT_TIMEOUT_MS);
  expect(reaped.n).toBe(0);
  expect(unfinished).toBe(0);
  expect(t.tisLost).toBe(0);
});
