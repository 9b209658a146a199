// Restart PostgreSQL again and again under load (issue 8 item 7): scheduler, workers and web
// server ride it out (retries with backoff, LISTEN re-subscribed and caught up); no TI is lost or
// duplicated and every run finishes. The private server is the only one ever restarted.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, expect, it } from "vitest";
import { freePort } from "../test/helpers/privatePostgres.js";
import { alive, QUICK, startCluster, waitFor, type Cluster } from "./lib/cluster.js";
import { recordFigure } from "./lib/figures.js";
import { tally, trigger, unfinishedRuns, waitForRuns, workDag } from "./lib/workload.js";

const RESTARTS = QUICK ? 2 : 10;
const marksDir = fs.mkdtempSync(path.join(os.tmpdir(), "updraft-chaos-marks-"));
let cluster: Cluster | undefined;

afterAll(async () => {
  await cluster?.stop();
  fs.rmSync(marksDir, { recursive: true, force: true });
});

it(`loses and duplicates nothing across ${RESTARTS} PostgreSQL restarts`, async () => {
  cluster = await startCluster({ "work.ts": workDag({ marksDir, width: 5, minMs: 200, maxMs: 1_500, retries: 3 }) });
  const { store, pg } = cluster;
  const port = await freePort();
  const processes = [
    cluster.start("scheduler"),
    cluster.start("worker", { args: ["--slots", "4"] }),
    cluster.start("worker", { args: ["--slots", "4"] }),
    cluster.start("web", { env: { UPDRAFT_PORT: String(port), UPDRAFT_ADMIN_PASSWORD: "chaos-admin" } }),
  ];
  await waitFor("the DAG to be parsed", () => store.db.selectFrom("dags").select("dag_id").where("dag_id", "=", "work").executeTakeFirst(), 60_000);
  await waitFor("two workers", async () => (await store.db.selectFrom("workers").select("worker_id").execute()).length === 2, 60_000);

  // Load: a few runs in flight at all times, triggered through the outages (retried).
  const runs: number[] = [];
  let loading = true;
  const load = (async () => {
    while (loading) {
      if ((await unfinishedRuns(store, runs).catch(() => 99)) < 4) runs.push(await trigger(store));
      else await new Promise((r) => setTimeout(r, 100));
    }
  })();

  const downtimes: number[] = [];
  try {
    for (let i = 0; i < RESTARTS; i++) {
      // Let work get under way (runs started, tasks running) before each restart.
      await waitFor("tasks running", async () => (await store.db.selectFrom("task_instances").select("id").where("state", "=", "running").limit(1).execute()).length > 0, 60_000);
      const down = Date.now();
      await pg.restart(1_000);
      downtimes.push(Date.now() - down);
      await new Promise((r) => setTimeout(r, 1_500));
    }
  } finally {
    loading = false;
    await load;
  }

  const unfinished = await waitForRuns(store, runs, 120_000);
  const t = await tally(store, runs);
  // Executions per (run, task), from the files the tasks append to.
  const executions = fs.readdirSync(marksDir).map((f) => fs.readFileSync(path.join(marksDir, f), "utf8").trim().split("\n").length);
  const executedTwice = executions.filter((n) => n > 1).length;
  const health = await fetch(`http://127.0.0.1:${port}/api/v2/monitor/health`).then((r) => r.json() as Promise<{ metadatabase: { status: string } }>).catch(() => null);
  const survivors = processes.filter(alive).length;
  for (const p of processes.filter((p) => !alive(p))) console.log(`[chaos] ${p.name} died (${await p.exited}); its last output:\n${p.output().slice(-4_000)}`);

  const scenario = `restart PostgreSQL ×${RESTARTS} under load`;
  recordFigure({ scenario, figure: "lost / duplicated TIs", value: `${t.tisLost} / ${t.tisDuplicated} of ${t.tis}`, goal: "0 / 0", ok: t.tisLost === 0 && t.tisDuplicated === 0 });
  recordFigure({ scenario, figure: "runs finished (succeeded)", value: `${t.runs - unfinished} of ${t.runs} (${t.runsSucceeded})`, goal: "all", ok: unfinished === 0 && t.runsSucceeded === t.runs });
  recordFigure({ scenario, figure: "tasks executed more than once (at-least-once)", value: `${executedTwice} of ${executions.length}`, goal: "0", ok: executedTwice === 0 });
  recordFigure({ scenario, figure: "processes alive after (scheduler, 2 workers, web)", value: `${survivors} of ${processes.length}, health: ${health?.metadatabase.status ?? "no answer"}`, goal: "4 of 4", ok: survivors === processes.length && health?.metadatabase.status === "healthy" });
  console.log(`[chaos] restart downtimes (stop + 1 s + start): ${downtimes.map((d) => `${(d / 1000).toFixed(1)} s`).join(", ")}`);

  expect(survivors).toBe(processes.length);
  expect(unfinished).toBe(0);
  expect(t.tisLost).toBe(0);
  expect(t.tisDuplicated).toBe(0);
  expect(health?.metadatabase.status).toBe("healthy");
});
