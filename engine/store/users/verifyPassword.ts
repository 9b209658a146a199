// Checking a login. Returns the user on a match, null otherwise — without telling apart an unknown
// user from a wrong password, in the answer or in the time it takes.
import type { Kysely } from "kysely";
import type { Database } from "../schema.js";
import { checkPassword, DUMMY_HASH } from "./password.js";
import type { Role } from "./roles.js";

export async function verifyPassword(db: Kysely<Database>, username: string, password: string): Promise<{ username: string; role: Role } | null> {
  const user = await db.selectFrom("users").select(["username", "role", "password_hash"]).where("username", "=", username).executeTakeFirst();
  const ok = await checkPassword(password, user?.password_hash ?? DUMMY_HASH);
  return user && ok ? { username: user.username, role: user.role } : null;
}
