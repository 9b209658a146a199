// Waiting for many runs to end, through LISTEN (no polling): each NOTIFY on runChanged starts one
// count of the watched runs still open (one read at a time; notifications that land meanwhile
// fold into one more read). The end time is the arrival of the notification whose read saw the
// last run end.
//
// The read is the benchmark's own load on the server it measures, so it is kept small: the open
// runs among the watched ones through dag_runs_active (the DAGs' queued and running runs: a few
// index entries), as a prepared statement. It was a count over `id in (…500 ids…)`, planned on
// every read: 214 reads of 5.3 ms each during one 8,000-TI turn of the probe (pg_stat_statements)
// — about a tenth of a core on a 2-core machine, taken from the subject being measured.
import { sql } from "kysely";
import { CHANNELS } from "../../engine/store/channels.js";
import { PREPARED, type Store } from "../../engine/store/db.js";
import { wallClockMs } from "./stats.js";

export interface RunEndWatch {
  /** Resolves when every one of `runPks` has ended: when (wall clock), and how many failed. */
  wait(runPks: number[], timeoutMs: number): Promise<{ endedAt: number; failed: number }>;
  close(): Promise<void>;
}

export async function watchRunEnds(store: Store): Promise<RunEndWatch> {
  let current: { runPks: number[]; check(at: number): void } | null = null;
  const unlisten = await store.listen(CHANNELS.runChanged, () => current?.check(wallClockMs()));
  return {
    close: unlisten,
    async wait(runPks, timeoutMs) {
      const dagIds = (await store.db.selectFrom("dag_runs").select("dag_id").distinct().where("id", "in", runPks).execute()).map((r) => r.dag_id);
      return new Promise((resolve, reject) => {
        let reading = false;
        let again: number | null = null;
        const done = (fn: () => void) => {
          current = null;
          clearTimeout(timer);
          clearInterval(lost);
          fn();
        };
        const check = (at: number, notified = true) => {
          if (reading) {
            again = notified || again === null ? at : again;
            return;
          }
          reading = true;
          void openAndFailed(store, runPks, dagIds)
            .then(
              (row) => {
                reading = false;
                if (row.open === 0) {
                  if (!notified) done(() => reject(new Error(`the runs ended without a NOTIFY on ${CHANNELS.runChanged}`)));
                  else done(() => resolve({ endedAt: at, failed: Number(row.failed) }));
                } else if (again !== null) {
                  const next = again;
                  again = null;
                  check(next);
                }
              },
              (err) => done(() => reject(err)),
            );
        };
        current = { runPks, check };
        // A lost NOTIFY fails the scenario instead of silently adding a poll period to the figure.
        const lost = setInterval(() => check(wallClockMs(), false), 10_000);
        const timer = setTimeout(() => done(() => reject(new Error(`${runPks.length} runs did not end within ${timeoutMs} ms`))), timeoutMs);
        check(wallClockMs());
      });
    },
  };
}

/** How many of `runPks` (runs of `dagIds`) are still queued or running; when none, how many failed. */
async function openAndFailed(store: Store, runPks: number[], dagIds: string[]): Promise<{ open: number; failed: number }> {
  const open = (
    await sql<{ n: number }>`${PREPARED} select count(*)::int as n from dag_runs
      where dag_id = any(${dagIds}::text[]) and state in ('queued', 'running') and id = any(${runPks}::bigint[])`.execute(store.db)
  ).rows[0]!.n;
  if (open > 0) return { open, failed: 0 };
  const failed = (await sql<{ n: number }>`select count(*)::int as n from dag_runs where id = any(${runPks}::bigint[]) and state = 'failed'`.execute(store.db)).rows[0]!.n;
  return { open, failed };
}
