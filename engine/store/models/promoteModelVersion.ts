// Makes one version of a model the production version; the previous production version becomes
// `archived`. Rollback is promoting an older version. The model row is locked first, so two
// promotions of one model serialise (and the partial unique index never sees two productions).
import { sql, type Kysely, type Transaction } from "kysely";
import type { Database } from "../schema.js";

/** False when the version does not exist. */
export async function promoteModelVersion(db: Kysely<Database>, name: string, version: number): Promise<boolean> {
  return db.transaction().execute((tx) => promoteInTransaction(tx, name, version));
}

export async function promoteInTransaction(tx: Transaction<Database>, name: string, version: number): Promise<boolean> {
  const model = await tx.selectFrom("models").select("name").where("name", "=", name).forUpdate().executeTakeFirst();
  if (!model) return false;
  const target = await tx.selectFrom("model_versions").select(["id", "stage"]).where("model_name", "=", name).where("version", "=", version).executeTakeFirst();
  if (!target) return false;
  if (target.stage === "production") return true;
  await tx.updateTable("model_versions").set({ stage: "archived", updated_at: sql`now()` }).where("model_name", "=", name).where("stage", "=", "production").execute();
  await tx.updateTable("model_versions").set({ stage: "production", updated_at: sql`now()` }).where("id", "=", target.id).execute();
  return true;
}
