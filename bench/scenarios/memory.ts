// Memory (issue 9 scenario 7): the resident memory of an idle `updraft start` — the command a user
// runs — with the example DAGs (the repository's dags/) and with 1,000 generated DAG files.
//
// `npm start`'s command (package.json: `[VAR=value …] node <flags> bin/updraft.js start`) is
// spawned as a user would run it: standalone (embedded PGlite, no DATABASE_URL), a temporary
// UPDRAFT_HOME, a free UPDRAFT_PORT, log level warn. It is ready when
// GET /api/v2/monitor/health answers and GET /api/v2/dags counts every expected DAG (parsed and
// recorded); then it idles, and VmRSS (/proc/<pid>/status: resident pages, shared ones included)
// is sampled once a second — of the main process (scheduler, DAG processor, worker, web server
// and the PGlite database all live in it), and of its whole process tree (plus its children: the
// DAG importer child and any task runners). The figure is the median of the samples; the note
// says which runs and tasks existed at the end, since a DAG that starts running is not idle.
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { signToken } from "../../web/server/auth.js";
import { tieToBench } from "../lib/children.js";
import { processTree } from "../lib/proc.js";
import { summarize } from "../lib/stats.js";
import type { Row, Scenario, ScenarioResult } from "../lib/types.js";
import { ensureUiBuilt, REPO } from "../lib/ui.js";

const SECRET_KEY = "bench-memory-secret-key-0123456789";
const TARGET_MB = 200;
const GENERATED = 1_000;

