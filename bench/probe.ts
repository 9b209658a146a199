// `npm run probe -- <fanout|runs|nofanin>[,…] [procs=1] [tis=10000]`: where a throughput turn's
// time goes, on PostgreSQL (DATABASE_URL). Not a benchmark — one timed turn per shape (after an
// untimed one), no peer, no table in bench/results — but the profile issue 9 asks for when a
// throughput target is missed: TIs/s, CPU per TI by process (the `updraft worker` processes, their
// task runners, the server's backends, the scheduler in this process) read from /proc, what the
// database's sessions wait on (pg_stat_activity sampled every 10 ms), and, when the server preloads
// pg_stat_statements, the statements by total time with their buffer hits per call (a plan gone to
// a sequential scan shows there first). Shapes as in the throughput scenario: a fan-out (root →
// N−1), runs of start → 18 → end, and the same runs without the fan-in (start → 19), to tell the
// end's lock from the run's.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import pg from "pg";
import { createRun } from "../engine/store/runs/createRun.js";
import { openBenchDatabases } from "./lib/databases.js";
import { cpuMicros, processTree } from "./lib/proc.js";
import { watchRunEnds } from "./lib/runEnds.js";
import { writeDagsFolder } from "./lib/updraft.js";
import { startUpdraftWorkers } from "./lib/workerProcesses.js";
import { fanoutDag, RUN_TASKS, runsDag, startScheduler } from "./scenarios/throughput.js";

const SHAPES = ["fanout", "runs", "nofanin"] as const;
type Shape = (typeof SHAPES)[number];
const WARM_TIS = 400;

const [shapesArg = "fanout", procsArg = "1", tisArg = "10000"] = process.argv.slice(2);
const shapes = shapesArg.split(",");
const procs = Number(procsArg);
const tis = Number(tisArg);
if (shapes.some((s) => !SHAPES.includes(s as Shape)) || !(procs >= 1) || !(tis >= RUN_TASKS)) {
  console.error(`usage: npm run probe -- <${SHAPES.join("|")}>[,…] [worker processes ≥ 1] [TIs ≥ ${RUN_TASKS}]`);
  process.exit(2);
}

/** CPU µs so far (0 once the process has ended). */
const cpu = (pid: number) => cpuMicros(pid) ?? 0;

