// chain-40 (Windmill's scenario, issue 2 item 11, issue 9 scenarios 1–2): 40 chained tasks that
// each compute fib(10), trigger → run success; and the hand-off latency, upstream end →
// downstream start, over every hand-off of the measured runs.
//
// Updraft: a DAG file in a temporary folder, loaded by the DAG processor, run by one worker with
// the default settings — and beside it the same chain passing data (each task takes the previous
// one's return value), measured in the same repetitions; each task returns its own start and end
// (wall clock, sub-millisecond, comparable across processes) as its XCom, read back after each run.
// Peer: graphile-worker on the same PostgreSQL, in a fresh database of its own — 40 jobs, each
// computing fib(10) and adding the next with `helpers.addJob`; timed from adding the first job
// to the 40th job's completion, and its hand-off as add (just before `addJob`) → next job's start.
// On PostgreSQL both are up at once and their repetitions alternate (which goes first alternates
// too), so that a change in the machine's load between them does not bend the ratio.
import fs from "node:fs";
import type { JobHelpers } from "graphile-worker";
import type { Store } from "../../engine/store/db.js";
import { startGraphile } from "../lib/graphile.js";
import { summarize, wallClockMs, type Summary } from "../lib/stats.js";
import type { BenchContext, Measure, Row, Scenario, ScenarioResult } from "../lib/types.js";
import { startBenchEngine, writeDagsFolder } from "../lib/updraft.js";

const LENGTH = 40;
const DAG_ID = "bench_chain_40";
/** The same chain passing data: each task takes the previous one's return value as its input. */
const DATA_DAG_ID = "bench_chain_40_data";
const TASK_IDS = Array.from({ length: LENGTH }, (_, i) => `t${String(i).padStart(2, "0")}`);

/**
 * The DAG file, as a user would write it: the chain, and beside it the same chain passing data,
 * where each task checks the value it was given (its upstream's fib(10)).
 */
const DAG_FILE = `
import { dag } from "updraft";

const fib = (n: number): number => (n < 2 ? n : fib(n - 1) + fib(n - 2));
/** Wall clock with sub-millisecond precision, comparable across processes on one machine. */
const now = () => performance.timeOrigin + performance.now();
type Out = { value: number; start: number; end: number };

export default dag({ id: "${DAG_ID}", schedule: null, start: "2024-01-01" }, (d) => {
  const tasks = ${JSON.stringify(TASK_IDS)}.map((id) =>
    d.task(id, () => {
      const start = now();
      const value = fib(10);
      return { value, start, end: now() };
    }),
  );
  d.chain(...tasks);
});

export const passingData = dag({ id: "${DATA_DAG_ID}", schedule: null, start: "2024-01-01" }, (d) => {
  const ids = ${JSON.stringify(TASK_IDS)};
  let prev = d.task(ids[0]!, (): Out => {
    const start = now();
    return { value: fib(10), start, end: now() };
  });
  for (const id of ids.slice(1)) {
    prev = d.task(id, [prev], (_ctx, up: Out): Out => {
      const start = now();
      const value = fib(10);
      if (up.value !== value) throw new Error(\`input \${JSON.stringify(up)} is not the upstream's return value\`);
      return { value, start, end: now() };
    });
  }
});
`;

const fib = (n: number): number => (n < 2 ? n : fib(n - 1) + fib(n - 2));

/** One chain, end to end. */
interface ChainRun {
  chainMs: number;
  /** Its 39 hand-offs. */
  handoffMs: number[];
  /** Updraft only: createRun → first task's start, and last task's end → run end notified. */
  startMs?: number;
  endMs?: number;
}

/** Something that runs the chain on demand: Updraft on a store, or the peer. */
interface ChainSubject {
  once(): Promise<ChainRun>;
  stop(): Promise<void>;
}

/**
 * One engine (scheduler, DAG processor, one worker) over the chains' DAG file; a subject for
 * each chain, and the engine's stop.
 */
async function updraftChains(store: Store, label: string): Promise<{ plain: ChainSubject; data: ChainSubject; stop(): Promise<void> }> {
  const folder = writeDagsFolder({ "bench_chain.ts": DAG_FILE });
  let engine;
  try {
    engine = await startBenchEngine(store, folder, [DAG_ID, DATA_DAG_ID]);
  } catch (err) {
    fs.rmSync(folder, { recursive: true, force: true });
    throw err;
  }
  const started = engine;
  const subject = (dagId: string, name: string): ChainSubject => ({
    async once() {
      const run = await started.trigger(dagId);
      if (run.state !== "success") throw new Error(`${name}: run ${run.runPk} ended ${run.state}`);
      // Read after the run has ended: outside the timed part.
      const rows = await store.db.selectFrom("xcom").select(["task_id", "value"]).where("run_pk", "=", run.runPk).where("key", "=", "return_value").execute();
      const tasks = new Map(rows.map((r) => [r.task_id, r.value as { start: number; end: number; value: number }]));
      const timings = TASK_IDS.map((id) => {
        const t = tasks.get(id);
        if (!t || t.value !== fib(10)) throw new Error(`${name}: run ${run.runPk} lacks the result of ${id}`);
        return t;
      });
      return {
        chainMs: run.ms,
        handoffMs: timings.slice(1).map((down, i) => down.start - timings[i]!.end),
        startMs: timings[0]!.start - run.startedAt,
        endMs: run.endedAt - timings[LENGTH - 1]!.end,
      };
    },
    // The engine stops with the pair.
    async stop() {},
  });
  return {
    plain: subject(DAG_ID, label),
    data: subject(DATA_DAG_ID, `${label}, passing data`),
    async stop() {
      await started.stop();
      fs.rmSync(folder, { recursive: true, force: true });
    },
  };
}

