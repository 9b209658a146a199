// Pausing, unpausing and cancelling a backfill, and closing finished ones. Pause stops new runs
// from starting (running ones finish); cancel fails the backfill's queued runs and completes it.
import { sql, type Kysely, type Transaction } from "kysely";
import { ConflictError, NotFoundError } from "../../errors.js";
import { CHANNELS } from "../channels.js";
import { notify } from "../db.js";
import { startQueuedRuns } from "../runs/startQueuedRuns.js";
import type { BackfillRow, Database } from "../schema.js";

export const backfillNotFound = (id: number) => new NotFoundError(`Could not find backfill with id ${id}`);

async function lockBackfill(tx: Transaction<Database>, id: number): Promise<BackfillRow> {
  const row = await tx.selectFrom("backfills").selectAll().where("id", "=", id).forUpdate().executeTakeFirst();
  if (!row) throw backfillNotFound(id);
  return row;
}

export async function setBackfillPaused(db: Kysely<Database>, id: number, paused: boolean): Promise<BackfillRow> {
  return db.transaction().execute(async (tx) => {
    const b = await lockBackfill(tx, id);
    if (b.completed_at) throw new ConflictError(`Backfill ${id} is already completed`);
    await tx.updateTable("backfills").set({ is_paused: paused, updated_at: sql`now()` }).where("id", "=", id).execute();
    if (!paused) await startQueuedRuns(tx, b.dag_id);
    return tx.selectFrom("backfills").selectAll().where("id", "=", id).executeTakeFirstOrThrow();
  });
}

/** Airflow's cancel: queued runs fail (running ones finish), the backfill is complete at once. */
export async function cancelBackfill(db: Kysely<Database>, id: number): Promise<BackfillRow> {
  return db.transaction().execute(async (tx) => {
    const b = await lockBackfill(tx, id);
    if (b.completed_at) return b;
    await tx.updateTable("dag_runs").set({ state: "failed", end_date: sql`now()`, updated_at: sql`now()` }).where("backfill_id", "=", id).where("state", "=", "queued").execute();
    await tx.updateTable("backfills").set({ is_paused: true, completed_at: sql`now()`, updated_at: sql`now()` }).where("id", "=", id).execute();
    await notify(CHANNELS.runChanged, b.dag_id).execute(tx);
    return tx.selectFrom("backfills").selectAll().where("id", "=", id).executeTakeFirstOrThrow();
  });
}

/** Closes the backfills whose runs have all finished; returns how many (run by the scheduler). */
export async function completeBackfills(db: Kysely<Database>): Promise<number> {
  const rows = await db
    .updateTable("backfills as b")
    .set({ completed_at: sql`now()`, updated_at: sql`now()` })
    .where("b.completed_at", "is", null)
    .where((eb) => eb.not(eb.exists(eb.selectFrom("dag_runs as r").select("r.id").whereRef("r.backfill_id", "=", "b.id").where("r.state", "in", ["queued", "running"]))))
    .returning("b.id")
    .execute();
  return rows.length;
}
