// The live-event triggers fire only while a web server holds a live_watchers lease
// (migrations/0019, engine/store/liveWatchers.ts, web/server/liveWatchers.ts), on PGlite and
// PostgreSQL. Whether a change sent an event is read through NOTIFY's ordering: a marker NOTIFY
// sent after the change's commit arrives after any event the change sent.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sql } from "kysely";
import pg from "pg";
import { createLogger } from "../../engine/logger.js";
import { CHANNELS } from "../../engine/store/channels.js";
import { openStore, type Store } from "../../engine/store/db.js";
import { holdLiveWatch, releaseLiveWatch, waitForOpenTransactions } from "../../engine/store/liveWatchers.js";
import { createRun } from "../../engine/store/runs/createRun.js";
import { LiveWatch } from "../../web/server/liveWatchers.js";
import { backends, createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { dagsFolderWith, startEngine, waitFor, type TestEngine } from "../helpers/engine.js";

const DAGS = {
  "watched.ts": `import { dag } from "updraft";
export default dag({ id: "watched" }, (d) => { d.task("one", () => 1); });`,
};

describe.each(backends())("live-event lease on %s", (backend) => {
  let db: TestDatabase;
  let engine: TestEngine;
  let writer: Store; // another connection, as a worker process would have
  let runPk: number;
  const payloads: string[] = [];
  let unlisten: () => Promise<void>;
  let marks = 0;

  beforeAll(async () => {
    db = await createTestDatabase(backend);
    engine = await startEngine(db.store, { dagsFolder: dagsFolderWith(DAGS), worker: false });
    writer = db.url ? await openStore({ databaseUrl: db.url }) : db.store;
    unlisten = await db.store.listen(CHANNELS.live, (p) => payloads.push(p));
    runPk = (await createRun(writer.db, { dagId: "watched", runType: "manual", logicalDate: null })).id;
  });
  afterAll(async () => {
    await unlisten?.();
    if (writer && writer !== db.store) await writer.close();
    await engine?.stop();
    await db?.drop();
  });

  /** Sets the TI's state, then returns the live events that the change sent (after its commit). */
  async function eventsOf(state: string): Promise<string[]> {
    const before = payloads.length;
    await writer.db.updateTable("task_instances").set({ state }).where("run_pk", "=", runPk).execute();
    const mark = `mark-${++marks}`;
    await sql`select pg_notify(${CHANNELS.live}, ${mark})`.execute(writer.db);
    await waitFor("the marker notification", async () => payloads.includes(mark));
    return payloads.slice(before, payloads.indexOf(mark));
  }

  it("sends no live event while nobody holds a lease, and sends them while one does", async () => {
    expect(await eventsOf("scheduled")).toEqual([]);
    await holdLiveWatch(db.store.db, "test-server", 60_000);
    const events = await eventsOf("queued");
    expect(events).toHaveLength(1);
    expect(JSON.parse(events[0]!)).toMatchObject({ k: "ti", e: [{ d: "watched", t: "one", s: "queued" }] });
    await releaseLiveWatch(db.store.db, "test-server");
    expect(await eventsOf("scheduled")).toEqual([]);
  });

  it("an expired lease counts for nothing", async () => {
    await holdLiveWatch(db.store.db, "dead-server", -1_000);
    expect(await eventsOf("queued")).toEqual([]);
    // Renewed: it says the lease had lapsed, and counts again.
    expect(await holdLiveWatch(db.store.db, "dead-server", 60_000)).toBe(true);
    expect(await holdLiveWatch(db.store.db, "dead-server", 60_000)).toBe(false);
    expect(await eventsOf("scheduled")).toHaveLength(1);
    await releaseLiveWatch(db.store.db, "dead-server");
  });

  it("a web server's lease is held while clients are connected and given up after the grace", async () => {
    const watch = new LiveWatch(db.store.db, createLogger("silent"), { ttlMs: 60_000, renewMs: 50, graceMs: 100, settleMs: 1_000 });
    const rows = async () => (await db.store.db.selectFrom("live_watchers").select("server_id").where("server_id", "=", watch.serverId).execute()).length;
    await Promise.all([watch.enter(), watch.enter()]);
    expect(watch.holding).toBe(true);
    expect(await rows()).toBe(1);
    expect(await eventsOf("queued")).toHaveLength(1);
    watch.leave();
    await new Promise((r) => setTimeout(r, 250));
    expect(await rows()).toBe(1); // one client is still connected
    watch.leave();
    await waitFor("the lease given up", async () => (await rows()) === 0);
    expect(watch.holding).toBe(false);
    expect(await eventsOf("scheduled")).toEqual([]);
    // A client that comes back within the grace keeps the lease; close gives it up.
    await watch.enter();
    watch.leave();
    await watch.enter();
    await new Promise((r) => setTimeout(r, 250));
    expect(await rows()).toBe(1);
    await watch.close();
    expect(await rows()).toBe(0);
  });

  it.runIf(backend === "postgres")("a lease's start waits for the transactions that were open when it was taken", async () => {
    // A transaction that changed a TI (and checked for a watcher) before the lease: no event; a
    // client that reads after waitForOpenTransactions must see its change.
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      await client.query("begin");
      await client.query("update task_instances set state = 'queued' where run_pk = $1", [runPk]);
      await holdLiveWatch(db.store.db, "waiting-server", 60_000);
      expect(await waitForOpenTransactions(db.store.db, 200)).toBe(false);
      const waited = waitForOpenTransactions(db.store.db, 5_000);
      setTimeout(() => void client.query("commit"), 100);
      expect(await waited).toBe(true);
      const row = await db.store.db.selectFrom("task_instances").select("state").where("run_pk", "=", runPk).executeTakeFirstOrThrow();
      expect(row.state).toBe("queued");
    } finally {
      await client.end();
      await releaseLiveWatch(db.store.db, "waiting-server");
    }
  });
});
