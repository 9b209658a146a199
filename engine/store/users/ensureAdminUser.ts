// The `admin` user of a fresh installation, like `airflow standalone`: with the given password
// (UPDRAFT_ADMIN_PASSWORD), or a generated one that is returned so the caller prints it once.
// Given a password and an existing admin, the password is reset to it, so that changing the
// variable and restarting is how an operator recovers a lost password.
import { randomBytes } from "node:crypto";
import type { Kysely } from "kysely";
import type { Database } from "../schema.js";
import { hashPassword } from "./password.js";
import { setPassword } from "./setPassword.js";

export const ADMIN_USERNAME = "admin";

/** `password` is set in the result only when it was generated here. */
export async function ensureAdminUser(db: Kysely<Database>, password?: string): Promise<{ created: boolean; password?: string }> {
  const exists = await db.selectFrom("users").select("username").where("username", "=", ADMIN_USERNAME).executeTakeFirst();
  if (exists) {
    if (password) await setPassword(db, ADMIN_USERNAME, password);
    return { created: false };
  }
  const chosen = password || randomBytes(12).toString("base64url");
  // Insert-or-nothing: two processes starting together create one admin between them.
  const inserted = await db
    .insertInto("users")
    .values({ username: ADMIN_USERNAME, password_hash: await hashPassword(chosen), role: "admin" })
    .onConflict((oc) => oc.column("username").doNothing())
    .returning("username")
    .executeTakeFirst();
  // Only a generated password is returned: the caller prints it, and must not echo a chosen one.
  if (inserted) return password ? { created: true } : { created: true, password: chosen };
  if (password) await setPassword(db, ADMIN_USERNAME, password);
  return { created: false };
}
