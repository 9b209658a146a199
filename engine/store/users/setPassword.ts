import type { Kysely } from "kysely";
import { NotFoundError, ValidationError } from "../../errors.js";
import type { Database } from "../schema.js";
import { hashPassword } from "./password.js";

export async function setPassword(db: Kysely<Database>, username: string, password: string): Promise<void> {
  if (!password) throw new ValidationError("password must not be empty", ["password"]);
  const updated = await db.updateTable("users").set({ password_hash: await hashPassword(password) }).where("username", "=", username).executeTakeFirst();
  if (Number(updated.numUpdatedRows) === 0) throw new NotFoundError(`User \`${username}\` was not found`);
}