async function graphileChain(ctx: BenchContext): Promise<ChainSubject> {
  const database = await ctx.databases.freshPostgres();
  interface Chain {
    starts: number[];
    adds: number[];
    values: number[];
    done(at: number): void;
  }
  const chains = new Map<number, Chain>();
  let runner;
  try {
    runner = await startGraphile({
      connectionString: database.url,
      taskList: {
        chain: async (payload, helpers: JobHelpers) => {
          const start = wallClockMs();
          const { chain, i } = payload as { chain: number; i: number };
          const value = fib(10);
          const c = chains.get(chain)!;
          c.starts[i] = start;
          c.values[i] = value;
          if (i + 1 < LENGTH) {
            c.adds[i] = wallClockMs();
            await helpers.addJob("chain", { chain, i: i + 1 });
          }
        },
      },
    });
  } catch (err) {
    await database.drop();
    throw err;
  }
  const started = runner;
  // The 40th job has completed when graphile-worker reports it so (its handler returned).
  started.events.on("job:complete", ({ job, error }) => {
    const { chain, i } = job.payload as { chain: number; i: number };
    if (i === LENGTH - 1 && !error) chains.get(chain)?.done(wallClockMs());
  });
  started.events.on("job:error", ({ job, error }) => ctx.log(`graphile-worker job ${job.id} failed: ${String(error)}`));
  let next = 0;
  return {
    async once() {
      const chain = next++;
      let done!: (at: number) => void;
      const ended = new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`graphile-worker: chain ${chain} did not finish within 60 s`)), 60_000);
        done = (at) => {
          clearTimeout(timer);
          resolve(at);
        };
      });
      const c: Chain = { starts: [], adds: [], values: [], done };
      chains.set(chain, c);
      const startedAt = wallClockMs();
      await started.addJob("chain", { chain, i: 0 });
      const endedAt = await ended;
      chains.delete(chain);
      if (c.values.length !== LENGTH || c.values.some((v) => v !== fib(10))) throw new Error(`graphile-worker: chain ${chain} ran ${c.values.length} jobs`);
      return { chainMs: endedAt - startedAt, handoffMs: c.starts.slice(1).map((start, i) => start - c.adds[i]!) };
    },
    async stop() {
      await started.stop();
      await database.drop();
    },
  };
}

interface Plan {
  warmup: number;
  measured: number;
}

/** Warm-up, then measured repetitions, alternating between the subjects (and which goes first). */
async function measure(subjects: ChainSubject[], plan: Plan): Promise<ChainRun[][]> {
  const results: ChainRun[][] = subjects.map(() => []);
  for (let rep = 0; rep < plan.warmup + plan.measured; rep++) {
    const order = rep % 2 ? [...subjects.keys()].reverse() : [...subjects.keys()];
    for (const k of order) {
      const run = await subjects[k]!.once();
      if (rep >= plan.warmup) results[k]!.push(run);
    }
  }
  return results;
}

const chainMeasure = (s: Summary): Measure => ({ value: s.p50, unit: "ms", stat: "median", spread: { label: "min–max", low: s.min, high: s.max }, samples: s.n });
const handoffMeasure = (s: Summary, p: 50 | 95 | 99): Measure => ({ value: s[`p${p}`], unit: "ms", stat: `p${p}`, samples: s.n });
const HANDOFF_TARGETS = { 50: 2, 95: null, 99: 10 } as const;

