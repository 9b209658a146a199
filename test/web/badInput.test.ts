// Bad input and bad credentials get a clear 4xx in Airflow's shape, and change nothing stored.
// The engine here only parses DAGs (no worker), so every run a request creates stays visible.
import { SignJWT } from "jose";
import request from "supertest";
import type { Express } from "express";
import pino from "pino";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Store } from "../../engine/store/db.js";
import { createApp } from "../../web/server/app.js";
import { backends, createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { dagsFolderWith, startEngine, type TestEngine } from "../helpers/engine.js";
import { schemaProblems } from "./airflowSchema.js";
import { bearer, countRuns, loginAs, SECRET_KEY, testApp } from "./helpers.js";

const DAGS = {
  "manual.ts": `
import { dag } from "updraft";
export default dag({ id: "manual" }, (d) => { d.task("only", () => 1); });`,
};

const TRIGGER = "/api/v2/dags/manual/dagRuns";

describe.each(backends())("bad input on %s", (backend) => {
  let db: TestDatabase;
  let engine: TestEngine;
  let app: Express;
  let viewer: string;
  let operator: string;
  let admin: string;

  beforeAll(async () => {
    db = await createTestDatabase(backend);
    engine = await startEngine(db.store, { dagsFolder: dagsFolderWith(DAGS), worker: false });
    app = testApp(db.store);
    viewer = await loginAs(app, db.store, "viewer");
    operator = await loginAs(app, db.store, "operator");
    admin = await loginAs(app, db.store, "admin");
  });
  afterAll(async () => {
    await engine?.stop();
    await db?.drop();
  });

  /** Runs `send`, and asserts that the number of stored runs did not change. */
  async function storesNothing(send: () => Promise<request.Response>): Promise<request.Response> {
    const before = await countRuns(db.store);
    const res = await send();
    expect(await countRuns(db.store)).toBe(before);
    return res;
  }

  const trigger = (body: unknown, token = operator) => request(app).post(TRIGGER).set(bearer(token)).send(body as object);

  function expectValidationError(res: request.Response, ...expected: { loc: (string | number)[]; type?: string }[]) {
    expect(res.status).toBe(422);
    expect(schemaProblems(res.body, "HTTPValidationError")).toEqual([]);
    expect(res.body.detail).toHaveLength(expected.length);
    expect(res.body.detail).toEqual(expect.arrayContaining(expected.map((e) => expect.objectContaining(e))));
    for (const d of res.body.detail) expect(typeof d.msg).toBe("string");
  }

  describe("authentication", () => {
    it("refuses a request without a token with 401, and stores nothing", async () => {
      const list = await request(app).get("/api/v2/dags");
      expect(list.status).toBe(401);
      expect(list.body).toEqual({ detail: "Not authenticated" });
      expect(list.headers["www-authenticate"]).toBe("Bearer");
      const post = await storesNothing(() => request(app).post(TRIGGER).send({ logical_date: null }));
      expect(post.status).toBe(401);
      // Bodies are not even parsed before authentication.
      const malformed = await request(app).post(TRIGGER).set("Content-Type", "application/json").send("{oops");
      expect(malformed.status).toBe(401);
      const basic = await request(app).get("/api/v2/dags").set("Authorization", "Basic YWRtaW46YWRtaW4=");
      expect(basic.status).toBe(401);
    });

    it("refuses a tampered, foreign, expired or role-less token with 401", async () => {
      const [header, payload, signature] = operator.split(".");
      const flipped = `${header}.${payload}.${signature!.slice(0, -2)}${signature!.endsWith("AA") ? "BB" : "AA"}`;
      const claims = JSON.parse(Buffer.from(payload!, "base64url").toString()) as Record<string, unknown>;
      const promoted = `${header}.${Buffer.from(JSON.stringify({ ...claims, role: "admin" })).toString("base64url")}.${signature}`;
      const sign = (body: Record<string, unknown>, key = SECRET_KEY, expiresAt = Math.floor(Date.now() / 1000) + 60) =>
        new SignJWT(body).setProtectedHeader({ alg: "HS256" }).setSubject("operator_user").setExpirationTime(expiresAt).sign(new TextEncoder().encode(key));

      for (const [token, detail] of [
        [flipped, "Invalid JWT token"],
        [promoted, "Invalid JWT token"],
        ["not-a-jwt", "Invalid JWT token"],
        [await sign({ role: "admin" }, "another-secret-key-0123456789"), "Invalid JWT token"],
        [await sign({ role: "superuser" }), "Invalid JWT token"],
        [await sign({}), "Invalid JWT token"],
        [await sign({ role: "admin" }, SECRET_KEY, Math.floor(Date.now() / 1000) - 10), "Token Expired"],
      ] as const) {
        const res = await storesNothing(() => trigger({ logical_date: null }, token));
        expect(res.status, token).toBe(401);
        expect(res.body).toEqual({ detail });
      }
      // The untouched token works, so the 401s above are about the tampering.
      expect((await request(app).get("/api/v2/dags").set(bearer(operator))).status).toBe(200);
    });

    it("lets a viewer read but not trigger or pause (403), an operator and an admin do both", async () => {
      expect((await request(app).get("/api/v2/dags/manual").set(bearer(viewer))).status).toBe(200);
      const triggered = await storesNothing(() => trigger({ logical_date: null, dag_run_id: "by_viewer" }, viewer));
      expect(triggered.status).toBe(403);
      expect(triggered.body).toEqual({ detail: "Forbidden" });
      const paused = await request(app).patch("/api/v2/dags/manual").set(bearer(viewer)).send({ is_paused: true });
      expect(paused.status).toBe(403);
      expect((await request(app).get("/api/v2/dags/manual").set(bearer(viewer))).body.is_paused).toBe(false);

      expect((await trigger({ logical_date: null, dag_run_id: "by_operator" }, operator)).status).toBe(200);
      expect((await trigger({ logical_date: null, dag_run_id: "by_admin" }, admin)).status).toBe(200);
    });
  });

  describe("validation (422 naming the field)", () => {
    it("answers malformed JSON with json_invalid", async () => {
      const res = await storesNothing(() => request(app).post(TRIGGER).set(bearer(operator)).set("Content-Type", "application/json").send('{"logical_date": null,'));
      expect(res.status).toBe(422);
      expect(res.body.detail).toHaveLength(1);
      expect(res.body.detail[0]).toMatchObject({ type: "json_invalid", msg: "JSON decode error" });
      expect(res.body.detail[0].loc[0]).toBe("body");
      expect(typeof res.body.detail[0].loc[1]).toBe("number");
    });

    it("requires logical_date (nullable, but present)", async () => {
      const res = await storesNothing(() => trigger({ conf: { a: 1 } }));
      expectValidationError(res, { loc: ["body", "logical_date"], type: "missing" });
      expect(res.body.detail[0].msg).toBe("Field required");
    });

    it("names each field of the wrong type", async () => {
      const conf = await storesNothing(() => trigger({ logical_date: null, conf: "x" }));
      expectValidationError(conf, { loc: ["body", "conf"], type: "dict_type" });
      expect(conf.body.detail[0].input).toBe("x");

      const date = await storesNothing(() => trigger({ logical_date: 5 }));
      expectValidationError(date, { loc: ["body", "logical_date"], type: "datetime_parsing" });
      expect(date.body.detail[0].input).toBe(5);

      const both = await storesNothing(() => trigger({ logical_date: "yesterday", conf: [1], note: 3, dag_run_id: false }));
      expectValidationError(
        both,
        { loc: ["body", "logical_date"] },
        { loc: ["body", "conf"], type: "dict_type" },
        { loc: ["body", "note"], type: "string_type" },
        { loc: ["body", "dag_run_id"], type: "string_type" },
      );
    });

    it("refuses dates without a timezone, run ids outside Airflow's pattern, and half a data interval", async () => {
      expectValidationError(await storesNothing(() => trigger({ logical_date: "2024-01-01T00:00:00" })), { loc: ["body", "logical_date"] });
      expectValidationError(await storesNothing(() => trigger({ logical_date: null, dag_run_id: "a/b" })), {
        loc: ["body", "dag_run_id"],
        type: "string_pattern_mismatch",
      });
      expectValidationError(await storesNothing(() => trigger({ logical_date: null, dag_run_id: "~" })), { loc: ["body", "dag_run_id"], type: "value_error" });
      const half = await storesNothing(() => trigger({ logical_date: "2024-01-01T00:00:00Z", data_interval_start: "2024-01-01T00:00:00Z" }));
      expectValidationError(half, { loc: ["body"], type: "value_error" });
      expect(half.body.detail[0].msg).toContain("both data_interval_start and data_interval_end");
    });

    it("refuses unknown keys (additionalProperties: false)", async () => {
      const res = await storesNothing(() => trigger({ logical_date: null, execution_date: "2024-01-01T00:00:00Z", confs: {} }));
      expectValidationError(res, { loc: ["body", "execution_date"], type: "extra_forbidden" }, { loc: ["body", "confs"], type: "extra_forbidden" });
    });

    it("refuses a body that is not an object, or none at all", async () => {
      expectValidationError(await storesNothing(() => trigger([{ logical_date: null }])), { loc: ["body"], type: "model_attributes_type" });
      const none = await storesNothing(() => request(app).post(TRIGGER).set(bearer(operator)));
      expectValidationError(none, { loc: ["body"], type: "missing" });
      const text = await storesNothing(() => request(app).post(TRIGGER).set(bearer(operator)).set("Content-Type", "text/plain").send('{"logical_date": null}'));
      expectValidationError(text, { loc: ["body"], type: "missing" });
    });

    it("validates PATCH bodies too, and leaves the DAG as it was", async () => {
      const patch = (body: unknown) => request(app).patch("/api/v2/dags/manual").set(bearer(operator)).send(body as object);
      expectValidationError(await patch({ is_paused: "yes" }), { loc: ["body", "is_paused"], type: "bool_type" });
      expectValidationError(await patch({}), { loc: ["body", "is_paused"], type: "missing" });
      expectValidationError(await patch({ is_paused: true, owners: ["x"] }), { loc: ["body", "owners"], type: "extra_forbidden" });
      expect((await request(app).get("/api/v2/dags/manual").set(bearer(viewer))).body.is_paused).toBe(false);
    });

    it("refuses a body over 1 MB with 413", async () => {
      const res = await storesNothing(() => trigger({ logical_date: null, conf: { blob: "x".repeat(1_100_000) } }));
      expect(res.status).toBe(413);
      expect(typeof res.body.detail).toBe("string");
    });
  });

  describe("unknown ids and duplicates", () => {
    it("answers 404 for an unknown DAG, run or task instance, in Airflow's words", async () => {
      const unknownDag = await storesNothing(() => request(app).post("/api/v2/dags/nope/dagRuns").set(bearer(operator)).send({ logical_date: null }));
      expect(unknownDag.status).toBe(404);
      expect(unknownDag.body).toEqual({ detail: "The Dag with ID: `nope` was not found" });
      expect(schemaProblems(unknownDag.body, "HTTPExceptionResponse")).toEqual([]);

      expect((await request(app).get("/api/v2/dags/nope").set(bearer(viewer))).body).toEqual({ detail: "The Dag with ID: `nope` was not found" });
      const run = await request(app).get("/api/v2/dags/manual/dagRuns/nope").set(bearer(viewer));
      expect(run.status).toBe(404);
      expect(run.body).toEqual({ detail: "The DagRun with dag_id: `manual` and run_id: `nope` was not found" });
      const tis = await request(app).get("/api/v2/dags/manual/dagRuns/nope/taskInstances").set(bearer(viewer));
      expect(tis.status).toBe(404);
      const logs = await request(app).get("/api/v2/dags/manual/dagRuns/nope/taskInstances/only/logs/1").set(bearer(viewer));
      expect(logs.status).toBe(404);
      const route = await request(app).get("/api/v2/nothing/here").set(bearer(viewer));
      expect(route.status).toBe(404);
      expect(route.body).toEqual({ detail: "Not Found" });
    });

    it("answers 409 for a duplicate dag_run_id and keeps the first run as it was", async () => {
      const first = await trigger({ logical_date: "2024-05-01T00:00:00Z", dag_run_id: "dup", conf: { n: 1 } });
      expect(first.status).toBe(200);
      const again = await storesNothing(() => trigger({ logical_date: "2024-06-01T00:00:00Z", dag_run_id: "dup", conf: { n: 2 } }));
      expect(again.status).toBe(409);
      expect(again.body).toEqual({ detail: "DAG Run with run_id: `dup` already exists for DAG: `manual`" });
      const stored = await request(app).get("/api/v2/dags/manual/dagRuns/dup").set(bearer(viewer));
      expect(stored.body).toMatchObject({ conf: { n: 1 }, logical_date: "2024-05-01T00:00:00.000Z" });
    });
  });

  describe("unexpected errors", () => {
    it("answers 500 without internals, and logs the error", async () => {
      const logged: string[] = [];
      const logger = pino({ level: "error" }, new Writable({ write: (chunk, _enc, done) => (logged.push(String(chunk)), done()) }));
      const failing: Store = {
        ...db.store,
        db: new Proxy(db.store.db, {
          get: (target, prop, receiver) =>
            prop === "selectFrom"
              ? () => {
                  throw new Error("connection to 10.0.0.7 refused: secret internals");
                }
              : Reflect.get(target, prop, receiver),
        }),
      };
      const broken = createApp(failing, { secretKey: SECRET_KEY, tokenTtlMs: 60_000, version: "x", logger });
      const res = await request(broken).get("/api/v2/dags").set(bearer(viewer));
      expect(res.status).toBe(500);
      expect(res.body).toEqual({ detail: "Internal Server Error" });
      expect(res.text).not.toContain("secret internals");
      expect(logged.join("")).toContain("secret internals");

      const health = await request(broken).get("/api/v2/monitor/health");
      expect(health.status).toBe(200);
      expect(health.body.metadatabase).toEqual({ status: "unhealthy" });
      expect(health.body.scheduler.status).toBe("unhealthy");
    });
  });
});
