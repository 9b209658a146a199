// /api/v2/dags/{dag_id}/dagRuns: trigger (POST), list (`~` for every DAG), get one.
import express from "express";
import { sql, type Kysely, type SqlBool } from "kysely";
import { z } from "zod";
import { NotFoundError } from "../../../engine/errors.js";
import { createRun } from "../../../engine/store/runs/createRun.js";
import type { Database } from "../../../engine/store/schema.js";
import { RUN_STATES } from "../../../engine/semantics/states.js";
import { currentUser, requireRole } from "../auth.js";
import { allOf, inCondition, likeCondition, orderByParam, orderClauses, orderSql, patternParam, rangeConditions, rangeParams, type Condition } from "../query.js";
import { dagRunResponse, taskInstanceResponse, type DagRunQueryRow } from "../serializers.js";
import { badRequest } from "../errors.js";
import { CHANNELS } from "../../../engine/store/channels.js";
import { notify, type Store } from "../../../engine/store/db.js";
import { clearRun } from "../../../engine/store/runs/clearRun.js";
import { setRunState } from "../../../engine/store/runs/setRunState.js";
import { startQueuedRuns } from "../../../engine/store/runs/startQueuedRuns.js";
import { awareDatetime, paginationParams, parse, pathParams, queryList } from "../validate.js";
import { assertDagExists } from "./dags.js";

/** In a path, `~` stands for "every DAG" / "every run" (Airflow's wildcard). */
export const WILDCARD = "~";

export const runNotFound = (dagId: string, runId: string) =>
  new NotFoundError(`The DagRun with dag_id: \`${dagId}\` and run_id: \`${runId}\` was not found`);

/** Airflow's default [scheduler] allowed_run_id_pattern. */
const RUN_ID_PATTERN = /^[A-Za-z0-9_.~:+-]+$/;

export const TriggerDAGRunPostBody = z
  .strictObject({
    dag_run_id: z
      .string()
      .min(1)
      .max(250)
      .regex(RUN_ID_PATTERN)
      .refine((id) => id !== WILDCARD, "`~` is reserved: in paths it means every run")
      .nullable()
      .optional(),
    data_interval_start: awareDatetime.nullable().optional(),
    data_interval_end: awareDatetime.nullable().optional(),
    logical_date: awareDatetime.nullable(),
    run_after: awareDatetime.nullable().optional(),
    conf: z.record(z.string(), z.unknown()).nullable().optional(),
    note: z.string().nullable().optional(),
  })
  .superRefine((body, ctx) => {
    const start = body.data_interval_start ?? null;
    const end = body.data_interval_end ?? null;
    if ((start === null) !== (end === null)) {
      ctx.addIssue({ code: "custom", message: "Either both data_interval_start and data_interval_end must be provided or both must be None" });
    } else if (start && end && start > end) {
      ctx.addIssue({ code: "custom", message: "data_interval_start must not be after data_interval_end" });
    }
  });

const RUN_RANGE_FIELDS = ["logical_date", "run_after", "start_date", "end_date", "updated_at"] as const;

export const RunsQuery = z.object({
  ...paginationParams,
  ...rangeParams(RUN_RANGE_FIELDS),
  state: queryList(z.enum(RUN_STATES)).optional(),
  run_type: queryList(z.enum(["backfill", "scheduled", "manual", "asset_triggered"])).optional(),
  run_id_pattern: patternParam,
  triggering_user_name_pattern: patternParam,
  order_by: orderByParam,
});

export const RUN_ORDER: Record<string, string> = {
  id: "r.id",
  state: "r.state",
  dag_id: "r.dag_id",
  run_id: "r.run_id",
  dag_run_id: "r.run_id",
  logical_date: "r.logical_date",
  run_after: "r.run_after",
  start_date: "r.start_date",
  end_date: "r.end_date",
  updated_at: "r.updated_at",
  run_type: "r.run_type",
};

export function selectRuns(db: Kysely<Database>) {
  return db
    .selectFrom("dag_runs as r")
    .innerJoin("dag_versions as v", "v.id", "r.dag_version_id")
    .selectAll("r")
    .select(["v.id as version_id", "v.version_number", "v.bundle_version as version_bundle_version", "v.created_at as version_created_at"]);
}

export async function getRun(db: Kysely<Database>, dagId: string, runId: string): Promise<DagRunQueryRow> {
  const row = await selectRuns(db).where("r.dag_id", "=", dagId).where("r.run_id", "=", runId).executeTakeFirst();
  if (!row) throw runNotFound(dagId, runId);
  return row;
}

