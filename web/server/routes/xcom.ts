// /api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/xcomEntries (Airflow's XCom
// endpoints): list (`~` for every DAG, run or task, with Airflow's filters), read one entry's
// value, create and update one. Values are shown with every secret this server knows masked as
// `***` (apiSecrets.ts, issue 5 item 4); what is stored, and what downstream tasks receive, is
// left whole.
import express from "express";
import { sql } from "kysely";
import { z } from "zod";
import type { Logger } from "pino";
import { ConflictError, NotFoundError } from "../../../engine/errors.js";
import type { Store } from "../../../engine/store/db.js";
import { SecretCipher } from "../../../engine/secrets/cipher.js";
import { SecretsMasker } from "../../../engine/secrets/masker.js";
import { environmentSecrets } from "../../../engine/secrets/lookup.js";
import { knownSecretsMasker } from "../apiSecrets.js";
import { allOf, likeCondition, rangeConditions, rangeParams } from "../query.js";
import { iso } from "../serializers.js";
import { paginationParams, parse, pathParams, queryBool, queryInt, queryString } from "../validate.js";

export const XComListQuery = z.object({
  ...paginationParams,
  xcom_key: queryString.optional(),
  map_index: queryInt({ min: -1 }).optional(),
  map_index_filter: queryInt({ min: -1 }).optional(),
  xcom_key_pattern: queryString.optional(),
  dag_display_name_pattern: queryString.optional(),
  run_id_pattern: queryString.optional(),
  task_id_pattern: queryString.optional(),
  ...rangeParams(["logical_date", "run_after"] as const),
});
export const XComGetQuery = z.object({ map_index: queryInt({ min: -1 }).optional(), deserialize: queryBool.optional(), stringify: queryBool.optional() });
/** Present and any JSON (null included): a missing `value` is a 422. */
const requiredJson = z.custom<unknown>((v) => v !== undefined, { error: "Field required" });
export const XComCreateBody = z.strictObject({ key: z.string().min(1), value: requiredJson, map_index: z.number().int().min(-1).default(-1) });
export const XComUpdateBody = z.strictObject({ value: requiredJson, map_index: z.number().int().min(-1).default(-1) });

const BASE = "/dags/:dag_id/dagRuns/:dag_run_id/taskInstances/:task_id/xcomEntries";

interface XcomRow {
  key: string;
  created_at: Date;
  logical_date: Date | null;
  map_index: number;
  task_id: string;
  dag_id: string;
  run_id: string;
}

function xcomResponse(r: XcomRow) {
  return {
    key: r.key,
    timestamp: iso(r.created_at),
    logical_date: iso(r.logical_date),
    map_index: r.map_index,
    task_id: r.task_id,
    dag_id: r.dag_id,
    run_id: r.run_id,
    dag_display_name: r.dag_id,
    task_display_name: r.task_id,
  };
}

