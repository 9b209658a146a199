// Task instances in bulk, and deleting one, shaped as Airflow's REST API v2:
// - POST   /dags/~/dagRuns/~/taskInstances/list           (filters in the body, across DAGs and runs)
// - PATCH  /dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances  (bulk update / delete → BulkResponse)
// - DELETE /dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}?map_index=
// A deleted TI takes its tries, logs and XComs with it; the run's count of unfinished TIs is
// recounted in the same transaction, so the run still ends.
import express from "express";
import { sql, type SqlBool, type Transaction } from "kysely";
import { z } from "zod";
import { NotFoundError, UpdraftError } from "../../../engine/errors.js";
import type { Store } from "../../../engine/store/db.js";
import type { Database } from "../../../engine/store/schema.js";
import { TI_STATES } from "../../../engine/semantics/states.js";
import { expandTasks, recountRun } from "../../../engine/store/tasks/clearTaskInstances.js";
import { markTaskInstance } from "../../../engine/store/tasks/markTaskInstance.js";
import { getVersion } from "../../../engine/store/versions.js";
import { allOf, inCondition, orderClauses, orderSql, rangeConditions, type Condition } from "../query.js";
import { taskInstanceResponse } from "../serializers.js";
import { awareDatetime, parse, pathParams, queryInt } from "../validate.js";
import { getRun, WILDCARD } from "./dagRuns.js";
import { selectTaskInstances, TI_ORDER, tiNotFound } from "./taskInstances.js";

const optionalDate = awareDatetime.nullable().optional();
const optionalNumber = z.number().nullable().optional();
const stringList = z.array(z.string()).nullable().optional();

const DATE_FIELDS = { run_after: "r.run_after", logical_date: "r.logical_date", start_date: "ti.start_date", end_date: "ti.end_date" };
const OPS = ["gte", "gt", "lte", "lt"] as const;

export const TaskInstancesBatchBody = z.strictObject({
  dag_ids: stringList,
  dag_run_ids: stringList,
  task_ids: stringList,
  state: z.array(z.enum(TI_STATES).nullable()).nullable().optional(),
  ...Object.fromEntries(Object.keys(DATE_FIELDS).flatMap((f) => OPS.map((op) => [`${f}_${op}`, optionalDate]))),
  ...Object.fromEntries(OPS.map((op) => [`duration_${op}`, optionalNumber])),
  pool: stringList,
  queue: stringList,
  executor: stringList,
  page_offset: z.number().int().min(0).optional().default(0),
  page_limit: z.number().int().min(0).optional().default(100),
  order_by: z.string().nullable().optional(),
});

const BatchPath = z.object({ dag_id: z.literal(WILDCARD), dag_run_id: z.literal(WILDCARD) });

const BulkTaskInstanceBody = z.strictObject({
  new_state: z.enum(TI_STATES).nullable().optional(),
  note: z.string().max(1000).nullable().optional(),
  include_upstream: z.boolean().optional().default(false),
  include_downstream: z.boolean().optional().default(false),
  include_future: z.boolean().optional().default(false),
  include_past: z.boolean().optional().default(false),
  task_id: z.string(),
  map_index: z.number().int().nullable().optional(),
});
type BulkEntity = z.output<typeof BulkTaskInstanceBody>;

export const BulkBody = z.strictObject({
  actions: z.array(
    z.discriminatedUnion("action", [
      z.strictObject({ action: z.literal("create"), entities: z.array(BulkTaskInstanceBody), action_on_existence: z.enum(["fail", "skip", "overwrite"]).optional().default("fail") }),
      z.strictObject({ action: z.literal("update"), entities: z.array(BulkTaskInstanceBody), action_on_non_existence: z.enum(["fail", "skip"]).optional().default("fail") }),
      z.strictObject({
        action: z.literal("delete"),
        entities: z.array(z.union([z.string(), BulkTaskInstanceBody])),
        action_on_non_existence: z.enum(["fail", "skip"]).optional().default("fail"),
      }),
    ]),
  ),
});

