// /api/v2/dags: list, get, pause/unpause (PATCH one, or every DAG a filter matches), delete.
import express from "express";
import { sql, type Kysely, type SqlBool, type Transaction } from "kysely";
import { z } from "zod";
import { ConflictError, NotFoundError } from "../../../engine/errors.js";
import { CHANNELS } from "../../../engine/store/channels.js";
import { notify, type Store } from "../../../engine/store/db.js";
import { startQueuedRuns } from "../../../engine/store/runs/startQueuedRuns.js";
import type { Database } from "../../../engine/store/schema.js";
import { requireRole } from "../auth.js";
import { badRequest } from "../errors.js";
import { allOf, inCondition, likeCondition, orderByParam, orderClauses, orderSql, patternParam, rangeConditions, rangeParams, type Condition } from "../query.js";
import { RUN_STATES } from "../../../engine/semantics/states.js";
import { BUNDLE_NAME, dagResponse, dagVersionResponse, iso, type DagQueryRow } from "../serializers.js";
import type { DagStructure } from "../../../engine/model/structure.js";
import { serializeParams } from "../../../engine/params.js";
import { paginationParams, parse, pathParams, queryBool, queryList, queryString, single } from "../validate.js";

export const dagNotFound = (dagId: string) => new NotFoundError(`The Dag with ID: \`${dagId}\` was not found`);

export const DagsQuery = z.object({
  ...paginationParams,
  tags: queryList(z.string()).optional(),
  tags_match_mode: single(z.enum(["any", "all"])).optional(),
  owners: queryList(z.string()).optional(),
  dag_id_pattern: patternParam,
  dag_display_name_pattern: patternParam,
  exclude_stale: queryBool.optional(),
  paused: queryBool.optional(),
  order_by: orderByParam,
  // Over the DAG's runs: some run matches every dag_run_* filter given; last_dag_run_state is the newest run's.
  ...rangeParams(["dag_run_start_date", "dag_run_end_date"] as const),
  dag_run_state: queryList(z.enum(RUN_STATES)).optional(),
  last_dag_run_state: single(z.enum(RUN_STATES)).optional(),
  // One bundle (the DAGs folder); no assets; no favourites: these filters only ever narrow to nothing.
  bundle_name: queryString.optional(),
  bundle_version: queryString.optional(),
  has_asset_schedule: queryBool.optional(),
  asset_dependency: queryString.optional(),
  is_favorite: queryBool.optional(),
});

const DAG_ORDER: Record<string, string> = {
  dag_id: "dags.dag_id",
  dag_display_name: "dags.dag_id",
  next_dagrun: "dags.next_dagrun_logical_date",
  last_parsed_time: "dags.last_parsed_time",
  is_paused: "dags.is_paused",
  fileloc: "dags.fileloc",
};

export const DAGPatchBody = z.strictObject({ is_paused: z.boolean() });
export const PatchQuery = z.object({ update_mask: queryList(z.string()).optional() });
export const BulkPatchQuery = z.object({
  ...paginationParams,
  update_mask: queryList(z.string()).optional(),
  tags: DagsQuery.shape.tags,
  tags_match_mode: DagsQuery.shape.tags_match_mode,
  owners: DagsQuery.shape.owners,
  dag_id_pattern: patternParam,
  exclude_stale: queryBool.optional(),
  paused: queryBool.optional(),
});

