// Creating a user with a role. The username is the primary key: a second user of that name is a
// ConflictError, decided by the database (no check-then-insert race).
import type { Kysely } from "kysely";
import { ConflictError, ValidationError } from "../../errors.js";
import type { Database } from "../schema.js";
import { hashPassword } from "./password.js";
import { isRole, type Role } from "./roles.js";

export interface NewUser {
  username: string;
  password: string;
  role: Role;
}

export async function createUser(db: Kysely<Database>, user: NewUser): Promise<{ username: string; role: Role }> {
  if (!user.username.trim()) throw new ValidationError("username must not be empty", ["username"]);
  if (!user.password) throw new ValidationError("password must not be empty", ["password"]);
  if (!isRole(user.role)) throw new ValidationError(`role must be one of viewer, operator, admin; got ${JSON.stringify(user.role)}`, ["role"]);
  const inserted = await db
    .insertInto("users")
    .values({ username: user.username, password_hash: await hashPassword(user.password), role: user.role })
    .onConflict((oc) => oc.column("username").doNothing())
    .returning(["username", "role"])
    .executeTakeFirst();
  if (!inserted) throw new ConflictError(`User \`${user.username}\` already exists`);
  return inserted;
}
