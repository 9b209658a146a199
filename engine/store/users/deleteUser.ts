// Deleting a user. Tokens already issued to them stay valid until they expire (they are not
// looked up per request, as in Airflow's simple auth manager).
import type { Kysely } from "kysely";
import { NotFoundError } from "../../errors.js";
import type { Database } from "../schema.js";

export async function deleteUser(db: Kysely<Database>, username: string): Promise<void> {
  const deleted = await db.deleteFrom("users").where("username", "=", username).executeTakeFirst();
  if (Number(deleted.numDeletedRows) === 0) throw new NotFoundError(`User \`${username}\` was not found`);
}
