// /api/v2/pools on PGlite and PostgreSQL: Airflow's shapes and status codes, admin-only writes,
// the refusals (duplicate 409, unknown 404, negative slots and bad names 422, default_pool 400)
// storing nothing, occupancy counts from the TIs, and the bulk PATCH.
import request from "supertest";
import type { Express } from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRun } from "../../engine/store/runs/createRun.js";
import { backends, createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { dagsFolderWith, startEngine, type TestEngine } from "../helpers/engine.js";
import { schemaProblems } from "./airflowSchema.js";
import { bearer, loginAs, testApp } from "./helpers.js";

const DAGS = {
  "pooled_api.ts": `
import { dag } from "updraft";
export default dag({ id: "pooled_api" }, (d) => {
  d.task("a", () => 1, { pool: "etl", poolSlots: 2 });
  d.task("b", () => 1, { pool: "etl" });
});`,
};

describe.each(backends())("pools API on %s", (backend) => {
  let db: TestDatabase;
  let engine: TestEngine;
  let app: Express;
  let admin: string;
  let operator: string;
  let viewer: string;

  const pools = async () => (await db.store.db.selectFrom("pools").selectAll().orderBy("name").execute()).map((p) => `${p.name}:${p.slots}`);

  beforeAll(async () => {
    db = await createTestDatabase(backend);
    engine = await startEngine(db.store, { dagsFolder: dagsFolderWith(DAGS), worker: false });
    app = testApp(db.store);
    admin = await loginAs(app, db.store, "admin");
    operator = await loginAs(app, db.store, "operator");
    viewer = await loginAs(app, db.store, "viewer");
  });
  afterAll(async () => {
    await engine?.stop();
    await db?.drop();
  });

  it("lists default_pool with 128 slots in Airflow's shape", async () => {
    const res = await request(app).get("/api/v2/pools").set(bearer(viewer));
    expect(res.status).toBe(200);
    expect(schemaProblems(res.body, "PoolCollectionResponse")).toEqual([]);
    expect(res.body.total_entries).toBe(1);
    expect(res.body.pools[0]).toEqual({
      name: "default_pool",
      slots: 128,
      description: "Default pool",
      include_deferred: false,
      occupied_slots: 0,
      running_slots: 0,
      queued_slots: 0,
      scheduled_slots: 0,
      open_slots: 128,
      deferred_slots: 0,
    });
  });

  it("creates a pool (admin only), 201 with PoolResponse; GET reads it", async () => {
    expect((await request(app).post("/api/v2/pools").set(bearer(operator)).send({ name: "etl", slots: 3 })).status).toBe(403);
    expect((await request(app).post("/api/v2/pools").set(bearer(viewer)).send({ name: "etl", slots: 3 })).status).toBe(403);
    expect(await pools()).toEqual(["default_pool:128"]);
    const res = await request(app).post("/api/v2/pools").set(bearer(admin)).send({ name: "etl", slots: 3, description: "ETL jobs" });
    expect(res.status).toBe(201);
    expect(schemaProblems(res.body, "PoolResponse")).toEqual([]);
    expect(res.body).toMatchObject({ name: "etl", slots: 3, description: "ETL jobs", include_deferred: false, open_slots: 3 });
    const got = await request(app).get("/api/v2/pools/etl").set(bearer(viewer));
    expect(got.status).toBe(200);
    expect(got.body).toEqual(res.body);
  });

  it("refuses bad input with nothing stored: duplicate 409, negative slots 422, bad name 422, unknown field 422", async () => {
    const dup = await request(app).post("/api/v2/pools").set(bearer(admin)).send({ name: "etl", slots: 9 });
    expect(dup.status).toBe(409);
    expect(dup.body.detail).toMatch(/etl.*already exists/);
    const negative = await request(app).post("/api/v2/pools").set(bearer(admin)).send({ name: "neg", slots: -1 });
    expect(negative.status).toBe(422);
    expect(negative.body.detail[0].loc).toEqual(["body", "slots"]);
    const badName = await request(app).post("/api/v2/pools").set(bearer(admin)).send({ name: "no spaces/please", slots: 1 });
    expect(badName.status).toBe(422);
    expect(badName.body.detail[0].loc).toEqual(["body", "name"]);
    const extra = await request(app).post("/api/v2/pools").set(bearer(admin)).send({ name: "x", slots: 1, colour: "red" });
    expect(extra.status).toBe(422);
    const patchNegative = await request(app).patch("/api/v2/pools/etl?update_mask=slots").set(bearer(admin)).send({ slots: -5 });
    expect(patchNegative.status).toBe(422);
    expect(await pools()).toEqual(["default_pool:128", "etl:3"]);
  });

  it("answers 404 for an unknown pool on GET, PATCH and DELETE", async () => {
    for (const req of [
      request(app).get("/api/v2/pools/nope").set(bearer(viewer)),
      request(app).patch("/api/v2/pools/nope?update_mask=slots").set(bearer(admin)).send({ slots: 1 }),
      request(app).delete("/api/v2/pools/nope").set(bearer(admin)),
    ]) {
      const res = await req;
      expect(res.status).toBe(404);
      expect(res.body.detail).toBe("The Pool with name: `nope` was not found");
    }
  });

  it("patches with and without update_mask; default_pool allows only slots and include_deferred; it cannot be deleted", async () => {
    const slots = await request(app).patch("/api/v2/pools/etl?update_mask=slots").set(bearer(admin)).send({ slots: 4, description: "ignored" });
    expect(slots.status).toBe(200);
    expect(slots.body).toMatchObject({ name: "etl", slots: 4, description: "ETL jobs" });
    // Without a mask the body is a whole pool.
    expect((await request(app).patch("/api/v2/pools/etl").set(bearer(admin)).send({ description: "x" })).status).toBe(422);
    const whole = await request(app).patch("/api/v2/pools/etl").set(bearer(admin)).send({ pool: "etl", slots: 5, description: "ETL" });
    expect(whole.status).toBe(200);
    expect(whole.body).toMatchObject({ name: "etl", slots: 5, description: "ETL" });
    expect((await request(app).patch("/api/v2/pools/default_pool").set(bearer(admin)).send({ pool: "renamed", slots: 1 })).status).toBe(400);
    const def = await request(app).patch("/api/v2/pools/default_pool?update_mask=slots").set(bearer(admin)).send({ slots: 64 });
    expect(def.status).toBe(200);
    expect(def.body.slots).toBe(64);
    const del = await request(app).delete("/api/v2/pools/default_pool").set(bearer(admin));
    expect(del.status).toBe(400);
    expect(await pools()).toEqual(["default_pool:64", "etl:5"]);
  });

  it("counts queued and running slots from the TIs", async () => {
    const run = await createRun(db.store.db, { dagId: "pooled_api", runType: "manual", logicalDate: null });
    // No worker: both roots are queued (3 slots waiting); then one is marked running by hand.
    await db.store.db.updateTable("task_instances").set({ state: "running" }).where("run_pk", "=", run.id).where("task_id", "=", "a").execute();
    const res = await request(app).get("/api/v2/pools/etl").set(bearer(viewer));
    expect(res.body).toMatchObject({ slots: 5, running_slots: 2, occupied_slots: 2, queued_slots: 1, open_slots: 3 });
    const list = await request(app).get("/api/v2/pools?pool_name_pattern=et%25&order_by=-slots").set(bearer(viewer));
    expect(list.body.total_entries).toBe(1);
    expect(list.body.pools.map((p: { name: string }) => p.name)).toEqual(["etl"]);
    await db.store.db.deleteFrom("dag_runs").where("id", "=", run.id).execute();
  });

  it("bulk PATCH creates, updates and deletes, reporting errors per action as Airflow does", async () => {
    const res = await request(app)
      .patch("/api/v2/pools")
      .set(bearer(admin))
      .send({
        actions: [
          { action: "create", entities: [{ name: "gpu", slots: 2 }, { name: "etl", slots: 1 }] },
          { action: "create", entities: [{ name: "gpu2", slots: 2 }] },
          { action: "update", entities: [{ name: "gpu2", slots: 7 }] },
          { action: "delete", entities: ["missing"], action_on_non_existence: "skip" },
        ],
      });
    expect(res.status).toBe(200);
    expect(schemaProblems(res.body, "BulkResponse")).toEqual([]);
    // The first create clashed with etl: nothing of it was written.
    expect(res.body.create).toEqual({ success: ["gpu2"], errors: [{ error: "The pools with these pool names: {'etl'} already exist.", status_code: 409 }] });
    expect(res.body.update).toEqual({ success: ["gpu2"], errors: [] });
    expect(res.body.delete).toEqual({ success: [], errors: [] });
    expect(await pools()).toEqual(["default_pool:64", "etl:5", "gpu2:7"]);
    const bad = await request(app).patch("/api/v2/pools").set(bearer(admin)).send({ actions: [{ action: "create", entities: [{ name: "z", slots: -1 }] }] });
    expect(bad.status).toBe(422);
    const del = await request(app).patch("/api/v2/pools").set(bearer(admin)).send({ actions: [{ action: "delete", entities: ["gpu2"] }] });
    expect(del.body.delete).toEqual({ success: ["gpu2"], errors: [] });
    expect((await request(app).delete("/api/v2/pools/etl").set(bearer(admin))).status).toBe(204);
    expect(await pools()).toEqual(["default_pool:64"]);
  });
});