/** The filters GET /dags and the bulk PATCH /dags share. */
function dagConditions(q: Partial<z.output<typeof DagsQuery>>): Condition[] {
  const conditions: Condition[] = [
    ...likeCondition("dags.dag_id", q.dag_id_pattern),
    ...likeCondition("dags.dag_id", q.dag_display_name_pattern),
  ];
  // Like Airflow's exclude_stale=true: DAGs whose file no longer defines them are hidden by default.
  if (q.exclude_stale ?? true) conditions.push(sql<SqlBool>`not ${sql.ref("dags.is_stale")}`);
  if (q.paused !== undefined) conditions.push(sql<SqlBool>`${sql.ref("dags.is_paused")} = ${q.paused}`);
  if (q.tags?.length) {
    const op = q.tags_match_mode === "all" ? sql`@>` : sql`&&`;
    conditions.push(sql<SqlBool>`${sql.ref("dags.tags")} ${op} array[${sql.join(q.tags)}]::text[]`);
  }
  if (q.owners?.length) conditions.push(sql<SqlBool>`${sql.ref("dags.owners")} && array[${sql.join(q.owners)}]::text[]`);
  const runConditions: Condition[] = [
    ...rangeConditions(q, { dag_run_start_date: "r.start_date", dag_run_end_date: "r.end_date" }),
    ...inCondition("r.state", q.dag_run_state),
  ];
  if (runConditions.length) {
    conditions.push(sql<SqlBool>`exists (select 1 from dag_runs r where r.dag_id = ${sql.ref("dags.dag_id")} and ${allOf(runConditions)})`);
  }
  if (q.last_dag_run_state) {
    conditions.push(sql<SqlBool>`(select r.state from dag_runs r where r.dag_id = ${sql.ref("dags.dag_id")} order by r.run_after desc, r.id desc limit 1) = ${q.last_dag_run_state}`);
  }
  if (q.bundle_name !== undefined && q.bundle_name !== BUNDLE_NAME) conditions.push(sql<SqlBool>`false`);
  if (q.bundle_version !== undefined) {
    conditions.push(sql<SqlBool>`exists (select 1 from dag_versions v where v.id = ${sql.ref("dags.latest_version_id")} and v.bundle_version = ${q.bundle_version})`);
  }
  if (q.has_asset_schedule === true || q.asset_dependency !== undefined || q.is_favorite === true) conditions.push(sql<SqlBool>`false`);
  return conditions;
}

/** Pauses or unpauses one DAG; false when there is no such DAG. */
async function setPaused(tx: Transaction<Database>, dagId: string, isPaused: boolean): Promise<boolean> {
  const updated = await tx
    .updateTable("dags")
    .set({ is_paused: isPaused, updated_at: sql<Date>`now()` })
    .where("dag_id", "=", dagId)
    .returning("dag_id")
    .executeTakeFirst();
  if (!updated) return false;
  if (!isPaused) {
    // Runs triggered while paused wait `queued`: start them now, in this transaction, and wake
    // the scheduler so that a scheduled run that fell due meanwhile is created at once.
    await startQueuedRuns(tx, dagId);
    await notify(CHANNELS.runChanged, dagId).execute(tx);
  }
  return true;
}

function assertPausedMask(updateMask: string[] | undefined): void {
  if (updateMask?.length && updateMask.some((field) => field !== "is_paused")) {
    throw badRequest("Only `is_paused` field can be updated through the REST API");
  }
}

function selectDags(db: Kysely<Database>) {
  return db
    .selectFrom("dags")
    .leftJoin("dag_versions", "dag_versions.id", "dags.latest_version_id")
    .selectAll("dags")
    .select("dag_versions.bundle_version")
    .select((eb) => eb.exists(eb.selectFrom("import_errors").select("import_errors.id").whereRef("import_errors.filename", "=", "dags.fileloc")).as("has_import_errors"));
}

export async function getDag(db: Kysely<Database>, dagId: string): Promise<DagQueryRow> {
  const row = await selectDags(db).where("dags.dag_id", "=", dagId).executeTakeFirst();
  if (!row) throw dagNotFound(dagId);
  return row as DagQueryRow;
}

/** 404 unless the DAG exists (for endpoints under /dags/{dag_id} that do not read it otherwise). */
export async function assertDagExists(db: Kysely<Database>, dagId: string): Promise<void> {
  const row = await db.selectFrom("dags").select("dag_id").where("dag_id", "=", dagId).executeTakeFirst();
  if (!row) throw dagNotFound(dagId);
}