/** `secretKey` unset: only this process's environment secrets are masked. */
export function xcomRouter(store: Store, secretKey?: string, logger?: Logger): express.Router {
  const router = express.Router();
  const cipher = secretKey ? new SecretCipher(secretKey) : null;
  const masker = async () => (cipher ? knownSecretsMasker(store, cipher, logger) : new SecretsMasker(environmentSecrets(process.env)));

  const entries = (p: { dag_id: string; dag_run_id: string; task_id: string }) =>
    store.db
      .selectFrom("xcom as x")
      .innerJoin("dag_runs as r", "r.id", "x.run_pk")
      .$if(p.dag_id !== "~", (q) => q.where("r.dag_id", "=", p.dag_id))
      .$if(p.dag_run_id !== "~", (q) => q.where("r.run_id", "=", p.dag_run_id))
      .$if(p.task_id !== "~", (q) => q.where("x.task_id", "=", p.task_id));

  const columns = ["x.key", "x.created_at", "r.logical_date", "x.map_index", "x.task_id", "r.dag_id", "r.run_id"] as const;

  async function readEntry(p: { dag_id: string; dag_run_id: string; task_id: string }, key: string, mapIndex: number) {
    return entries(p).where("x.key", "=", key).where("x.map_index", "=", mapIndex).select([...columns, "x.value"]).executeTakeFirst();
  }

  async function shown(row: XcomRow & { value: unknown }, stringify = false) {
    const value = (await masker()).redact(row.value);
    return { ...xcomResponse(row), value: stringify ? JSON.stringify(value) : value };
  }

  router.get(BASE, async (req, res) => {
    const p = pathParams(req.params, "dag_id", "dag_run_id", "task_id");
    const q = parse(XComListQuery, req.query, "query");
    const where = allOf([
      ...likeCondition("x.key", q.xcom_key_pattern),
      ...likeCondition("r.dag_id", q.dag_display_name_pattern),
      ...likeCondition("r.run_id", q.run_id_pattern),
      ...likeCondition("x.task_id", q.task_id_pattern),
      ...rangeConditions(q, { logical_date: "r.logical_date", run_after: "r.run_after" }),
    ]);
    const mapIndex = q.map_index ?? q.map_index_filter;
    const filtered = entries(p)
      .where(where)
      .$if(q.xcom_key !== undefined, (qb) => qb.where("x.key", "=", q.xcom_key!))
      .$if(mapIndex !== undefined, (qb) => qb.where("x.map_index", "=", mapIndex!));
    const [rows, total] = await Promise.all([
      filtered.select(columns).orderBy("r.dag_id").orderBy("r.run_id").orderBy("x.task_id").orderBy("x.map_index").orderBy("x.key").limit(q.limit).offset(q.offset).execute(),
      filtered.select(sql<number>`count(*)::int`.as("n")).executeTakeFirstOrThrow(),
    ]);
    res.json({ xcom_entries: rows.map(xcomResponse), total_entries: total.n });
  });

  router.get(`${BASE}/:xcom_key`, async (req, res) => {
    const p = pathParams(req.params, "dag_id", "dag_run_id", "task_id", "xcom_key");
    const q = parse(XComGetQuery, req.query, "query");
    const row = await readEntry(p, p.xcom_key, q.map_index ?? -1);
    if (!row) throw new NotFoundError(`XCom entry with key: \`${p.xcom_key}\` not found`);
    res.json(await shown(row, q.stringify));
  });

  router.post(BASE, async (req, res) => {
    const p = pathParams(req.params, "dag_id", "dag_run_id", "task_id");
    const body = parse(XComCreateBody, req.body, "body");
    const ti = await store.db
      .selectFrom("task_instances")
      .select(["id", "run_pk"])
      .where("dag_id", "=", p.dag_id)
      .where("run_id", "=", p.dag_run_id)
      .where("task_id", "=", p.task_id)
      .where("map_index", "=", body.map_index)
      .executeTakeFirst();
    if (!ti) throw new NotFoundError(`Task Instance not found for dag_id=${p.dag_id}, run_id=${p.dag_run_id}, task_id=${p.task_id}, map_index=${body.map_index}`);
    const inserted = await store.db
      .insertInto("xcom")
      .values({ ti_id: ti.id, key: body.key, run_pk: ti.run_pk, task_id: p.task_id, map_index: body.map_index, value: JSON.stringify(body.value) })
      .onConflict((oc) => oc.columns(["ti_id", "key"]).doNothing())
      .returning("key")
      .executeTakeFirst();
    if (!inserted) throw new ConflictError(`The XCom with key: \`${body.key}\` with mentioned task instance already exists.`);
    res.status(201).json(await shown((await readEntry(p, body.key, body.map_index))!));
  });

  router.patch(`${BASE}/:xcom_key`, async (req, res) => {
    const p = pathParams(req.params, "dag_id", "dag_run_id", "task_id", "xcom_key");
    const body = parse(XComUpdateBody, req.body, "body");
    const row = await readEntry(p, p.xcom_key, body.map_index);
    if (!row) throw new NotFoundError(`The XCom with key: \`${p.xcom_key}\` with mentioned task instance doesn't exist.`);
    await store.db
      .updateTable("xcom")
      .set({ value: JSON.stringify(body.value) })
      .where("key", "=", p.xcom_key)
      .where("map_index", "=", body.map_index)
      .where("task_id", "=", row.task_id)
      .where("run_pk", "=", store.db.selectFrom("dag_runs").select("id").where("dag_id", "=", row.dag_id).where("run_id", "=", row.run_id))
      .execute();
    res.json(await shown((await readEntry(p, p.xcom_key, body.map_index))!));
  });

  return router;
}
