// Authentication and roles, structurally: every route the app registers (walked from its router
// stack, so a route added later is covered without editing this file) and every socket.io namespace
// refuses a caller without a valid token, except the public ones listed here; every documented
// operation admits exactly the roles at or above its own (viewer < operator < admin); expired,
// tampered, foreign-key and unsigned tokens are refused.
import http from "node:http";
import type { AddressInfo } from "node:net";
import request from "supertest";
import type { Express } from "express";
import { io as connectSocket } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../engine/logger.js";
import { signToken } from "../../web/server/auth.js";
import { attachLive, type LiveServer } from "../../web/server/live.js";
import { OPERATIONS } from "../../web/server/openapi/operations.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { bearer, loginAs, SECRET_KEY, testApp } from "./helpers.js";
import { registeredRoutes } from "./routeWalk.js";

/** The only routes that answer without a token (besides /docs and the static UI, which are not API routes). */
const PUBLIC = new Set(["post /auth/token", "get /auth/token", "get /api/v2/monitor/health", "get /api/v2/version", "get /api/v2/auth/refresh", "get /api/v2/openapi.json"]);

const ROLES = ["viewer", "operator", "admin"] as const;
type Role = (typeof ROLES)[number];
const rank = (r: Role) => ROLES.indexOf(r);

/** A concrete path for a route: every parameter filled with a value that names nothing. */
const concrete = (path: string) => path.replace(/[:{](\w+)\}?/g, (_m, name: string) => (/(_id|number|index)$/.test(name) && !/dag_id|run_id|task_id|connection_id/.test(name) ? "987654" : "no_such_thing"));

describe("authentication and roles", () => {
  let db: TestDatabase;
  let app: Express;
  const tokens = {} as Record<Role, string>;

  beforeAll(async () => {
    db = await createTestDatabase("pglite");
    app = testApp(db.store);
    for (const role of ROLES) tokens[role] = await loginAs(app, db.store, role);
  });
  afterAll(async () => {
    await db?.drop();
  });

  it("refuses every registered route without a token, except the public ones", async () => {
    const routes = registeredRoutes(app);
    expect(routes.length).toBeGreaterThan(60);
    const open: string[] = [];
    for (const route of routes) {
      const key = `${route.method} ${route.openApiPath}`;
      const res = await request(app)[route.method as "get"](concrete(route.path)).send({});
      if (PUBLIC.has(key)) continue;
      if (res.status !== 401) open.push(`${key} → ${res.status}`);
      else expect(res.body).toEqual({ detail: "Not authenticated" });
    }
    expect(open).toEqual([]);
    // The public ones really answer without a token.
    expect((await request(app).get("/api/v2/monitor/health")).status).toBe(200);
    expect((await request(app).get("/api/v2/version")).status).toBe(200);
    expect((await request(app).get("/api/v2/openapi.json")).status).toBe(200);
    expect((await request(app).get("/docs/")).status).toBe(200);
  });

  it("admits exactly the roles at or above each documented operation's own", async () => {
    const wrong: string[] = [];
    for (const op of OPERATIONS) {
      if (op.public) continue;
      const least: Role = op.role ?? (op.method === "get" ? "viewer" : "operator");
      for (const role of ROLES) {
        const res = await request(app)[op.method](concrete(op.path)).set(bearer(tokens[role])).send({});
        const admitted = res.status !== 403 && res.status !== 401;
        if (admitted !== rank(role) >= rank(least)) wrong.push(`${op.method} ${op.path} as ${role} → ${res.status} (least: ${least})`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("refuses expired, tampered, foreign-key and unsigned tokens", async () => {
    const expired = await signToken({ username: "admin_user", role: "admin" }, { secretKey: SECRET_KEY, tokenTtlMs: -60_000 });
    const res = await request(app).get("/api/v2/dags").set(bearer(expired));
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ detail: "Token Expired" });
    expect(res.headers["www-authenticate"]).toBe("Bearer");

    // A viewer's token whose payload claims admin: the signature no longer matches.
    const [header, payload, signature] = tokens.viewer.split(".");
    const claims = JSON.parse(Buffer.from(payload!, "base64url").toString()) as Record<string, unknown>;
    const forged = `${header}.${Buffer.from(JSON.stringify({ ...claims, role: "admin" })).toString("base64url")}.${signature}`;
    expect((await request(app).get("/api/v2/pools").set(bearer(forged))).status).toBe(401);

    const foreign = await signToken({ username: "admin_user", role: "admin" }, { secretKey: "another-secret-key-0123456789", tokenTtlMs: 60_000 });
    expect((await request(app).get("/api/v2/dags").set(bearer(foreign))).status).toBe(401);

    const unsigned = `${Buffer.from('{"alg":"none"}').toString("base64url")}.${Buffer.from(JSON.stringify({ ...claims, role: "admin" })).toString("base64url")}.`;
    expect((await request(app).get("/api/v2/dags").set(bearer(unsigned))).status).toBe(401);
    expect((await request(app).get("/api/v2/dags").set({ Authorization: `Basic ${Buffer.from("admin:x").toString("base64")}` })).status).toBe(401);
    expect((await request(app).get("/api/v2/dags").set(bearer(tokens.viewer))).status).toBe(200);
  });

  describe("socket.io", () => {
    let server: http.Server;
    let live: LiveServer;
    let url: string;

    beforeAll(async () => {
      server = http.createServer(app);
      live = await attachLive(server, db.store, SECRET_KEY, createLogger("silent"));
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(async () => {
      await live?.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    const attempt = (namespace: string, auth: Record<string, unknown>) =>
      new Promise<string>((resolve) => {
        const socket = connectSocket(`${url}${namespace}`, { auth, transports: ["websocket"], reconnection: false, timeout: 5_000 });
        socket.on("connect", () => {
          socket.close();
          resolve("connected");
        });
        socket.on("connect_error", (err) => {
          socket.close();
          resolve(err.message);
        });
      });

    it("refuses every namespace without a valid token", async () => {
      const namespaces = [...(live.io as unknown as { _nsps: Map<string, unknown> })._nsps.keys()];
      expect(namespaces).toContain("/");
      for (const ns of [...namespaces, "/admin"]) {
        expect(await attempt(ns, {})).not.toBe("connected");
        expect(await attempt(ns, { token: `${tokens.admin}x` })).not.toBe("connected");
      }
      expect(await attempt("/", { token: tokens.viewer })).toBe("connected");
    });
  });
});