export function dagsRouter(store: Store): express.Router {
  const router = express.Router();

  router.get("/dags", async (req, res) => {
    const q = parse(DagsQuery, req.query, "query");
    const order = orderClauses(q.order_by, ["dag_id"], DAG_ORDER, "dags.dag_id");
    const conditions = dagConditions(q);
    const [rows, total] = await Promise.all([
      selectDags(store.db).where(allOf(conditions)).orderBy(orderSql(order)).limit(q.limit).offset(q.offset).execute(),
      store.db.selectFrom("dags").select(sql<number>`count(*)::int`.as("n")).where(allOf(conditions)).executeTakeFirstOrThrow(),
    ]);
    res.json({ dags: rows.map((r) => dagResponse(r as DagQueryRow)), total_entries: total.n });
  });

  router.get("/dags/:dag_id", async (req, res) => {
    const { dag_id: dagId } = pathParams(req.params, "dag_id");
    res.json(dagResponse(await getDag(store.db, dagId)));
  });

  router.get("/dags/:dag_id/details", async (req, res) => {
    const { dag_id: dagId } = pathParams(req.params, "dag_id");
    const dag = await getDag(store.db, dagId);
    const version = await store.db
      .selectFrom("dag_versions")
      .select(["id as version_id", "version_number", "bundle_version as version_bundle_version", "created_at as version_created_at", "structure"])
      .where("id", "=", dag.latest_version_id ?? "00000000-0000-0000-0000-000000000000")
      .executeTakeFirst();
    const s = version?.structure as DagStructure | undefined;
    res.json({
      ...dagResponse(dag),
      catchup: s?.catchup ?? false,
      dag_run_timeout: null,
      asset_expression: null,
      doc_md: s?.doc ?? null,
      start_date: s?.start ?? null,
      end_date: s?.end ?? null,
      is_paused_upon_creation: null,
      params: serializeParams(s?.params ?? {}),
      render_template_as_native_obj: false,
      template_search_path: null,
      timezone: dag.timezone,
      last_parsed: iso(dag.last_parsed_time),
      default_args: null,
      concurrency: dag.max_active_tasks,
      latest_dag_version: version ? dagVersionResponse(dagId, version) : null,
    });
  });

  router.patch("/dags/:dag_id", requireRole("operator"), async (req, res) => {
    const { dag_id: dagId } = pathParams(req.params, "dag_id");
    const { update_mask: updateMask } = parse(PatchQuery, req.query, "query");
    const body = parse(DAGPatchBody, req.body, "body");
    assertPausedMask(updateMask);
    await store.db.transaction().execute(async (tx) => {
      if (!(await setPaused(tx, dagId, body.is_paused))) throw dagNotFound(dagId);
    });
    res.json(dagResponse(await getDag(store.db, dagId)));
  });

  // Bulk pause/unpause: every DAG of the page the filters select (as Airflow's patch_dags).
  router.patch("/dags", requireRole("operator"), async (req, res) => {
    const q = parse(BulkPatchQuery, req.query, "query");
    const body = parse(DAGPatchBody, req.body, "body");
    assertPausedMask(q.update_mask);
    const conditions = dagConditions(q);
    const order = orderClauses(undefined, ["dag_id"], DAG_ORDER, "dags.dag_id");
    const ids = await store.db.transaction().execute(async (tx) => {
      const page = await tx.selectFrom("dags").select("dag_id").where(allOf(conditions)).orderBy(orderSql(order)).limit(q.limit).offset(q.offset).execute();
      for (const { dag_id: id } of page) await setPaused(tx, id, body.is_paused);
      return page.map((r) => r.dag_id);
    });
    const [rows, total] = await Promise.all([
      ids.length ? selectDags(store.db).where("dags.dag_id", "in", ids).orderBy(orderSql(order)).execute() : [],
      store.db.selectFrom("dags").select(sql<number>`count(*)::int`.as("n")).where(allOf(conditions)).executeTakeFirstOrThrow(),
    ]);
    res.json({ dags: rows.map((r) => dagResponse(r as DagQueryRow)), total_entries: total.n });
  });

  // Deletes the DAG's metadata: runs, task instances, logs, XComs, versions. Its file, if still
  // there, brings the DAG back at the next parse (as in Airflow).
  router.delete("/dags/:dag_id", requireRole("operator"), async (req, res) => {
    const { dag_id: dagId } = pathParams(req.params, "dag_id");
    await store.db.transaction().execute(async (tx) => {
      const dag = await tx.selectFrom("dags").select("dag_id").where("dag_id", "=", dagId).forUpdate().executeTakeFirst();
      if (!dag) throw new NotFoundError(`Dag with id: ${dagId} was not found`);
      const running = await tx.selectFrom("task_instances").select("id").where("dag_id", "=", dagId).where("state", "in", ["running", "queued", "restarting"]).limit(1).executeTakeFirst();
      if (running) throw new ConflictError(`Task instances of dag with id: '${dagId}' are still running`);
      // Runs (and their TIs) first: TIs point at versions without a cascade of their own.
      await tx.deleteFrom("dag_runs").where("dag_id", "=", dagId).execute();
      await tx.deleteFrom("dags").where("dag_id", "=", dagId).execute();
      await notify(CHANNELS.runChanged, dagId).execute(tx);
    });
    res.json(null);
  });

  return router;
}
