// Task-instance actions and history, shaped as Airflow's REST API v2:
// - GET  /dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/tries  (every try, oldest first)
// - POST /dags/{dag_id}/clearTaskInstances                                   (dry run by default)
// - PATCH /dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}[/{map_index}] (new_state, note)
// Writes need the operator role (writesNeedOperator in app.ts); bad input changes nothing.
import express from "express";
import { z } from "zod";
import { NotFoundError, UpdraftError } from "../../../engine/errors.js";
import type { Store } from "../../../engine/store/db.js";
import { clearTaskInstances, expandTasks, tisToClear, type ClearSelection } from "../../../engine/store/tasks/clearTaskInstances.js";
import { markTaskInstance } from "../../../engine/store/tasks/markTaskInstance.js";
import { getVersion } from "../../../engine/store/versions.js";
import { dagVersionResponse, iso, taskInstanceResponse } from "../serializers.js";
import { awareDatetime, parse, pathParams, queryInt, queryList } from "../validate.js";
import { assertDagExists } from "./dags.js";
import { getRun } from "./dagRuns.js";
import { getTaskInstance, selectTaskInstances, tiNotFound } from "./taskInstances.js";

export const ClearTaskInstancesBody = z.strictObject({
  dry_run: z.boolean().optional().default(true),
  start_date: awareDatetime.nullable().optional(),
  end_date: awareDatetime.nullable().optional(),
  only_failed: z.boolean().optional().default(true),
  only_running: z.boolean().optional().default(false),
  reset_dag_runs: z.boolean().optional().default(true),
  // Airflow also takes [task_id, map_index] pairs: only that mapped TI of the task (d.map).
  task_ids: z.array(z.union([z.string(), z.tuple([z.string(), z.number().int()])])).nullable().optional(),
  dag_run_id: z.string().nullable().optional(),
  include_upstream: z.boolean().optional().default(false),
  include_downstream: z.boolean().optional().default(false),
  // As Airflow: the same tasks in the DAG's later / earlier runs by logical date (see clearRange).
  include_future: z.boolean().optional().default(false),
  include_past: z.boolean().optional().default(false),
  run_on_latest_version: z.boolean().optional().default(false),
});

export const PatchTaskInstanceBody = z.strictObject({
  // Airflow accepts only these two for a TI (anything else: 422).
  new_state: z.enum(["success", "failed"]).nullable().optional(),
  note: z.string().max(1000).nullable().optional(),
  include_upstream: z.boolean().optional().default(false),
  include_downstream: z.boolean().optional().default(false),
  // As Airflow's set_state: the same tasks in earlier / later runs by logical date too.
  include_future: z.boolean().optional().default(false),
  include_past: z.boolean().optional().default(false),
});
export const PatchQuery = z.object({ update_mask: queryList(z.string()).optional(), map_index: queryInt().optional() });
export const TriesQuery = z.object({ map_index: queryInt().optional() });
const MapIndexPath = z.object({ map_index: queryInt() });

