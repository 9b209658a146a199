// Variables (Airflow's `variable` table): the reads and writes behind /api/v2/variables and
// `ctx.variables.get`. Every value is stored encrypted (SecretCipher), so a leaked row or dump
// reveals nothing; `is_encrypted` says so, as in Airflow with a Fernet key.
import { sql, type Kysely, type RawBuilder } from "kysely";
import type { Database } from "../schema.js";
import type { SecretCipher } from "../../secrets/cipher.js";

export interface Variable {
  id: number;
  key: string;
  value: string;
  description: string | null;
  isEncrypted: boolean;
}

type Row = { id: number; key: string; val: string; description: string | null; is_encrypted: boolean };

const decrypted = (cipher: SecretCipher, r: Row): Variable => ({
  id: Number(r.id),
  key: r.key,
  value: r.is_encrypted ? cipher.decrypt(r.val, `variable "${r.key}"`) : r.val,
  description: r.description,
  isEncrypted: r.is_encrypted,
});

const COLUMNS = ["id", "key", "val", "description", "is_encrypted"] as const;

export async function readVariable(db: Kysely<Database>, cipher: SecretCipher, key: string): Promise<Variable | null> {
  const row = await db.selectFrom("variables").select(COLUMNS).where("key", "=", key).executeTakeFirst();
  return row ? decrypted(cipher, row) : null;
}

export async function readVariables(db: Kysely<Database>, cipher: SecretCipher, keys: string[]): Promise<Variable[]> {
  if (!keys.length) return [];
  const rows = await db.selectFrom("variables").select(COLUMNS).where("key", "in", keys).execute();
  return rows.map((r) => decrypted(cipher, r));
}

export async function listVariables(
  db: Kysely<Database>,
  cipher: SecretCipher,
  q: { limit: number; offset: number; orderBy: RawBuilder<unknown>; keyPattern?: string },
): Promise<{ variables: Variable[]; total: number }> {
  const filtered = db.selectFrom("variables").$if(Boolean(q.keyPattern), (qb) => qb.where(sql.ref("key"), "ilike", q.keyPattern!));
  const [rows, total] = await Promise.all([
    filtered.select(COLUMNS).orderBy(q.orderBy).limit(q.limit).offset(q.offset).execute(),
    filtered.select(sql<number>`count(*)::int`.as("n")).executeTakeFirstOrThrow(),
  ]);
  return { variables: rows.map((r) => decrypted(cipher, r)), total: total.n };
}

export interface VariableInput {
  key: string;
  value: string;
  description: string | null;
}

/** Inserts, or (overwrite) replaces; returns false when the key exists and `overwrite` is off. */
export async function writeVariable(db: Kysely<Database>, cipher: SecretCipher, input: VariableInput, overwrite: boolean): Promise<boolean> {
  const values = { key: input.key, val: cipher.encrypt(input.value), description: input.description, is_encrypted: true };
  const inserted = await db
    .insertInto("variables")
    .values(values)
    .onConflict((oc) => (overwrite ? oc.column("key").doUpdateSet({ val: values.val, description: values.description, is_encrypted: true, updated_at: sql<Date>`now()` }) : oc.column("key").doNothing()))
    .returning("id")
    .executeTakeFirst();
  return Boolean(inserted);
}

/** Sets the given fields of an existing variable; false when there is none. */
export async function updateVariable(
  db: Kysely<Database>,
  cipher: SecretCipher,
  key: string,
  fields: { value?: string; description?: string | null },
): Promise<boolean> {
  const set: Record<string, unknown> = { updated_at: sql<Date>`now()` };
  if (fields.value !== undefined) Object.assign(set, { val: cipher.encrypt(fields.value), is_encrypted: true });
  if (fields.description !== undefined) set.description = fields.description;
  const updated = await db.updateTable("variables").set(set).where("key", "=", key).returning("id").executeTakeFirst();
  return Boolean(updated);
}

export async function deleteVariables(db: Kysely<Database>, keys: string[]): Promise<string[]> {
  if (!keys.length) return [];
  const rows = await db.deleteFrom("variables").where("key", "in", keys).returning("key").execute();
  return rows.map((r) => r.key);
}
