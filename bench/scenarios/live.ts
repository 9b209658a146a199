// Live events (issue 9 scenario 8): a TI state change committed by one connection → the event in a
// socket.io client subscribed to the DAG's room, through the real web server (web/server/live.ts:
// the updraft_live NOTIFY of migrations/0005_live_events.sql, relayed by the server's LISTEN).
//
// One DAG with one run (bench/lib/seed.ts), the web server on a port, a socket.io client
// (websocket transport, the API's JWT) that joined the DAG's room. Each event is one UPDATE of one
// TI in its own transaction (autocommit), from a second store on PostgreSQL (as a worker process
// would write) — on PGlite, where the web server shares the one in-process database, from the same
// store. The try_number written is the event's sequence number, so each arrival is matched to its
// commit. One event at a time: the next is written once the previous has arrived (latency, not
// throughput). The clock starts just before the UPDATE is sent, so the figure includes the
// statement and its COMMIT (an upper bound on commit → arrival; the commit's own time is reported
// in the note), and stops when the client's `ti` handler runs.
import { io, type Socket } from "socket.io-client";
import { openStore, type Store } from "../../engine/store/db.js";
import { startBenchWeb } from "../lib/http.js";
import { seedDatabase } from "../lib/seed.js";
import { summarize } from "../lib/stats.js";
import type { BenchContext, Row, Scenario, ScenarioResult } from "../lib/types.js";

const STATES = ["queued", "running", "success"] as const;
const EVENT_TIMEOUT_MS = 10_000;

interface Samples {
  latencyMs: number[];
  commitMs: number[];
}

function connect(url: string, token: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = io(url, { auth: { token }, transports: ["websocket"], reconnection: false });
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", (err) => {
      socket.close();
      reject(err);
    });
  });
}

async function measureOn(ctx: BenchContext, store: Store, url: string | null, plan: { warmup: number; measured: number }): Promise<Samples> {
  const seeded = await seedDatabase(store, url, { dags: 1, tasksPerDag: 5, runsPerDag: 1, grid: null }, () => {});
  const dagId = seeded.dagIds[0]!;
  const ti = await store.db.selectFrom("task_instances").select(["id", "run_id"]).where("dag_id", "=", dagId).orderBy("task_id").executeTakeFirstOrThrow();
  const writer = url ? await openStore({ databaseUrl: url, applicationName: "updraft-bench-writer" }) : store;
  const web = await startBenchWeb(store);
  let socket: Socket | null = null;
  try {
    socket = await connect(web.web.url, web.token);
    const joined = (await socket.emitWithAck("subscribe", dagId)) as { ok: boolean; error?: string };
    if (!joined.ok) throw new Error(`subscribe ${dagId}: ${joined.error}`);
    const waiting = new Map<number, (at: number) => void>();
    socket.on("ti", (e: { run_id: string; try_number: number }) => {
      const at = performance.now();
      if (e.run_id === ti.run_id) waiting.get(e.try_number)?.(at);
    });
    const samples: Samples = { latencyMs: [], commitMs: [] };
    // try_number from 1000 up: never a value the seeded TI had, so every UPDATE is a change.
    for (let i = 0; i < plan.warmup + plan.measured; i++) {
      const seq = 1000 + i;
      const arrived = new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`live: event ${seq} did not arrive within ${EVENT_TIMEOUT_MS} ms`)), EVENT_TIMEOUT_MS);
        waiting.set(seq, (at) => {
          clearTimeout(timer);
          waiting.delete(seq);
          resolve(at);
        });
      });
      const start = performance.now();
      await writer.db.updateTable("task_instances").set({ state: STATES[i % STATES.length]!, try_number: seq }).where("id", "=", ti.id).execute();
      const committed = performance.now();
      const at = await arrived;
      if (i >= plan.warmup) {
        samples.latencyMs.push(at - start);
        samples.commitMs.push(committed - start);
      }
    }
    ctx.log(`live: ${samples.latencyMs.length} events measured`);
    return samples;
  } finally {
    socket?.close();
    await web.close();
    if (writer !== store) await writer.close();
  }
}

export const live: Scenario = {
  name: "live",
  title: "live events: commit → socket.io client latency",
  async run(ctx): Promise<ScenarioResult> {
    const plan = ctx.quick ? { warmup: 20, measured: 200 } : { warmup: 50, measured: 1_000 };
    const rows: Row[] = [];
    const notes: string[] = [];
    const raw: Record<string, unknown> = { plan };
    const record = (database: "PGlite" | "PostgreSQL", s: Samples) => {
      const lat = summarize(s.latencyMs);
      const commit = summarize(s.commitMs);
      raw[database] = s;
      for (const p of ["p50", "p99"] as const) {
        rows.push({
          scenario: `live: TI update → socket.io event ${p}`,
          database,
          ours: { value: lat[p], unit: "ms", stat: p, spread: { label: "min–max", low: lat.min, high: lat.max }, samples: lat.n },
          targets: p === "p99" ? [{ kind: "max", value: 100, unit: "ms" }] : [],
        });
      }
      notes.push(`live on ${database}: of which the UPDATE and its COMMIT took p50 ${commit.p50.toFixed(2)} ms, p99 ${commit.p99.toFixed(2)} ms.`);
    };

    const pglite = await ctx.databases.freshPglite();
    try {
      record("PGlite", await measureOn(ctx, pglite, null, plan));
    } finally {
      await pglite.close();
    }
    if (ctx.databases.postgres) {
      const database = await ctx.databases.freshPostgresStore();
      try {
        record("PostgreSQL", await measureOn(ctx, database.store, database.url, plan));
      } finally {
        await database.drop();
      }
    } else notes.push("live: PostgreSQL rows skipped, no server at DATABASE_URL.");
    notes.unshift(
      `live: ${plan.warmup} warm-up then ${plan.measured} measured events per database, one at a time; each from just before a one-row UPDATE of a TI's state ` +
        `(its own transaction; on PostgreSQL from a second connection pool, as a worker would) to the \`ti\` event in a socket.io client ` +
        `(websocket, JWT, joined to the DAG's room) of the real web server — server, writer and client in the benchmark process.`,
    );
    return { rows, notes, raw };
  },
};
