// A database that looks like a busy installation, for the API and UI benchmarks (issue 9 scenario 6,
// issue 6's grid first paint): real DAG files loaded by the real DAG processor (so dags,
// dag_versions and dag_code are what the serializers expect), then runs, TIs and try history
// inserted set-based (generate_series over the stored structures) — a million TIs in tens of
// seconds instead of the hours a scheduler would take to make them.
//
// The shape: `dags` DAGs of `tasksPerDag` tasks (a fan-in of chains, tags and owners varied, one in
// ten paused), `runsPerDag` daily runs each (one in ten manual; ~8 % failed, where one task failed
// and its downstream chain is upstream_failed; the newest run of one DAG in four still running,
// half its TIs done, a few running, the rest not started; ~5 % of finished TIs needed a retry),
// and one grid DAG of `grid.tasks` tasks × `grid.runs` runs. Every finished try has its
// task_instance_tries row. States come from hashes of the ids, so every seeding is the same.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { sql } from "kysely";
import { createLogger } from "../../engine/logger.js";
import { openStore, type Store } from "../../engine/store/db.js";
import { DagProcessor } from "../../scheduler/dagProcessor.js";
import { writeDagsFolder } from "./updraft.js";

export interface SeedPlan {
  dags: number;
  runsPerDag: number;
  tasksPerDag: number;
  /** The grid DAG, or null for none. */
  grid: { tasks: number; runs: number } | null;
}

export interface Seeded {
  dagIds: string[];
  gridDagId: string | null;
  counts: { dags: number; runs: number; tis: number; tries: number };
  /** Wall-clock seconds: loading the DAG files; inserting the rows and VACUUM ANALYZE. */
  seconds: { parse: number; insertAndVacuum: number };
}

export const GRID_DAG_ID = "bench_grid";
const DAG_PREFIX = "bench_api_";
const TAGS = ["etl", "ml", "reporting", "finance", "marketing", "ops", "daily", "hourly"];
const OWNERS = ["data-eng", "analytics", "ml-platform", "finance"];
/** The grid DAG's tasks: parallel chains of this length (a realistic fan-out, not one flat layer). */
const GRID_CHAIN = 50;

/** One file defining `plan.dags` DAGs as named exports (one import for all), and one for the grid DAG. */
function dagFiles(plan: SeedPlan): Record<string, string> {
  const files: Record<string, string> = {};
  // Four chains sharing tasksPerDag − 1 tasks, all feeding one final task.
  const chains = 4;
  const lengths = Array.from({ length: chains }, (_, c) => Math.floor((plan.tasksPerDag - 1) / chains) + (c < (plan.tasksPerDag - 1) % chains ? 1 : 0));
  files["bench_api_dags.ts"] = `import { dag } from "updraft";
const TAGS = ${JSON.stringify(TAGS)};
const OWNERS = ${JSON.stringify(OWNERS)};
const make = (i: number) =>
  dag(
    {
      id: "${DAG_PREFIX}" + String(i).padStart(3, "0"),
      schedule: "@daily",
      start: "2024-01-01",
      catchup: false,
      tags: [TAGS[i % TAGS.length]!, TAGS[(i * 3 + 1) % TAGS.length]!],
      owners: [OWNERS[i % OWNERS.length]!],
      description: "Benchmark DAG " + i,
    },
    (d) => {
      const ends = [];
      for (const [c, length] of ${JSON.stringify(lengths)}.entries()) {
        const chain = [];
        for (let t = 0; t < length; t++) chain.push(d.task("extract_" + c + "_step_" + t, () => t));
        d.chain(...chain);
        ends.push(chain[chain.length - 1]!);
      }
      d.task("publish", () => 1).after(...ends);
    },
  );
${Array.from({ length: plan.dags }, (_, i) => `export const dag${i} = make(${i});`).join("\n")}
`;
  if (plan.grid) {
    const chainsOf = Math.ceil(plan.grid.tasks / GRID_CHAIN);
    files["bench_grid.ts"] = `import { dag } from "updraft";
export default dag({ id: "${GRID_DAG_ID}", schedule: "@daily", start: "2024-01-01", catchup: false, tags: ["big"] }, (d) => {
  let made = 0;
  for (let c = 0; c < ${chainsOf} && made < ${plan.grid.tasks}; c++) {
    const chain = [];
    for (let t = 0; t < ${GRID_CHAIN} && made < ${plan.grid.tasks}; t++, made++) chain.push(d.task("group_" + String(c).padStart(3, "0") + "_task_" + String(t).padStart(2, "0"), () => t));
    d.chain(...chain);
  }
});
`;
  }
  return files;
}

