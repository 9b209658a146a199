// /api/v2/importErrors: DAG files that failed to load, with the message and line.
import express from "express";
import { sql } from "kysely";
import { z } from "zod";
import { NotFoundError } from "../../../engine/errors.js";
import type { Store } from "../../../engine/store/db.js";
import { orderByParam, orderClauses, orderSql } from "../query.js";
import { importErrorResponse } from "../serializers.js";
import { paginationParams, parse, queryInt } from "../validate.js";

export const ImportErrorsQuery = z.object({ ...paginationParams, order_by: orderByParam });
const ImportErrorPath = z.object({ import_error_id: queryInt() });

const IMPORT_ERROR_ORDER: Record<string, string> = {
  id: "id",
  import_error_id: "id",
  timestamp: "timestamp",
  filename: "filename",
  stack_trace: "stack_trace",
};

export function importErrorsRouter(store: Store): express.Router {
  const router = express.Router();

  router.get("/importErrors", async (req, res) => {
    const q = parse(ImportErrorsQuery, req.query, "query");
    const order = orderClauses(q.order_by, ["id"], IMPORT_ERROR_ORDER, "id");
    const [rows, total] = await Promise.all([
      store.db.selectFrom("import_errors").selectAll().orderBy(orderSql(order)).limit(q.limit).offset(q.offset).execute(),
      store.db.selectFrom("import_errors").select(sql<number>`count(*)::int`.as("n")).executeTakeFirstOrThrow(),
    ]);
    res.json({ import_errors: rows.map(importErrorResponse), total_entries: total.n });
  });

  router.get("/importErrors/:import_error_id", async (req, res) => {
    const { import_error_id: id } = parse(ImportErrorPath, req.params, "path");
    const row = await store.db.selectFrom("import_errors").selectAll().where("id", "=", id).executeTakeFirst();
    if (!row) throw new NotFoundError(`The ImportError with import_error_id: \`${id}\` was not found`);
    res.json(importErrorResponse(row));
  });

  return router;
}
