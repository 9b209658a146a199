// The example MLOps pipelines of dags/ (issue 7), end to end on a real engine, on PGlite and
// PostgreSQL: the weather ETL into the lake (partitions, idempotent re-runs, a corrupted row), and
// the weather model (metrics, gated deploy, registry, serving with hot swap, rollback, bad input).
// Each backend gets its own temporary UPDRAFT_HOME, which the worker's runners inherit.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import request from "supertest";
import type { Express } from "express";
import { DuckDBInstance } from "@duckdb/node-api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRun } from "../../engine/store/runs/createRun.js";
import { backends, createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { dagsFolderWith, startEngine, waitForRunEnd, type TestEngine } from "../helpers/engine.js";
import { ROOT } from "../helpers/paths.js";
import { bearer, loginAs, testApp } from "../web/helpers.js";
import { extractDay, transformDay, validateDay, writePartition, WEATHER_TYPES } from "../../dags/lib/weather.js";

const CSV = path.join(ROOT, "node_modules", "vega-datasets", "data", "seattle-weather.csv");
const csvLines = fs.readFileSync(CSV, "utf8").trim().split("\n");

// The real DAG files' factories, with no schedule: runs exist only when a test creates them (the
// real weather_etl would start a four-year catchup).
const DAGS = {
  "weather_etl_test.ts": `// updraft: dags/weather_etl.ts without its schedule
import { weatherEtl } from ${JSON.stringify(path.join(ROOT, "dags", "weather_etl.ts"))};
export default weatherEtl({ schedule: null });`,
  "weather_model_test.ts": `// updraft: dags/weather_model.ts without its schedule
import { weatherModel } from ${JSON.stringify(path.join(ROOT, "dags", "weather_model.ts"))};
export default weatherModel({ schedule: null });`,
  "penguins_model_test.ts": `// updraft: dags/penguins_model.ts as it is (manual only)
export { default } from ${JSON.stringify(path.join(ROOT, "dags", "penguins_model.ts"))};`,
};

async function duckQuery(sqlText: string): Promise<Record<string, unknown>[]> {
  const instance = await DuckDBInstance.create(":memory:");
  const conn = await instance.connect();
  try {
    return (await conn.runAndReadAll(sqlText)).getRowObjectsJson() as Record<string, unknown>[];
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

describe.each(backends())("MLOps pipelines on %s", (backend) => {
  let db: TestDatabase;
  let engine: TestEngine | null = null;
  let home: string;
  let folder: string;
  let app: Express;
  const savedHome = process.env.UPDRAFT_HOME;

  beforeAll(async () => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), "updraft-mlops-"));
    process.env.UPDRAFT_HOME = home;
    db = await createTestDatabase(backend);
    folder = dagsFolderWith(DAGS);
    app = testApp(db.store);
  });
  afterAll(async () => {
    await engine?.stop();
    await db?.drop();
    if (savedHome === undefined) delete process.env.UPDRAFT_HOME;
    else process.env.UPDRAFT_HOME = savedHome;
    fs.rmSync(home, { recursive: true, force: true });
    fs.rmSync(folder, { recursive: true, force: true });
  });

  const run = async (dagId: string, ds: string, conf: Record<string, unknown> = {}, runId?: string) => {
    const created = await createRun(db.store.db, { dagId, runType: "manual", logicalDate: new Date(`${ds}T00:00:00Z`), conf, runId });
    return { pk: created.id, runId: created.run_id, state: await waitForRunEnd(db.store, created.id, 60_000) };
  };
  const tiStates = async (runPk: number) =>
    Object.fromEntries((await db.store.db.selectFrom("task_instances").select(["task_id", "state"]).where("run_pk", "=", runPk).execute()).map((t) => [t.task_id, t.state]));

  describe("weather_etl", () => {
    const days = ["2012-01-08", "2012-01-09", "2012-01-10"];

    it("loads three days into date partitions whose rows match the CSV, and a re-run replaces its partition", async () => {
      engine = await startEngine(db.store, { dagsFolder: folder, slots: 3 });
      const runs = await Promise.all(days.map((ds) => run("weather_etl", ds)));
      expect(runs.map((r) => r.state)).toEqual(["success", "success", "success"]);
      expect(await tiStates(runs[0]!.pk)).toEqual({ extract: "success", validate: "success", transform: "success", load: "success", monthly_aggregate: "success" });

      for (const ds of days) {
        const dir = path.join(home, "lake", "weather", `date=${ds}`);
        expect(fs.readdirSync(dir)).toEqual(["part-0.parquet"]);
        const rows = await duckQuery(`SELECT strftime(date, '%Y-%m-%d') AS date, precipitation, temp_max, temp_min, wind, weather, precip_7d FROM read_parquet('${dir}/*.parquet')`);
        const expected = csvLines.filter((l) => l.startsWith(`${ds},`));
        expect(rows).toHaveLength(expected.length);
        const [date, precipitation, tempMax, tempMin, wind, weather] = expected[0]!.split(",");
        expect(rows[0]).toMatchObject({ date, precipitation: Number(precipitation), temp_max: Number(tempMax), temp_min: Number(tempMin), wind: Number(wind), weather });
      }
      // Rolling precipitation: the 7 days ending 2012-01-10, summed from the CSV.
      const window = csvLines.filter((l) => l.slice(0, 10) >= "2012-01-04" && l.slice(0, 10) <= "2012-01-10").map((l) => Number(l.split(",")[1]));
      const [jan10] = await duckQuery(`SELECT precip_7d FROM read_parquet('${home}/lake/weather/date=2012-01-10/*.parquet')`);
      expect(jan10!.precip_7d).toBeCloseTo(window.reduce((a, b) => a + b, 0), 5);
      // The warehouse table: the month's aggregate over the loaded partitions.
      const [monthly] = await duckQuery(`SELECT days, rain_days + sun_days AS counted FROM read_parquet('${home}/lake/warehouse/weather_monthly/month=2012-01/*.parquet')`);
      expect(monthly!.days).toBe(3);

      // Re-running a day replaces its partition: still one row for the day, three in the lake.
      const again = await run("weather_etl", "2012-01-09", {}, "rerun__2012-01-09");
      expect(again.state).toBe("success");
      const [total] = await duckQuery(`SELECT count(*)::INTEGER AS n, count(DISTINCT date)::INTEGER AS days FROM read_parquet('${home}/lake/weather/date=*/*.parquet')`);
      expect(total).toEqual({ n: 3, days: 3 });
      // No temporary or displaced directory is left behind.
      expect(fs.readdirSync(path.join(home, "lake", "weather")).sort()).toEqual(days.map((d) => `date=${d}`));
      await engine.stop();
      engine = null;
    });

    it("fails the validate task on a corrupted row, naming the line, and loads nothing for that day", async () => {
      const corrupted = path.join(home, "corrupted.csv");
      const lineNumber = csvLines.findIndex((l) => l.startsWith("2012-01-11,")) + 1;
      fs.writeFileSync(corrupted, csvLines.map((l, i) => (i + 1 === lineNumber ? l.replace(/^(2012-01-11),[^,]*,/, "$1,lots,") : l)).join("\n") + "\n");
      process.env.UPDRAFT_WEATHER_CSV = corrupted;
      try {
        engine = await startEngine(db.store, { dagsFolder: folder, slots: 2 });
        const bad = await run("weather_etl", "2012-01-11");
        expect(bad.state).toBe("failed");
        expect(await tiStates(bad.pk)).toMatchObject({ extract: "success", validate: "failed", transform: "upstream_failed", load: "upstream_failed" });
        const ti = await db.store.db.selectFrom("task_instances").select(["id", "try_number"]).where("run_pk", "=", bad.pk).where("task_id", "=", "validate").executeTakeFirstOrThrow();
        expect(ti.try_number).toBe(1); // a bad row is not retried
        const logs = (await db.store.db.selectFrom("task_logs").select("line").where("ti_id", "=", ti.id).execute()).map((l) => l.line).join("\n");
        expect(logs).toContain(`invalid row at line ${lineNumber} ("2012-01-11,lots,`);
        expect(logs).toContain(`precipitation is not a number: "lots"`);
        expect(fs.existsSync(path.join(home, "lake", "weather", "date=2012-01-11"))).toBe(false);
      } finally {
        delete process.env.UPDRAFT_WEATHER_CSV;
        await engine?.stop();
        engine = null;
      }
    });
  });

  describe("weather_model", () => {
    let operator: string;
    let viewer: string;
    const predict = (body: unknown, token = operator) => request(app).post("/api/v2/models/weather_type/predict").set(bearer(token)).send(body as object);
    const instance = { precipitation: 12.5, temp_max: 9.4, temp_min: 3.3, wind: 5.1, temp_range: 6.1, precip_7d: 40.2, month: 1 };

    beforeAll(async () => {
      // A month of data in the lake, written by the ETL's own steps (faster than 31 ETL runs).
      for (let day = 1; day <= 31; day++) {
        const ds = `2012-01-${String(day).padStart(2, "0")}`;
        const valid = validateDay(ds, extractDay(ds));
        await writePartition(ds, transformDay(valid.day, valid.history));
      }
      operator = await loginAs(app, db.store, "operator");
      viewer = await loginAs(app, db.store, "viewer");
      engine = await startEngine(db.store, { dagsFolder: folder, slots: 2 });
    });

    it("records metrics, deploys the first model, skips an equal one, serves predictions with hot swap, and rolls back", async () => {
      const conf = { from: "2012-01-01", to: "2012-01-31" };
      const first = await run("weather_model", "2012-02-01", conf);
      expect(first.state).toBe("success");
      expect(await tiStates(first.pk)).toMatchObject({ build_dataset: "success", train_evaluate: "success", beats_production: "success", deploy: "success", notify_not_deployed: "skipped" });

      // Metrics, stored per try and served for the DAG's runs.
      const metrics = await request(app).get(`/api/v2/dags/weather_model/metrics?dag_run_id=${encodeURIComponent(first.runId)}`).set(bearer(viewer));
      expect(metrics.status).toBe(200);
      const byName = Object.fromEntries(metrics.body.metrics.map((m: { name: string; value: number }) => [m.name, m.value]));
      expect(Object.keys(byName).sort()).toEqual(["accuracy", "macro_f1", "param.max_depth", "param.n_estimators", "test_rows", "train_rows"]);
      expect(byName.train_rows + byName.test_rows).toBe(31);
      expect(byName.accuracy).toBeGreaterThanOrEqual(0);
      expect(byName.accuracy).toBeLessThanOrEqual(1);
      expect(metrics.body.metrics.every((m: { task_id: string; try_number: number }) => m.task_id === "train_evaluate" && m.try_number === 1)).toBe(true);

      // The registry: version 1 in production, with its metrics and source run.
      const models = await request(app).get("/api/v2/models").set(bearer(viewer));
      expect(models.body).toEqual({ models: [expect.objectContaining({ name: "weather_type", latest_version: 1, production_version: 1 })], total_entries: 1 });
      const v1 = (await request(app).get("/api/v2/models/weather_type/versions").set(bearer(viewer))).body.versions[0];
      expect(v1).toMatchObject({ version: 1, stage: "production", source_dag_id: "weather_model", source_run_id: first.runId, source_task_id: "deploy", metrics: { macro_f1: byName.macro_f1, accuracy: byName.accuracy } });
      expect(v1.metrics.confusion).toHaveLength(WEATHER_TYPES.length);
      expect(fs.existsSync(v1.artifact_path)).toBe(true);
      expect(v1.artifact_path.startsWith(path.join(home, "lake", "models", "weather_type"))).toBe(true);

      const served = await predict({ instances: [instance, { ...instance, precipitation: 0, precip_7d: 0, temp_max: 12 }] });
      expect(served.status).toBe(200);
      expect(served.body.version).toBe(1);
      expect(served.body.predictions).toHaveLength(2);
      for (const p of served.body.predictions) expect(WEATHER_TYPES).toContain(p.weather);

      // Same data, same seed: not better than production by the margin → notify, no deploy.
      const second = await run("weather_model", "2012-02-02", conf);
      expect(second.state).toBe("success");
      expect(await tiStates(second.pk)).toMatchObject({ deploy: "skipped", notify_not_deployed: "success" });
      expect((await request(app).get("/api/v2/models/weather_type/versions").set(bearer(viewer))).body.total_entries).toBe(1);

      // A margin below zero lets an equal model through: version 2 replaces 1 in production, and
      // the running server serves it from the next request on.
      const third = await run("weather_model", "2012-02-03", { ...conf, margin: -1 });
      expect(await tiStates(third.pk)).toMatchObject({ deploy: "success", notify_not_deployed: "skipped" });
      const versions = (await request(app).get("/api/v2/models/weather_type/versions").set(bearer(viewer))).body.versions;
      expect(versions.map((v: { version: number; stage: string }) => [v.version, v.stage])).toEqual([[2, "production"], [1, "archived"]]);
      expect((await predict({ instances: [instance] })).body.version).toBe(2);

      // Rollback: promote version 1 again.
      expect((await request(app).post("/api/v2/models/weather_type/versions/1/promote").set(bearer(viewer))).status).toBe(403);
      const rollback = await request(app).post("/api/v2/models/weather_type/versions/1/promote").set(bearer(operator));
      expect(rollback.status).toBe(200);
      expect(rollback.body).toMatchObject({ version: 1, stage: "production" });
      expect((await predict({ instances: [instance] })).body.version).toBe(1);
      const after = (await request(app).get("/api/v2/models/weather_type/versions").set(bearer(viewer))).body.versions;
      expect(after.map((v: { version: number; stage: string }) => [v.version, v.stage])).toEqual([[2, "archived"], [1, "production"]]);
    });

    it("penguins_model: trains one mapped task per hyper-parameter set, picks the best and deploys it", async () => {
      const grid = [
        { nEstimators: 2, maxDepth: 1, maxFeatures: 0.5 },
        { nEstimators: 10, maxDepth: 4, maxFeatures: 1 },
        { nEstimators: 20, maxDepth: 6, maxFeatures: 1 },
      ];
      const first = await run("penguins_model", "2024-01-01", { grid });
      expect(first.state).toBe("success");
      const tis = await db.store.db.selectFrom("task_instances").select(["task_id", "map_index", "state"]).where("run_pk", "=", first.pk).orderBy("task_id").orderBy("map_index").execute();
      expect(tis.filter((t) => t.task_id === "train").map((t) => [t.map_index, t.state])).toEqual([[0, "success"], [1, "success"], [2, "success"]]);
      expect(await tiStates(first.pk)).toMatchObject({ pick_best: "success", deploy: "success", notify_not_deployed: "skipped" });

      // Each mapped task logged its own metrics; the deployed version is the best of them.
      const metrics = (await request(app).get(`/api/v2/dags/penguins_model/metrics?dag_run_id=${encodeURIComponent(first.runId)}&name=macro_f1`).set(bearer(viewer))).body.metrics as { map_index: number; value: number }[];
      expect(metrics.map((m) => m.map_index).sort()).toEqual([0, 1, 2]);
      const bestF1 = Math.max(...metrics.map((m) => m.value));
      const [v1] = (await request(app).get("/api/v2/models/penguin_species/versions").set(bearer(viewer))).body.versions;
      expect(v1).toMatchObject({ version: 1, stage: "production", metrics: { macro_f1: bestF1 } });
      expect(bestF1).toBeGreaterThan(0.8); // three well-separated species

      const gentoo = await request(app)
        .post("/api/v2/models/penguin_species/predict")
        .set(bearer(operator))
        .send({ instances: [{ beak_length_mm: 47.5, beak_depth_mm: 14.9, flipper_length_mm: 220, body_mass_g: 5200 }] });
      expect(gentoo.status).toBe(200);
      expect(gentoo.body).toMatchObject({ model: "penguin_species", version: 1, predictions: [{ species: "Gentoo" }] });

      // The same search again is no better: not deployed.
      const second = await run("penguins_model", "2024-01-02", { grid });
      expect(await tiStates(second.pk)).toMatchObject({ deploy: "skipped", notify_not_deployed: "success" });
    });

    it("answers bad predict input with 422 naming the field, and unknown models or versions with 404", async () => {
      const { wind: _wind, ...missing } = instance;
      const noWind = await predict({ instances: [missing] });
      expect(noWind.status).toBe(422);
      expect(noWind.body.detail).toEqual([expect.objectContaining({ type: "missing", loc: ["body", "instances", 0, "wind"] })]);

      const wrongType = await predict({ instances: [instance, { ...instance, temp_max: "warm" }] });
      expect(wrongType.status).toBe(422);
      expect(wrongType.body.detail).toEqual([expect.objectContaining({ type: "float_type", loc: ["body", "instances", 1, "temp_max"], input: "warm" })]);

      const extra = await predict({ instances: [{ ...instance, humidity: 3 }] });
      expect(extra.status).toBe(422);
      expect(extra.body.detail[0].loc).toEqual(["body", "instances", 0, "humidity"]);
      expect((await predict({})).body.detail[0].loc).toEqual(["body", "instances"]);
      expect((await predict({ instances: [instance] }, viewer)).status).toBe(403);

      expect((await request(app).post("/api/v2/models/nope/predict").set(bearer(operator)).send({ instances: [instance] })).status).toBe(404);
      expect((await request(app).get("/api/v2/models/nope/versions").set(bearer(viewer))).status).toBe(404);
      expect((await request(app).post("/api/v2/models/weather_type/versions/99/promote").set(bearer(operator))).status).toBe(404);
      expect((await request(app).post("/api/v2/models/weather_type/versions/zero/promote").set(bearer(operator))).status).toBe(422);
      expect((await request(app).get("/api/v2/dags/nope/metrics").set(bearer(viewer))).status).toBe(404);
      // Nothing changed: version 1 still serves.
      expect((await predict({ instances: [instance] })).body.version).toBe(1);
    });
  });
});
