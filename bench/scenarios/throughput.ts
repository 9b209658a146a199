// throughput (issue 9 scenario 3): no-op task instances per second, in two shapes — a fan-out
// (one root → N−1 tasks, N TIs in one run) and many small runs (R runs × 20 TIs: root → 18 → end)
// — with 1 and 4 worker processes on PostgreSQL, and in one process on PGlite.
//
// Updraft on PostgreSQL: the scheduler (with its DAG processor) in the bench process; the workers
// are real `updraft worker` processes (bin/updraft.js) with the default settings (8 slots, warm
// runner processes). Timed from just before the first createRun to the arrival of the runChanged
// NOTIFY whose read showed the last run ended (bench/lib/runEnds.ts); createRun is called once per
// run, one after the other, inside the timed part. The DAGs raise maxActiveRuns to the number of
// runs (Airflow's default of 16 would hold the rest queued) and maxActiveTasks to MAX_ACTIVE_TASKS
// (its default of 16 is below the 32 slots of 4 workers): what is measured is the engine, not a cap.
// On PGlite (one process can open it): scheduler and worker in the bench process, as
// `updraft start` runs them.
// Peer: graphile-worker, in a database of its own on the same server, in processes running its
// `run()` (bench/lib/graphileWorkerChild.ts) — at its default concurrency (1) and tuned (10) —
// with as many no-op jobs as the workload has TIs, added in one `addJobs` call; timed from just
// before that call to the last job's completion event in its process (its completion write may
// come after). Both shapes have the same number of TIs, so one peer measurement serves both rows.
// A job queue has no dependencies to resolve: the peer's figure is the cost of the queue alone.
// All subjects are up at once (idle between turns) and their repetitions alternate.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { makeWorkerUtils, type WorkerUtils } from "graphile-worker";
import { sql } from "kysely";
import pg from "pg";
import { loadConfig } from "../../engine/config.js";
import { createLogger } from "../../engine/logger.js";
import type { Store } from "../../engine/store/db.js";
import { createRun } from "../../engine/store/runs/createRun.js";
import { Scheduler } from "../../scheduler/scheduler.js";
import { watchRunEnds, type RunEndWatch } from "../lib/runEnds.js";
import { summarize, wallClockMs } from "../lib/stats.js";
import type { BenchContext, Measure, Row, Scenario, ScenarioResult } from "../lib/types.js";
import { startBenchEngine, writeDagsFolder } from "../lib/updraft.js";
import { startGraphileWorkers, startUpdraftWorkers, type GraphileGroup, type ProcessGroup } from "../lib/workerProcesses.js";

export const RUN_TASKS = 20;
/** Above the slots of the most worker processes measured (4 × 8 by default). */
const MAX_ACTIVE_TASKS = 64;

interface Sizes {
  /** TIs of the fan-out run (root included). */
  fanout: number;
  runs: number;
  /** The warm-up's workload, per subject and turn: a fan-out of this many TIs, or this many TIs in runs. */
  warmTis: number;
}

/** Runs of start → 18 → end; without the fan-in (bench/probe.ts's `nofanin`), start → 19. */
export const runsDag = (id: string, maxActiveRuns: number, fanIn = true) => `
import { dag } from "updraft";
export default dag({ id: "${id}", schedule: null, start: "2024-01-01", maxActiveRuns: ${maxActiveRuns}, maxActiveTasks: ${MAX_ACTIVE_TASKS} }, (d) => {
  const mids = Array.from({ length: ${fanIn ? RUN_TASKS - 2 : RUN_TASKS - 1} }, (_, i) => d.task("mid_" + i, () => {}));
  d.chain(d.task("start", () => {}), mids${fanIn ? ', d.task("end", () => {})' : ""});
});
`;

const DAGS = { fanout: "bench_tp_fanout", fanoutWarm: "bench_tp_fanout_warm", runs: "bench_tp_runs" };

/**
 * The measured fan-out and its warm-up in ONE file, so one bundle: a runner imports a DAG file's
 * bundle once and keeps it, so the warm-up turn pays for building the measured DAG too, as it
 * does for the runs. With a file each, every runner built the 10,000-task DAG during the first
 * measured turn (dag() alone: 76–133 ms of CPU per build; 16 runners with 4 worker processes), and
 * the two measured turns of the 4-process fan-out differed by 28 % (802 and 1,120 TIs/s).
 */
