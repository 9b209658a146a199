// /api/v2/backfills (Airflow 3): create, dry run, list per DAG, get, pause / unpause / cancel.
// The backfill lives in the database and the scheduler runs it: the client may go away.
import express from "express";
import { sql } from "kysely";
import { z } from "zod";
import type { Store } from "../../../engine/store/db.js";
import { createBackfill } from "../../../engine/store/backfills/createBackfill.js";
import { planBackfill } from "../../../engine/store/backfills/planBackfill.js";
import { backfillNotFound, cancelBackfill, setBackfillPaused } from "../../../engine/store/backfills/updateBackfill.js";
import type { BackfillRow } from "../../../engine/store/schema.js";
import { currentUser } from "../auth.js";
import { orderByParam, orderClauses, orderSql } from "../query.js";
import { iso } from "../serializers.js";
import { awareDatetime, paginationParams, parse, pathParams, queryInt, queryString } from "../validate.js";
import { assertDagExists } from "./dags.js";

export const BackfillPostBody = z.strictObject({
  dag_id: z.string().min(1),
  from_date: awareDatetime,
  to_date: awareDatetime,
  run_backwards: z.boolean().optional().default(false),
  dag_run_conf: z.record(z.string(), z.unknown()).optional().default({}),
  reprocess_behavior: z.enum(["none", "failed", "completed"]).optional().default("none"),
  max_active_runs: z.number().int().min(1).optional().default(10),
});

export const ListQuery = z.object({ ...paginationParams, dag_id: queryString, order_by: orderByParam });
const IdPath = z.object({ backfill_id: queryInt({ min: 0 }) });

const BACKFILL_ORDER: Record<string, string> = { id: "id", dag_id: "dag_id", from_date: "from_date", to_date: "to_date", created_at: "created_at", completed_at: "completed_at" };

export function backfillResponse(b: BackfillRow) {
  return {
    id: Number(b.id),
    dag_id: b.dag_id,
    from_date: iso(b.from_date),
    to_date: iso(b.to_date),
    dag_run_conf: b.dag_run_conf,
    is_paused: b.is_paused,
    reprocess_behavior: b.reprocess_behavior,
    max_active_runs: b.max_active_runs,
    created_at: iso(b.created_at),
    completed_at: iso(b.completed_at),
    updated_at: iso(b.updated_at),
    dag_display_name: b.dag_id,
  };
}

function request(body: z.output<typeof BackfillPostBody>) {
  return {
    dagId: body.dag_id,
    fromDate: body.from_date,
    toDate: body.to_date,
    runBackwards: body.run_backwards,
    reprocessBehavior: body.reprocess_behavior,
    dagRunConf: body.dag_run_conf,
  };
}

export function backfillsRouter(store: Store): express.Router {
  const router = express.Router();

  router.post("/backfills/dry_run", async (req, res) => {
    const body = parse(BackfillPostBody, req.body, "body");
    const plan = await planBackfill(store.db, request(body));
    const dates = plan.dates.filter((d) => !d.skipReason).map((d) => ({ logical_date: iso(d.interval.start) }));
    res.json({ backfills: dates, total_entries: dates.length });
  });

  router.post("/backfills", async (req, res) => {
    const body = parse(BackfillPostBody, req.body, "body");
    const backfill = await createBackfill(store.db, { ...request(body), maxActiveRuns: body.max_active_runs, triggeringUserName: currentUser(res).username });
    res.json(backfillResponse(backfill));
  });

  router.get("/backfills", async (req, res) => {
    const q = parse(ListQuery, req.query, "query");
    await assertDagExists(store.db, q.dag_id);
    const order = orderClauses(q.order_by, ["id"], BACKFILL_ORDER, "id");
    const [rows, total] = await Promise.all([
      store.db.selectFrom("backfills").selectAll().where("dag_id", "=", q.dag_id).orderBy(orderSql(order)).limit(q.limit).offset(q.offset).execute(),
      store.db.selectFrom("backfills").select(sql<number>`count(*)::int`.as("n")).where("dag_id", "=", q.dag_id).executeTakeFirstOrThrow(),
    ]);
    res.json({ backfills: rows.map(backfillResponse), total_entries: total.n });
  });

  router.get("/backfills/:backfill_id", async (req, res) => {
    const { backfill_id: id } = parse(IdPath, pathParams(req.params, "backfill_id"), "path");
    const row = await store.db.selectFrom("backfills").selectAll().where("id", "=", id).executeTakeFirst();
    if (!row) throw backfillNotFound(id);
    res.json(backfillResponse(row));
  });

  router.put("/backfills/:backfill_id/:action", async (req, res, next) => {
    const { backfill_id: id } = parse(IdPath, pathParams(req.params, "backfill_id"), "path");
    const { action } = pathParams(req.params, "action");
    if (action === "pause" || action === "unpause") res.json(backfillResponse(await setBackfillPaused(store.db, id, action === "pause")));
    else if (action === "cancel") res.json(backfillResponse(await cancelBackfill(store.db, id)));
    else next();
  });

  return router;
}
