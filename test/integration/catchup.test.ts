// Scheduled runs end to end, on PGlite and PostgreSQL: catchup creates every missed interval,
// oldest first, never more than maxActiveRuns active; without catchup only the latest; `end`
// bounds the intervals; time zones and { every } place them; pause stops creation and unpause
// follows the same rule.
import path from "node:path";
import request from "supertest";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backends, createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { dagsFolderWith, startEngine, waitFor, type TestEngine } from "../helpers/engine.js";
import { bearer, loginAs, testApp } from "../web/helpers.js";

const DAY = 86_400_000;
const HOUR = 3_600_000;
const now = new Date();
const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
const daysAgo = (n: number) => new Date(today - n * DAY).toISOString();

const dagFile = (id: string, spec: string, body = `d.task("work", async () => { await new Promise((r) => setTimeout(r, 100)); return 1; });`) => `
import { dag } from "updraft";
export default dag({ id: "${id}", ${spec} }, (d) => { ${body} });`;

const DAGS = {
  "catchup_ten.ts": dagFile("catchup_ten", `schedule: "@daily", start: "${daysAgo(10)}", catchup: true, maxActiveRuns: 3`),
  "latest_only.ts": dagFile("latest_only", `schedule: "@daily", start: "${daysAgo(10)}", catchup: false`),
  "bounded.ts": dagFile("bounded", `schedule: "@daily", start: "${daysAgo(10)}", end: "${daysAgo(5)}", catchup: true`),
  "madrid.ts": dagFile("madrid", `schedule: "0 9 * * *", timezone: "Europe/Madrid", start: "${daysAgo(4)}", catchup: true`),
  "every_six.ts": dagFile("every_six", `schedule: { every: "6h" }, start: "${daysAgo(2)}", catchup: true`),
  "paused_catchup.ts": dagFile("paused_catchup", `schedule: "@daily", start: "${daysAgo(5)}", catchup: true`),
  "paused_latest.ts": dagFile("paused_latest", `schedule: "@daily", start: "${daysAgo(5)}", catchup: false`),
};

