// HTTP hardening: security headers on the API, the UI and /docs; no CORS unless origins are
// configured; the login rate limit; the body size limit; and a 500 that says nothing of internals.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../engine/logger.js";
import type { Store } from "../../engine/store/db.js";
import { createApp } from "../../web/server/app.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { bearer, loginAs, SECRET_KEY, testApp } from "./helpers.js";

describe("HTTP security", () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase("pglite");
  });
  afterAll(async () => {
    await db?.drop();
  });

  it("sends helmet's headers with a CSP that allows only this server's scripts", async () => {
    const uiDir = fs.mkdtempSync(path.join(os.tmpdir(), "updraft-ui-"));
    fs.writeFileSync(path.join(uiDir, "index.html"), "<!doctype html><div id=root></div>");
    const app = createApp(db.store, { secretKey: SECRET_KEY, tokenTtlMs: 60_000, version: "t", logger: createLogger("silent"), uiDir });
    for (const url of ["/api/v2/version", "/docs/", "/dags/x/grid"]) {
      const res = await request(app).get(url);
      expect(res.status, url).toBe(200);
      const csp = res.headers["content-security-policy"] as string;
      expect(csp, url).toMatch(/script-src 'self'(;|$)/);
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toContain("upgrade-insecure-requests");
      expect(res.headers["x-content-type-options"]).toBe("nosniff");
      expect(res.headers["x-powered-by"]).toBeUndefined();
    }
    fs.rmSync(uiDir, { recursive: true, force: true });
  });

  it("sends no CORS header unless the origin is configured", async () => {
    const closed = testApp(db.store);
    const preflight = await request(closed).options("/api/v2/dags").set({ Origin: "https://evil.example", "Access-Control-Request-Method": "GET" });
    expect(preflight.headers["access-control-allow-origin"]).toBeUndefined();

    const open = testApp(db.store, { corsOrigins: ["https://ops.example.com"] });
    const allowed = await request(open).options("/api/v2/dags").set({ Origin: "https://ops.example.com", "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization" });
    expect(allowed.status).toBe(204);
    expect(allowed.headers["access-control-allow-origin"]).toBe("https://ops.example.com");
    expect(allowed.headers["access-control-allow-headers"]).toMatch(/Authorization/);
    const other = await request(open).get("/api/v2/version").set({ Origin: "https://evil.example" });
    expect(other.headers["access-control-allow-origin"]).toBeUndefined();
  });

  it("rate-limits logins per client, whatever the outcome, and nothing else", async () => {
    const app = testApp(db.store, { loginRateLimitPerMinute: 3 });
    const token = await loginAs(app, db.store, "viewer"); // 1
    for (let i = 0; i < 2; i++) expect((await request(app).post("/auth/token").send({ username: "viewer_user", password: "wrong" })).status).toBe(401);
    const limited = await request(app).post("/auth/token").send({ username: "viewer_user", password: "viewer-password" });
    expect(limited.status).toBe(429);
    expect(limited.body.detail).toMatch(/Too many login attempts/);
    expect(limited.headers["ratelimit-policy"]).toBeDefined();
    expect((await request(app).get("/api/v2/dags").set(bearer(token))).status).toBe(200);
  });

  it("refuses a body over the limit with 413 and stores nothing", async () => {
    const app = testApp(db.store);
    const operator = await loginAs(app, db.store, "operator");
    const huge = { logical_date: null, conf: { blob: "x".repeat(1_100_000) } };
    const res = await request(app).post("/api/v2/dags/any/dagRuns").set(bearer(operator)).send(huge);
    expect(res.status).toBe(413);
    expect(res.body).toEqual({ detail: "Request body is too large" });
  });

  it("answers an unexpected failure with a bare 500: no message, no stack", async () => {
    const broken = {
      ...db.store,
      db: new Proxy({}, { get: () => () => { throw new Error("connection to /var/run/secret.sock failed at db.ts:42"); } }),
    } as unknown as Store;
    const app = testApp(broken);
    const token = await loginAs(testApp(db.store), db.store, "viewer");
    const res = await request(app).get("/api/v2/dags").set(bearer(token));
    expect(res.status).toBe(500);
    expect(res.body).toEqual({ detail: "Internal Server Error" });
    expect(res.text).not.toMatch(/secret|db\.ts|at /);
  });
});
