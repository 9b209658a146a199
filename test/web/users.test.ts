// Users, logins and the secret key: the admin user of a fresh installation, `POST /auth/token`,
// and the web server listening on a real port.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { decodeJwt } from "jose";
import request from "supertest";
import type { Express } from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../engine/config.js";
import { ConflictError, NotFoundError, ValidationError } from "../../engine/errors.js";
import { createLogger } from "../../engine/logger.js";
import { resolveSecretKey, SECRET_KEY_FILE } from "../../engine/secretKey.js";
import { createUser } from "../../engine/store/users/createUser.js";
import { deleteUser } from "../../engine/store/users/deleteUser.js";
import { ensureAdminUser } from "../../engine/store/users/ensureAdminUser.js";
import { listUsers } from "../../engine/store/users/listUsers.js";
import { verifyPassword } from "../../engine/store/users/verifyPassword.js";
import { startWebServer } from "../../web/server/main.js";
import { backends, createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { schemaProblems } from "./airflowSchema.js";
import { bearer, testApp } from "./helpers.js";

const TTL_MS = 600_000;

describe.each(backends())("users and login on %s", (backend) => {
  let db: TestDatabase;
  let app: Express;

  beforeAll(async () => {
    db = await createTestDatabase(backend);
    app = testApp(db.store, { tokenTtlMs: TTL_MS });
  });
  afterAll(async () => {
    await db?.drop();
  });

  const login = (username: string, password: string) => request(app).post("/auth/token").send({ username, password });

  it("creates the admin with a generated password once, which logs in; a given password resets it", async () => {
    const first = await ensureAdminUser(db.store.db);
    expect(first.created).toBe(true);
    expect(first.password).toMatch(/^[A-Za-z0-9_-]{16,}$/);

    const res = await login("admin", first.password!);
    expect(res.status).toBe(201);
    expect(schemaProblems(res.body, "LoginResponse")).toEqual([]);
    const claims = decodeJwt(res.body.access_token);
    expect(claims).toMatchObject({ sub: "admin", role: "admin" });
    expect(claims.exp! * 1000 - Date.now()).toBeGreaterThan(TTL_MS - 5_000);
    expect(claims.exp! * 1000 - Date.now()).toBeLessThanOrEqual(TTL_MS);
    expect((await request(app).get("/api/v2/dags").set(bearer(res.body.access_token))).status).toBe(200);

    // A restart without a password keeps the one generated at first start, and prints none.
    expect(await ensureAdminUser(db.store.db)).toEqual({ created: false });
    expect((await login("admin", first.password!)).status).toBe(201);

    // UPDRAFT_ADMIN_PASSWORD set and a restart: the password becomes that one, and is not echoed.
    expect(await ensureAdminUser(db.store.db, "chosen-password")).toEqual({ created: false });
    expect((await login("admin", "chosen-password")).status).toBe(201);
    const old = await login("admin", first.password!);
    expect(old.status).toBe(401);
    expect(old.body).toEqual({ detail: "Invalid credentials" });
    expect((await listUsers(db.store.db)).filter((u) => u.username === "admin")).toHaveLength(1);
  });

  it("creates users with a role, refuses a second of the same name, verifies and deletes them", async () => {
    expect(await createUser(db.store.db, { username: "vera", password: "pw-vera", role: "viewer" })).toEqual({ username: "vera", role: "viewer" });
    await expect(createUser(db.store.db, { username: "vera", password: "other", role: "admin" })).rejects.toBeInstanceOf(ConflictError);
    await expect(createUser(db.store.db, { username: "bob", password: "pw", role: "root" as never })).rejects.toBeInstanceOf(ValidationError);
    await expect(createUser(db.store.db, { username: "bob", password: "", role: "viewer" })).rejects.toBeInstanceOf(ValidationError);

    expect(await verifyPassword(db.store.db, "vera", "pw-vera")).toEqual({ username: "vera", role: "viewer" });
    expect(await verifyPassword(db.store.db, "vera", "other")).toBeNull();
    expect(await verifyPassword(db.store.db, "nobody", "pw-vera")).toBeNull();
    const stored = await db.store.db.selectFrom("users").select("password_hash").where("username", "=", "vera").executeTakeFirstOrThrow();
    expect(stored.password_hash).not.toContain("pw-vera");

    const users = await listUsers(db.store.db);
    expect(users.map((u) => u.username)).toEqual(["admin", "vera"]);
    expect(users[1]!.createdAt).toBeInstanceOf(Date);

    await deleteUser(db.store.db, "vera");
    await expect(deleteUser(db.store.db, "vera")).rejects.toBeInstanceOf(NotFoundError);
    expect((await login("vera", "pw-vera")).status).toBe(401);
  });

  it("takes the login as JSON or as a form, and validates it", async () => {
    await createUser(db.store.db, { username: "olga", password: "pw-olga", role: "operator" });
    const form = await request(app).post("/auth/token").type("form").send({ username: "olga", password: "pw-olga" });
    expect(form.status).toBe(201);
    expect(decodeJwt(form.body.access_token)).toMatchObject({ sub: "olga", role: "operator" });

    const missing = await request(app).post("/auth/token").send({ username: "olga" });
    expect(missing.status).toBe(422);
    expect(missing.body.detail).toEqual([expect.objectContaining({ type: "missing", loc: ["body", "password"] })]);
    const extra = await request(app).post("/auth/token").send({ username: "olga", password: "pw-olga", role: "admin" });
    expect(extra.status).toBe(422);
    expect(extra.body.detail).toEqual([expect.objectContaining({ type: "extra_forbidden", loc: ["body", "role"] })]);
    const malformed = await request(app).post("/auth/token").set("Content-Type", "application/json").send("{");
    expect(malformed.status).toBe(422);
    expect(malformed.body.detail[0].type).toBe("json_invalid");
    const text = await request(app).post("/auth/token").set("Content-Type", "text/plain").send("olga:pw-olga");
    expect(text.status).toBe(415);
    expect((await login("nobody", "pw-olga")).body).toEqual({ detail: "Invalid credentials" });
  });

  it("creates the admin with a chosen password without echoing it", async () => {
    await deleteUser(db.store.db, "admin");
    expect(await ensureAdminUser(db.store.db, "picked-password")).toEqual({ created: true });
    expect((await login("admin", "picked-password")).status).toBe(201);
  });
});

describe("secret key", () => {
  const homes: string[] = [];
  const tempHome = () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "updraft-home-"));
    homes.push(dir);
    return path.join(dir, "nested", "home");
  };
  afterAll(() => {
    for (const dir of homes) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("is generated once into $UPDRAFT_HOME/secret_key, readable by its owner only, and reused", () => {
    const home = tempHome();
    const key = resolveSecretKey({ home, secretKey: undefined });
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    const file = path.join(home, SECRET_KEY_FILE);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(resolveSecretKey({ home, secretKey: undefined })).toBe(key);
    expect(fs.readdirSync(home)).toEqual([SECRET_KEY_FILE]);
    expect(resolveSecretKey({ home: tempHome(), secretKey: undefined })).not.toBe(key);
  });

  it("comes from UPDRAFT_SECRET_KEY when set, without touching the home folder", () => {
    const home = tempHome();
    expect(resolveSecretKey({ home, secretKey: "from-the-environment-0123" })).toBe("from-the-environment-0123");
    expect(fs.existsSync(home)).toBe(false);
  });

  it("refuses a key file that is too short to be safe", () => {
    const home = tempHome();
    fs.mkdirSync(home, { recursive: true });
    fs.writeFileSync(path.join(home, SECRET_KEY_FILE), "short\n");
    expect(() => resolveSecretKey({ home, secretKey: undefined })).toThrow(/shorter than 16/);
  });
});