const fanoutFile = (dags: { id: string; tis: number }[]) => `
import { dag } from "updraft";
const fanout = (id: string, tis: number) => dag({ id, schedule: null, start: "2024-01-01", maxActiveTasks: ${MAX_ACTIVE_TASKS} }, (d) => {
  const root = d.task("root", () => {});
  const leaves = Array.from({ length: tis - 1 }, (_, i) => d.task("t" + i, () => {}));
  d.chain(root, leaves);
});
${dags.map((x, i) => `export const fanout${i} = fanout("${x.id}", ${x.tis});`).join("\n")}
`;

/** One fan-out in a file of its own. */
export const fanoutDag = (id: string, tis: number) => fanoutFile([{ id, tis }]);

function dagFiles(sizes: Sizes): Record<string, string> {
  return {
    "fanout.ts": fanoutFile([
      { id: DAGS.fanout, tis: sizes.fanout },
      { id: DAGS.fanoutWarm, tis: sizes.warmTis },
    ]),
    "runs.ts": runsDag(DAGS.runs, sizes.runs),
  };
}

/** A workload turn: how many TIs (or jobs) it ran, and in how many ms. */
interface Turn {
  tis: number;
  ms: number;
}

interface Subject {
  label: string;
  /** `warm`: the small warm-up workload instead of the measured one. */
  once(warm: boolean): Promise<Turn>;
}

let runSeq = 0;

/** Updraft: creates the runs, waits for their ends, checks every TI succeeded (after the timing). */
function updraftSubject(store: Store, runEnds: RunEndWatch, label: string, shape: "fanout" | "runs", sizes: Sizes, workers?: ProcessGroup): Subject {
  return {
    label,
    async once(warm) {
      const dagId = shape === "fanout" ? (warm ? DAGS.fanoutWarm : DAGS.fanout) : DAGS.runs;
      const runCount = shape === "fanout" ? 1 : warm ? Math.ceil(sizes.warmTis / RUN_TASKS) : sizes.runs;
      const tis = shape === "fanout" ? (warm ? sizes.warmTis : sizes.fanout) : runCount * RUN_TASKS;
      const base = Date.now();
      const startedAt = wallClockMs();
      const runPks: number[] = [];
      for (let i = 0; i < runCount; i++) {
        // Distinct logical dates: two runs of a DAG may not share one.
        const run = await createRun(store.db, { dagId, runId: `bench_tp__${++runSeq}`, runType: "manual", logicalDate: new Date(base + i), triggeredBy: "bench" });
        runPks.push(run.id);
      }
      const { endedAt, failed } = await runEnds.wait(runPks, 600_000);
      if (workers?.died.length) throw new Error(`${label}: ${workers.died.join("; ")}`);
      if (failed) {
        const why = await store.db
          .selectFrom("task_instance_tries as t")
          .innerJoin("task_instances as ti", "ti.id", "t.ti_id")
          .select(["ti.task_id", "t.state", "t.error"])
          .where("ti.run_pk", "in", runPks)
          .where("t.state", "!=", "success")
          .limit(3)
          .execute();
        throw new Error(`${label}: ${failed} of ${runCount} runs failed; unsuccessful tries: ${JSON.stringify(why)}${workers ? `; worker process pids ${workers.pids.join(", ")}, all alive` : ""}`);
      }
      const done = await store.db.selectFrom("task_instances").select((eb) => eb.fn.countAll<string>().as("n")).where("run_pk", "in", runPks).where("state", "=", "success").executeTakeFirstOrThrow();
      if (Number(done.n) !== tis) throw new Error(`${label}: ${done.n} of ${tis} TIs succeeded`);
      return { tis, ms: endedAt - startedAt };
    },
  };
}

function graphileSubject(group: GraphileGroup, utils: WorkerUtils, label: string, sizes: Sizes): Subject {
  return {
    label,
    async once(warm) {
      const jobs = warm ? sizes.warmTis : sizes.fanout;
      const specs = Array.from({ length: jobs }, () => ({ identifier: "noop", payload: {} }));
      const completed = group.expect(jobs, 600_000);
      const startedAt = wallClockMs();
      await utils.addJobs(specs);
      const endedAt = await completed;
      return { tis: jobs, ms: endedAt - startedAt };
    },
  };
}

/** Warm-up turns, then measured ones, alternating between the subjects (the order rotates). */
async function alternate(ctx: BenchContext, subjects: Subject[], plan: { warmup: number; measured: number }, beforeTurn: () => Promise<void> = async () => {}): Promise<Turn[][]> {
  const results: Turn[][] = subjects.map(() => []);
  for (let rep = 0; rep < plan.warmup + plan.measured; rep++) {
    const warm = rep < plan.warmup;
    for (let j = 0; j < subjects.length; j++) {
      const k = (j + rep) % subjects.length;
      await beforeTurn();
      const turn = await subjects[k]!.once(warm);
      if (!warm) {
        results[k]!.push(turn);
        ctx.log(`throughput ${subjects[k]!.label}: ${turn.tis} in ${turn.ms.toFixed(0)} ms = ${((turn.tis / turn.ms) * 1000).toFixed(0)} /s`);
      }
    }
  }
  return results;
}

