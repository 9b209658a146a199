// /api/v2/dags: list, get, and pause/unpause (PATCH).
import express from "express";
import { sql, type Kysely, type SqlBool } from "kysely";
import { z } from "zod";
import { NotFoundError } from "../../../engine/errors.js";
import { CHANNELS } from "../../../engine/store/channels.js";
import { notify, type Store } from "../../../engine/store/db.js";
import { startQueuedRuns } from "../../../engine/store/runs/startQueuedRuns.js";
import type { Database } from "../../../engine/store/schema.js";
import { requireRole } from "../auth.js";
import { badRequest } from "../errors.js";
import { allOf, likeCondition, orderByParam, orderClauses, orderSql, patternParam, type Condition } from "../query.js";
import { dagResponse, dagVersionResponse, iso, type DagQueryRow } from "../serializers.js";
import type { DagStructure } from "../../../engine/model/structure.js";
import { serializeParams } from "../../../engine/params.js";
import { paginationParams, parse, pathParams, queryBool, queryList, single } from "../validate.js";

export const dagNotFound = (dagId: string) => new NotFoundError(`The Dag with ID: \`${dagId}\` was not found`);

const DagsQuery = z.object({
  ...paginationParams,
  tags: queryList(z.string()).optional(),
  tags_match_mode: single(z.enum(["any", "all"])).optional(),
  owners: queryList(z.string()).optional(),
  dag_id_pattern: patternParam,
  dag_display_name_pattern: patternParam,
  exclude_stale: queryBool.optional(),
  paused: queryBool.optional(),
  order_by: orderByParam,
});

const DAG_ORDER: Record<string, string> = {
  dag_id: "dags.dag_id",
  dag_display_name: "dags.dag_id",
  next_dagrun: "dags.next_dagrun_logical_date",
  last_parsed_time: "dags.last_parsed_time",
  is_paused: "dags.is_paused",
  fileloc: "dags.fileloc",
};

const DAGPatchBody = z.strictObject({ is_paused: z.boolean() });
const PatchQuery = z.object({ update_mask: queryList(z.string()).optional() });

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
    if (updateMask?.length && updateMask.some((field) => field !== "is_paused")) {
      throw badRequest("Only `is_paused` field can be updated through the REST API");
    }
    await store.db.transaction().execute(async (tx) => {
      const updated = await tx
        .updateTable("dags")
        .set({ is_paused: body.is_paused, updated_at: sql<Date>`now()` })
        .where("dag_id", "=", dagId)
        .returning("dag_id")
        .executeTakeFirst();
      if (!updated) throw dagNotFound(dagId);
      if (!body.is_paused) {
        // Runs triggered while paused wait `queued`: start them now, in this transaction, and wake
        // the scheduler so that a scheduled run that fell due meanwhile is created at once.
        await startQueuedRuns(tx, dagId);
        await notify(CHANNELS.runChanged, dagId).execute(tx);
      }
    });
    res.json(dagResponse(await getDag(store.db, dagId)));
  });

  return router;
}
