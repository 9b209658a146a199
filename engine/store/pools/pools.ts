// Pools (Airflow's slot pools): reading them with their occupancy, and the admin writes behind
// `/api/v2/pools`. How claims respect the slots is in migrations/0006_pools.sql.
//
// Occupancy as Updraft counts it: a TI holds its pool_slots while `running` (or `restarting`: its
// process still runs). A `queued` TI here is ready and waiting for a worker *and* a slot — unlike
// Airflow, where queued TIs already hold slots — so occupied_slots = running_slots (there is no
// deferred state yet: deferred_slots is always 0) and open_slots = slots − occupied_slots;
// queued_slots and scheduled_slots report what is waiting.
import { sql, type Kysely, type RawBuilder, type Selectable } from "kysely";
import type { Database, PoolsTable } from "../schema.js";

export const DEFAULT_POOL = "default_pool";

export interface PoolRow extends Selectable<PoolsTable> {
  running_slots: number;
  queued_slots: number;
  scheduled_slots: number;
}

export interface PoolFields {
  name: string;
  slots: number;
  description: string | null;
  include_deferred: boolean;
}

/** Pools with their slot counts, one aggregate over the TIs that hold or wait for slots. */
export async function listPools(
  db: Kysely<Database>,
  options: { names?: string[]; pattern?: string; order?: RawBuilder<unknown>; limit?: number; offset?: number } = {},
): Promise<PoolRow[]> {
  const rows = await sql<PoolRow>`
    select p.name, p.slots, p.description, p.include_deferred,
           coalesce(u.running, 0)::int as running_slots, coalesce(u.queued, 0)::int as queued_slots,
           coalesce(u.scheduled, 0)::int as scheduled_slots
      from pools p
      left join lateral (
        select sum(pool_slots) filter (where state in ('running', 'restarting')) as running,
               sum(pool_slots) filter (where state = 'queued') as queued,
               sum(pool_slots) filter (where state = 'scheduled') as scheduled
          from task_instances ti
         where ti.pool = p.name and ti.state in ('running', 'restarting', 'queued', 'scheduled')) u on true
     where ${options.names ? sql`p.name = any(${options.names}::text[])` : sql`true`}
       and ${options.pattern ? sql`p.name ilike ${options.pattern}` : sql`true`}
     order by ${options.order ?? sql`p.name`}
     ${options.limit !== undefined ? sql`limit ${options.limit}` : sql``} ${options.offset ? sql`offset ${options.offset}` : sql``}`.execute(db);
  return rows.rows;
}

export async function countPools(db: Kysely<Database>, pattern?: string): Promise<number> {
  const row = await db
    .selectFrom("pools")
    .select(sql<number>`count(*)::int`.as("n"))
    .$if(pattern !== undefined, (q) => q.where(sql<boolean>`name ilike ${pattern}`))
    .executeTakeFirstOrThrow();
  return row.n;
}

export async function getPool(db: Kysely<Database>, name: string): Promise<PoolRow | null> {
  return (await listPools(db, { names: [name] }))[0] ?? null;
}

/** Inserts; false when a pool of that name exists (nothing written). */
export async function insertPool(db: Kysely<Database>, pool: PoolFields): Promise<boolean> {
  const rows = await db.insertInto("pools").values(pool).onConflict((oc) => oc.column("name").doNothing()).returning("name").execute();
  return rows.length > 0;
}

/** Updates the given fields; false when no pool has that name. A rename onto an existing name throws (unique). */
export async function updatePool(db: Kysely<Database>, name: string, fields: Partial<PoolFields>): Promise<boolean> {
  if (!Object.keys(fields).length) return (await db.selectFrom("pools").select("name").where("name", "=", name).executeTakeFirst()) !== undefined;
  const rows = await db.updateTable("pools").set(fields).where("name", "=", name).returning("name").execute();
  return rows.length > 0;
}

export async function deletePool(db: Kysely<Database>, name: string): Promise<boolean> {
  const rows = await db.deleteFrom("pools").where("name", "=", name).returning("name").execute();
  return rows.length > 0;
}