/**
 * Seeds the database at `url` (which `store` also opens: the DAG processor writes through it). The
 * bulk statements go through a connection of their own without the store's 15 s statement limit;
 * on PGlite (`url` null) through `store`.
 */
export async function seedDatabase(store: Store, url: string | null, plan: SeedPlan, log: (m: string) => void): Promise<Seeded> {
  if (plan.tasksPerDag < 5) throw new Error("tasksPerDag must be ≥ 5");
  const t0 = performance.now();
  const folder = writeDagsFolder(dagFiles(plan));
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), "updraft-bench-cache-"));
  const processor = new DagProcessor(store, { dagsFolder: folder, cacheDir, importTimeoutMs: 120_000, logger: createLogger("warn", "bench-seed"), watch: false });
  try {
    await processor.start();
  } finally {
    await processor.close();
    fs.rmSync(folder, { recursive: true, force: true });
    fs.rmSync(cacheDir, { recursive: true, force: true });
  }
  const dagIds = (await store.db.selectFrom("dags").select("dag_id").where("latest_version_id", "is not", null).orderBy("dag_id").execute()).map((d) => d.dag_id);
  const expected = plan.dags + (plan.grid ? 1 : 0);
  if (dagIds.length !== expected) {
    const errors = await store.db.selectFrom("import_errors").select(["filename", "stack_trace"]).execute();
    throw new Error(`seeding: ${dagIds.length} of ${expected} DAGs loaded: ${JSON.stringify(errors).slice(0, 2000)}`);
  }
  const t1 = performance.now();
  log(`seed: ${dagIds.length} DAGs parsed in ${((t1 - t0) / 1000).toFixed(1)} s`);

  const bulk = url ? await openStore({ databaseUrl: url, applicationName: "updraft-bench-seed", queryTimeoutMs: 30 * 60_000, poolSize: 1 }) : store;
  try {
    await insertRows(bulk, plan);
    log(`seed: rows inserted in ${((performance.now() - t1) / 1000).toFixed(1)} s`);
    // Bulk-loaded tables have no visibility map yet (autovacuum would set it within minutes on a
    // real server): without it index-only scans read the heap, which no steady-state database does.
    await sql`vacuum (analyze) dags, dag_versions, dag_runs, task_instances, task_instance_tries`.execute(bulk.db);
  } finally {
    if (bulk !== store) await bulk.close();
  }
  const t3 = performance.now();
  const count = async (table: "dags" | "dag_runs" | "task_instances" | "task_instance_tries") =>
    Number((await store.db.selectFrom(table).select(sql<string>`count(*)`.as("n")).executeTakeFirstOrThrow()).n);
  const counts = { dags: await count("dags"), runs: await count("dag_runs"), tis: await count("task_instances"), tries: await count("task_instance_tries") };
  log(`seed: inserted and vacuumed in ${((t3 - t1) / 1000).toFixed(1)} s; ${JSON.stringify(counts)}`);
  return {
    dagIds: dagIds.filter((d) => d !== GRID_DAG_ID),
    gridDagId: plan.grid ? GRID_DAG_ID : null,
    counts,
    seconds: { parse: (t1 - t0) / 1000, insertAndVacuum: (t3 - t1) / 1000 },
  };
}

