// scheduler scaling (issue 9 scenario 4): the scheduling CPU spent per TI for DAGs of 100, 1,000
// and 10,000 no-op tasks — it must not grow with the DAG (no rescans): per-TI cost at 10,000 over
// per-TI cost at 100 ≤ 1.5 — and for a run of 10,000 mapped TIs (d.map).
//
// "Scheduling CPU" of a run, from just before createRun to the run's end seen through LISTEN:
// - the CPU time (user + system, process.cpuUsage) of the bench process, which hosts the
//   scheduler and the worker's main loop (claims, hand-offs, finishes, IPC with its runners) —
//   and, on PGlite, the database itself. The task runners are child processes and are excluded:
//   what a task's own code costs is not scheduling;
// - on PostgreSQL, plus the CPU time of the server backends serving the bench database (utime +
//   stime in /proc/<pid>/stat, the server being on this machine), read for every backend of the
//   database before and after the run; a backend that opened during the run counts whole, one
//   that closed during it is lost (the pool keeps its connections while they are busy).
// The DAG: layers of width w = ⌈√N⌉; task k of layer L depends on tasks k and (k+1) mod w of
// layer L−1, so every task past the first layer has two upstream tasks (the general, fan-in
// path) and two downstream ones, and at most about 2w TIs are queued at once.
// The mapped run: a root returning [0 … N−1] and a d.map over it (N TIs from one task).
import fs from "node:fs";
import pg from "pg";
import { loadConfig } from "../../engine/config.js";
import type { Store } from "../../engine/store/db.js";
import { cpuMicros } from "../lib/proc.js";
import { summarize } from "../lib/stats.js";
import type { BenchContext, Measure, Row, Scenario, ScenarioResult } from "../lib/types.js";
import { startBenchEngine, writeDagsFolder, type BenchEngine } from "../lib/updraft.js";

const layeredDag = (id: string, n: number) => `
import { dag } from "updraft";
export default dag({ id: "${id}", schedule: null, start: "2024-01-01", maxActiveTasks: ${n} }, (d) => {
  const n = ${n};
  const w = Math.ceil(Math.sqrt(n));
  const tasks = Array.from({ length: n }, (_, k) => d.task("t" + k, () => {}));
  for (let k = w; k < n; k++) {
    const layerStart = (Math.floor(k / w) - 1) * w;
    const pos = k % w;
    d.chain(tasks[layerStart + pos]!, tasks[k]!);
    d.chain(tasks[layerStart + ((pos + 1) % w)]!, tasks[k]!);
  }
});
`;

const mappedDag = (id: string, n: number) => `
import { dag } from "updraft";
export default dag({ id: "${id}", schedule: null, start: "2024-01-01", maxActiveTasks: ${n + 1}, maxMapLength: ${n} }, (d) => {
  const items = d.task("items", () => Array.from({ length: ${n} }, (_, i) => i));
  d.map("each", items, () => {});
});
`;

const dagId = (n: number) => `bench_scale_${n}`;
const mappedId = (n: number) => `bench_scale_mapped_${n}`;

/** CPU seconds → µs of the server backends of one database, through a connection of their own. */
class BackendCpu {
  private constructor(private readonly client: pg.Client) {}

  static async open(url: string): Promise<BackendCpu> {
    const client = new pg.Client({ connectionString: url, application_name: "updraft-bench-monitor" });
    client.on("error", () => {});
    await client.connect();
    return new BackendCpu(client);
  }

  /** pid → CPU µs so far, for every backend of this database but the monitor's own. */
  async snapshot(): Promise<Map<number, number>> {
    const { rows } = await this.client.query<{ pid: number }>("select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()");
    const cpu = new Map<number, number>();
    for (const { pid } of rows) {
      const us = cpuMicros(pid);
      if (us !== null) cpu.set(pid, us); // else ended since the query
    }
    return cpu;
  }

  static delta(before: Map<number, number>, after: Map<number, number>): number {
    let us = 0;
    for (const [pid, v] of after) us += v - (before.get(pid) ?? 0);
    return us;
  }

