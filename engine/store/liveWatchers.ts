// The live_watchers lease (migrations/0019): the live-event triggers build and send their NOTIFYs
// only while some web server holds an unexpired row here — a web server with socket.io clients
// (web/server/liveWatchers.ts keeps it).
import { sql, type Kysely } from "kysely";
import type { Database } from "./schema.js";

/** Takes or renews `serverId`'s lease until `ttlMs` from now; true when it had lapsed (or was new). */
export async function holdLiveWatch(db: Kysely<Database>, serverId: string, ttlMs: number): Promise<boolean> {
  const { rows } = await sql<{ lapsed: boolean }>`
    with old as (select expires_at <= now() as lapsed from live_watchers where server_id = ${serverId}),
    up as (
      insert into live_watchers (server_id, expires_at) values (${serverId}, now() + make_interval(secs => ${ttlMs / 1000}))
      on conflict (server_id) do update set expires_at = excluded.expires_at
    )
    select coalesce((select lapsed from old), true) as lapsed`.execute(db);
  return rows[0]!.lapsed;
}

export async function releaseLiveWatch(db: Kysely<Database>, serverId: string): Promise<void> {
  await db.deleteFrom("live_watchers").where("server_id", "=", serverId).execute();
}

/**
 * Resolves once every transaction that was in progress when it was called has ended (or after
 * `timeoutMs`): called after a lease was taken, it covers the statements that checked for a
 * watcher before the lease was committed — each wrote first, so it has a transaction id in this
 * snapshot — so that a read made afterwards sees their changes, where their events were not sent.
 * True when all had ended in time.
 */
export async function waitForOpenTransactions(db: Kysely<Database>, timeoutMs: number): Promise<boolean> {
  const { rows } = await sql<{ xid: string }>`select x::text as xid from pg_snapshot_xip(pg_current_snapshot()) as x`.execute(db);
  let open = rows.map((r) => r.xid);
  const deadline = Date.now() + timeoutMs;
  while (open.length) {
    const still = await sql<{ xid: string }>`select x::text as xid from unnest(${open}::xid8[]) as x where pg_xact_status(x) = 'in progress'`.execute(db);
    open = still.rows.map((r) => r.xid);
    if (!open.length) break;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, 5));
  }
  return true;
}