/** package.json's `start` script: what `npm start` runs. */
function npmStartScript(): string {
  return (JSON.parse(fs.readFileSync(path.join(REPO, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts.start!;
}

/**
 * `npm start`'s command: its leading VAR=value words as environment, then node's arguments (its
 * flags included, bin/v8Flags.js says why), to be run with this node binary and without npm's own
 * process in between.
 */
function npmStartCommand(): { env: Record<string, string>; args: string[] } {
  const script = npmStartScript();
  const words = script.split(/\s+/);
  const node = words.indexOf("node");
  if (node < 0 || !words.includes("bin/updraft.js") || !words.slice(0, node).every((w) => /^[A-Z_]+=/.test(w)))
    throw new Error(`package.json's start script is not \`[VAR=value …] node … bin/updraft.js start\`: ${script}`);
  const env = Object.fromEntries(words.slice(0, node).map((w) => [w.slice(0, w.indexOf("=")), w.slice(w.indexOf("=") + 1)]));
  return { env, args: words.slice(node + 1).map((a) => (a === "bin/updraft.js" ? path.join(REPO, a) : a)) };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function vmRssKb(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0; // exited between listing and reading
  }
}

/** A process's command line, shortened to what tells processes apart. */
function commandOf(pid: number): string {
  try {
    const argv = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
    return argv.map((a) => (a.includes("/") ? path.basename(a) : a)).join(" ").slice(0, 60);
  } catch {
    return "?";
  }
}

/**
 * DAG files of 10 tasks each (a fan-out and fan-in). Unscheduled: Updraft does not pause DAGs at
 * creation (engine/config.ts has no such option), so a scheduled DAG would start a run at once
 * and the figure would not be an idle one.
 */
function generatedDags(n: number): Record<string, string> {
  const files: Record<string, string> = {};
  for (let i = 0; i < n; i++) {
    const id = `gen_${String(i).padStart(4, "0")}`;
    files[`${id}.ts`] = `import { dag } from "updraft";
export default dag({ id: "${id}", schedule: null, start: "2024-01-01", tags: ["generated"] }, (d) => {
  const first = d.task("extract", () => ${i});
  const middle = Array.from({ length: 8 }, (_, k) => d.task("transform_" + k, () => k));
  const last = d.task("load", () => 1);
  first.before(middle);
  last.after(middle);
});
`;
  }
  return files;
}

interface Measured {
  mainMb: number[];
  treeMb: number[];
  processes: number;
  readyS: number;
  importErrors: number;
  runs: { dag_id: string; state: string; run_type: string }[];
  totalRuns: number;
  /** The tree at the last sample: each process's command (shortened) and RSS. */
  members: { cmd: string; mb: number }[];
  tis: Record<string, number>;
}

async function measureStart(home: string, dagsFolder: string, expectFiles: number, idleS: number, log: (m: string) => void, databaseUrl?: string): Promise<Measured> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, UPDRAFT_HOME: home, UPDRAFT_PORT: String(port), UPDRAFT_HOST: "127.0.0.1", UPDRAFT_DAGS_FOLDER: dagsFolder, UPDRAFT_SECRET_KEY: SECRET_KEY, UPDRAFT_LOG_LEVEL: "warn" };
  // Standalone (embedded PGlite, as `updraft start` runs out of the box) unless a database is given.
  if (databaseUrl) env.DATABASE_URL = databaseUrl;
  else delete env.DATABASE_URL;
  const started = performance.now();
  const spawnedAt = Date.now() - 1_000; // the database's clock may differ by a few ms
  const command = npmStartCommand();
  const child: ChildProcess = tieToBench(spawn(process.execPath, command.args, { cwd: home, env: { ...env, ...command.env }, stdio: ["ignore", "ignore", "pipe"] }));
  let stderr = "";
  child.stderr!.on("data", (b: Buffer) => void (stderr = (stderr + b.toString()).slice(-4000)));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const base = `http://127.0.0.1:${port}`;
  const token = await signToken({ username: "bench", role: "viewer" }, { secretKey: SECRET_KEY, tokenTtlMs: 3_600_000 });
  const get = async (p: string) => {
    const res = await fetch(`${base}${p}`, { headers: { Authorization: `Bearer ${token}` } });
    if (res.status !== 200) throw new Error(`GET ${p}: ${res.status}`);
    return (await res.json()) as Record<string, unknown>;
  };
  try {
    // Ready: health answers and every DAG is recorded (polled: this is outside any timed figure).
    const deadline = Date.now() + 240_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`updraft start exited ${child.exitCode}: ${stderr}`);
      if (Date.now() > deadline) throw new Error(`updraft start not ready within 240 s: ${stderr}`);
      // A file that fails to import counts as parsed: it is an import error, not a DAG.
      // On a restart the DAGs are already recorded: parsed means parsed by this process (the
      // DAG processor re-records every file at start, setting last_parsed_time).
      const parsed = await get("/api/v2/monitor/health")
        .then(async () => {
          const oldest = await get("/api/v2/dags?limit=1&order_by=last_parsed_time");
          const first = (oldest.dags as { last_parsed_time: string | null }[])[0];
          if (first && Date.parse(first.last_parsed_time ?? "") < spawnedAt) return 0;
          return (oldest.total_entries as number) + ((await get("/api/v2/importErrors?limit=1")).total_entries as number);
        })
        .catch(() => null);
      if (parsed !== null && parsed >= expectFiles) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const readyS = (performance.now() - started) / 1000;
    log(`memory: ready after ${readyS.toFixed(1)} s; idling ${idleS} s`);
    // Settle (the first scheduler loops, the processor's last writes), then sample.
    await new Promise((r) => setTimeout(r, 3_000));
    const mainMb: number[] = [];
    const treeMb: number[] = [];
    let processes = 0;
    let members: Measured["members"] = [];
    for (let s = 0; s < idleS; s++) {
      await new Promise((r) => setTimeout(r, 1_000));
      const pids = processTree(child.pid!);
      processes = Math.max(processes, pids.length);
      mainMb.push(vmRssKb(child.pid!) / 1024);
      treeMb.push(pids.reduce((sum, p) => sum + vmRssKb(p), 0) / 1024);
      members = pids.map((p) => ({ cmd: commandOf(p), mb: Math.round(vmRssKb(p) / 1024) }));
    }
    const runPage = await get("/api/v2/dags/~/dagRuns?limit=100");
    const totalRuns = runPage.total_entries as number;
    const runs = (runPage.dag_runs as { dag_id: string; state: string; run_type: string }[]).map((r) => ({ dag_id: r.dag_id, state: r.state, run_type: r.run_type }));
    const importErrors = (await get("/api/v2/importErrors?limit=1")).total_entries as number;
    const tis: Record<string, number> = {};
    for (const ti of (await get("/api/v2/dags/~/dagRuns/~/taskInstances?limit=100")).task_instances as { state: string | null }[]) tis[ti.state ?? "none"] = (tis[ti.state ?? "none"] ?? 0) + 1;
    return { mainMb, treeMb, processes, readyS, importErrors, runs, totalRuns, members, tis };
  } finally {
    child.kill("SIGTERM");
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r("timeout"), 15_000))]);
    if (code === "timeout") child.kill("SIGKILL");
  }
}