export const chain: Scenario = {
  name: "chain",
  title: "chain-40 and hand-off latency",
  async run(ctx): Promise<ScenarioResult> {
    // Hand-offs: 39 per measured run — ≥ 500 in the short form, ≥ 1,000 in the full one.
    const plan: Plan = ctx.quick ? { warmup: 3, measured: 13 } : { warmup: 5, measured: 30 };
    const rows: Row[] = [];
    const raw: Record<string, unknown> = { plan };
    const notes = [
      `chain-40: ${plan.warmup} warm-up runs, then ${plan.measured} measured; median (min–max). Updraft: createRun → run success seen through LISTEN. ` +
        `graphile-worker (concurrency 1, same server, own database, repetitions alternating with Updraft's): addJob of job 1 → job 40's handler returned (its last completion write is not counted).`,
      `hand-off: Updraft from each task's own end to the next task's start (wall clock in the runner processes); graphile-worker from just before \`helpers.addJob\` to the next job's start (in-process handlers).`,
      `passing data: the same chain where each task takes the previous one's return value as its input (and checks it), measured in the same repetitions; graphile-worker's jobs carry their payload either way.`,
    ];
    const dataRows = (database: "PGlite" | "PostgreSQL", runs: ChainRun[], peer?: Summary) => {
      const handoff = summarize(runs.flatMap((r) => r.handoffMs));
      ctx.log(`updraft on ${database}, passing data: hand-off p50 ${handoff.p50.toFixed(2)} ms`);
      for (const p of [50, 99] as const) {
        rows.push({
          scenario: `hand-off p${p}, passing data: upstream end → downstream start`,
          database,
          ours: handoffMeasure(handoff, p),
          ...(peer ? { peer: { name: "graphile-worker add→start", ...handoffMeasure(peer, p) } } : {}),
        });
      }
    };
    const summarizeOurs = (database: "PGlite" | "PostgreSQL", runs: ChainRun[]) => {
      const s = {
        chain: summarize(runs.map((r) => r.chainMs)),
        handoff: summarize(runs.flatMap((r) => r.handoffMs)),
        start: summarize(runs.map((r) => r.startMs!)),
        end: summarize(runs.map((r) => r.endMs!)),
      };
      ctx.log(`updraft on ${database}: chain median ${s.chain.p50.toFixed(1)} ms, hand-off p50 ${s.handoff.p50.toFixed(2)} ms`);
      notes.push(
        `chain-40 on ${database}, where a median run's time goes: createRun → first task start ${s.start.p50.toFixed(1)} ms, ` +
          `39 hand-offs (39 × p50 = ${(39 * s.handoff.p50).toFixed(1)} ms), last task end → run end notified ${s.end.p50.toFixed(1)} ms.`,
      );
      return s;
    };

    const pglite = await ctx.databases.freshPglite();
    try {
      const ours = await updraftChains(pglite, "updraft on PGlite");
      let runs: ChainRun[];
      let dataRuns: ChainRun[];
      try {
        [runs, dataRuns] = (await measure([ours.plain, ours.data], plan)) as [ChainRun[], ChainRun[]];
      } finally {
        await ours.stop();
      }
      raw.pglite = runs;
      raw.pgliteData = dataRuns;
      const s = summarizeOurs("PGlite", runs);
      rows.push({ scenario: "chain-40: trigger → success", database: "PGlite", ours: chainMeasure(s.chain) });
      for (const p of [50, 95, 99] as const) rows.push({ scenario: `hand-off p${p}: upstream end → downstream start`, database: "PGlite", ours: handoffMeasure(s.handoff, p) });
      dataRows("PGlite", dataRuns);
    } finally {
      await pglite.close();
    }

    if (!ctx.databases.postgres) {
      notes.push(`PostgreSQL rows skipped: no server at DATABASE_URL.`);
      return { rows, notes, raw };
    }
    const postgres = await ctx.databases.freshPostgresStore();
    try {
      const ours = await updraftChains(postgres.store, "updraft on PostgreSQL");
      let ourRuns: ChainRun[];
      let dataRuns: ChainRun[];
      let peerRuns: ChainRun[];
      try {
        const peer = await graphileChain(ctx);
        try {
          [ourRuns, dataRuns, peerRuns] = (await measure([ours.plain, ours.data, peer], plan)) as [ChainRun[], ChainRun[], ChainRun[]];
        } finally {
          await peer.stop();
        }
      } finally {
        await ours.stop();
      }
      raw.postgres = ourRuns;
      raw.postgresData = dataRuns;
      raw.graphile = peerRuns;
      const s = summarizeOurs("PostgreSQL", ourRuns);
      const peerChain = summarize(peerRuns.map((r) => r.chainMs));
      const peerHandoff = summarize(peerRuns.flatMap((r) => r.handoffMs));
      ctx.log(`graphile-worker: chain median ${peerChain.p50.toFixed(1)} ms, add→start p50 ${peerHandoff.p50.toFixed(2)} ms`);
      rows.push({
        scenario: "chain-40: trigger → success",
        database: "PostgreSQL",
        ours: chainMeasure(s.chain),
        peer: { name: "graphile-worker", ...chainMeasure(peerChain) },
        targets: [{ kind: "max", value: 100, unit: "ms" }, { kind: "ratioMax", value: 1.0 }],
      });
      for (const p of [50, 95, 99] as const) {
        const target = HANDOFF_TARGETS[p];
        rows.push({
          scenario: `hand-off p${p}: upstream end → downstream start`,
          database: "PostgreSQL",
          ours: handoffMeasure(s.handoff, p),
          peer: { name: "graphile-worker add→start", ...handoffMeasure(peerHandoff, p) },
          targets: target === null ? [] : [{ kind: "max", value: target, unit: "ms" }],
        });
      }
      dataRows("PostgreSQL", dataRuns, peerHandoff);
    } finally {
      await postgres.drop();
    }
    return { rows, notes, raw };
  },
};
