// Shared by the web tests: an app over a test database, users of each role and their tokens.
import request from "supertest";
import type { Express } from "express";
import { createLogger } from "../../engine/logger.js";
import type { Store } from "../../engine/store/db.js";
import { createUser } from "../../engine/store/users/createUser.js";
import type { Role } from "../../engine/store/users/roles.js";
import { createApp } from "../../web/server/app.js";

export const SECRET_KEY = "test-secret-key-0123456789abcdef";

export function testApp(store: Store, overrides: { tokenTtlMs?: number; loginRateLimitPerMinute?: number; corsOrigins?: string[] } = {}): Express {
  return createApp(store, {
    secretKey: SECRET_KEY,
    tokenTtlMs: overrides.tokenTtlMs ?? 3_600_000,
    // Tests log in far more often than people do; the rate-limit test sets its own.
    loginRateLimitPerMinute: overrides.loginRateLimitPerMinute ?? 100_000,
    corsOrigins: overrides.corsOrigins,
    version: "9.9.9-test",
    logger: createLogger(process.env.UPDRAFT_TEST_LOG_LEVEL ?? "silent"),
  });
}

/** Creates `<role>_user` (password `<role>-password`) and logs in over the API. */
export async function loginAs(app: Express, store: Store, role: Role): Promise<string> {
  const username = `${role}_user`;
  const password = `${role}-password`;
  const exists = await store.db.selectFrom("users").select("username").where("username", "=", username).executeTakeFirst();
  if (!exists) await createUser(store.db, { username, password, role });
  const res = await request(app).post("/auth/token").send({ username, password });
  if (res.status !== 201) throw new Error(`login as ${username} failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.access_token as string;
}

export async function countRuns(store: Store): Promise<number> {
  const row = await store.db.selectFrom("dag_runs").select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
  return Number(row.n);
}

export const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
