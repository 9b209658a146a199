// /api/v2/variables and /api/v2/connections on PGlite and PostgreSQL: Airflow's shapes, admin
// only (viewer and operator 403, reads included), 404 / 409 / 422 with nothing stored, bulk
// PATCH with Airflow's existence rules, and encryption at rest (the stored row is ciphertext).
import request from "supertest";
import type { Express } from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SecretCipher } from "../../engine/secrets/cipher.js";
import { backends, createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { schemaProblems } from "./airflowSchema.js";
import { bearer, loginAs, SECRET_KEY, testApp } from "./helpers.js";

describe.each(backends())("variables and connections API on %s", (backend) => {
  let db: TestDatabase;
  let app: Express;
  let viewer: string;
  let operator: string;
  let admin: string;

  beforeAll(async () => {
    db = await createTestDatabase(backend);
    app = testApp(db.store);
    viewer = await loginAs(app, db.store, "viewer");
    operator = await loginAs(app, db.store, "operator");
    admin = await loginAs(app, db.store, "admin");
  });
  afterAll(async () => {
    await db?.drop();
  });

  const as = (token: string) => ({
    get: (path: string) => request(app).get(path).set(bearer(token)),
    post: (path: string, body: unknown) => request(app).post(path).set(bearer(token)).send(body as object),
    patch: (path: string, body: unknown) => request(app).patch(path).set(bearer(token)).send(body as object),
    delete: (path: string) => request(app).delete(path).set(bearer(token)),
  });
  const count = async (table: "variables" | "connections") =>
    Number((await db.store.db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow()).n);
  const rawVariable = (key: string) => db.store.db.selectFrom("variables").selectAll().where("key", "=", key).executeTakeFirst();

  describe("variables", () => {
    it("creates, reads, lists, patches and deletes in Airflow's shapes", async () => {
      const created = await as(admin).post("/api/v2/variables", { key: "region", value: "eu-west-1", description: "where we run" });
      expect(created.status).toBe(201);
      expect(schemaProblems(created.body, "VariableResponse")).toEqual([]);
      expect(created.body).toEqual({ key: "region", value: "eu-west-1", description: "where we run", is_encrypted: true });

      const json = await as(admin).post("/api/v2/variables", { key: "limits", value: { max: 3, tags: ["a"] } });
      expect(json.status).toBe(201);
      expect(json.body.value).toBe('{"max":3,"tags":["a"]}');
      expect(json.body.description).toBeNull();

      const one = await as(admin).get("/api/v2/variables/region");
      expect(one.status).toBe(200);
      expect(one.body.value).toBe("eu-west-1");

      const list = await as(admin).get("/api/v2/variables?order_by=-key&limit=1");
      expect(list.status).toBe(200);
      expect(schemaProblems(list.body, "VariableCollectionResponse")).toEqual([]);
      expect(list.body.total_entries).toBe(2);
      expect(list.body.variables.map((v: { key: string }) => v.key)).toEqual(["region"]);
      const pattern = await as(admin).get("/api/v2/variables?variable_key_pattern=lim%25");
      expect(pattern.body.variables.map((v: { key: string }) => v.key)).toEqual(["limits"]);
      expect((await as(admin).get("/api/v2/variables?order_by=nope")).status).toBe(400);

      const patched = await as(admin).patch("/api/v2/variables/region?update_mask=value", { key: "region", value: "us-east-1", description: "ignored by the mask" });
      expect(patched.status).toBe(200);
      expect(patched.body).toEqual({ key: "region", value: "us-east-1", description: "where we run", is_encrypted: true });
      const whole = await as(admin).patch("/api/v2/variables/region", { key: "region", value: "ap-south-1" });
      expect(whole.body).toEqual({ key: "region", value: "ap-south-1", description: null, is_encrypted: true });

      expect((await as(admin).delete("/api/v2/variables/region")).status).toBe(204);
      expect((await as(admin).get("/api/v2/variables/region")).status).toBe(404);
      expect((await as(admin).delete("/api/v2/variables/region")).status).toBe(404);
      expect((await as(admin).delete("/api/v2/variables/limits")).status).toBe(204);
    });

    it("stores the value encrypted and answers a secret-looking key's value as ***", async () => {
      const res = await as(admin).post("/api/v2/variables", { key: "slack_api_key", value: "xoxb-plain-secret-value" });
      expect(res.status).toBe(201);
      expect(res.body.value).toBe("***");
      expect((await as(admin).get("/api/v2/variables/slack_api_key")).body.value).toBe("***");
      const row = await rawVariable("slack_api_key");
      expect(row!.is_encrypted).toBe(true);
      expect(row!.val).not.toContain("xoxb-plain-secret-value");
      // Ciphertext under UPDRAFT_SECRET_KEY, and only under it.
      expect(new SecretCipher(SECRET_KEY).decrypt(row!.val, "x")).toBe("xoxb-plain-secret-value");
      expect(() => new SecretCipher("some-other-secret-key-123").decrypt(row!.val, "x")).toThrow(/another secret key/);
      await as(admin).delete("/api/v2/variables/slack_api_key");
    });

    it("is admin only: viewer and operator get 403 and nothing is stored", async () => {
      await as(admin).post("/api/v2/variables", { key: "guarded", value: "v" });
      for (const token of [viewer, operator]) {
        expect((await as(token).get("/api/v2/variables")).status).toBe(403);
        expect((await as(token).get("/api/v2/variables/guarded")).status).toBe(403);
        expect((await as(token).post("/api/v2/variables", { key: "sneaky", value: "v" })).status).toBe(403);
        expect((await as(token).patch("/api/v2/variables/guarded", { key: "guarded", value: "changed" })).status).toBe(403);
        expect((await as(token).patch("/api/v2/variables", { actions: [{ action: "delete", entities: ["guarded"] }] })).status).toBe(403);
        expect((await as(token).delete("/api/v2/variables/guarded")).status).toBe(403);
      }
      expect((await request(app).get("/api/v2/variables")).status).toBe(401);
      expect((await as(admin).get("/api/v2/variables/guarded")).body.value).toBe("v");
      expect((await rawVariable("sneaky"))).toBeUndefined();
      await as(admin).delete("/api/v2/variables/guarded");
    });

    it("answers 409, 422, 400 and 404 on bad input and stores nothing", async () => {
      await as(admin).post("/api/v2/variables", { key: "taken", value: "first" });
      const before = await count("variables");
      const dup = await as(admin).post("/api/v2/variables", { key: "taken", value: "second" });
      expect(dup.status).toBe(409);
      expect(dup.body.detail).toContain("taken");
      for (const body of [{ value: "no key" }, { key: "k" }, { key: "", value: "x" }, { key: "x".repeat(251), value: "x" }, { key: "k", value: "v", extra: 1 }, { key: 5, value: "v" }]) {
        const res = await as(admin).post("/api/v2/variables", body);
        expect(res.status, JSON.stringify(body)).toBe(422);
        expect(res.body.detail[0].loc[0]).toBe("body");
      }
      const missingValue = await as(admin).post("/api/v2/variables", { key: "k" });
      expect(missingValue.body.detail[0].loc).toEqual(["body", "value"]);
      expect((await as(admin).patch("/api/v2/variables/taken", { key: "other", value: "x" })).status).toBe(400);
      expect((await as(admin).patch("/api/v2/variables/ghost", { key: "ghost", value: "x" })).status).toBe(404);
      expect(await count("variables")).toBe(before);
      expect((await as(admin).get("/api/v2/variables/taken")).body.value).toBe("first");
      await as(admin).delete("/api/v2/variables/taken");
    });

    it("bulk PATCH follows Airflow's action_on_existence / action_on_non_existence", async () => {
      await as(admin).post("/api/v2/variables", { key: "b1", value: "one" });
      const res = await as(admin).patch("/api/v2/variables", {
        actions: [
          { action: "create", entities: [{ key: "b1", value: "dup" }, { key: "b2", value: "two" }] }, // default fail: nothing created
          { action: "create", entities: [{ key: "b1", value: "dup" }, { key: "b3", value: "three" }], action_on_existence: "skip" },
          { action: "update", entities: [{ key: "b1", value: "uno" }, { key: "nope", value: "x" }], action_on_non_existence: "skip" },
          { action: "delete", entities: ["b3", "missing"] }, // default fail: nothing deleted
        ],
      });
      expect(res.status).toBe(200);
      expect(schemaProblems(res.body, "BulkResponse")).toEqual([]);
      expect(res.body.create.success).toEqual(["b3"]);
      expect(res.body.create.errors).toEqual([{ error: "The variables with these keys: {'b1'} already exist.", status_code: 409 }]);
      expect(res.body.update).toEqual({ success: ["b1"], errors: [] });
      expect(res.body.delete).toEqual({ success: [], errors: [{ error: "The variables with these keys: {'missing'} were not found.", status_code: 404 }] });
      expect((await as(admin).get("/api/v2/variables/b1")).body.value).toBe("uno");
      expect((await as(admin).get("/api/v2/variables/b2")).status).toBe(404);
      expect((await as(admin).get("/api/v2/variables/b3")).body.value).toBe("three");

      const overwrite = await as(admin).patch("/api/v2/variables", {
        actions: [
          { action: "create", entities: [{ key: "b1", value: "over" }], action_on_existence: "overwrite" },
          { action: "delete", entities: ["b3", "missing"], action_on_non_existence: "skip" },
        ],
      });
      expect(overwrite.body).toEqual({ create: { success: ["b1"], errors: [] }, delete: { success: ["b3"], errors: [] } });
      expect((await as(admin).get("/api/v2/variables/b1")).body.value).toBe("over");

      // A malformed action anywhere: 422, and not even the valid actions before it apply.
      const before = await count("variables");
      const bad = await as(admin).patch("/api/v2/variables", { actions: [{ action: "create", entities: [{ key: "b9", value: "x" }] }, { action: "explode", entities: [] }] });
      expect(bad.status).toBe(422);
      expect(await count("variables")).toBe(before);
      await as(admin).delete("/api/v2/variables/b1");
    });
  });

  describe("connections", () => {
    const pg = { connection_id: "warehouse", conn_type: "postgres", host: "db.internal", login: "etl", schema: "analytics", port: 5432, password: "pg-Secret-42", extra: '{"sslmode":"require","api_token":"tok-xyz-987"}', description: "the warehouse" };

    it("creates, reads, lists, patches and deletes; password and secret extra fields as ***", async () => {
      const created = await as(admin).post("/api/v2/connections", pg);
      expect(created.status).toBe(201);
      expect(schemaProblems(created.body, "ConnectionResponse")).toEqual([]);
      expect(created.body).toEqual({ ...pg, password: "***", extra: '{"sslmode":"require","api_token":"***"}' });
      const bare = await as(admin).post("/api/v2/connections", { connection_id: "plain_http", conn_type: "http" });
      expect(bare.body).toEqual({ connection_id: "plain_http", conn_type: "http", description: null, host: null, login: null, schema: null, port: null, password: null, extra: null });

      const list = await as(admin).get("/api/v2/connections?order_by=connection_id");
      expect(schemaProblems(list.body, "ConnectionCollectionResponse")).toEqual([]);
      expect(list.body.total_entries).toBe(2);
      expect(list.body.connections.map((c: { connection_id: string }) => c.connection_id)).toEqual(["plain_http", "warehouse"]);
      expect(JSON.stringify(list.body)).not.toContain("pg-Secret-42");
      expect(JSON.stringify(list.body)).not.toContain("tok-xyz-987");
      expect((await as(admin).get("/api/v2/connections?connection_id_pattern=ware%25")).body.total_entries).toBe(1);

      // Sending the masks back keeps the stored secrets; update_mask limits what changes.
      const hostOnly = await as(admin).patch("/api/v2/connections/warehouse?update_mask=host", { ...pg, host: "db2.internal", login: "ignored", password: "***" });
      expect(hostOnly.status).toBe(200);
      expect(hostOnly.body).toMatchObject({ host: "db2.internal", login: "etl", password: "***" });
      const roundTrip = await as(admin).patch("/api/v2/connections/warehouse", { ...created.body, port: 6543 });
      expect(roundTrip.body.port).toBe(6543);
      const raw = await db.store.db.selectFrom("connections").selectAll().where("conn_id", "=", "warehouse").executeTakeFirstOrThrow();
      const cipher = new SecretCipher(SECRET_KEY);
      expect(cipher.decrypt(raw.password!, "p")).toBe("pg-Secret-42");
      expect(JSON.parse(cipher.decrypt(raw.extra!, "e"))).toEqual({ sslmode: "require", api_token: "tok-xyz-987" });

      expect((await as(admin).delete("/api/v2/connections/plain_http")).status).toBe(204);
      expect((await as(admin).get("/api/v2/connections/plain_http")).status).toBe(404);
    });

    it("stores the password and extra encrypted (the raw row is ciphertext)", async () => {
      const raw = await db.store.db.selectFrom("connections").selectAll().where("conn_id", "=", "warehouse").executeTakeFirstOrThrow();
      expect(raw.is_encrypted).toBe(true);
      expect(raw.password).not.toContain("pg-Secret-42");
      expect(raw.extra).not.toContain("tok-xyz-987");
      expect(raw.extra).not.toContain("sslmode");
      expect(raw.host).toBe("db.internal"); // the round trip above sent the original host back
    });

    it("is admin only, and answers 409 / 422 / 400 / 404 storing nothing", async () => {
      for (const token of [viewer, operator]) {
        expect((await as(token).get("/api/v2/connections/warehouse")).status).toBe(403);
        expect((await as(token).post("/api/v2/connections", { connection_id: "x", conn_type: "http" })).status).toBe(403);
        expect((await as(token).delete("/api/v2/connections/warehouse")).status).toBe(403);
      }
      const before = await count("connections");
      expect((await as(admin).post("/api/v2/connections", pg)).status).toBe(409);
      for (const body of [
        { conn_type: "http" },
        { connection_id: "bad id!", conn_type: "http" },
        { connection_id: "c", conn_type: "http", port: "5432" },
        { connection_id: "c", conn_type: "http", port: 70000 },
        { connection_id: "c", conn_type: "http", extra: "not json" },
        { connection_id: "c", conn_type: "http", extra: "[1,2]" },
        { connection_id: "c", conn_type: "http", unknown: 1 },
      ]) {
        const res = await as(admin).post("/api/v2/connections", body);
        expect(res.status, JSON.stringify(body)).toBe(422);
      }
      const badExtra = await as(admin).post("/api/v2/connections", { connection_id: "c", conn_type: "http", extra: "nope" });
      expect(badExtra.body.detail[0].loc).toEqual(["body", "extra"]);
      expect((await as(admin).patch("/api/v2/connections/warehouse", { ...pg, connection_id: "other" })).status).toBe(400);
      expect((await as(admin).patch("/api/v2/connections/ghost", { ...pg, connection_id: "ghost" })).status).toBe(404);
      expect((await as(admin).patch("/api/v2/connections/warehouse?update_mask=connection_id", pg)).status).toBe(400);
      expect(await count("connections")).toBe(before);
    });

    it("bulk PATCH creates, updates and deletes with Airflow's messages", async () => {
      const res = await as(admin).patch("/api/v2/connections", {
        actions: [
          { action: "create", entities: [{ connection_id: "c1", conn_type: "http", password: "c1-password" }, { connection_id: "warehouse", conn_type: "postgres" }] },
          { action: "create", entities: [{ connection_id: "c1", conn_type: "http", password: "c1-password" }] },
          { action: "update", entities: [{ connection_id: "ghost", conn_type: "http" }] },
          { action: "delete", entities: ["warehouse"] },
        ],
      });
      expect(res.status).toBe(200);
      expect(res.body.create).toEqual({ success: ["c1"], errors: [{ error: "The connections with these connection_ids: {'warehouse'} already exist.", status_code: 409 }] });
      expect(res.body.update.errors).toEqual([{ error: "The connections with these connection_ids: {'ghost'} were not found.", status_code: 404 }]);
      expect(res.body.delete).toEqual({ success: ["warehouse"], errors: [] });
      expect((await as(admin).get("/api/v2/connections/c1")).body.password).toBe("***");
      expect((await as(admin).get("/api/v2/connections/warehouse")).status).toBe(404);
    });
  });
});
