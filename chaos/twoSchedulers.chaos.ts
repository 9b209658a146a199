// Two schedulers over a catch-up of many scheduled runs while one of them is killed -9 and
// restarted (issue 8 item 7): every run is created once — no duplicate — and all finish.
import { sql } from "kysely";
import { afterAll, expect, it } from "vitest";
import { killProc, QUICK, startCluster, waitFor, type Cluster } from "./lib/cluster.js";
import { recordFigure } from "./lib/figures.js";

const RUNS = QUICK ? 100 : 1_000;
let cluster: Cluster | undefined;

afterAll(async () => {
  await cluster?.stop();
});

it(`creates ${RUNS} scheduled runs once each while one of two schedulers is killed and restarted`, async () => {
  const hour = 3_600_000;
  const start = new Date(Math.floor(Date.now() / hour) * hour - RUNS * hour).toISOString();
  cluster = await startCluster({
    "hourly.ts": `
import { dag } from "updraft";
export default dag({ id: "hourly", schedule: "@hourly", start: ${JSON.stringify(start)}, catchup: true, maxActiveRuns: 25 }, (d) => {
  d.task("noop", () => 1);
});`,
  },
  // This scenario is about schedulers, not lost workers: a heartbeat timeout that a loaded
  // 2-core machine cannot miss by accident (2 s made the reaper fight the workers, see README).
  { UPDRAFT_HEARTBEAT_TIMEOUT_MS: "15000", UPDRAFT_HEARTBEAT_INTERVAL_MS: "1000" });
  const { store } = cluster;
  const count = async (where?: "success") => {
    let q = store.db.selectFrom("dag_runs").select(sql<number>`count(*)::int`.as("n")).where("dag_id", "=", "hourly");
    if (where) q = q.where("state", "=", where);
    return (await q.executeTakeFirstOrThrow()).n;
  };
  let a = cluster.start("scheduler", { name: "scheduler-a" });
  cluster.start("scheduler", { name: "scheduler-b" });
  // Eight slots: many finishers of this one DAG's runs at once. This suite found them deadlocking
  // on the DAG's `dags` row (a finisher held its run's row while startQueuedRuns locked the DAG's)
  // and retrying into a livelock; a run's end now starts the queued runs in a transaction of its
  // own (engine/store/tasks/finishLeaf.ts). CHAOS_SLOTS overrides the count.
  cluster.start("worker", { args: ["--slots", process.env.CHAOS_SLOTS ?? "8"] });

  // Kill A once a tenth of the runs exist, then start it again while B carries on.
  const killedAt = await waitFor("a tenth of the runs", async () => {
    const n = await count();
    return n >= RUNS / 10 ? n : null;
  }, 120_000);
  await killProc(a);
  a = cluster.start("scheduler", { name: "scheduler-a2" });

  const finished = await waitFor(`all ${RUNS} runs to succeed`, async () => ((await count("success")) >= RUNS ? true : null), QUICK ? 240_000 : 1_200_000, 500).catch(() => false);
  const dup = await store.db
    .selectFrom("dag_runs")
    .select([sql<number>`count(*)::int`.as("runs"), sql<number>`count(distinct logical_date)::int`.as("dates"), sql<number>`count(distinct run_id)::int`.as("ids")])
    .where("dag_id", "=", "hourly")
    .executeTakeFirstOrThrow();
  const tis = await store.db
    .selectFrom("task_instances")
    .select([sql<number>`count(*)::int`.as("n"), sql<number>`count(distinct run_pk)::int`.as("runs")])
    .where("dag_id", "=", "hourly")
    .executeTakeFirstOrThrow();
  const succeeded = await count("success");
  if (!finished) {
    const states = await store.db.selectFrom("dag_runs").select(["state", sql<number>`count(*)::int`.as("n")]).where("dag_id", "=", "hourly").groupBy("state").execute();
    console.log("[chaos] runs by state:", JSON.stringify(states));
    const tiStates = await store.db.selectFrom("task_instances").select(["state", sql<number>`count(*)::int`.as("n")]).where("dag_id", "=", "hourly").groupBy("state").execute();
    console.log("[chaos] TIs by state:", JSON.stringify(tiStates));
    const errors = await store.db.selectFrom("task_instance_tries").select(["error"]).where("error", "is not", null).limit(5).execute();
    console.log("[chaos] some try errors:", JSON.stringify(errors));
    const activity = await sql<Record<string, unknown>>`select pid, pg_blocking_pids(pid) as blocked_by, application_name, state, wait_event_type, wait_event, left(query, 160) as query from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()`.execute(store.db);
    console.log("[chaos] pg_stat_activity:\n" + activity.rows.map((r) => JSON.stringify(r)).join("\n"));
    for (const p of cluster.procs) console.log(`--- ${p.name} (last lines)\n${p.output().slice(-3_000)}`);
  }

  const scenario = `two schedulers, ${RUNS} runs, one killed -9 at run ${killedAt} and restarted`;
  const duplicates = dup.runs - dup.dates + (tis.n - tis.runs);
  recordFigure({ scenario, figure: "duplicate runs (and double TIs)", value: `${dup.runs - dup.dates} (${tis.n - tis.runs})`, goal: "0", ok: duplicates === 0 });
  recordFigure({ scenario, figure: "runs succeeded", value: `${succeeded} of ${RUNS}`, goal: `${RUNS}`, ok: succeeded === RUNS });
  expect(dup.runs - dup.dates).toBe(0);
  expect(dup.runs - dup.ids).toBe(0);
  expect(tis.n - tis.runs).toBe(0);
  expect(finished).toBe(true);
  expect(dup.runs).toBe(RUNS);
});