export const memory: Scenario = {
  name: "memory",
  title: "memory: RSS of an idle `updraft start`",
  async run(ctx): Promise<ScenarioResult> {
    ensureUiBuilt(ctx.log);
    // The quick form (CI: does it run?) idles 2 s: CI took 15 min 22 s on a slow machine, quick benchmark 142 s.
    const idleS = ctx.quick ? 2 : 15;
    const rows: Row[] = [];
    const notes: string[] = [];
    const raw: Record<string, unknown> = {};
    const record = (label: string, files: number, m: Measured, database: "PGlite" | "PostgreSQL" = "PGlite") => {
      raw[label] = m;
      const main = summarize(m.mainMb);
      const all = summarize(m.treeMb);
      ctx.log(`memory: ${label}: main ${main.p50.toFixed(0)} MB, tree ${all.p50.toFixed(0)} MB (${m.processes} processes)`);
      rows.push({
        scenario: `memory: updraft start idle, ${label} — main process RSS`,
        database,
        ours: { value: main.p50, unit: "MB", stat: "median", spread: { label: "min–max", low: main.min, high: main.max }, samples: main.n },
        targets: [{ kind: "max", value: TARGET_MB, unit: "MB" }],
      });
      rows.push({
        scenario: `memory: updraft start idle, ${label} — process tree RSS (${m.processes} processes)`,
        database,
        ours: { value: all.p50, unit: "MB", stat: "median", spread: { label: "min–max", low: all.min, high: all.max }, samples: all.n },
      });
      const runStates: Record<string, number> = {};
      for (const r of m.runs) runStates[`${r.dag_id} ${r.run_type} ${r.state}`] = (runStates[`${r.dag_id} ${r.run_type} ${r.state}`] ?? 0) + 1;
      notes.push(
        `memory, ${label}: ready (health answers, all ${files} files recorded as DAGs or import errors — ${m.importErrors} import errors) ${m.readyS.toFixed(1)} s after spawn; ` +
          `processes (RSS MB): ${m.members.map((x) => `${x.cmd} ${x.mb}`).join("; ")}; what existed at the end of the idle: ${m.runs.length ? `${m.totalRuns} runs (of the newest ${m.runs.length}: ${JSON.stringify(runStates)}; their newest 100 TIs by state ${JSON.stringify(m.tis)})` : "no runs"}.`,
      );
    };
    const cases: { label: string; folder: string; files: number; cleanup: boolean }[] = [];
    const examples = path.join(REPO, "dags");
    const exampleCount = fs.readdirSync(examples).filter((f) => /\.(ts|js|mts|mjs)$/.test(f)).length;
    cases.push({ label: `example DAGs (dags/, ${exampleCount} files)`, folder: examples, files: exampleCount, cleanup: false });
    // The short form (CI: does it run?) starts only the examples, first start and restart.
    if (!ctx.quick) {
      const folder = fs.mkdtempSync(path.join(os.tmpdir(), "updraft-bench-gen-"));
      for (const [name, source] of Object.entries(generatedDags(GENERATED))) fs.writeFileSync(path.join(folder, name), source);
      cases.push({ label: `${GENERATED.toLocaleString("en")} generated DAGs`, folder, files: GENERATED, cleanup: true });
    }
    try {
      for (const c of cases) {
        // The first start on a fresh UPDRAFT_HOME creates the PGlite database (initdb); a restart opens it.
        const home = fs.mkdtempSync(path.join(os.tmpdir(), "updraft-bench-home-"));
        try {
          for (const start of ["first start", "restart"] as const) {
            const m = await measureStart(home, c.folder, c.files, idleS, ctx.log);
            record(`${c.label}, ${start}`, c.files, m);
          }
        } finally {
          fs.rmSync(home, { recursive: true, force: true });
        }
      }
      // For comparison, the same generated DAGs with the database in PostgreSQL (DATABASE_URL): the
      // main process without the embedded database.
      if (ctx.databases.postgres && cases[1]) {
        const database = await ctx.databases.freshPostgres();
        const home = fs.mkdtempSync(path.join(os.tmpdir(), "updraft-bench-home-"));
        try {
          const c = cases[1]!;
          const m = await measureStart(home, c.folder, c.files, idleS, ctx.log, database.url);
          record(`${c.label}, PostgreSQL (DATABASE_URL), first start`, c.files, m, "PostgreSQL");
        } finally {
          fs.rmSync(home, { recursive: true, force: true });
          await database.drop();
        }
      }
    } finally {
      for (const c of cases) if (c.cleanup) fs.rmSync(c.folder, { recursive: true, force: true });
    }
    notes.unshift(
      `memory: \`${npmStartScript()}\` (npm start's command) spawned standalone (embedded PGlite, no DATABASE_URL — except the row marked PostgreSQL; temporary UPDRAFT_HOME; free UPDRAFT_PORT; log level warn; UI already built), ` +
        `ready when /api/v2/monitor/health answers and every DAG file is recorded (as DAGs, or as an import error); after 3 s settling, VmRSS sampled once a second for ${idleS} s; median (min–max). ` +
        `"Main process" is the one process holding the scheduler, DAG processor, worker, web server and the PGlite database; "process tree" adds its children (the DAG importer, task runners). ` +
        `RSS counts shared pages in every process that maps them, so the tree figure overstates the tree's real use. ` +
        `Updraft does not pause DAGs at creation (engine/config.ts has no dags-are-paused-at-creation option), so the scheduled example DAGs start running on their own ` +
        `(the runs listed below: a catchup DAG is busy, not idle); the generated DAGs are unscheduled, so their figures are idle ones.`,
    );
    return { rows, notes, raw };
  },
};