async function insertRows(store: Store, plan: SeedPlan): Promise<void> {
  await store.db.transaction().execute(async (tx) => {
    await sql`update dags set is_paused = true where dag_id like ${DAG_PREFIX + "%"} and right(dag_id, 1) = '7'`.execute(tx);
    // Runs: daily from 2024-01-01; the newest ones are the last `runs` days. h is a stable
    // pseudo-random 0–99 per run.
    const runsOf = (dagFilter: ReturnType<typeof sql>, runs: number) => sql`
      insert into dag_runs (dag_id, run_id, dag_version_id, run_type, triggered_by, state, logical_date,
                            data_interval_start, data_interval_end, run_after, queued_at, start_date, end_date, conf)
      select d.dag_id,
             (case when g.n % 10 = 0 then 'manual__' else 'scheduled__' end) || to_char(x.ld at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"'),
             d.latest_version_id,
             case when g.n % 10 = 0 then 'manual' else 'scheduled' end,
             case when g.n % 10 = 0 then 'rest_api' else 'timetable' end,
             case when g.n = ${runs} and x.dag_no % 4 = 0 then 'running'
                  when x.h < 8 then 'failed' else 'success' end,
             x.ld, x.ld, x.ld + interval '1 day', x.ld + interval '1 day',
             x.ld + interval '1 day', x.ld + interval '1 day 1 second',
             case when g.n = ${runs} and x.dag_no % 4 = 0 then null else x.ld + interval '1 day 1 second' + (x.h + 30) * interval '1 minute' end,
             '{}'::jsonb
        from dags d
       cross join generate_series(1, ${runs}) g(n)
       cross join lateral (select timestamptz '2024-01-01T00:00:00Z' + (g.n - 1) * interval '1 day' as ld,
                                  abs(hashtext(d.dag_id || '/' || g.n)) % 100 as h,
                                  coalesce(nullif(regexp_replace(d.dag_id, '\\D', '', 'g'), '')::int, 0) as dag_no) x
       where ${dagFilter}`;
    await runsOf(sql`d.dag_id like ${DAG_PREFIX + "%"}`, plan.runsPerDag).execute(tx);
    if (plan.grid) await runsOf(sql`d.dag_id = ${GRID_DAG_ID}`, plan.grid.runs).execute(tx);

    // TIs: one per task of the run's version. In a failed run the task at `fail` failed and every
    // later task (by position) is upstream_failed; in a running run the first half succeeded,
    // the next three run, the rest wait (state NULL).
    // The tasks of each version, unpacked once: a 5,000-task structure is megabytes of jsonb,
    // which read per TI would be detoasted 125,000 times.
    await sql`
      create temporary table seed_tasks on commit drop as
      select v.id as version_id, t.ord::int as ord, count(*) over (partition by v.id)::int as n,
             t.task->>'taskId' as task_id, t.task->>'operator' as operator, t.task->>'pool' as pool,
             (t.task->>'poolSlots')::int as pool_slots, t.task->>'queue' as queue,
             (t.task->>'effectivePriority')::int as priority, (t.task->>'retries')::int as retries
        from dag_versions v
       cross join lateral jsonb_array_elements(v.structure->'tasks') with ordinality t(task, ord)`.execute(tx);
    await sql`
      insert into task_instances (run_pk, dag_id, run_id, task_id, map_index, state, try_number, max_tries, dag_version_id,
                                  operator, pool, pool_slots, queue, priority_weight, hostname, worker_id, pid,
                                  scheduled_when, queued_when, start_date, end_date, duration, updated_at)
      select r.id, r.dag_id, r.run_id, t.task_id, -1, s.state,
             case when s.state in ('success', 'failed') then 1 + (s.h % 20 = 0)::int when s.state = 'running' then 1 else 0 end,
             t.retries, r.dag_version_id, t.operator, t.pool, t.pool_slots, t.queue, t.priority,
             case when s.started then 'bench-host' end, case when s.started then 'bench-host:' || (s.h % 4) end,
             case when s.started then 1000 + s.h end,
             case when s.started then s.start - interval '2 seconds' end,
             case when s.started then s.start - interval '1 second' end,
             case when s.started then s.start end,
             case when s.state in ('success', 'failed') then s.start + s.dur * interval '1 second' end,
             case when s.state in ('success', 'failed') then s.dur end,
             coalesce(r.end_date, r.start_date)
        from dag_runs r
        join seed_tasks t on t.version_id = r.dag_version_id
       cross join lateral (select abs(hashtext(r.run_id || '/' || r.dag_id)) % t.n + 1 as fail,
                                  abs(hashtext(r.run_id || t.task_id)) % 100 as h) k
       cross join lateral (select
             case r.state
               when 'success' then 'success'
               when 'failed' then case when t.ord < k.fail then 'success' when t.ord = k.fail then 'failed' else 'upstream_failed' end
               else case when t.ord <= t.n / 2 then 'success' when t.ord <= t.n / 2 + 3 then 'running' else null end
             end as state) st
       cross join lateral (select st.state, k.h,
             st.state in ('success', 'failed', 'running') as started,
             r.start_date + (t.ord * 2) * interval '1 second' as start,
             (k.h + 1) / 10.0 as dur) s`.execute(tx);

    // The try history: every finished try, the earlier one of a retried TI as up_for_retry.
    await sql`
      insert into task_instance_tries (ti_id, try_number, state, worker_id, hostname, start_date, end_date, duration, error)
      select ti.id, g.n, case when g.n < ti.try_number then 'up_for_retry' else ti.state end, ti.worker_id, ti.hostname,
             ti.start_date, ti.end_date, ti.duration,
             case when g.n < ti.try_number or ti.state = 'failed' then 'Error: benchmark failure' end
        from task_instances ti
       cross join generate_series(1, ti.try_number) g(n)
       where ti.state in ('success', 'failed')`.execute(tx);

    await sql`
      update dag_runs r set unfinished_tis = u.n
        from (select run_pk, count(*)::int as n from task_instances
               where state is null or state not in ('success', 'failed', 'skipped', 'upstream_failed', 'removed') group by run_pk) u
       where u.run_pk = r.id`.execute(tx);
  });
}
