// Connections (Airflow's `connection` table): the reads and writes behind /api/v2/connections and
// `ctx.connections.get`. The password and the extra are stored encrypted (SecretCipher), so a
// leaked row or dump reveals neither.
import { sql, type Kysely, type RawBuilder, type Selectable } from "kysely";
import type { ConnectionsTable, Database } from "../schema.js";
import type { SecretCipher } from "../../secrets/cipher.js";

export interface Connection {
  id: number;
  connId: string;
  connType: string;
  description: string | null;
  host: string | null;
  schema: string | null;
  login: string | null;
  password: string | null;
  port: number | null;
  /** JSON text, as Airflow keeps it. */
  extra: string | null;
}

export type ConnectionInput = Omit<Connection, "id">;

const COLUMNS = ["id", "conn_id", "conn_type", "description", "host", "schema", "login", "password", "port", "extra", "is_encrypted", "is_extra_encrypted"] as const;

// The columns COLUMNS selects (the table without its timestamps).
type Row = Pick<Selectable<ConnectionsTable>, (typeof COLUMNS)[number]>;

function decrypted(cipher: SecretCipher, r: Row): Connection {
  const open = (v: string | null, encrypted: boolean, what: string) => (v !== null && encrypted ? cipher.decrypt(v, `the ${what} of connection "${r.conn_id}"`) : v);
  return {
    id: Number(r.id),
    connId: r.conn_id,
    connType: r.conn_type,
    description: r.description,
    host: r.host,
    schema: r.schema,
    login: r.login,
    password: open(r.password, r.is_encrypted, "password"),
    port: r.port,
    extra: open(r.extra, r.is_extra_encrypted, "extra"),
  };
}

function encrypted(cipher: SecretCipher, c: ConnectionInput) {
  return {
    conn_id: c.connId,
    conn_type: c.connType,
    description: c.description,
    host: c.host,
    schema: c.schema,
    login: c.login,
    port: c.port,
    password: c.password === null ? null : cipher.encrypt(c.password),
    extra: c.extra === null ? null : cipher.encrypt(c.extra),
    is_encrypted: true,
    is_extra_encrypted: true,
  };
}

export async function readConnection(db: Kysely<Database>, cipher: SecretCipher, connId: string): Promise<Connection | null> {
  const row = await db.selectFrom("connections").select(COLUMNS).where("conn_id", "=", connId).executeTakeFirst();
  return row ? decrypted(cipher, row) : null;
}

export async function readConnections(db: Kysely<Database>, cipher: SecretCipher, connIds: string[]): Promise<Connection[]> {
  if (!connIds.length) return [];
  const rows = await db.selectFrom("connections").select(COLUMNS).where("conn_id", "in", connIds).execute();
  return rows.map((r) => decrypted(cipher, r));
}

/** Every stored password and extra, for the API's masking of values shown to users. */
export async function readAllConnections(db: Kysely<Database>, cipher: SecretCipher): Promise<Connection[]> {
  const rows = await db.selectFrom("connections").select(COLUMNS).execute();
  return rows.map((r) => decrypted(cipher, r));
}

export async function listConnections(
  db: Kysely<Database>,
  cipher: SecretCipher,
  q: { limit: number; offset: number; orderBy: RawBuilder<unknown>; idPattern?: string },
): Promise<{ connections: Connection[]; total: number }> {
  const filtered = db.selectFrom("connections").$if(Boolean(q.idPattern), (qb) => qb.where(sql.ref("conn_id"), "ilike", q.idPattern!));
  const [rows, total] = await Promise.all([
    filtered.select(COLUMNS).orderBy(q.orderBy).limit(q.limit).offset(q.offset).execute(),
    filtered.select(sql<number>`count(*)::int`.as("n")).executeTakeFirstOrThrow(),
  ]);
  return { connections: rows.map((r) => decrypted(cipher, r)), total: total.n };
}

/** Inserts, or (overwrite) replaces; false when the id exists and `overwrite` is off. */
export async function writeConnection(db: Kysely<Database>, cipher: SecretCipher, input: ConnectionInput, overwrite: boolean): Promise<boolean> {
  const values = encrypted(cipher, input);
  const { conn_id: _id, ...rest } = values;
  const inserted = await db
    .insertInto("connections")
    .values(values)
    .onConflict((oc) => (overwrite ? oc.column("conn_id").doUpdateSet({ ...rest, updated_at: sql<Date>`now()` }) : oc.column("conn_id").doNothing()))
    .returning("id")
    .executeTakeFirst();
  return Boolean(inserted);
}

/** Replaces an existing connection's fields; false when there is none. */
export async function replaceConnection(db: Kysely<Database>, cipher: SecretCipher, input: ConnectionInput): Promise<boolean> {
  const { conn_id: _id, ...rest } = encrypted(cipher, input);
  const updated = await db.updateTable("connections").set({ ...rest, updated_at: sql<Date>`now()` }).where("conn_id", "=", input.connId).returning("id").executeTakeFirst();
  return Boolean(updated);
}

export async function deleteConnections(db: Kysely<Database>, connIds: string[]): Promise<string[]> {
  if (!connIds.length) return [];
  const rows = await db.deleteFrom("connections").where("conn_id", "in", connIds).returning("conn_id").execute();
  return rows.map((r) => r.conn_id);
}
