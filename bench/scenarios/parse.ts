// parse (issue 9 scenario 5): 1,000 generated DAG files of 10 tasks each, loaded cold by the DAG
// processor (scheduler/dagProcessor.ts, as the scheduler starts it: bundle each file with
// esbuild, import it in the importer child, record the version) — and one edited file until its
// new version is live.
//
// Cold: a fresh database (migrated, empty) and a fresh bundle cache directory per repetition, and
// a new DagProcessor (so a new importer process). Timed from processor.start() to the moment the
// last of the 1,000 DAGs was recorded — the processor's onChange callback, which it calls after a
// file's versions were committed — then checked in the `dags` table: every DAG there, with a
// latest version. The processor watches the folder (as `updraft start` does), but the watcher is
// set up after the files are processed, so its setup is not in the figure.
// Edit: on the last cold processor, still watching: one file rewritten with an eleventh task;
// timed from just before the write to the onChange callback for that DAG (the new version is
// committed then; checked afterwards: a new latest_version_id with the new task). The watcher is
// chokidar with the processor's 50 ms debounce.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createLogger } from "../../engine/logger.js";
import type { Store } from "../../engine/store/db.js";
import { DagProcessor } from "../../scheduler/dagProcessor.js";
import { summarize, wallClockMs } from "../lib/stats.js";
import type { BenchContext, Measure, Row, Scenario, ScenarioResult } from "../lib/types.js";

const TASKS = 10;

/** A DAG file as users write them: a chain of 10 tasks with a retry policy and a schedule. */
const dagFile = (i: number, extraTask: string | null) => `
import { dag } from "updraft";

export default dag({ id: "bench_parse_${i}", schedule: "@daily", start: "2024-01-01", tags: ["bench"] }, (d) => {
  const extract = d.task("extract", () => [1, 2, 3], { retries: 2 });
  const steps = Array.from({ length: ${TASKS - 2} }, (_, k) => d.task("step_" + k, () => k));
  const load = d.task("load", () => "done");
  d.chain(extract, steps[0]!);
  for (let k = 1; k < steps.length; k++) d.chain(steps[k - 1]!, steps[k]!);
  d.chain(steps[steps.length - 1]!, load);${extraTask ? `\n  d.chain(load, d.task("${extraTask}", () => null));` : ""}
});
`;

interface Loaded {
  processor: DagProcessor;
  coldMs: number;
  /** DAG id → wall clock of its latest onChange. */
  changed: Map<string, (at: number) => void>;
  cacheDir: string;
}

async function coldLoad(store: Store, folder: string, files: number): Promise<Loaded> {
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), "updraft-bench-parse-cache-"));
  const recorded = new Set<string>();
  const changed = new Map<string, (at: number) => void>();
  let allAt = 0;
  const processor = new DagProcessor(store, {
    dagsFolder: folder,
    cacheDir,
    importTimeoutMs: 30_000,
    logger: createLogger(process.env.UPDRAFT_BENCH_LOG_LEVEL ?? "warn", "updraft-bench"),
    watch: true,
    onChange: (dagIds) => {
      const at = wallClockMs();
      for (const id of dagIds) {
        recorded.add(id);
        changed.get(id)?.(at);
      }
      if (!allAt && recorded.size >= files) allAt = at;
    },
  });
  const startedAt = wallClockMs();
  await processor.start();
  if (!allAt) throw new Error(`parse: ${recorded.size} of ${files} DAG files were recorded`);
  const versioned = await store.db.selectFrom("dags").select((eb) => eb.fn.countAll<string>().as("n")).where("dag_id", "like", "bench_parse_%").where("latest_version_id", "is not", null).executeTakeFirstOrThrow();
  if (Number(versioned.n) !== files) throw new Error(`parse: ${versioned.n} of ${files} DAGs have a version`);
  return { processor, coldMs: allAt - startedAt, changed, cacheDir };
}

async function close(loaded: Loaded): Promise<void> {
  await loaded.processor.close();
  fs.rmSync(loaded.cacheDir, { recursive: true, force: true });
}

