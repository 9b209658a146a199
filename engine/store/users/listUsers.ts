import type { Kysely } from "kysely";
import type { Database } from "../schema.js";
import type { Role } from "./roles.js";

export interface UserInfo {
  username: string;
  role: Role;
  createdAt: Date;
}

export async function listUsers(db: Kysely<Database>): Promise<UserInfo[]> {
  const rows = await db.selectFrom("users").select(["username", "role", "created_at"]).orderBy("username").execute();
  return rows.map((r) => ({ username: r.username, role: r.role, createdAt: r.created_at }));
}