export function taskInstanceActionsRouter(store: Store): express.Router {
  const router = express.Router();
  const base = "/dags/:dag_id/dagRuns/:dag_run_id/taskInstances/:task_id";

  router.get(`${base}/tries`, async (req, res) => {
    const { dag_id: dagId, dag_run_id: runId, task_id: taskId } = pathParams(req.params, "dag_id", "dag_run_id", "task_id");
    const q = parse(TriesQuery, req.query, "query");
    const ti = await getTaskInstance(store.db, dagId, runId, taskId, q.map_index ?? -1);
    const history = await store.db
      .selectFrom("task_instance_tries as h")
      .selectAll("h")
      .where("h.ti_id", "=", ti.id)
      .orderBy("h.try_number")
      .execute();
    const current = taskInstanceResponse(ti);
    const historyRow = (h: (typeof history)[number]) => ({
      task_id: ti.task_id,
      dag_id: ti.dag_id,
      dag_run_id: ti.run_id,
      map_index: ti.map_index,
      start_date: iso(h.start_date),
      end_date: iso(h.end_date),
      duration: h.duration,
      state: h.state,
      try_number: h.try_number,
      max_tries: ti.max_tries,
      task_display_name: ti.task_id,
      dag_display_name: ti.dag_id,
      hostname: h.hostname,
      unixname: null,
      pool: ti.pool,
      pool_slots: ti.pool_slots,
      queue: ti.queue,
      priority_weight: ti.priority_weight,
      operator: ti.operator,
      operator_name: ti.operator,
      queued_when: null,
      scheduled_when: null,
      pid: null,
      executor: null,
      executor_config: "{}",
      dag_version: dagVersionResponse(ti.dag_id, ti),
    });
    const tries = history.map(historyRow);
    // As Airflow, the current try is listed too while it is not in the history (running, queued…).
    if (ti.try_number > 0 && !history.some((h) => h.try_number === ti.try_number)) {
      const { id: _id, logical_date: _l, run_after: _r, note: _n, rendered_map_index: _m, rendered_fields: _f, trigger: _t, triggerer_job: _j, ...rest } = current;
      tries.push(rest as ReturnType<typeof historyRow>);
    }
    res.json({ task_instances: tries, total_entries: tries.length });
  });

  router.post("/dags/:dag_id/clearTaskInstances", async (req, res) => {
    const { dag_id: dagId } = pathParams(req.params, "dag_id");
    const body = parse(ClearTaskInstancesBody, req.body ?? {}, "body");
    await assertDagExists(store.db, dagId);
    const run = body.dag_run_id ? await getRun(store.db, dagId, body.dag_run_id) : null;
    const range = clearRange(run, body);
    const taskIds = body.task_ids ? [...new Set(body.task_ids.map((t) => (typeof t === "string" ? t : t[0])))] : null;
    // A task named by itself is cleared whole; one named only in pairs, at those map indexes.
    const whole = new Set(body.task_ids?.filter((t) => typeof t === "string"));
    const mapIndexes = new Map<string, number[]>();
    for (const t of body.task_ids ?? []) if (typeof t !== "string" && !whole.has(t[0])) mapIndexes.set(t[0], [...(mapIndexes.get(t[0]) ?? []), t[1]]);
    if (taskIds?.length) await assertTasksExist(store, dagId, taskIds);
    const selection: ClearSelection = {
      dagId,
      ...range,
      taskIds,
      mapIndexes,
      onlyFailed: body.only_failed,
      onlyRunning: body.only_running,
      includeUpstream: body.include_upstream,
      includeDownstream: body.include_downstream,
      resetDagRuns: body.reset_dag_runs,
    };
    const targets = await store.db.transaction().execute((tx) => (body.dry_run ? tisToClear(tx, selection) : clearTaskInstances(tx, selection)));
    const rows = targets.length
      ? await selectTaskInstances(store.db)
          .where(
            "ti.id",
            "in",
            targets.map((t) => t.id),
          )
          .orderBy("ti.run_pk")
          .orderBy("ti.task_id")
          .orderBy("ti.map_index")
          .execute()
      : [];
    res.json({ task_instances: rows.map(taskInstanceResponse), total_entries: rows.length });
  });

  const patch = async (req: express.Request, res: express.Response, mapIndexFromPath?: number) => {
    const { dag_id: dagId, dag_run_id: runId, task_id: taskId } = pathParams(req.params, "dag_id", "dag_run_id", "task_id");
    const q = parse(PatchQuery, req.query, "query");
    const body = parse(PatchTaskInstanceBody, req.body ?? {}, "body");
    const mapIndex = mapIndexFromPath ?? q.map_index ?? -1;
    const run = await getRun(store.db, dagId, runId);
    const mask = q.update_mask;
    const newState = !mask || mask.includes("new_state") ? body.new_state : undefined;
    const note = (!mask || mask.includes("note")) && "note" in (req.body ?? {}) ? body.note : undefined;
    // include_upstream / include_downstream: those TIs get the same new state (not the note).
    const version = await getVersion(store.db, run.dag_version_id);
    const others =
      newState && (body.include_upstream || body.include_downstream)
        ? version.structure.tasks.map((t) => t.taskId).filter((id) => id !== taskId && expandTasks(version, [taskId], body.include_upstream, body.include_downstream).has(id))
        : [];
    const ids = await store.db.transaction().execute(async (tx) => {
      const id = await markTaskInstance(tx, { runPk: run.id, taskId, mapIndex, newState, note });
      if (!id) throw tiNotFound(dagId, runId, taskId);
      const marked = [id];
      for (const other of others) {
        const otherId = await markTaskInstance(tx, { runPk: run.id, taskId: other, mapIndex: -1, newState });
        if (otherId) marked.push(otherId);
      }
      // include_past / include_future: the same TIs in the DAG's earlier / later runs by logical
      // date (Airflow's get_run_ids; a run without a logical date is alone). A run without the
      // task (another version) has nothing to mark.
      if (newState && (body.include_past || body.include_future) && run.logical_date !== null) {
        const at = new Date(run.logical_date);
        let runs = tx.selectFrom("dag_runs").select("id").where("dag_id", "=", dagId).where("id", "!=", run.id).where("logical_date", "is not", null);
        if (!body.include_past) runs = runs.where("logical_date", ">=", at);
        if (!body.include_future) runs = runs.where("logical_date", "<=", at);
        for (const r of await runs.orderBy("logical_date").orderBy("id").execute()) {
          for (const [t, m] of [[taskId, mapIndex] as const, ...others.map((o) => [o, -1] as const)]) {
            const otherId = await markTaskInstance(tx, { runPk: r.id, taskId: t, mapIndex: m, newState });
            if (otherId) marked.push(otherId);
          }
        }
      }
      return marked;
    });
    const rows = await selectTaskInstances(store.db).where("ti.id", "in", ids).orderBy("ti.task_id").orderBy("ti.map_index").execute();
    res.json({ task_instances: rows.map(taskInstanceResponse), total_entries: rows.length });
  };
  router.patch(base, (req, res) => patch(req, res));
  router.patch(`${base}/:map_index`, (req, res) => patch(req, res, parse(MapIndexPath, req.params, "path").map_index));

  return router;
}

