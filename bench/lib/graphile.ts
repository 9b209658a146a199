// The peer: graphile-worker (a PostgreSQL job queue with LISTEN/NOTIFY and SKIP LOCKED), through
// its library API, in a fresh database of its own on the same PostgreSQL server. Quiet logger
// (warnings and errors only), so that per-job log lines cost it nothing we do not pay either.
import { Logger, run, type Runner, type TaskList } from "graphile-worker";
import pg from "pg";

const quietLogger = new Logger((scope) => (level, message) => {
  if (level === "error" || level === "warning") process.stderr.write(`graphile-worker ${level} ${JSON.stringify(scope)}: ${message}\n`);
});

export interface GraphileOptions {
  connectionString: string;
  taskList: TaskList;
  /** Jobs run at once in this process (graphile-worker's default is 1). */
  concurrency?: number;
  /** Fallback poll for future jobs; new jobs arrive through NOTIFY regardless. */
  pollIntervalMs?: number;
}

/** Starts a runner (installing graphile-worker's schema) that handles `taskList`; stop it with `runner.stop()`. */
export async function startGraphile(options: GraphileOptions): Promise<Runner> {
  // Our own pool, with an error listener: the bench drops the peer's database WITH (FORCE) at the
  // end, and a pool without a listener would crash the process on the terminated connections.
  const pgPool = new pg.Pool({ connectionString: options.connectionString, max: 10 });
  pgPool.on("error", () => {});
  const runner = await run({
    pgPool,
    concurrency: options.concurrency ?? 1,
    pollInterval: options.pollIntervalMs ?? 100,
    noHandleSignals: true,
    logger: quietLogger,
    taskList: options.taskList,
  });
  const stop = runner.stop.bind(runner);
  runner.stop = async () => {
    await stop();
    await pgPool.end();
  };
  return runner;
}