export const DeleteQuery = z.object({ map_index: queryInt().optional().default(-1) });

interface BulkActionResult {
  success: string[];
  errors: { error: string; status_code: number }[];
}

/** The key a bulk result names an entity by: the task id, with `[map_index]` for a mapped one. */
const entityKey = (taskId: string, mapIndex: number | null | undefined) => (mapIndex === null || mapIndex === undefined || mapIndex < 0 ? taskId : `${taskId}[${mapIndex}]`);

export function taskInstancesBatchRouter(store: Store): express.Router {
  const router = express.Router();
  const base = "/dags/:dag_id/dagRuns/:dag_run_id/taskInstances";

  router.post(`${base}/list`, async (req, res) => {
    parse(BatchPath, pathParams(req.params, "dag_id", "dag_run_id"), "path");
    const body = parse(TaskInstancesBatchBody, req.body, "body") as z.output<typeof TaskInstancesBatchBody> & Record<string, unknown>;
    const order = orderClauses(body.order_by ? [body.order_by] : undefined, ["map_index", "task_id"], TI_ORDER, "ti.id");
    const conditions: Condition[] = [
      ...inCondition("r.dag_id", body.dag_ids ?? undefined),
      ...inCondition("r.run_id", body.dag_run_ids ?? undefined),
      ...inCondition("ti.task_id", body.task_ids ?? undefined),
      ...inCondition("ti.pool", body.pool ?? undefined),
      ...inCondition("ti.queue", body.queue ?? undefined),
      // Updraft has no executors: a TI's executor is always null, so any named one matches nothing.
      ...(body.executor?.length ? [sql<SqlBool>`false`] : []),
      ...rangeConditions(body, DATE_FIELDS),
    ];
    for (const [op, operator] of [["gte", ">="], ["gt", ">"], ["lte", "<="], ["lt", "<"]] as const) {
      const value = body[`duration_${op}`];
      if (typeof value === "number") conditions.push(sql<SqlBool>`${sql.ref("ti.duration")} ${sql.raw(operator)} ${value}`);
    }
    if (body.state?.length) {
      const named = body.state.filter((s) => s !== null);
      const orNull = body.state.includes(null) ? sql` or ${sql.ref("ti.state")} is null` : sql``;
      conditions.push(named.length ? sql<SqlBool>`${sql.ref("ti.state")} in (${sql.join(named)})${orNull}` : sql<SqlBool>`${sql.ref("ti.state")} is null`);
    }
    const [rows, total] = await Promise.all([
      selectTaskInstances(store.db).where(allOf(conditions)).orderBy(orderSql(order)).limit(body.page_limit).offset(body.page_offset).execute(),
      store.db
        .selectFrom("task_instances as ti")
        .innerJoin("dag_runs as r", "r.id", "ti.run_pk")
        .select(sql<number>`count(*)::int`.as("n"))
        .where(allOf(conditions))
        .executeTakeFirstOrThrow(),
    ]);
    res.json({ task_instances: rows.map(taskInstanceResponse), total_entries: total.n });
  });

  router.patch(base, async (req, res) => {
    const { dag_id: dagId, dag_run_id: runId } = pathParams(req.params, "dag_id", "dag_run_id");
    const body = parse(BulkBody, req.body, "body");
    const run = await getRun(store.db, dagId, runId);
    const version = await getVersion(store.db, run.dag_version_id);
    const response: Partial<Record<"create" | "update" | "delete", BulkActionResult>> = {};
    for (const action of body.actions) {
      const result: BulkActionResult = (response[action.action] ??= { success: [], errors: [] });
      if (action.action === "create") {
        // Task instances come from the DAG's structure when a run starts; they are not created by hand.
        for (const e of action.entities) result.errors.push({ error: `Task instance ${entityKey(e.task_id, e.map_index)} cannot be created through the API`, status_code: 405 });
        continue;
      }
      for (const entity of action.entities) {
        const e: BulkEntity = typeof entity === "string" ? { task_id: entity, map_index: null, include_upstream: false, include_downstream: false, include_future: false, include_past: false } : entity;
        const key = entityKey(e.task_id, e.map_index);
        try {
          // One transaction per entity: a failing entity is reported and leaves the others done.
          await store.db.transaction().execute(async (tx) => {
            const mapIndexes = await mapIndexesOf(tx, run.id, e.task_id, e.map_index);
            if (!mapIndexes.length) {
              if (action.action_on_non_existence === "skip") return;
              throw tiNotFound(dagId, runId, e.task_id);
            }
            if (action.action === "delete") {
              await tx.deleteFrom("task_instances").where("run_pk", "=", run.id).where("task_id", "=", e.task_id).where("map_index", "in", mapIndexes).execute();
              await recountRun(tx, run.id, version);
            } else {
              await updateEntity(tx, run.id, version, e, mapIndexes);
            }
          });
          result.success.push(key);
        } catch (err) {
          if (!(err instanceof UpdraftError) || err.status >= 500) throw err;
          result.errors.push({ error: err.message, status_code: err.status });
        }
      }
    }
    res.json(response);
  });

  router.delete(`${base}/:task_id`, async (req, res) => {
    const { dag_id: dagId, dag_run_id: runId, task_id: taskId } = pathParams(req.params, "dag_id", "dag_run_id", "task_id");
    const { map_index: mapIndex } = parse(DeleteQuery, req.query, "query");
    const run = await getRun(store.db, dagId, runId);
    const version = await getVersion(store.db, run.dag_version_id);
    await store.db.transaction().execute(async (tx) => {
      const deleted = await tx
        .deleteFrom("task_instances")
        .where("run_pk", "=", run.id)
        .where("task_id", "=", taskId)
        .where("map_index", "=", mapIndex)
        .returning("id")
        .executeTakeFirst();
      if (!deleted) {
        throw new NotFoundError(`The Task Instance with dag_id: \`${dagId}\`, run_id: \`${runId}\`, task_id: \`${taskId}\` and map_index: \`${mapIndex}\` was not found`);
      }
      await recountRun(tx, run.id, version);
    });
    res.json(null);
  });

  return router;
}