  /** Whether /proc shows the server's processes (same machine, readable). */
  async readable(): Promise<boolean> {
    const { rows } = await this.client.query<{ pid: number }>("select pg_backend_pid() as pid");
    return cpuMicros(rows[0]!.pid) !== null;
  }

  close(): Promise<void> {
    return this.client.end();
  }
}

interface Sample {
  tis: number;
  wallMs: number;
  /** Bench process CPU per TI, µs. */
  processUs: number;
  /** Database backends' CPU per TI, µs (PostgreSQL only). */
  databaseUs: number | null;
}

async function measureRun(engine: BenchEngine, store: Store, monitor: BackendCpu | null, dag: string, tis: number): Promise<Sample> {
  const db0 = monitor ? await monitor.snapshot() : null;
  const cpu0 = process.cpuUsage();
  const run = await engine.trigger(dag, 900_000);
  const cpu = process.cpuUsage(cpu0);
  const db1 = monitor ? await monitor.snapshot() : null;
  if (run.state !== "success") throw new Error(`scaling: run ${run.runPk} of ${dag} ended ${run.state}`);
  const done = await store.db.selectFrom("task_instances").select((eb) => eb.fn.countAll<string>().as("n")).where("run_pk", "=", run.runPk).where("state", "=", "success").executeTakeFirstOrThrow();
  if (Number(done.n) !== tis) throw new Error(`scaling: ${done.n} of ${tis} TIs of ${dag} succeeded`);
  return { tis, wallMs: run.ms, processUs: (cpu.user + cpu.system) / tis, databaseUs: db0 && db1 ? BackendCpu.delta(db0, db1) / tis : null };
}

const total = (s: Sample) => s.processUs + (s.databaseUs ?? 0);

function perTi(samples: Sample[]): Measure {
  const s = summarize(samples.map(total));
  return { value: s.p50, unit: "µs", stat: "median per TI", spread: { label: "min–max", low: s.min, high: s.max }, samples: s.n };
}

interface Plan {
  sizes: { n: number; reps: number }[];
  /** Mapped TIs of the mapped run; null leaves it out. */
  mapped: number | null;
}