/**
 * Setup between turns, not timed: waits (up to 30 s) until the server has room for a turn's
 * connections. All subjects stay up, and a pool lets its idle connections go only after 10 s: with
 * 4 processes of each subject (Updraft's workers: up to 10 pooled + 1 listening each) a turn could
 * start while the one before still held its connections, and a graphile-worker process died of
 * "sorry, too many clients already" (max_connections 100) — seen once in a full run, which then
 * waited 600 s for the dead process's jobs.
 */
async function roomForConnections(store: Store, headroom = 50): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const row = (await sql<{ used: number; max: number }>`select count(*)::int as used, current_setting('max_connections')::int as max from pg_stat_activity where backend_type = 'client backend'`.execute(store.db)).rows[0]!;
    if (row.max - row.used >= headroom || Date.now() > deadline) return;
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** TIs per second of each turn; the median turn's rate, with the spread over turns. */
function rate(turns: Turn[]): Measure {
  const s = summarize(turns.map((t) => (t.tis / t.ms) * 1000));
  return { value: s.p50, unit: "/s", stat: "median", spread: { label: "min–max", low: s.min, high: s.max }, samples: s.n };
}

export async function startScheduler(store: Store, folder: string, expect: string[]): Promise<Scheduler> {
  const config = loadConfig(process.env);
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), "updraft-bench-cache-"));
  const scheduler = new Scheduler(store, {
    dagsFolder: folder,
    cacheDir,
    dagImportTimeoutMs: config.dagImportTimeoutMs,
    heartbeatTimeoutMs: config.heartbeatTimeoutMs,
    logger: createLogger(process.env.UPDRAFT_BENCH_LOG_LEVEL ?? "warn", "updraft-bench"),
    watch: false,
  });
  await scheduler.start();
  const loaded = await store.db.selectFrom("dags").select("dag_id").where("dag_id", "in", expect).where("latest_version_id", "is not", null).execute();
  if (loaded.length !== expect.length) {
    await scheduler.stop();
    throw new Error(`the throughput DAGs did not load: ${JSON.stringify(await store.db.selectFrom("import_errors").select(["filename", "stack_trace"]).execute())}`);
  }
  return scheduler;
}