describe.each(backends())("web server on %s", (backend) => {
  it("listens on a free port, serves the API over HTTP, and closes", async () => {
    const db: TestDatabase = await createTestDatabase(backend);
    try {
      const config = { ...loadConfig({}, { port: 0, host: "127.0.0.1" }), secretKey: "a-secret-key-for-this-test" };
      const server = await startWebServer(db.store, config, createLogger("silent"));
      try {
        expect(server.port).toBeGreaterThan(0);
        expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
        const version = await fetch(`${server.url}/api/v2/version`);
        expect(version.status).toBe(200);
        const body = (await version.json()) as { version: string };
        const pkg = JSON.parse(fs.readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
        expect(body.version).toBe(pkg.version);
        expect((await fetch(`${server.url}/api/v2/dags`)).status).toBe(401);
        // No scheduler runs here: the database is fine, the scheduler is not.
        const health = (await (await fetch(`${server.url}/api/v2/monitor/health`)).json()) as Record<string, Record<string, unknown>>;
        expect(health.metadatabase).toEqual({ status: "healthy" });
        expect(health.scheduler).toEqual({ status: "unhealthy", latest_scheduler_heartbeat: null });
      } finally {
        await server.close();
      }
      await expect(fetch(`${server.url}/api/v2/version`)).rejects.toThrow();
    } finally {
      await db.drop();
    }
  });
});
