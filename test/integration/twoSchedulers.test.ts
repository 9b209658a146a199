// Several schedulers may run at once (DESIGN §2): two Scheduler instances, each with its own
// connection pool, race over a catchup of 200 intervals on PostgreSQL — no interval gets two
// runs, and together they never exceed maxActiveRuns.
import path from "node:path";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStore, type Store } from "../../engine/store/db.js";
import { CHANNELS } from "../../engine/store/channels.js";
import { notify } from "../../engine/store/db.js";
import { backends, createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { dagsFolderWith, startEngine, waitFor, type TestEngine } from "../helpers/engine.js";

const HOUR = 3_600_000;
const thisHour = Math.floor(Date.now() / HOUR) * HOUR;
const hoursAgo = (n: number) => new Date(thisHour - n * HOUR).toISOString();

const DAGS = {
  "wide.ts": `
import { dag } from "updraft";
export default dag({ id: "wide", schedule: "@hourly", start: "${hoursAgo(200)}", catchup: true, maxActiveRuns: 1000 }, (d) => { d.task("t", () => 1); });`,
  "narrow.ts": `
import { dag } from "updraft";
export default dag({ id: "narrow", schedule: "@hourly", start: "${hoursAgo(200)}", catchup: true, maxActiveRuns: 7 }, (d) => { d.task("t", () => 1); });`,
};

describe.skipIf(!backends().includes("postgres"))("two schedulers on PostgreSQL", () => {
  let db: TestDatabase;
  let second: Store;
  const engines: TestEngine[] = [];

  beforeAll(async () => {
    db = await createTestDatabase("postgres");
    second = await openStore({ databaseUrl: db.url! });
    const folder = dagsFolderWith(DAGS);
    // Both DAGs start paused, so that both schedulers are up when the race begins.
    for (const id of ["wide", "narrow"]) {
      await db.store.db.insertInto("dags").values({ dag_id: id, fileloc: path.join(folder, `${id}.ts`), relative_fileloc: `${id}.ts`, description: null, timetable_summary: null, latest_version_id: null, is_paused: true }).execute();
    }
    // No workers: runs stay active, so the maxActiveRuns count is exact.
    engines.push(await startEngine(db.store, { dagsFolder: folder, worker: false }));
    engines.push(await startEngine(second, { dagsFolder: folder, worker: false }));
    await db.store.db.transaction().execute(async (tx) => {
      await tx.updateTable("dags").set({ is_paused: false }).execute();
      await notify(CHANNELS.runChanged, "wide").execute(tx);
    });
  });
  afterAll(async () => {
    for (const e of engines) await e.stop();
    await second?.close();
    await db?.drop();
  });

  it("creates each of 200 intervals exactly once", async () => {
    const count = () => db.store.db.selectFrom("dag_runs").select(sql<number>`count(*)::int`.as("n")).where("dag_id", "=", "wide").executeTakeFirstOrThrow();
    await waitFor("200 runs of wide", async () => (await count()).n >= 200, 30_000);
    await new Promise((r) => setTimeout(r, 500));
    expect((await count()).n).toBe(200);
    const duplicates = await db.store.db
      .selectFrom("dag_runs")
      .select(["logical_date", sql<number>`count(*)::int`.as("n")])
      .where("dag_id", "=", "wide")
      .groupBy("logical_date")
      .having(sql`count(*)`, ">", 1)
      .execute();
    expect(duplicates).toEqual([]);
    const dates = await db.store.db.selectFrom("dag_runs").select("logical_date").where("dag_id", "=", "wide").orderBy("logical_date").execute();
    expect(dates.map((d) => d.logical_date!.toISOString())).toEqual(Array.from({ length: 200 }, (_, i) => hoursAgo(200 - i)));
  });

  it("never exceeds maxActiveRuns between them", async () => {
    const runs = await waitFor("narrow's runs", async () => {
      const r = await db.store.db.selectFrom("dag_runs").select(["logical_date", "state"]).where("dag_id", "=", "narrow").orderBy("logical_date").execute();
      return r.length >= 7 ? r : null;
    });
    await new Promise((r) => setTimeout(r, 1_000));
    for (const e of engines) e.scheduler.wakeRuns();
    await new Promise((r) => setTimeout(r, 500));
    const after = await db.store.db.selectFrom("dag_runs").select(["logical_date", "state"]).where("dag_id", "=", "narrow").orderBy("logical_date").execute();
    expect(after).toHaveLength(7);
    expect(after.map((r) => r.logical_date!.toISOString())).toEqual(runs.slice(0, 7).map((r) => r.logical_date!.toISOString()));
    expect(after[0]!.logical_date!.toISOString()).toBe(hoursAgo(200));
  });
});
