// Reads of ctx.metrics points: one run's (the run page) and one DAG's across runs (its chart).
import type { Kysely } from "kysely";
import type { Database } from "../schema.js";

export interface MetricRow {
  runId: string;
  logicalDate: string | null;
  taskId: string;
  mapIndex: number;
  tryNumber: number;
  name: string;
  value: number;
  step: number | null;
  loggedAt: string;
}

const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());

/**
 * Metrics of a DAG, oldest run first; `runId` narrows to one run. Only each TI's latest try that
 * logged metrics counts, so a retried task does not show twice in a chart.
 */
export async function readDagMetrics(db: Kysely<Database>, dagId: string, options: { runId?: string; name?: string; limitRuns?: number } = {}): Promise<MetricRow[]> {
  let runs = db.selectFrom("dag_runs").select(["id", "run_id", "logical_date", "run_after"]).where("dag_id", "=", dagId);
  if (options.runId !== undefined) runs = runs.where("run_id", "=", options.runId);
  const recent = await runs.orderBy("run_after", "desc").orderBy("id", "desc").limit(options.limitRuns ?? 100).execute();
  if (!recent.length) return [];
  const byPk = new Map(recent.map((r) => [r.id, r]));
  let q = db
    .selectFrom("task_metrics as m")
    .select(["m.run_pk", "m.ti_id", "m.task_id", "m.map_index", "m.try_number", "m.name", "m.value", "m.step", "m.logged_at"])
    .where("m.run_pk", "in", [...byPk.keys()])
    .where(({ eb, selectFrom }) =>
      eb("m.try_number", "=", selectFrom("task_metrics as latest").select((e) => e.fn.max("latest.try_number").as("t")).whereRef("latest.ti_id", "=", "m.ti_id")),
    );
  if (options.name !== undefined) q = q.where("m.name", "=", options.name);
  const rows = await q.orderBy("m.id").execute();
  const rank = new Map(recent.map((r, i) => [r.id, recent.length - i]));
  return rows
    .map((m) => {
      const run = byPk.get(m.run_pk)!;
      return {
        runId: run.run_id,
        logicalDate: iso(run.logical_date),
        taskId: m.task_id,
        mapIndex: m.map_index,
        tryNumber: m.try_number,
        name: m.name,
        value: m.value,
        step: m.step,
        loggedAt: iso(m.logged_at)!,
        order: rank.get(m.run_pk)!,
      };
    })
    .sort((a, b) => a.order - b.order)
    .map(({ order: _order, ...row }) => row);
}
