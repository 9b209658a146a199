// A graphile-worker process for the throughput scenario (bench/lib/workerProcesses.ts): its
// library `run()` with a no-op task, the concurrency it is given, everything else at graphile-
// worker's defaults. It counts completed jobs and tells the parent — at most once per turn of its
// event loop (setImmediate), so the reporting costs the peer next to nothing — with the wall
// clock of the latest completion.
import { Logger, run } from "graphile-worker";
import pg from "pg";

const connectionString = process.env.BENCH_GRAPHILE_URL;
const concurrency = Number(process.env.BENCH_GRAPHILE_CONCURRENCY ?? "1");
if (!connectionString || !process.send) throw new Error("graphileWorkerChild: started without BENCH_GRAPHILE_URL or an IPC channel");

const now = () => performance.timeOrigin + performance.now();
const quietLogger = new Logger((scope) => (level, message) => {
  if (level === "error" || level === "warning") process.stderr.write(`graphile-worker ${level} ${JSON.stringify(scope)}: ${message}\n`);
});

// Our own pool with an error listener: the bench drops the database WITH (FORCE) at the end.
const pgPool = new pg.Pool({ connectionString, max: Math.max(10, concurrency + 2) });
pgPool.on("error", () => {});
// …and on each client (graphile-worker warns about a pool without it).
pgPool.on("connect", (client) => client.on("error", () => {}));
const runner = await run({ pgPool, concurrency, noHandleSignals: true, logger: quietLogger, taskList: { noop: async () => {} } });

let completed = 0;
let lastAt = 0;
let flushing = false;
runner.events.on("job:complete", ({ error }) => {
  if (error) return;
  completed++;
  lastAt = now();
  if (flushing) return;
  flushing = true;
  setImmediate(() => {
    flushing = false;
    process.send!({ type: "completed", completed, at: lastAt });
  });
});
runner.events.on("job:error", ({ job, error }) => process.stderr.write(`graphile-worker job ${job.id} failed: ${String(error)}\n`));

process.on("message", (msg: { type?: string }) => {
  if (msg?.type !== "stop") return;
  void runner.stop().then(async () => {
    await pgPool.end().catch(() => {});
    process.exit(0);
  });
});
// The bench is gone (even killed outright): so is this process.
process.on("disconnect", () => process.exit(0));
process.send({ type: "ready" });