export const scaling: Scenario = {
  name: "scaling",
  title: "scheduler scaling: scheduling CPU per TI for DAGs of 100 … 10,000 tasks, and mapped TIs",
  async run(ctx: BenchContext): Promise<ScenarioResult> {
    // The quick form stops at 300 tasks (and 300 mapped TIs): CI checks the code paths, not the curve.
    const plan: Plan = ctx.quick
      ? { sizes: [{ n: 100, reps: 2 }, { n: 300, reps: 1 }], mapped: 300 }
      : { sizes: [{ n: 100, reps: 5 }, { n: 1_000, reps: 2 }, { n: 10_000, reps: 1 }], mapped: 10_000 };
    const smallest = plan.sizes[0]!.n;
    const largest = plan.sizes[plan.sizes.length - 1]!.n;
    const rows: Row[] = [];
    const raw: Record<string, unknown> = { plan };
    const notes = [
      `scaling: scheduling CPU per TI = (bench process CPU, hosting scheduler + worker main loop, and on PGlite the database itself; plus, on PostgreSQL, the CPU of the server backends of the bench database from /proc/<pid>/stat) ÷ TIs, ` +
        `for one run from createRun to its end seen through LISTEN; task runners (child processes) excluded. DAG: layers of width ⌈√N⌉, each task after the first layer downstream of 2 tasks of the layer before. ` +
        `One warm-up run of ${smallest} tasks, then ${plan.sizes.map((s) => `${s.reps} × ${s.n.toLocaleString("en")}`).join(", ")}${plan.mapped ? ` and 1 × ${plan.mapped.toLocaleString("en")} mapped TIs` : ""}; median (min–max) over runs; one worker, default settings (${loadConfig(process.env).workerSlots} slots).`,
    ];

    const files: Record<string, string> = {};
    for (const { n } of plan.sizes) files[`scale_${n}.ts`] = layeredDag(dagId(n), n);
    if (plan.mapped) files[`scale_mapped.ts`] = mappedDag(mappedId(plan.mapped), plan.mapped);
    const ids = [...plan.sizes.map((s) => dagId(s.n)), ...(plan.mapped ? [mappedId(plan.mapped)] : [])];

    const measureOn = async (database: "PGlite" | "PostgreSQL", store: Store, url: string | null) => {
      const folder = writeDagsFolder(files);
      const monitor = url ? await BackendCpu.open(url) : null;
      try {
        if (monitor && !(await monitor.readable())) throw new Error("scaling: the PostgreSQL server's processes are not readable in /proc (is it on another machine?)");
        const engine = await startBenchEngine(store, folder, ids);
        try {
          await measureRun(engine, store, monitor, dagId(smallest), smallest);
          const bySize = new Map<number, Sample[]>();
          for (const { n, reps } of plan.sizes) {
            const samples: Sample[] = [];
            for (let i = 0; i < reps; i++) {
              const s = await measureRun(engine, store, monitor, dagId(n), n);
              ctx.log(`scaling ${database} ${n}: ${total(s).toFixed(0)} µs/TI (process ${s.processUs.toFixed(0)}, database ${s.databaseUs?.toFixed(0) ?? "—"}), run ${(s.wallMs / 1000).toFixed(1)} s`);
              samples.push(s);
            }
            bySize.set(n, samples);
            rows.push({ scenario: `scheduling CPU per TI, DAG of ${n.toLocaleString("en")} tasks`, database, ours: perTi(samples) });
          }
          const small = perTi(bySize.get(smallest)!);
          const large = perTi(bySize.get(largest)!);
          rows.push({
            scenario: `scheduling CPU per TI, ${largest.toLocaleString("en")} tasks vs ${smallest}`,
            database,
            ours: large,
            peer: { name: `same at ${smallest} tasks`, ...small },
            targets: ctx.quick ? [] : [{ kind: "ratioMax", value: 1.5 }],
          });
          const split = (samples: Sample[]) => {
            const p = summarize(samples.map((s) => s.processUs)).p50;
            const d = samples[0]!.databaseUs === null ? null : summarize(samples.map((s) => s.databaseUs!)).p50;
            return `${p.toFixed(0)} µs bench process${d === null ? "" : ` + ${d.toFixed(0)} µs PostgreSQL`}`;
          };
          notes.push(
            `scaling on ${database}, median per TI by part: ${plan.sizes.map(({ n }) => `${n.toLocaleString("en")} tasks ${split(bySize.get(n)!)}`).join("; ")}; ` +
              `wall time of a run: ${plan.sizes.map(({ n }) => `${n.toLocaleString("en")} → ${(summarize(bySize.get(n)!.map((s) => s.wallMs)).p50 / 1000).toFixed(1)} s`).join(", ")}.`,
          );
          let mapped: Sample | null = null;
          if (plan.mapped) {
            mapped = await measureRun(engine, store, monitor, mappedId(plan.mapped), plan.mapped + 1);
            ctx.log(`scaling ${database} mapped ${plan.mapped}: ${total(mapped).toFixed(0)} µs/TI, run ${(mapped.wallMs / 1000).toFixed(1)} s`);
            rows.push({ scenario: `scheduling CPU per TI, one task mapped over ${plan.mapped.toLocaleString("en")} items`, database, ours: perTi([mapped]) });
            notes.push(`scaling on ${database}, mapped run (${plan.mapped.toLocaleString("en")} mapped TIs + its source): ${split([mapped])}; wall time ${(mapped.wallMs / 1000).toFixed(1)} s.`);
          }
          raw[database] = { bySize: Object.fromEntries(bySize), mapped };
        } finally {
          await engine.stop();
        }
      } finally {
        await monitor?.close();
        fs.rmSync(folder, { recursive: true, force: true });
      }
    };

    const pglite = await ctx.databases.freshPglite();
    try {
      await measureOn("PGlite", pglite, null);
    } finally {
      await pglite.close();
    }
    if (!ctx.databases.postgres) {
      notes.push("scaling: PostgreSQL rows skipped: no server at DATABASE_URL.");
      return { rows, notes, raw };
    }
    const postgres = await ctx.databases.freshPostgresStore();
    try {
      await measureOn("PostgreSQL", postgres.store, postgres.url);
    } finally {
      await postgres.drop();
    }
    return { rows, notes, raw };
  },
};