/** The map indexes of a task's TIs in the run: the one asked for, or all of them when null. */
async function mapIndexesOf(tx: Transaction<Database>, runPk: number, taskId: string, mapIndex: number | null | undefined): Promise<number[]> {
  let q = tx.selectFrom("task_instances").select("map_index").where("run_pk", "=", runPk).where("task_id", "=", taskId);
  if (mapIndex !== null && mapIndex !== undefined) q = q.where("map_index", "=", mapIndex);
  return (await q.execute()).map((r) => r.map_index);
}

async function updateEntity(tx: Transaction<Database>, runPk: number, version: Awaited<ReturnType<typeof getVersion>>, e: BulkEntity, mapIndexes: number[]): Promise<void> {
  if (e.include_future || e.include_past) throw new UpdraftError("include_future and include_past are not supported yet: only the chosen run is changed", "bad_request", 400);
  // As PATCH …/taskInstances/{task_id}: only success and failed can be set by hand.
  const newState = e.new_state ?? undefined;
  if (newState !== undefined && newState !== "success" && newState !== "failed") {
    throw new UpdraftError(`Task instances can only be marked success or failed, not ${newState}`, "bad_request", 400);
  }
  for (const mapIndex of mapIndexes) await markTaskInstance(tx, { runPk, taskId: e.task_id, mapIndex, newState, note: e.note });
  if (newState && (e.include_upstream || e.include_downstream)) {
    const related = expandTasks(version, [e.task_id], e.include_upstream, e.include_downstream);
    for (const other of related) if (other !== e.task_id) await markTaskInstance(tx, { runPk, taskId: other, mapIndex: -1, newState });
  }
}
