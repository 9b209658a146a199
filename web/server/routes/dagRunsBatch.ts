// POST /api/v2/dags/~/dagRuns/list: DAG runs across DAGs, filtered by a body (Airflow's
// get_list_dag_runs_batch). A read: viewers may call it (auth.ts READ_ONLY_POSTS).
import express from "express";
import { sql, type SqlBool } from "kysely";
import { z } from "zod";
import type { Store } from "../../../engine/store/db.js";
import { RUN_STATES } from "../../../engine/semantics/states.js";
import { allOf, inCondition, orderClauses, orderSql, rangeConditions, type Condition } from "../query.js";
import { dagRunResponse } from "../serializers.js";
import { awareDatetime, parse, pathParams } from "../validate.js";
import { RUN_ORDER, selectRuns, WILDCARD } from "./dagRuns.js";

const DATE_FIELDS = { run_after: "r.run_after", logical_date: "r.logical_date", start_date: "r.start_date", end_date: "r.end_date" };
const OPS = ["gte", "gt", "lte", "lt"] as const;
const optionalDate = awareDatetime.nullable().optional();

export const DAGRunsBatchBody = z.strictObject({
  order_by: z.string().nullable().optional(),
  page_offset: z.number().int().min(0).optional().default(0),
  page_limit: z.number().int().min(0).optional().default(100),
  dag_ids: z.array(z.string()).nullable().optional(),
  states: z.array(z.enum(RUN_STATES).nullable()).nullable().optional(),
  ...Object.fromEntries(Object.keys(DATE_FIELDS).flatMap((f) => OPS.map((op) => [`${f}_${op}`, optionalDate]))),
});

const BatchPath = z.object({ dag_id: z.literal(WILDCARD) });

export function dagRunsBatchRouter(store: Store): express.Router {
  const router = express.Router();

  router.post("/dags/:dag_id/dagRuns/list", async (req, res) => {
    parse(BatchPath, pathParams(req.params, "dag_id"), "path");
    const body = parse(DAGRunsBatchBody, req.body, "body") as z.output<typeof DAGRunsBatchBody> & Record<string, unknown>;
    const order = orderClauses(body.order_by ? [body.order_by] : undefined, ["id"], RUN_ORDER, "r.id");
    const states = body.states?.filter((s) => s !== null);
    const conditions: Condition[] = [
      ...inCondition("r.dag_id", body.dag_ids ?? undefined),
      // A run always has a state: a list of only nulls matches nothing.
      ...(body.states?.length && !states?.length ? [sql<SqlBool>`false`] : inCondition("r.state", states)),
      ...rangeConditions(body, DATE_FIELDS),
    ];
    const [rows, total] = await Promise.all([
      selectRuns(store.db).where(allOf(conditions)).orderBy(orderSql(order)).limit(body.page_limit).offset(body.page_offset).execute(),
      store.db.selectFrom("dag_runs as r").select(sql<number>`count(*)::int`.as("n")).where(allOf(conditions)).executeTakeFirstOrThrow(),
    ]);
    res.json({ dag_runs: rows.map(dagRunResponse), total_entries: total.n });
  });

  return router;
}