export const throughput: Scenario = {
  name: "throughput",
  title: "throughput: no-op TIs/s, fan-out and many runs, 1 and 4 worker processes",
  async run(ctx): Promise<ScenarioResult> {
    // The quick form keeps the shapes with a fiftieth of the TIs: CI checks that it runs.
    const sizes: Sizes = ctx.quick ? { fanout: 200, runs: 10, warmTis: 40 } : { fanout: 10_000, runs: 500, warmTis: 400 };
    const plan = ctx.quick ? { warmup: 1, measured: 1 } : { warmup: 1, measured: 2 };
    const processCounts = ctx.quick ? [1] : [1, 4];
    const rows: Row[] = [];
    const raw: Record<string, unknown> = { sizes, plan };
    const fanoutLabel = `throughput: fan-out 1 → ${(sizes.fanout - 1).toLocaleString("en")} no-op`;
    const runsLabel = `throughput: ${sizes.runs} runs × ${RUN_TASKS} no-op`;
    const notes = [
      `throughput: TIs (jobs) per second, ${plan.warmup} warm-up turn(s) of ${sizes.warmTis} TIs then ${plan.measured} measured, per subject, alternating; median (min–max) over turns. ` +
        `Fan-out: one run of root → ${sizes.fanout - 1} tasks; runs: ${sizes.runs} runs of start → ${RUN_TASKS - 2} → end, created one by one inside the timing. ` +
        `Updraft from the first createRun to the NOTIFY that showed the last run ended; PostgreSQL: \`updraft worker\` processes (${loadConfig(process.env).workerSlots} slots each, the default unless UPDRAFT_WORKER_SLOTS says otherwise) and the scheduler in the bench process; PGlite: scheduler and one worker in the bench process. ` +
        `graphile-worker: ${sizes.fanout} no-op jobs in one addJobs call → last job's completion event, in processes running run() with concurrency 1 (its default) and 10 (tuned); the same job count serves both shapes, and it resolves no dependencies.`,
    ];

    // PGlite: one process.
    {
      const store = await ctx.databases.freshPglite();
      const folder = writeDagsFolder(dagFiles(sizes));
      try {
        const engine = await startBenchEngine(store, folder, Object.values(DAGS));
        const runEnds = await watchRunEnds(store);
        try {
          const subjects = [updraftSubject(store, runEnds, "PGlite fan-out", "fanout", sizes), updraftSubject(store, runEnds, "PGlite runs", "runs", sizes)];
          const [fan, runs] = (await alternate(ctx, subjects, plan)) as [Turn[], Turn[]];
          raw.pglite = { fanout: fan, runs };
          rows.push({ scenario: `${fanoutLabel} (1 process)`, database: "PGlite", ours: rate(fan) });
          rows.push({ scenario: `${runsLabel} (1 process)`, database: "PGlite", ours: rate(runs) });
        } finally {
          await runEnds.close();
          await engine.stop();
        }
      } finally {
        fs.rmSync(folder, { recursive: true, force: true });
        await store.close();
      }
    }

    if (!ctx.databases.postgres) {
      notes.push("throughput: PostgreSQL rows skipped: no server at DATABASE_URL.");
      return { rows, notes, raw };
    }

    const ours = await ctx.databases.freshPostgresStore();
    const peerDefault = await ctx.databases.freshPostgres();
    const peerTuned = await ctx.databases.freshPostgres();
    const folder = writeDagsFolder(dagFiles(sizes));
    // Pools of our own with an error listener: the databases are dropped WITH (FORCE) at the end.
    const peerPools = [peerDefault, peerTuned].map((d) => new pg.Pool({ connectionString: d.url, max: 2 }).on("error", () => {}).on("connect", (c) => c.on("error", () => {})));
    const utilsDefault = await makeWorkerUtils({ pgPool: peerPools[0]! });
    const utilsTuned = await makeWorkerUtils({ pgPool: peerPools[1]! });
    try {
      const scheduler = await startScheduler(ours.store, folder, Object.values(DAGS));
      const runEnds = await watchRunEnds(ours.store);
      try {
        for (const procs of processCounts) {
          const groups: ProcessGroup[] = [];
          try {
            const workers = await startUpdraftWorkers(ours.store, ours.url, procs);
            groups.push(workers);
            const gDefault = await startGraphileWorkers(peerDefault.url, procs, 1);
            groups.push(gDefault);
            const gTuned = await startGraphileWorkers(peerTuned.url, procs, 10);
            groups.push(gTuned);
            const subjects = [
              updraftSubject(ours.store, runEnds, `PostgreSQL fan-out ×${procs}`, "fanout", sizes, workers),
              updraftSubject(ours.store, runEnds, `PostgreSQL runs ×${procs}`, "runs", sizes, workers),
              graphileSubject(gDefault, utilsDefault, `graphile-worker c=1 ×${procs}`, sizes),
              graphileSubject(gTuned, utilsTuned, `graphile-worker c=10 ×${procs}`, sizes),
            ];
            const [fan, runs, gd, gt] = (await alternate(ctx, subjects, plan, () => roomForConnections(ours.store))) as [Turn[], Turn[], Turn[], Turn[]];
            raw[`postgres_${procs}`] = { fanout: fan, runs, graphileDefault: gd, graphileTuned: gt };
            const peerD = rate(gd);
            const peerT = rate(gt);
            const unit = procs === 1 ? "process" : "processes";
            for (const [label, turns] of [[fanoutLabel, fan], [runsLabel, runs]] as const) {
              const r = rate(turns);
              rows.push({ scenario: `${label} (${procs} worker ${unit})`, database: "PostgreSQL", ours: r, peer: { name: "graphile-worker (concurrency 1)", ...peerD }, targets: [{ kind: "ratioMin", value: 1.0 }] });
              rows.push({ scenario: `${label} (${procs} worker ${unit}) vs tuned peer`, database: "PostgreSQL", ours: r, peer: { name: "graphile-worker (concurrency 10)", ...peerT } });
            }
          } finally {
            for (const g of groups.reverse()) await g.stop();
          }
        }
      } finally {
        await runEnds.close();
        await scheduler.stop();
      }
    } finally {
      fs.rmSync(folder, { recursive: true, force: true });
      await utilsDefault.release();
      await utilsTuned.release();
      for (const p of peerPools) await p.end();
      await ours.drop();
      await peerDefault.drop();
      await peerTuned.drop();
    }
    notes.push("throughput vs tuned peer: the stretch goal (ratio ≥ 1.0 against graphile-worker at concurrency 10), not a target.");
    return { rows, notes, raw };
  },
};