/** Rewrites DAG `i` with an extra task; resolves with write → new version recorded (ms), checked. */
async function editOnce(store: Store, loaded: Loaded, folder: string, i: number, rep: number): Promise<number> {
  const dagId = `bench_parse_${i}`;
  const before = await store.db.selectFrom("dags").select("latest_version_id").where("dag_id", "=", dagId).executeTakeFirstOrThrow();
  const extra = `edit_${rep}`;
  const recorded = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`parse: the edit of ${dagId} was not recorded within 30 s`)), 30_000);
    loaded.changed.set(dagId, (at) => {
      clearTimeout(timer);
      loaded.changed.delete(dagId);
      resolve(at);
    });
  });
  const writtenAt = wallClockMs();
  fs.writeFileSync(path.join(folder, `dag_${i}.ts`), dagFile(i, extra));
  const at = await recorded;
  const after = await store.db.selectFrom("dags").select("latest_version_id").where("dag_id", "=", dagId).executeTakeFirstOrThrow();
  const version = after.latest_version_id ? await store.db.selectFrom("dag_versions").selectAll().where("id", "=", after.latest_version_id).executeTakeFirst() : undefined;
  if (!version || after.latest_version_id === before.latest_version_id || !JSON.stringify(version).includes(extra)) {
    throw new Error(`parse: after the edit of ${dagId}, its latest version is not the edited one`);
  }
  return at - writtenAt;
}

const msMeasure = (samples: number[], unit: "ms" | "s"): Measure => {
  const k = unit === "s" ? 1 / 1000 : 1;
  const s = summarize(samples.map((x) => x * k));
  return { value: s.p50, unit, stat: "median", spread: { label: "min–max", low: s.min, high: s.max }, samples: s.n };
};

export const parse: Scenario = {
  name: "parse",
  title: "parse: 1,000 DAG files cold, and one edited file until live",
  async run(ctx: BenchContext): Promise<ScenarioResult> {
    const plan = ctx.quick ? { files: 100, cold: 1, edits: 3 } : { files: 1_000, cold: 2, edits: 10 };
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), "updraft-bench-parse-"));
    for (let i = 0; i < plan.files; i++) fs.writeFileSync(path.join(folder, `dag_${i}.ts`), dagFile(i, null));
    const rows: Row[] = [];
    const raw: Record<string, unknown> = { plan };
    const notes = [
      `parse: ${plan.files} generated DAG files × ${TASKS} tasks (a chain with a schedule and retries). Cold: fresh database and bundle cache, new DAG processor; processor start → the last DAG's version recorded (its onChange callback), ` +
        `checked in \`dags\`; ${plan.cold} repetition(s). Edit: the file rewritten with one more task → its new version recorded (onChange, after the commit; checked); ${plan.edits} edits of different files, median (min–max).`,
    ];

    const measureOn = async (database: "PGlite" | "PostgreSQL", fresh: () => Promise<{ store: Store; close(): Promise<void> }>) => {
      const cold: number[] = [];
      const edits: number[] = [];
      for (let rep = 0; rep < plan.cold; rep++) {
        const db = await fresh();
        try {
          const loaded = await coldLoad(db.store, folder, plan.files);
          try {
            cold.push(loaded.coldMs);
            ctx.log(`parse ${database}: ${plan.files} files cold in ${(loaded.coldMs / 1000).toFixed(2)} s`);
            if (rep === plan.cold - 1) {
              for (let e = 0; e < plan.edits; e++) {
                // Spread over the folder; each file is edited once, so every edit is a real change.
                const i = Math.floor(((e + 0.5) * plan.files) / plan.edits);
                edits.push(await editOnce(db.store, loaded, folder, i, e));
              }
            }
          } finally {
            await close(loaded);
          }
        } finally {
          await db.close();
        }
      }
      // The edited files back as they were, for the next database's cold load (the processor is closed).
      for (let e = 0; e < plan.edits; e++) {
        const i = Math.floor(((e + 0.5) * plan.files) / plan.edits);
        fs.writeFileSync(path.join(folder, `dag_${i}.ts`), dagFile(i, null));
      }
      raw[database] = { coldMs: cold, editMs: edits };
      ctx.log(`parse ${database}: edit → live median ${summarize(edits).p50.toFixed(0)} ms`);
      rows.push({ scenario: `parse: ${plan.files.toLocaleString("en")} DAG files × ${TASKS} tasks, cold`, database, ours: msMeasure(cold, "s"), targets: ctx.quick ? [] : [{ kind: "max", value: 5, unit: "s" }] });
      rows.push({ scenario: "parse: one edited file → new version live", database, ours: msMeasure(edits, "ms"), targets: [{ kind: "max", value: 1_000, unit: "ms" }] });
    };

    try {
      await measureOn("PGlite", async () => {
        const store = await ctx.databases.freshPglite();
        return { store, close: () => store.close() };
      });
      if (!ctx.databases.postgres) notes.push("parse: PostgreSQL rows skipped: no server at DATABASE_URL.");
      else {
        await measureOn("PostgreSQL", async () => {
          const db = await ctx.databases.freshPostgresStore();
          return { store: db.store, close: db.drop };
        });
      }
    } finally {
      fs.rmSync(folder, { recursive: true, force: true });
    }
    return { rows, notes, raw };
  },
};