/**
 * Which runs a clear reaches, as Airflow's post_clear_task_instances decides it: a dag_run_id alone
 * means that run (the body's dates are then unused); include_past / include_future widen it to
 * every run whose logical date is at or before / at or after that run's (so a run without a logical
 * date cannot use them: 400). Without a dag_run_id they drop the lower / upper end of the body's
 * start_date..end_date range.
 */
export function clearRange(
  run: { run_id: string; logical_date: Date | string | null } | null,
  body: { start_date?: Date | null; end_date?: Date | null; include_past: boolean; include_future: boolean },
): { runId: string | null; startDate: Date | null; endDate: Date | null } {
  const { include_past: past, include_future: future } = body;
  if (run && !past && !future) return { runId: run.run_id, startDate: null, endDate: null };
  if (run && run.logical_date === null) {
    throw new UpdraftError("Cannot use include_past or include_future with no logical_date (e.g. manually or asset-triggered).", "bad_request", 400);
  }
  const at = run ? new Date(run.logical_date!) : null;
  return {
    runId: null,
    startDate: past ? null : (at ?? body.start_date ?? null),
    endDate: future ? null : (at ?? body.end_date ?? null),
  };
}

/** Unknown task ids → 404, as Airflow; checked against the DAG's latest version. */
async function assertTasksExist(store: Store, dagId: string, taskIds: string[]): Promise<void> {
  const dag = await store.db.selectFrom("dags").select("latest_version_id").where("dag_id", "=", dagId).executeTakeFirst();
  if (!dag?.latest_version_id) return;
  const version = await getVersion(store.db, dag.latest_version_id);
  const missing = taskIds.filter((id) => !version.tasks.has(id));
  if (missing.length) throw new NotFoundError(`Task(s) ${missing.map((m) => `\`${m}\``).join(", ")} not found in DAG \`${dagId}\``);
}