describe.each(backends())("scheduled runs on %s", (backend) => {
  let db: TestDatabase;
  let engine: TestEngine;
  let maxActive = 0;
  let sampling = true;
  let sampler: Promise<void>;

  /** Waits up to 45 s (a loaded CI box); on timeout, says what each run and TI was doing. */
  const settled = async <T>(what: string, dagId: string, check: () => Promise<T | null | false>): Promise<T> => {
    try {
      return await waitFor(what, check, 45_000);
    } catch (err) {
      const tries = await db.store.db
        .selectFrom("task_instance_tries as t")
        .innerJoin("task_instances as ti", "ti.id", "t.ti_id")
        .select(["ti.run_id", "t.state", "t.error"])
        .where("ti.dag_id", "=", dagId)
        .where("t.state", "!=", "success")
        .execute();
      const runs = (await runsOf(dagId)).map((r) => `${r.run_id}=${r.state}`);
      throw new Error(`${(err as Error).message}; runs: ${runs.join(", ")}; failed tries: ${JSON.stringify(tries)}`);
    }
  };

  const runsOf = (dagId: string) =>
    db.store.db
      .selectFrom("dag_runs")
      .select(["run_id", "run_type", "state", "logical_date", "data_interval_start", "data_interval_end", "run_after"])
      .where("dag_id", "=", dagId)
      .orderBy("logical_date")
      .execute();

  beforeAll(async () => {
    db = await createTestDatabase(backend);
    const folder = dagsFolderWith(DAGS);
    // These two DAGs exist, paused, before the scheduler first sees them (as after `PATCH is_paused`).
    for (const id of ["paused_catchup", "paused_latest"]) {
      await db.store.db.insertInto("dags").values({ dag_id: id, fileloc: path.join(folder, `${id}.ts`), relative_fileloc: `${id}.ts`, description: null, timetable_summary: null, latest_version_id: null, is_paused: true }).execute();
    }
    // Every 10 ms, the most runs of catchup_ten ever active at once.
    sampler = (async () => {
      while (sampling) {
        const row = await db.store.db
          .selectFrom("dag_runs")
          .select(sql<number>`count(*)::int`.as("n"))
          .where("dag_id", "=", "catchup_ten")
          .where("state", "in", ["queued", "running"])
          .executeTakeFirstOrThrow();
        maxActive = Math.max(maxActive, row.n);
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    engine = await startEngine(db.store, { dagsFolder: folder, slots: 4 });
  });
  afterAll(async () => {
    sampling = false;
    await sampler;
    await engine?.stop();
    await db?.drop();
  });

  it("catchup: one run per missed day, oldest first, with the right intervals, never more than maxActiveRuns active", async () => {
    const runs = await settled("10 successful catchup runs", "catchup_ten", async () => {
      const r = await runsOf("catchup_ten");
      return r.length === 10 && r.every((x) => x.state === "success") ? r : null;
    });
    expect(runs.map((r) => r.logical_date!.toISOString())).toEqual(Array.from({ length: 10 }, (_, i) => daysAgo(10 - i)));
    for (const r of runs) {
      expect(r.run_type).toBe("scheduled");
      expect(r.data_interval_start).toEqual(r.logical_date);
      expect(r.data_interval_end!.getTime() - r.data_interval_start!.getTime()).toBe(DAY);
      expect(r.run_after).toEqual(r.data_interval_end);
      expect(r.run_id).toBe(`scheduled__${r.logical_date!.toISOString().replace(".000Z", "+00:00")}`);
    }
    expect(maxActive).toBeGreaterThan(0);
    expect(maxActive).toBeLessThanOrEqual(3);
    // Oldest first: each run started no later than the run after it.
    const started = await db.store.db.selectFrom("dag_runs").select(["logical_date", "start_date"]).where("dag_id", "=", "catchup_ten").orderBy("logical_date").execute();
    for (let i = 1; i < started.length; i++) expect(started[i]!.start_date!.getTime()).toBeGreaterThanOrEqual(started[i - 1]!.start_date!.getTime());
  });

  it("catchup: false creates exactly one run, for the latest complete interval", async () => {
    await waitFor("latest_only's run", async () => (await runsOf("latest_only")).length > 0);
    await new Promise((r) => setTimeout(r, 500));
    const runs = await runsOf("latest_only");
    expect(runs.map((r) => [r.data_interval_start!.toISOString(), r.data_interval_end!.toISOString()])).toEqual([[daysAgo(1), daysAgo(0)]]);
  });

  it("end bounds the intervals: none starting after it", async () => {
    const runs = await settled("bounded's 6 runs", "bounded", async () => {
      const r = await runsOf("bounded");
      return r.length === 6 && r.every((x) => x.state === "success") ? r : null;
    });
    expect(runs.map((r) => r.logical_date!.toISOString())).toEqual([10, 9, 8, 7, 6, 5].map(daysAgo));
    const dag = await db.store.db.selectFrom("dags").select("next_dagrun_run_after").where("dag_id", "=", "bounded").executeTakeFirstOrThrow();
    expect(dag.next_dagrun_run_after).toBeNull();
  });

  it("a time zone places the runs on its wall clock (09:00 in Madrid), a day apart", async () => {
    const runs = await waitFor("madrid's runs", async () => {
      const r = await runsOf("madrid");
      return r.length >= 3 ? r : null;
    });
    const wall = new Intl.DateTimeFormat("en-GB", { timeZone: "Europe/Madrid", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
    for (const r of runs) {
      expect(wall.format(r.logical_date!)).toBe("09:00");
      expect(wall.format(r.data_interval_end!)).toBe("09:00");
      expect(r.data_interval_end!.getTime()).toBeLessThanOrEqual(Date.now());
    }
    // Every complete interval since start: the last one ends within a day of now.
    expect(Date.now() - runs.at(-1)!.data_interval_end!.getTime()).toBeLessThan(DAY);
  });

  it("{ every: '6h' } runs every complete 6-hour period since start", async () => {
    const expected = Math.floor((Date.now() - Date.parse(daysAgo(2))) / (6 * HOUR));
    const runs = await waitFor("every_six's runs", async () => {
      const r = await runsOf("every_six");
      return r.length >= expected ? r : null;
    });
    expect(runs.map((r) => r.logical_date!.toISOString())).toEqual(Array.from({ length: runs.length }, (_, i) => new Date(Date.parse(daysAgo(2)) + i * 6 * HOUR).toISOString()));
    for (const r of runs) expect(r.data_interval_end!.getTime() - r.logical_date!.getTime()).toBe(6 * HOUR);
  });

  it("a paused DAG gets no runs; unpausing creates them by the same rule (catchup: all, else the latest)", async () => {
    await new Promise((r) => setTimeout(r, 800));
    expect(await runsOf("paused_catchup")).toEqual([]);
    expect(await runsOf("paused_latest")).toEqual([]);
    const app = testApp(db.store);
    const token = await loginAs(app, db.store, "operator");
    for (const id of ["paused_catchup", "paused_latest"]) {
      const res = await request(app).patch(`/api/v2/dags/${id}`).set(bearer(token)).send({ is_paused: false });
      expect(res.status).toBe(200);
    }
    const all = await waitFor("paused_catchup's 5 runs", async () => {
      const r = await runsOf("paused_catchup");
      return r.length === 5 ? r : null;
    }, 5_000);
    expect(all.map((r) => r.logical_date!.toISOString())).toEqual([5, 4, 3, 2, 1].map(daysAgo));
    await waitFor("paused_latest's run", async () => (await runsOf("paused_latest")).length > 0, 5_000);
    await new Promise((r) => setTimeout(r, 300));
    expect((await runsOf("paused_latest")).map((r) => r.logical_date!.toISOString())).toEqual([daysAgo(1)]);

    // Paused again: no new run, even once one falls due (simulated by forgetting the last one).
    await request(app).patch(`/api/v2/dags/paused_latest`).set(bearer(token)).send({ is_paused: true });
    await db.store.db.deleteFrom("dag_runs").where("dag_id", "=", "paused_latest").execute();
    engine.scheduler.wakeRuns();
    await new Promise((r) => setTimeout(r, 500));
    expect(await runsOf("paused_latest")).toEqual([]);
  });
});
