// Creating a backfill: the backfill row, one queued `backfill` run per date it runs (or the
// date's earlier run cleared, when reprocessing), and a row per date recording what was done —
// all in one transaction under the DAG's row lock. The scheduler then owns it: startQueuedRuns
// starts its runs in order, at most max_active_runs at once; completeBackfills closes it.
import { sql, type Kysely } from "kysely";
import { ConflictError } from "../../errors.js";
import { clearRun } from "../runs/clearRun.js";
import { generateRunId } from "../runs/createRun.js";
import { startQueuedRuns } from "../runs/startQueuedRuns.js";
import type { BackfillRow, Database } from "../schema.js";
import { planBackfill, type BackfillRequest } from "./planBackfill.js";

export interface CreateBackfillInput extends BackfillRequest {
  maxActiveRuns?: number;
  triggeringUserName?: string | null;
}

export const anotherBackfillRunning = (dagId: string) => new ConflictError(`There is already a running backfill for dag ${dagId}`);

export async function createBackfill(db: Kysely<Database>, input: CreateBackfillInput): Promise<BackfillRow> {
  return db.transaction().execute(async (tx) => {
    await tx.selectFrom("dags").select("dag_id").where("dag_id", "=", input.dagId).forUpdate().executeTakeFirst();
    const plan = await planBackfill(tx, input);
    const active = await tx.selectFrom("backfills").select("id").where("dag_id", "=", input.dagId).where("completed_at", "is", null).executeTakeFirst();
    if (active) throw anotherBackfillRunning(input.dagId);
    const conf = input.dagRunConf ?? {};
    const runs = plan.dates.filter((d) => !d.skipReason);
    const backfill = await tx
      .insertInto("backfills")
      .values({
        dag_id: input.dagId,
        from_date: input.fromDate,
        to_date: input.toDate,
        run_backwards: input.runBackwards ?? false,
        dag_run_conf: JSON.stringify(conf),
        reprocess_behavior: input.reprocessBehavior ?? "none",
        max_active_runs: input.maxActiveRuns ?? 10,
        triggering_user_name: input.triggeringUserName ?? null,
        // Nothing to run: born complete, so it does not block the next backfill.
        completed_at: runs.length ? null : sql<Date>`now()`,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    const dagRunIds: (number | null)[] = [];
    const fresh = plan.dates.map((d, ordinal) => ({ d, ordinal })).filter(({ d }) => !d.skipReason && !d.existing);
    const created = new Map<number, number>();
    for (let i = 0; i < fresh.length; i += 1000) {
      const rows = await tx
        .insertInto("dag_runs")
        .values(
          fresh.slice(i, i + 1000).map(({ d, ordinal }) => ({
            dag_id: input.dagId,
            run_id: generateRunId("backfill", d.interval.start),
            dag_version_id: sql<string>`(select latest_version_id from dags where dag_id = ${input.dagId})`,
            run_type: "backfill" as const,
            triggered_by: "backfill",
            triggering_user_name: input.triggeringUserName ?? null,
            state: "queued" as const,
            logical_date: d.interval.start,
            data_interval_start: d.interval.start,
            data_interval_end: d.interval.end,
            run_after: d.interval.end,
            queued_at: sql<Date>`now()`,
            conf: JSON.stringify(conf),
            backfill_id: backfill.id,
            backfill_sort_ordinal: ordinal,
          })),
        )
        .returning(["id", "logical_date"])
        .execute();
      for (const r of rows) created.set(new Date(r.logical_date!).getTime(), Number(r.id));
    }
    for (const [ordinal, d] of plan.dates.entries()) {
      if (!d.skipReason && d.existing) await clearRun(tx, d.existing.id, { backfill: { id: backfill.id, sortOrdinal: ordinal, conf } });
      dagRunIds.push(d.skipReason ? (d.existing?.id ?? null) : (created.get(d.interval.start.getTime()) ?? d.existing!.id));
    }
    for (let i = 0; i < plan.dates.length; i += 1000) {
      await tx
        .insertInto("backfill_dag_runs")
        .values(
          plan.dates.slice(i, i + 1000).map((d, j) => ({
            backfill_id: backfill.id,
            logical_date: d.interval.start,
            sort_ordinal: i + j,
            dag_run_id: dagRunIds[i + j] ?? null,
            exception_reason: d.skipReason,
          })),
        )
        .execute();
    }
    await startQueuedRuns(tx, input.dagId);
    return backfill;
  });
}
