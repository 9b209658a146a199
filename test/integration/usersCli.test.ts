// `updraft users create|list|delete`, run as the real CLI, on PGlite (a standalone home) and on
// PostgreSQL (DATABASE_URL): a created user logs in with the role given, mistakes exit with one line.
// Each CLI run on PGlite opens the embedded database anew (several seconds on 2 cores): few runs, long limits.
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backends, createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { ROOT } from "../helpers/paths.js";
import { testApp } from "../web/helpers.js";

const CLI = path.join(ROOT, "bin", "updraft.js");

interface Result {
  status: number | null;
  stdout: string;
  stderr: string;
}

describe.each(backends())("updraft users on %s", (backend) => {
  let db: TestDatabase | null = null;
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "updraft-home-"));

  beforeAll(async () => {
    if (backend === "postgres") db = await createTestDatabase("postgres");
  });
  afterAll(async () => {
    await db?.drop();
    fs.rmSync(home, { recursive: true, force: true });
  });

  function cli(args: string[], stdin?: string): Promise<Result> {
    const env: NodeJS.ProcessEnv = { ...process.env, UPDRAFT_HOME: home, UPDRAFT_LOG_LEVEL: "warn" };
    if (db?.url) env.DATABASE_URL = db.url;
    else delete env.DATABASE_URL;
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [CLI, "users", ...args], { env, stdio: ["pipe", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
      child.on("error", reject);
      child.on("exit", (status) => {
        clearTimeout(timer);
        resolve({ status, stdout, stderr });
      });
      child.stdin.end(stdin ?? "");
    });
  }

  it("creates, lists and deletes users; the created ones log in with their role", async () => {
    const created = await cli(["create", "ada", "--role", "operator", "--password", "ada-secret"]);
    expect(created.stderr).toBe("");
    expect(created.status).toBe(0);
    expect(created.stdout.trim()).toBe("created user ada (operator)");

    const generated = await cli(["create", "bob", "--role", "viewer"]);
    expect(generated.status).toBe(0);
    const password = /with password (\S+)$/.exec(generated.stdout.trim())?.[1];
    expect(password).toMatch(/^[\w-]{16}$/);

    const piped = await cli(["create", "cy", "--role", "admin", "--password-stdin"], "from stdin\n");
    expect(piped.status).toBe(0);

    const list = await cli(["list", "--output", "json"]);
    expect(list.status).toBe(0);
    const users = JSON.parse(list.stdout) as { username: string; role: string }[];
    expect(users.filter((u) => ["ada", "bob", "cy"].includes(u.username)).map((u) => [u.username, u.role])).toEqual([
      ["ada", "operator"],
      ["bob", "viewer"],
      ["cy", "admin"],
    ]);

    if (db) {
      const app = testApp(db.store);
      const login = async (username: string, pw: string) => (await request(app).post("/auth/token").send({ username, password: pw })).status;
      expect(await login("ada", "ada-secret")).toBe(201);
      expect(await login("bob", password!)).toBe(201);
      expect(await login("cy", "from stdin")).toBe(201);
      expect(await login("ada", "wrong")).toBe(401);
    }

    const deleted = await cli(["delete", "bob"]);
    expect(deleted.status).toBe(0);
    const table = await cli(["list"]);
    expect(table.stdout).toMatch(/^username\s+role\s+created$/m);
    expect(table.stdout).toMatch(/^ada\s+operator\s+\d{4}-/m);
    expect(table.stdout).not.toMatch(/^bob\s/m);
  }, 150_000);

  it("exits with one line for a duplicate, an unknown user or a bad role", async () => {
    const again = await cli(["create", "ada", "--role", "viewer", "--password", "x"]);
    expect(again.status).toBe(2);
    expect(again.stderr.trim()).toBe("updraft: User `ada` already exists");
    const missing = await cli(["delete", "nobody"]);
    expect(missing.status).toBe(2);
    expect(missing.stderr.trim()).toBe("updraft: User `nobody` was not found");
    const badRole = await cli(["create", "eve", "--role", "root", "--password", "x"]);
    expect(badRole.status).not.toBe(0);
    expect(badRole.stderr).toMatch(/root.*Allowed choices are viewer, operator, admin/);
    const noRole = await cli(["create", "eve", "--password", "x"]);
    expect(noRole.status).not.toBe(0);
    expect(noRole.stderr).toMatch(/--role/);
  }, 150_000);
});
