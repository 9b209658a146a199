// Waiting for many runs to end, through LISTEN (no polling): each NOTIFY on runChanged starts one
// count of the watched runs that have ended (one read at a time; notifications that land meanwhile
// fold into one more read). The end time is the arrival of the notification whose read saw the
// last run end.
import { CHANNELS } from "../../engine/store/channels.js";
import type { Store } from "../../engine/store/db.js";
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
    wait(runPks, timeoutMs) {
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
          void store.db
            .selectFrom("dag_runs")
            .select((eb) => [eb.fn.countAll<string>().as("ended"), eb.fn.countAll<string>().filterWhere("state", "=", "failed").as("failed")])
            .where("id", "in", runPks)
            .where("state", "in", ["success", "failed"])
            .executeTakeFirstOrThrow()
            .then(
              (row) => {
                reading = false;
                if (Number(row.ended) >= runPks.length) {
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
