// Live events (issue 5 item 5) on PGlite and PostgreSQL: socket.io connections authenticate with
// the API's JWT, join DAG rooms, and receive TI/run state changes and log lines written by any
// connection (on PostgreSQL: a second store, as another process would), fed by the triggers of
// migrations/0005_live_events.sql. Also the /ui grid endpoint the UI reads.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { io, type Socket } from "socket.io-client";
import { loadConfig } from "../../engine/config.js";
import { createLogger } from "../../engine/logger.js";
import { openStore, type Store } from "../../engine/store/db.js";
import { createRun } from "../../engine/store/runs/createRun.js";
import { signToken } from "../../web/server/auth.js";
import { startWebServer, type WebServer } from "../../web/server/main.js";
import { backends, createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { dagsFolderWith, startEngine, waitFor, type TestEngine } from "../helpers/engine.js";

const SECRET = "live-test-secret-key-0123456789";
const DAGS = {
  "live_a.ts": `import { dag } from "updraft";
export default dag({ id: "live_a" }, (d) => { d.task("one", () => 1).before(d.task("two", () => 2)); });`,
  "live_b.ts": `import { dag } from "updraft";
export default dag({ id: "live_b" }, (d) => { d.task("solo", () => 1); });`,
};

function connect(url: string, auth: Record<string, unknown>): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = io(url, { auth, transports: ["websocket"], reconnection: false });
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", (err) => {
      socket.close();
      reject(err);
    });
  });
}

