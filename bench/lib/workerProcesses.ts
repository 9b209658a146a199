// Worker processes for the throughput scenario: real `updraft worker` processes (bin/updraft.js,
// as an operator starts them) and graphile-worker processes (graphileWorkerChild.ts), both on a
// PostgreSQL database given by URL, started before anything is timed and stopped afterwards.
import { fork, spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { runMigrations } from "graphile-worker";
import type { Store } from "../../engine/store/db.js";
import { tieToBench } from "./children.js";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CLI = path.resolve(HERE, "../../bin/updraft.js");
const GRAPHILE_CHILD = path.join(HERE, "graphileWorkerChild.ts");
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;

export interface ProcessGroup {
  readonly pids: number[];
  /** Processes of the group that ended before stop() (a crash during a measurement). */
  readonly died: string[];
  stop(): Promise<void>;
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once("exit", () => resolve());
  });
}

async function stopChildren(children: ChildProcess[], ask: (c: ChildProcess) => void): Promise<void> {
  await Promise.all(
    children.map(async (c) => {
      if (c.exitCode !== null || c.signalCode !== null) return;
      const kill = setTimeout(() => c.kill("SIGKILL"), 10_000);
      ask(c);
      await exited(c);
      clearTimeout(kill);
    }),
  );
}

/**
 * `count` `updraft worker` processes with the default settings (UPDRAFT_* variables of the bench
 * still apply), each with a home of its own; resolves once all are registered in `workers`.
 */
export async function startUpdraftWorkers(store: Store, url: string, count: number): Promise<ProcessGroup> {
  const before = (await store.db.selectFrom("workers").select("worker_id").execute()).length;
  const homes: string[] = [];
  const children = Array.from({ length: count }, () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), "updraft-bench-worker-"));
    homes.push(home);
    const child = tieToBench(spawn(process.execPath, [CLI, "worker"], {
      env: { ...process.env, DATABASE_URL: url, UPDRAFT_HOME: home, UPDRAFT_LOG_LEVEL: process.env.UPDRAFT_BENCH_LOG_LEVEL ?? "warn" },
      // Their logs (pino, to stdout) at warn level, to our stderr: a worker that fails says why,
      // and the bench's stdout stays one markdown table.
      stdio: ["ignore", 2, 2],
    }));
    return child;
  });
  const died: string[] = [];
  let stopping = false;
  for (const c of children) c.once("exit", (code, signal) => !stopping && died.push(`updraft worker pid ${c.pid} exited (${signal ?? `code ${code}`})`));
  const stop = async () => {
    stopping = true;
    await stopChildren(children, (c) => c.kill("SIGTERM"));
    for (const h of homes) fs.rmSync(h, { recursive: true, force: true });
  };
  try {
    const deadline = Date.now() + 60_000;
    // Setup, not timed: a short poll until every worker has registered (its last start step).
    while ((await store.db.selectFrom("workers").select("worker_id").execute()).length < before + count) {
      const dead = children.find((c) => c.exitCode !== null);
      if (dead) throw new Error(`an updraft worker process exited with code ${dead.exitCode} while starting`);
      if (Date.now() > deadline) throw new Error(`${count} updraft worker processes did not register within 60 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { pids: children.map((c) => c.pid!), died, stop };
}

export interface GraphileGroup extends ProcessGroup {
  /** Resolves with the wall clock of the completion that brought the total (since `expect`) to `total`. */
  expect(total: number, timeoutMs: number): Promise<number>;
}

/** `count` graphile-worker processes running `noop` jobs at `concurrency` each; its schema installed first. */
export async function startGraphileWorkers(url: string, count: number, concurrency: number): Promise<GraphileGroup> {
  await runMigrations({ connectionString: url, logger: undefined });
  const completed = new Map<ChildProcess, number>();
  let waiter: { base: number; total: number; resolve(at: number): void } | null = null;
  const sum = () => [...completed.values()].reduce((s, n) => s + n, 0);
  const children = Array.from({ length: count }, () => {
    const child = tieToBench(fork(GRAPHILE_CHILD, [], {
      execArgv: ["--import", TSX_LOADER, "--no-warnings=ExperimentalWarning"],
      env: { ...process.env, BENCH_GRAPHILE_URL: url, BENCH_GRAPHILE_CONCURRENCY: String(concurrency) },
      stdio: ["ignore", "ignore", "inherit", "ipc"],
    }));
    completed.set(child, 0);
    child.on("message", (msg: { type: string; completed?: number; at?: number }) => {
      if (msg.type !== "completed") return;
      completed.set(child, msg.completed!);
      if (waiter && sum() - waiter.base >= waiter.total) {
        const w = waiter;
        waiter = null;
        w.resolve(msg.at!);
      }
    });
    return child;
  });
  const died: string[] = [];
  let stopping = false;
  for (const c of children) c.once("exit", (code, signal) => !stopping && died.push(`graphile-worker pid ${c.pid} exited (${signal ?? `code ${code}`})`));
  const stop = () => {
    stopping = true;
    return stopChildren(children, (c) => (c.connected ? c.send({ type: "stop" }) : c.kill("SIGTERM")));
  };
  try {
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((resolve, reject) => {
            c.on("message", (msg: { type: string }) => msg.type === "ready" && resolve());
            c.once("exit", (code) => reject(new Error(`a graphile-worker process exited with code ${code} while starting`)));
          }),
      ),
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    pids: children.map((c) => c.pid!),
    died,
    stop,
    expect(total, timeoutMs) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiter = null;
          reject(new Error(`graphile-worker: ${total} jobs did not complete within ${timeoutMs} ms (${sum() - base} did)`));
        }, timeoutMs);
        const base = sum();
        waiter = {
          base,
          total,
          resolve: (at) => {
            clearTimeout(timer);
            resolve(at);
          },
        };
      });
    },
  };
}
