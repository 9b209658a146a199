// Processes started while PostgreSQL is down (issue 8): `updraft scheduler`, `worker` and `web`
// start against a stopped server and a database never migrated, log one line per attempt (no
// stack), keep retrying, and once the server is up migrate it and start by themselves; a run
// triggered then succeeds. The figure is the time from the server accepting connections to every
// process being live. A configuration error (a database that does not exist) is not waited for: the
// process exits at once with one line.
import { afterAll, expect, it } from "vitest";
import { openStore, type Store } from "../engine/store/db.js";
import { createRun } from "../engine/store/runs/createRun.js";
import { freePort } from "../test/helpers/privatePostgres.js";
import { alive, QUICK, startCluster, waitFor, type Cluster } from "./lib/cluster.js";
import { recordFigure } from "./lib/figures.js";

/** How long the processes are left knocking at a stopped server, once each has tried. */
const DOWN_MS = QUICK ? 5_000 : 15_000;
const ATTEMPT = "cannot connect to the database";
let cluster: Cluster | undefined;
let fresh: Store | undefined;

afterAll(async () => {
  await fresh?.close().catch(() => {});
  await cluster?.stop();
});

it(`scheduler, worker and web started while PostgreSQL is down come up by themselves (down ${DOWN_MS / 1000} s)`, async () => {
  cluster = await startCluster({ "hello.ts": `import { dag } from "updraft";\nexport default dag({ id: "hello" }, (d) => { const a = d.task("a", () => 1); d.task("b", [a], (_c, x) => x + 1); });\n` });
  const { pg } = cluster;
  // A database of its own that no process has migrated: they must migrate it when it comes up.
  await cluster.store.session((exec) => exec("create database updraft_fresh"));
  const url = pg.url.replace(/\/postgres$/, "/updraft_fresh");
  pg.stopServer();

  const port = await freePort();
  const env = { DATABASE_URL: url, UPDRAFT_LOG_LEVEL: "info", UPDRAFT_DB_CONNECT_TIMEOUT_MS: "2000" };
  const processes = [
    cluster.start("scheduler", { env }),
    cluster.start("worker", { env, args: ["--slots", "2"] }),
    cluster.start("web", { env: { ...env, UPDRAFT_PORT: String(port), UPDRAFT_ADMIN_PASSWORD: "chaos-admin" } }),
  ];
  // Each process takes seconds to load its modules on a busy machine: the outage counts from its first attempt.
  await waitFor("a first attempt from every process", async () => processes.every((p) => p.output().includes(ATTEMPT) || !alive(p)), 90_000, 100);
  await new Promise((r) => setTimeout(r, DOWN_MS));
  const aliveWhileDown = processes.filter(alive).length;
  // What each printed while waiting: one JSON line per attempt, none of them a stack.
  const attemptLines = processes.map((p) => p.output().split("\n").filter((l) => l.includes(ATTEMPT)));
  const stackLines = processes.flatMap((p) => p.output().split("\n").filter((l) => /^\s+at /.test(l) || l.includes('"stack"')));
  for (const p of processes.filter((p) => !alive(p))) console.log(`[chaos] ${p.name} exited (${await p.exited}) while the database was down:\n${p.output().slice(-2_000)}`);

  pg.startServer();
  const up = Date.now();
  fresh = await openStore({ databaseUrl: url, applicationName: "updraft-chaos", connectTimeoutMs: 2_000 });
  const db = fresh.db;
  const liveAt = await Promise.all([
    waitFor("the scheduler's heartbeat", () => db.selectFrom("scheduler_heartbeats").select("scheduler_id").executeTakeFirst(), 60_000, 50).then(() => Date.now()),
    waitFor("the worker's row", () => db.selectFrom("workers").select("worker_id").executeTakeFirst(), 60_000, 50).then(() => Date.now()),
    waitFor("the web server's health", async () => {
      const health = (await (await fetch(`http://127.0.0.1:${port}/api/v2/monitor/health`)).json()) as { metadatabase: { status: string } };
      return health.metadatabase.status === "healthy";
    }, 60_000, 50).then(() => Date.now()),
  ]);
  const liveMs = Math.max(...liveAt) - up;
  console.log(`[chaos] database up → scheduler / worker / web live: ${liveAt.map((t) => `${((t - up) / 1000).toFixed(2)} s`).join(" / ")}; attempts logged: ${attemptLines.map((l) => l.length).join(" / ")}`);

  await waitFor("the DAG to be parsed", () => db.selectFrom("dags").select("dag_id").where("dag_id", "=", "hello").executeTakeFirst(), 60_000);
  const run = await createRun(db, { dagId: "hello", runType: "manual", logicalDate: new Date() });
  const state = await waitFor("the run to end", async () => {
    const r = await db.selectFrom("dag_runs").select("state").where("id", "=", run.id).executeTakeFirstOrThrow();
    return r.state === "success" || r.state === "failed" ? r.state : null;
  }, 60_000);
  const aliveAfter = processes.filter(alive).length;

  const misconfigured = cluster.start("worker", { env: { ...env, DATABASE_URL: pg.url.replace(/\/postgres$/, "/no_such_database") } });
  const exitCode = await Promise.race([misconfigured.exited, new Promise((r) => setTimeout(r, 60_000, "still running after 60 s"))]);
  const misconfiguredOutput = misconfigured.output().trim().split("\n");

  const scenario = `scheduler, worker and web started with PostgreSQL down (${DOWN_MS / 1000} s, fresh database)`;
  const minAttempts = Math.min(...attemptLines.map((l) => l.length));
  recordFigure({ scenario, figure: "processes waiting while it was down (attempts logged, stack traces)", value: `${aliveWhileDown} of ${processes.length} (≥ ${minAttempts} lines each, ${stackLines.length} stack lines)`, goal: "3 of 3, ≥ 2 lines each, 0 stacks", ok: aliveWhileDown === processes.length && minAttempts > 1 && stackLines.length === 0 });
  recordFigure({ scenario, figure: "database up → migrated and all three live", value: `${(liveMs / 1000).toFixed(2)} s`, goal: "≤ 10 s (retry delay ≤ 3 s + start)", ok: liveMs <= 10_000 });
  recordFigure({ scenario, figure: "a run triggered after", value: `${state}, ${aliveAfter} of ${processes.length} processes alive`, goal: "success, 3 of 3", ok: state === "success" && aliveAfter === processes.length });

  recordFigure({ scenario, figure: "configuration error (no such database)", value: `exit ${exitCode}, ${misconfiguredOutput.length} line${misconfiguredOutput.length === 1 ? "" : "s"}`, goal: "exit 2, 1 line", ok: exitCode === 2 && misconfiguredOutput.length === 1 });
  console.log(`[chaos] the misconfigured worker said: ${misconfiguredOutput.join(" | ")}`);

  expect(aliveWhileDown).toBe(processes.length);
  expect(minAttempts).toBeGreaterThan(1);
  expect(stackLines).toEqual([]);
  expect(state).toBe("success");
  expect(aliveAfter).toBe(processes.length);
  expect(exitCode).toBe(2);
  expect(misconfiguredOutput).toEqual([expect.stringMatching(/^updraft: cannot connect to the database at 127\.0\.0\.1:\d+\/no_such_database \(DATABASE_URL\): database "no_such_database" does not exist \(3D000\)$/)]);
});
