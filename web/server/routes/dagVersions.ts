// /api/v2/dags/{dag_id}/dagVersions (list, one by number) and /api/v2/dagSources/{dag_id}: every
// version the DAG processor recorded, and the source file of any of them (JSON, or text/plain).
import express from "express";
import { sql, type SqlBool } from "kysely";
import { z } from "zod";
import { NotFoundError } from "../../../engine/errors.js";
import type { Store } from "../../../engine/store/db.js";
import { allOf, inCondition, orderByParam, orderClauses, orderSql, type Condition } from "../query.js";
import { BUNDLE_NAME, dagVersionResponse } from "../serializers.js";
import { paginationParams, parse, pathParams, queryInt, queryString } from "../validate.js";
import { assertDagExists } from "./dags.js";
import { WILDCARD } from "./dagRuns.js";
import { UpdraftError } from "../../../engine/errors.js";

export const VersionsQuery = z.object({
  ...paginationParams,
  version_number: queryInt({ min: 0 }).optional(),
  bundle_name: queryString.optional(),
  bundle_version: queryString.optional(),
  order_by: orderByParam,
});
const VERSION_ORDER: Record<string, string> = { id: "v.id", version_number: "v.version_number", bundle_name: "v.dag_id", bundle_version: "v.bundle_version", created_at: "v.created_at", dag_id: "v.dag_id" };
const VersionPath = z.object({ version_number: queryInt({ min: 0 }) });
export const SourceQuery = z.object({ version_number: queryInt({ min: 0 }).optional() });

export function dagVersionsRouter(store: Store): express.Router {
  const router = express.Router();
  const selectVersions = () =>
    store.db
      .selectFrom("dag_versions as v")
      .select(["v.dag_id", "v.id as version_id", "v.version_number", "v.bundle_version as version_bundle_version", "v.created_at as version_created_at"]);

  router.get("/dags/:dag_id/dagVersions", async (req, res) => {
    const { dag_id: dagId } = pathParams(req.params, "dag_id");
    const q = parse(VersionsQuery, req.query, "query");
    // Airflow orders by id, a time-ordered uuid7; ours are random, so the default is the version number.
    const order = orderClauses(q.order_by, ["version_number"], VERSION_ORDER, "v.id");
    if (dagId !== WILDCARD) await assertDagExists(store.db, dagId);
    const conditions: Condition[] = [
      ...(dagId === WILDCARD ? [] : [sql<SqlBool>`${sql.ref("v.dag_id")} = ${dagId}`]),
      ...inCondition("v.version_number", q.version_number === undefined ? undefined : [q.version_number]),
      ...inCondition("v.bundle_version", q.bundle_version === undefined ? undefined : [q.bundle_version]),
      // One bundle: any other name matches nothing.
      ...(q.bundle_name !== undefined && q.bundle_name !== BUNDLE_NAME ? [sql<SqlBool>`false`] : []),
    ];
    const [rows, total] = await Promise.all([
      selectVersions().where(allOf(conditions)).orderBy(orderSql(order)).limit(q.limit).offset(q.offset).execute(),
      store.db.selectFrom("dag_versions as v").select(sql<number>`count(*)::int`.as("n")).where(allOf(conditions)).executeTakeFirstOrThrow(),
    ]);
    res.json({ dag_versions: rows.map((r) => dagVersionResponse(r.dag_id, r)), total_entries: total.n });
  });

  router.get("/dags/:dag_id/dagVersions/:version_number", async (req, res) => {
    const { dag_id: dagId } = pathParams(req.params, "dag_id");
    const { version_number: n } = parse(VersionPath, pathParams(req.params, "version_number"), "path");
    const row = await selectVersions().where("v.dag_id", "=", dagId).where("v.version_number", "=", n).executeTakeFirst();
    if (!row) throw new NotFoundError(`The DagVersion with dag_id: \`${dagId}\` and version_number: \`${n}\` was not found`);
    res.json(dagVersionResponse(dagId, row));
  });

  router.get("/dagSources/:dag_id", async (req, res) => {
    const { dag_id: dagId } = pathParams(req.params, "dag_id");
    const q = parse(SourceQuery, req.query, "query");
    const kind = req.accepts(["application/json", "text/plain"]);
    if (!kind) throw new UpdraftError("Only application/json or text/plain is supported", "not_acceptable", 406);
    await assertDagExists(store.db, dagId);
    let query = store.db
      .selectFrom("dag_versions as v")
      .innerJoin("dag_code as c", "c.code_hash", "v.code_hash")
      .select(["v.version_number", "c.source"])
      .where("v.dag_id", "=", dagId);
    // Without a number: the version the DAG runs now (a file reverted to old content reuses its old version).
    query =
      q.version_number === undefined
        ? query.where("v.id", "=", (eb) => eb.selectFrom("dags").select("latest_version_id").where("dag_id", "=", dagId))
        : query.where("v.version_number", "=", q.version_number);
    const row = await query.executeTakeFirst();
    if (!row) throw new NotFoundError(`The source code of the DAG ${dagId}, version_number ${q.version_number ?? "latest"} was not found`);
    if (kind === "text/plain") {
      res.type("text/plain").send(row.source);
      return;
    }
    res.json({ content: row.source, dag_id: dagId, version_number: row.version_number, dag_display_name: dagId });
  });

  return router;
}
