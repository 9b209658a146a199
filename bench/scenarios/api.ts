// API at scale (issue 9 scenario 6, PostgreSQL only): the list endpoints and the grid data over a
// database seeded with a million TIs (bench/lib/seed.ts), through the real web server on a port,
// with real HTTP requests — as the UI and API clients call them.
//
// Each figure is the time from just before `fetch` to the last byte of the body (Node's fetch,
// one keep-alive connection, one request at a time, a viewer's bearer token). The endpoints take
// turns within each round, so a change in the machine's load spreads over all of them. Parameters
// rotate (DAGs, runs, pages) so that no single cached row answers every request.
import { sql } from "kysely";
import { startBenchWeb } from "../lib/http.js";
import { seedDatabase, type SeedPlan } from "../lib/seed.js";
import { summarize, type Summary } from "../lib/stats.js";
import type { Measure, Row, Scenario, ScenarioResult, Target } from "../lib/types.js";

interface Endpoint {
  label: string;
  /** Path for the i-th request. */
  path(i: number): string;
  target: number;
}

const LIST_P99_MS = 100;
const GRID_MS = 1_000;

export const api: Scenario = {
  name: "api",
  title: "API at scale: list endpoints and grid data over 1,000,000 TIs (PostgreSQL)",
  async run(ctx): Promise<ScenarioResult> {
    if (!ctx.databases.postgres) return { rows: [], notes: ["api: skipped, no PostgreSQL at DATABASE_URL."] };
    // Full: 199 DAGs × 220 runs × 20 tasks + the grid DAG's 5,000 tasks × 25 runs = 1,000,600 TIs.
    // Quick (CI, checks that it all works): 199 × 20 × 20 + a 1,000 × 20 grid = 99,600 TIs.
    const plan: SeedPlan = ctx.quick
      ? { dags: 199, tasksPerDag: 20, runsPerDag: 20, grid: { tasks: 1_000, runs: 20 } }
      : { dags: 199, tasksPerDag: 20, runsPerDag: 220, grid: { tasks: 5_000, runs: 25 } };
    const reps = ctx.quick ? { warmup: 5, measured: 50 } : { warmup: 20, measured: 200 };
    const database = await ctx.databases.freshPostgresStore();
    try {
      const seeded = await seedDatabase(database.store, database.url, plan, ctx.log);
      const gridDag = seeded.gridDagId!;
      // Runs to ask for: a spread over every DAG and age.
      const runs = (
        await sql<{ dag_id: string; run_id: string }>`
          select dag_id, run_id from dag_runs where dag_id <> ${gridDag} order by abs(hashtext(run_id || dag_id)) limit 500`.execute(database.store.db)
      ).rows;
      const dags = seeded.dagIds;
      const enc = encodeURIComponent;
      const endpoints: Endpoint[] = [
        { label: "GET /dags?limit=50 (by dag_id, 4 pages)", path: (i) => `/api/v2/dags?limit=50&offset=${(i % 4) * 50}&order_by=dag_id`, target: LIST_P99_MS },
        { label: "GET /dags/{id}/dagRuns?limit=50&order_by=-run_after", path: (i) => `/api/v2/dags/${enc(dags[i % dags.length]!)}/dagRuns?limit=50&order_by=-run_after`, target: LIST_P99_MS },
        { label: "GET /dags/~/dagRuns?limit=50&order_by=-run_after (3 pages)", path: (i) => `/api/v2/dags/~/dagRuns?limit=50&offset=${(i % 3) * 50}&order_by=-run_after`, target: LIST_P99_MS },
        {
          label: "GET /dags/~/dagRuns/~/taskInstances?limit=50&order_by=-start_date (3 pages)",
          path: (i) => `/api/v2/dags/~/dagRuns/~/taskInstances?limit=50&offset=${(i % 3) * 50}&order_by=-start_date`,
          target: LIST_P99_MS,
        },
        {
          label: "GET /dags/{id}/dagRuns/{run}/taskInstances?limit=100",
          path: (i) => {
            const r = runs[i % runs.length]!;
            return `/api/v2/dags/${enc(r.dag_id)}/dagRuns/${enc(r.run_id)}/taskInstances?limit=100`;
          },
          target: LIST_P99_MS,
        },
        { label: `GET /ui/grid/{id}?limit=25 (${plan.grid!.tasks.toLocaleString("en")} tasks × ${plan.grid!.runs} runs)`, path: () => `/ui/grid/${gridDag}?limit=25`, target: GRID_MS },
      ];

      const web = await startBenchWeb(database.store);
      const samples: number[][] = endpoints.map(() => []);
      const bytes: number[] = endpoints.map(() => 0);
      const started = performance.now();
      try {
        for (let round = 0; round < reps.warmup + reps.measured; round++) {
          for (const [k, e] of endpoints.entries()) {
            const got = await web.timedGet(e.path(round));
            if (round >= reps.warmup) samples[k]!.push(got.ms);
            bytes[k] = got.bytes;
          }
        }
      } finally {
        await web.close();
      }
      const seconds = (performance.now() - started) / 1000;
      ctx.log(`api: ${endpoints.length} endpoints × ${reps.warmup + reps.measured} requests in ${seconds.toFixed(1)} s`);

      const rows: Row[] = [];
      const summaries: Record<string, Summary> = {};
      for (const [k, e] of endpoints.entries()) {
        const s = summarize(samples[k]!);
        summaries[e.label] = s;
        ctx.log(`api: ${e.label}: p50 ${s.p50.toFixed(1)} ms, p99 ${s.p99.toFixed(1)} ms, ${bytes[k]} bytes`);
        const p = (stat: "p50" | "p99"): Measure => ({ value: s[stat], unit: "ms", stat, spread: { label: "min–max", low: s.min, high: s.max }, samples: s.n });
        // Lists: the target is on p99. Grid: "opens in ≤ 1 s", held to nearly every request, so on p99 too.
        const targets: Target[] = [{ kind: "max", value: e.target, unit: "ms" }];
        rows.push({ scenario: `api: ${e.label} p50`, database: "PostgreSQL", ours: p("p50") });
        rows.push({ scenario: `api: ${e.label} p99`, database: "PostgreSQL", ours: p("p99"), targets });
      }
      const notes = [
        `api: a fresh PostgreSQL database seeded with ${seeded.counts.tis.toLocaleString("en")} TIs, ${seeded.counts.runs.toLocaleString("en")} runs, ` +
          `${seeded.counts.dags} DAGs and ${seeded.counts.tries.toLocaleString("en")} try-history rows (bench/lib/seed.ts: real DAG files through the DAG processor, then set-based inserts; ` +
          `parse ${seeded.seconds.parse.toFixed(1)} s, inserts and VACUUM ANALYZE ${seeded.seconds.insertAndVacuum.toFixed(1)} s). ` +
          `The real web server on a port; each figure from just before fetch to the body's last byte, one keep-alive connection, ` +
          `${reps.warmup} warm-up rounds then ${reps.measured} measured, the endpoints taking turns in each round; response sizes: ` +
          endpoints.map((e, k) => `${e.label.split(" ")[1]!.split("?")[0]} ${(bytes[k]! / 1024).toFixed(0)} KB`).join(", ") +
          ".",
      ];
      return { rows, notes, raw: { plan, reps, counts: seeded.counts, seconds: seeded.seconds, summaries, samples: Object.fromEntries(endpoints.map((e, k) => [e.label, samples[k]])) } };
    } finally {
      await database.drop();
    }
  },
};