export function dagRunsRouter(store: Store): express.Router {
  const router = express.Router();

  router.post("/dags/:dag_id/dagRuns", requireRole("operator"), async (req, res) => {
    const { dag_id: dagId } = pathParams(req.params, "dag_id");
    const body = parse(TriggerDAGRunPostBody, req.body, "body");
    // As Airflow: with a logical date, the data interval is the given one or [logical_date,
    // logical_date], and the run is due at its end; without one, there is no interval.
    const logicalDate = body.logical_date;
    const interval = logicalDate
      ? { start: body.data_interval_start ?? logicalDate, end: body.data_interval_end ?? logicalDate }
      : null;
    const run = await createRun(store.db, {
      dagId,
      runId: body.dag_run_id ?? null,
      runType: "manual",
      triggeredBy: "rest_api",
      triggeringUserName: currentUser(res).username,
      logicalDate,
      dataIntervalStart: interval?.start ?? null,
      dataIntervalEnd: interval?.end ?? null,
      runAfter: interval?.end ?? body.run_after ?? new Date(),
      conf: body.conf ?? {},
      note: body.note ?? null,
      confField: "conf",
    });
    res.json(dagRunResponse(await getRun(store.db, dagId, run.run_id)));
  });

  router.get("/dags/:dag_id/dagRuns", async (req, res) => {
    const { dag_id: dagId } = pathParams(req.params, "dag_id");
    const q = parse(RunsQuery, req.query, "query");
    const order = orderClauses(q.order_by, ["id"], RUN_ORDER, "r.id");
    if (dagId !== WILDCARD) await assertDagExists(store.db, dagId);
    const conditions: Condition[] = [
      ...(dagId === WILDCARD ? [] : [sql<SqlBool>`${sql.ref("r.dag_id")} = ${dagId}`]),
      ...inCondition("r.state", q.state),
      ...inCondition("r.run_type", q.run_type),
      ...likeCondition("r.run_id", q.run_id_pattern),
      ...likeCondition("r.triggering_user_name", q.triggering_user_name_pattern),
      ...rangeConditions(q, Object.fromEntries(RUN_RANGE_FIELDS.map((f) => [f, `r.${f}`]))),
    ];
    const [rows, total] = await Promise.all([
      selectRuns(store.db).where(allOf(conditions)).orderBy(orderSql(order)).limit(q.limit).offset(q.offset).execute(),
      store.db.selectFrom("dag_runs as r").select(sql<number>`count(*)::int`.as("n")).where(allOf(conditions)).executeTakeFirstOrThrow(),
    ]);
    res.json({ dag_runs: rows.map(dagRunResponse), total_entries: total.n });
  });

  router.get("/dags/:dag_id/dagRuns/:dag_run_id", async (req, res) => {
    const { dag_id: dagId, dag_run_id: runId } = pathParams(req.params, "dag_id", "dag_run_id");
    res.json(dagRunResponse(await getRun(store.db, dagId, runId)));
  });

  router.patch("/dags/:dag_id/dagRuns/:dag_run_id", async (req, res) => {
    const { dag_id: dagId, dag_run_id: runId } = pathParams(req.params, "dag_id", "dag_run_id");
    const { update_mask: mask } = parse(PatchQuery, req.query, "query");
    const body = parse(DAGRunPatchBody, req.body, "body");
    for (const field of mask ?? []) if (field !== "state" && field !== "note") throw badRequest(`Invalid field \`${field}\` in update mask`);
    const fields = mask?.length ? mask : Object.keys(body);
    await store.db.transaction().execute(async (tx) => {
      const run = await tx.selectFrom("dag_runs").select(["id", "state"]).where("dag_id", "=", dagId).where("run_id", "=", runId).forUpdate().executeTakeFirst();
      if (!run) throw runNotFound(dagId, runId);
      if (fields.includes("state") && body.state && body.state !== run.state) await setRunState(tx, run.id, body.state);
      if (fields.includes("note")) await tx.updateTable("dag_runs").set({ note: body.note ?? null, updated_at: sql`now()` }).where("id", "=", run.id).execute();
    });
    res.json(dagRunResponse(await getRun(store.db, dagId, runId)));
  });

  router.delete("/dags/:dag_id/dagRuns/:dag_run_id", async (req, res) => {
    const { dag_id: dagId, dag_run_id: runId } = pathParams(req.params, "dag_id", "dag_run_id");
    await store.db.transaction().execute(async (tx) => {
      const deleted = await tx.deleteFrom("dag_runs").where("dag_id", "=", dagId).where("run_id", "=", runId).returning(["id", "state"]).executeTakeFirst();
      if (!deleted) throw runNotFound(dagId, runId);
      // Its slot under maxActiveRuns is free now. (A worker still running one of its TIs loses its lease.)
      if (deleted.state === "running" || deleted.state === "queued") await startQueuedRuns(tx, dagId);
      await notify(CHANNELS.runChanged, dagId).execute(tx);
    });
    res.status(204).end();
  });

  router.post("/dags/:dag_id/dagRuns/:dag_run_id/clear", async (req, res) => {
    const { dag_id: dagId, dag_run_id: runId } = pathParams(req.params, "dag_id", "dag_run_id");
    const body = parse(DAGRunClearBody, req.body ?? {}, "body");
    const run = await getRun(store.db, dagId, runId);
    if (body.dry_run) {
      let q = selectTaskInstances(store.db).where("ti.run_pk", "=", run.id);
      if (body.only_failed) q = q.where("ti.state", "in", ["failed", "upstream_failed"]);
      const tis = await q.orderBy("ti.task_id").orderBy("ti.map_index").execute();
      res.json({ task_instances: tis.map(taskInstanceResponse), total_entries: tis.length });
      return;
    }
    await store.db.transaction().execute((tx) => clearRun(tx, run.id, { onlyFailed: body.only_failed, runOnLatestVersion: body.run_on_latest_version }));
    res.json(dagRunResponse(await getRun(store.db, dagId, runId)));
  });

  return router;
}

export const DAGRunPatchBody = z.strictObject({
  state: z.enum(["queued", "success", "failed"]).nullable().optional(),
  note: z.string().max(1000).nullable().optional(),
});
export const PatchQuery = z.object({ update_mask: queryList(z.string()).optional() });
export const DAGRunClearBody = z.strictObject({
  dry_run: z.boolean().optional().default(true),
  only_failed: z.boolean().optional().default(false),
  run_on_latest_version: z.boolean().optional().default(false),
});

function selectTaskInstances(db: Kysely<Database>) {
  return db
    .selectFrom("task_instances as ti")
    .innerJoin("dag_runs as r", "r.id", "ti.run_pk")
    .innerJoin("dag_versions as v", "v.id", "ti.dag_version_id")
    .selectAll("ti")
    .select(["r.logical_date", "r.run_after", "v.id as version_id", "v.version_number", "v.bundle_version as version_bundle_version", "v.created_at as version_created_at"]);
}