/** The server's processes — backends, WAL writer and the rest — which /proc shows on this machine. */
function postgresPids(): number[] {
  try {
    return execFileSync("pgrep", ["-x", "postgres"]).toString().trim().split("\n").filter(Boolean).map(Number);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

const databases = await openBenchDatabases();
if (!databases.postgres) {
  console.error("probe: no PostgreSQL answers at DATABASE_URL");
  process.exit(1);
}
const ours = await databases.freshPostgresStore();
const runs = Math.ceil(tis / RUN_TASKS);
const folder = writeDagsFolder({
  "fanout.ts": fanoutDag("probe_fanout", tis),
  "warm.ts": fanoutDag("probe_warm", WARM_TIS),
  "runs.ts": runsDag("probe_runs", runs),
  "nofanin.ts": runsDag("probe_nofanin", runs, false),
});
const scheduler = await startScheduler(ours.store, folder, ["probe_fanout", "probe_warm", "probe_runs", "probe_nofanin"]);
const runEnds = await watchRunEnds(ours.store);
const workers = await startUpdraftWorkers(ours.store, ours.url, procs);
const admin = new pg.Client({ connectionString: ours.url });
await admin.connect();
// The extension can be created on a server that does not preload it; its functions then fail.
const preloaded = String((await admin.query("show shared_preload_libraries")).rows[0]?.shared_preload_libraries ?? "");
const statements = preloaded.includes("pg_stat_statements");
if (statements) await admin.query("create extension if not exists pg_stat_statements");

let seq = 0;
/** `count` runs of `dagId`, created one by one; ms from the first createRun to the last run's end. */
async function turn(dagId: string, count: number): Promise<number> {
  const base = Date.now();
  const started = performance.now();
  const pks: number[] = [];
  for (let i = 0; i < count; i++) pks.push((await createRun(ours.store.db, { dagId, runId: `probe_${++seq}`, runType: "manual", logicalDate: new Date(base + i), triggeredBy: "probe" })).id);
  const { failed } = await runEnds.wait(pks, 600_000);
  if (failed) throw new Error(`${failed} of ${count} runs of ${dagId} failed`);
  return performance.now() - started;
}

/** Samples what the database's active sessions are doing until stopped: average sessions per state. */
async function sampleWaits(): Promise<() => Promise<[string, number][]>> {
  const client = new pg.Client({ connectionString: ours.url });
  await client.connect();
  const seen = new Map<string, number>();
  let samples = 0;
  let on = true;
  const loop = (async () => {
    while (on) {
      const r = await client.query<{ w: string }>(
        "select coalesce(wait_event_type, 'CPU') || ':' || coalesce(wait_event, '-') as w from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid() and state = 'active'",
      );
      samples++;
      for (const row of r.rows) seen.set(row.w, (seen.get(row.w) ?? 0) + 1);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();
  return async () => {
    on = false;
    await loop;
    await client.end();
    return [...seen].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, v / samples]);
  };
}

try {
  await turn("probe_warm", 1);
  for (const shape of shapes as Shape[]) {
    const [dagId, count] = shape === "fanout" ? ["probe_fanout", 1] : [`probe_${shape}`, runs];
    // A first turn of the same DAG, untimed: each worker loads its version and each runner imports
    // its bundle once (--cpu-prof of a runner's first 6,000-task fan-out turn: 0.18 s in the
    // import), which a benchmark's median leaves out. Timed on the first turn (4 worker processes,
    // 16 runners, 4,000-TI fan-out): runners 655 µs of CPU per TI and 829 TIs/s, against 285 and
    // 1,303 on a second turn of 6,000.
    await turn(dagId, count);
    if (statements) await admin.query("select pg_stat_statements_reset()");
    const groups = { workers: workers.pids, runners: workers.pids.flatMap((p) => processTree(p).slice(1)), postgres: postgresPids(), scheduler: [process.pid] };
    const before = Object.fromEntries(Object.entries(groups).map(([k, pids]) => [k, pids.map(cpu)]));
    const stopSampling = await sampleWaits();
    const ms = await turn(dagId, count);
    const waits = await stopSampling();
    const done = shape === "fanout" ? tis : runs * RUN_TASKS;
    const perTi = Object.entries(groups).map(([k, pids]) => `${k} ${(pids.reduce((sum, p, i) => sum + cpu(p) - before[k]![i]!, 0) / done).toFixed(0)}`);
    console.log(`\n## ${shape}, ${procs} worker process(es): ${done} TIs in ${ms.toFixed(0)} ms = ${((done / ms) * 1000).toFixed(0)} TIs/s`);
    console.log(`CPU µs per TI: ${perTi.join(", ")}`);
    console.log(`database sessions (average, sampled): ${waits.slice(0, 8).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(", ")}`);
    if (statements) {
      const top = await admin.query(
        `select calls, round(total_exec_time::numeric, 0) as total_ms, round((total_exec_time / calls)::numeric, 3) as mean_ms, rows,
                round(shared_blks_hit::numeric / calls, 1) as hits_per_call, left(regexp_replace(query, '\\s+', ' ', 'g'), 120) as query
           from pg_stat_statements where dbid = (select oid from pg_database where datname = current_database())
          order by total_exec_time desc limit 15`,
      );
      console.table(top.rows);
    } else {
      console.log("(statements: the server does not preload pg_stat_statements)");
    }
  }
} finally {
  await admin.end();
  await workers.stop();
  await runEnds.close();
  await scheduler.stop();
  await ours.drop();
  fs.rmSync(folder, { recursive: true, force: true });
}
process.exit(0);