describe.each(backends())("live events on %s", (backend) => {
  let db: TestDatabase;
  let engine: TestEngine;
  let web: WebServer;
  let writer: Store; // another connection, as another process would have
  let token: string;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    db = await createTestDatabase(backend);
    // No worker: the TIs stay where the test puts them.
    engine = await startEngine(db.store, { dagsFolder: dagsFolderWith(DAGS), worker: false });
    const config = loadConfig({}, { port: 0, host: "127.0.0.1" });
    web = await startWebServer(db.store, { ...config, secretKey: SECRET }, createLogger("silent"));
    writer = db.url ? await openStore({ databaseUrl: db.url }) : db.store;
    token = await signToken({ username: "viewer_user", role: "viewer" }, { secretKey: SECRET, tokenTtlMs: 60_000 });
  });
  afterAll(async () => {
    for (const s of sockets) s.close();
    await web?.close();
    if (writer && writer !== db.store) await writer.close();
    await engine?.stop();
    await db?.drop();
  });

  it("refuses a connection without a token or with a bad one", async () => {
    await expect(connect(web.url, {})).rejects.toThrow("Not authenticated");
    await expect(connect(web.url, { token: "not-a-jwt" })).rejects.toThrow("Invalid JWT token");
    const forged = await signToken({ username: "x", role: "admin" }, { secretKey: "another-secret-key-0123456789", tokenTtlMs: 60_000 });
    await expect(connect(web.url, { token: forged })).rejects.toThrow("Invalid JWT token");
  });

  it("relays TI and run state changes and log lines to the DAG's room only", async () => {
    const socket = await connect(web.url, { token });
    sockets.push(socket);
    expect(await socket.emitWithAck("subscribe", "no_such_dag")).toMatchObject({ ok: false });
    expect(await socket.emitWithAck("subscribe", "live_a")).toEqual({ ok: true });
    const events: { kind: string; e: Record<string, unknown> }[] = [];
    for (const kind of ["ti", "run", "log"]) socket.on(kind, (e: Record<string, unknown>) => events.push({ kind, e }));

    const runB = await createRun(writer.db, { dagId: "live_b", runType: "manual", logicalDate: null });
    const runA = await createRun(writer.db, { dagId: "live_a", runType: "manual", logicalDate: null });
    await waitFor("the new run of live_a", async () => events.find((x) => x.kind === "run" && x.e.run_id === runA.run_id));

    await writer.db.updateTable("task_instances").set({ state: "running", try_number: 1 }).where("run_pk", "in", [runA.id, runB.id]).where("task_id", "in", ["one", "solo"]).execute();
    const ti = await waitFor("the TI event", async () => events.find((x) => x.kind === "ti" && x.e.task_id === "one" && x.e.state === "running"));
    expect(ti.e).toEqual({ dag_id: "live_a", run_id: runA.run_id, task_id: "one", map_index: -1, state: "running", try_number: 1 });

    const one = await writer.db.selectFrom("task_instances").select("id").where("run_pk", "=", runA.id).where("task_id", "=", "one").executeTakeFirstOrThrow();
    const long = "x".repeat(5_000);
    await writer.db
      .insertInto("task_logs")
      .values([
        { ti_id: one.id, try_number: 1, stream: "stdout", level: "warn", line: "<b>hello</b> é" },
        { ti_id: one.id, try_number: 1, stream: "log", line: long },
      ])
      .execute();
    const logs = await waitFor("both log lines", async () => {
      const got = events.filter((x) => x.kind === "log");
      return got.length >= 2 ? got : null;
    });
    expect(logs[0]!.e).toMatchObject({ dag_id: "live_a", run_id: runA.run_id, task_id: "one", try_number: 1, event: "<b>hello</b> é", level: "warning", logger: "task.stdout", truncated: false });
    expect(logs[1]!.e).toMatchObject({ truncated: true, logger: "task" });
    expect((logs[1]!.e.event as string).length).toBe(2_000);

    // A heartbeat alone is no event; nothing of live_b ever arrived.
    const before = events.length;
    await writer.db.updateTable("task_instances").set({ heartbeat_at: new Date() }).where("run_pk", "=", runA.id).execute();
    await writer.db.updateTable("task_instances").set({ state: "success" }).where("run_pk", "=", runB.id).execute();
    await writer.db.updateTable("task_instances").set({ state: "success" }).where("run_pk", "=", runA.id).where("task_id", "=", "one").execute();
    await waitFor("the success event", async () => events.find((x) => x.kind === "ti" && x.e.state === "success"));
    expect(events.slice(before).map((x) => `${x.kind}:${String(x.e.task_id)}:${String(x.e.state)}`)).toEqual(["ti:one:success"]);
    expect(events.some((x) => x.e.dag_id !== "live_a")).toBe(false);
  });

  it("batches a many-row update into NOTIFYs that each fit PostgreSQL's 8,000-byte limit", async () => {
    // 16 runs start at once (maxActiveRuns); the queued rest have no TIs yet.
    const socket = await connect(web.url, { token });
    sockets.push(socket);
    await socket.emitWithAck("subscribe", "live_a");
    const tis: unknown[] = [];
    socket.on("ti", (e) => tis.push(e));
    const runs = [];
    for (let i = 0; i < 60; i++) runs.push(await createRun(writer.db, { dagId: "live_a", runType: "manual", logicalDate: null, runId: `bulk_${i}_${"r".repeat(200)}` }));
    const updated = await writer.db.updateTable("task_instances").set({ state: "skipped" }).where("run_pk", "in", runs.map((r) => r.id)).executeTakeFirstOrThrow();
    const n = Number(updated.numUpdatedRows);
    expect(n).toBeGreaterThanOrEqual(30); // ~300 bytes each: several NOTIFYs
    await waitFor(`${n} TI events`, async () => tis.length >= n);
    await new Promise((r) => setTimeout(r, 100));
    expect(tis).toHaveLength(n);
  });

  it("serves the grid as runs × tasks with one state code per cell, to authenticated callers only", async () => {
    expect((await fetch(`${web.url}/ui/grid/live_a`)).status).toBe(401);
    // The oldest three runs of live_a: the first (one success, two queued/none) and two bulk runs, skipped.
    const res = await fetch(`${web.url}/ui/grid/live_a?limit=3&offset=58`, { headers: { Authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    const grid = (await res.json()) as { task_ids: string[]; runs: { dag_run_id: string }[]; cells: string[]; legend: Record<string, string>; total_runs: number };
    expect(grid.task_ids).toEqual(["one", "two"]);
    expect(grid.total_runs).toBe(61);
    expect(grid.runs.map((r) => r.dag_run_id.slice(0, 7))).toEqual([expect.stringMatching(/^manual/), "bulk_0_", "bulk_1_"]);
    const tis = await db.store.db.selectFrom("task_instances").select(["run_id", "task_id", "state"]).where("run_id", "in", grid.runs.map((r) => r.dag_run_id)).execute();
    const code = (runId: string, taskId: string) => {
      const ti = tis.find((t) => t.run_id === runId && t.task_id === taskId);
      return ti ? grid.legend[ti.state ?? "none"] : grid.legend.absent;
    };
    expect(grid.cells).toEqual(grid.runs.map((r) => code(r.dag_run_id, "one")! + code(r.dag_run_id, "two")!));
    expect(grid.cells[0]![0]).toBe(grid.legend.success);
    expect(grid.cells.slice(1)).toEqual([grid.legend.skipped!.repeat(2), grid.legend.skipped!.repeat(2)]);
    expect((await fetch(`${web.url}/ui/grid/nope`, { headers: { Authorization: `Bearer ${token}` } })).status).toBe(404);
  });
});
