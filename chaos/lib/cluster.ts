// The topology of a distributed deployment, started by a chaos scenario itself: a private
// PostgreSQL (test/helpers/privatePostgres.ts — never the shared server), and real `updraft
// scheduler` / `updraft worker` / `updraft web` child processes (bin/updraft.js) that the
// scenario can kill -9, SIGSTOP and restart. `stop()` ends every process and the server.
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { openStore, type Store } from "../../engine/store/db.js";
import { migrate } from "../../engine/store/migrate.js";
import { startPrivatePostgres, type PrivatePostgres } from "../../test/helpers/privatePostgres.js";

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");
const CLI = path.join(ROOT, "bin", "updraft.js");

export const QUICK = process.env.CHAOS_QUICK === "1";

/** Timings shortened so that a lost worker is noticed in seconds (the defaults are 5 s / 30 s). */
export const FAST_ENV = {
  UPDRAFT_HEARTBEAT_INTERVAL_MS: "300",
  UPDRAFT_HEARTBEAT_TIMEOUT_MS: "2000",
  UPDRAFT_POLL_INTERVAL_MS: "300",
  UPDRAFT_KILL_GRACE_MS: "300",
  UPDRAFT_LOG_LEVEL: "warn",
};

export interface Proc {
  name: string;
  child: ChildProcess;
  /** Everything it wrote to stderr/stdout so far. */
  output(): string;
  exited: Promise<number | string | null>;
}

export interface Cluster {
  pg: PrivatePostgres;
  store: Store;
  dagsFolder: string;
  start(kind: "scheduler" | "worker" | "web", opts?: { env?: Record<string, string>; args?: string[]; name?: string }): Proc;
  procs: Proc[];
  stop(): Promise<void>;
}

/** A DAGs folder with these files, a private server with migrations applied, no process yet. */
export async function startCluster(dags: Record<string, string>, baseEnv: Record<string, string> = {}): Promise<Cluster> {
  const dagsFolder = fs.mkdtempSync(path.join(os.tmpdir(), "updraft-chaos-dags-"));
  for (const [name, source] of Object.entries(dags)) fs.writeFileSync(path.join(dagsFolder, name), source);
  const pg = await startPrivatePostgres();
  let store: Store;
  try {
    store = await openStore({ databaseUrl: pg.url, applicationName: "updraft-chaos", connectTimeoutMs: 2_000 });
    await migrate(store);
  } catch (err) {
    pg.destroy();
    throw err;
  }
  const homes: string[] = [];
  const procs: Proc[] = [];
  let counter = 0;
  return {
    pg,
    store,
    dagsFolder,
    procs,
    start(kind, opts = {}) {
      const home = fs.mkdtempSync(path.join(os.tmpdir(), "updraft-chaos-home-"));
      homes.push(home);
      const child = spawn(process.execPath, [CLI, kind, ...(opts.args ?? [])], {
        env: { ...process.env, DATABASE_URL: pg.url, UPDRAFT_HOME: home, UPDRAFT_DAGS_FOLDER: dagsFolder, UPDRAFT_SECRET_KEY: "chaos-secret-key-0123456789", ...FAST_ENV, ...baseEnv, ...opts.env },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      const keep = (b: Buffer) => {
        out += b.toString();
        if (out.length > 1_000_000) out = out.slice(-500_000);
      };
      child.stdout!.on("data", keep);
      child.stderr!.on("data", keep);
      const exited = new Promise<number | string | null>((resolve) => child.once("exit", (code, signal) => resolve(signal ?? code)));
      const proc: Proc = { name: opts.name ?? `${kind}-${++counter}`, child, output: () => out, exited };
      procs.push(proc);
      return proc;
    },
    async stop() {
      await Promise.all(procs.map((p) => stopProc(p)));
      await store.close().catch(() => {});
      pg.destroy();
      for (const dir of [dagsFolder, ...homes]) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function alive(p: Proc): boolean {
  return p.child.exitCode === null && p.child.signalCode === null;
}

/** SIGTERM (after SIGCONT, in case it was stopped), then SIGKILL after 5 s. */
export async function stopProc(p: Proc): Promise<void> {
  if (!alive(p)) return;
  p.child.kill("SIGCONT");
  p.child.kill("SIGTERM");
  const timer = setTimeout(() => p.child.kill("SIGKILL"), 5_000);
  await p.exited;
  clearTimeout(timer);
}

export async function killProc(p: Proc): Promise<void> {
  if (!alive(p)) return;
  p.child.kill("SIGKILL");
  await p.exited;
}

/** Polls `check` until it returns a value, or throws after `timeoutMs` naming `what`. */
export async function waitFor<T>(what: string, check: () => Promise<T | null | undefined | false>, timeoutMs = 30_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => null);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** The worker_id prefix of a worker process: `${hostname}:${pid}:`. */
export function workerIdPrefix(p: Proc): string {
  return `${os.hostname()}:${p.child.pid}:`;
}

export function percentile(values: number[], p: number): number {
  if (!values.length) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}
