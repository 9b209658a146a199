// /api/v2/pools: Airflow's pool endpoints (list, get, create, patch, delete, bulk PATCH) with its
// shapes and status codes. Reading needs any role, writing needs admin. default_pool cannot be
// deleted or renamed (400, as in Airflow). Occupancy numbers: engine/store/pools/pools.ts.
import express from "express";
import type { Kysely, Transaction } from "kysely";
import { z } from "zod";
import { ConflictError, NotFoundError } from "../../../engine/errors.js";
import type { Store } from "../../../engine/store/db.js";
import type { Database } from "../../../engine/store/schema.js";
import { isUniqueViolation } from "../../../engine/store/sqlstate.js";
import { countPools, DEFAULT_POOL, deletePool, getPool, insertPool, listPools, updatePool, type PoolFields, type PoolRow } from "../../../engine/store/pools/pools.js";
import { requireRole } from "../auth.js";
import { badRequest } from "../errors.js";
import { orderByParam, orderClauses, orderSql, patternParam } from "../query.js";
import { paginationParams, parse, queryList, RequestValidationError } from "../validate.js";

const PoolName = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[A-Za-z0-9_.-]+$/, 'String should use only letters, digits, "_", "." or "-"');
const Slots = z.number().int().min(0);

export const PoolBody = z.strictObject({
  name: PoolName,
  slots: Slots,
  description: z.string().nullable().optional(),
  include_deferred: z.boolean().optional(),
});
export const PoolPatchBody = z.strictObject({
  pool: PoolName.nullable().optional(),
  slots: Slots.nullable().optional(),
  description: z.string().nullable().optional(),
  include_deferred: z.boolean().nullable().optional(),
});
const BulkPoolBody = z.strictObject({
  actions: z.array(
    z.discriminatedUnion("action", [
      z.strictObject({ action: z.literal("create"), entities: z.array(PoolBody), action_on_existence: z.enum(["fail", "skip", "overwrite"]).default("fail") }),
      z.strictObject({ action: z.literal("update"), entities: z.array(PoolBody), action_on_non_existence: z.enum(["fail", "skip"]).default("fail") }),
      z.strictObject({ action: z.literal("delete"), entities: z.array(PoolName), action_on_non_existence: z.enum(["fail", "skip"]).default("fail") }),
    ]),
  ),
});

const PoolsQuery = z.object({ ...paginationParams, order_by: orderByParam, pool_name_pattern: patternParam });
const PatchQuery = z.object({ update_mask: queryList(z.string()).optional() });

const POOL_ORDER: Record<string, string> = {
  id: "p.name",
  name: "p.name",
  pool: "p.name",
  slots: "p.slots",
  description: "p.description",
  include_deferred: "p.include_deferred",
};

export function poolResponse(row: PoolRow) {
  const deferred = 0;
  const occupied = row.running_slots + (row.include_deferred ? deferred : 0);
  return {
    name: row.name,
    slots: row.slots,
    description: row.description,
    include_deferred: row.include_deferred,
    occupied_slots: occupied,
    running_slots: row.running_slots,
    queued_slots: row.queued_slots,
    scheduled_slots: row.scheduled_slots,
    open_slots: row.slots - occupied,
    deferred_slots: deferred,
  };
}

const notFound = (name: string) => new NotFoundError(`The Pool with name: \`${name}\` was not found`);
const fields = (body: z.output<typeof PoolBody>): PoolFields => ({
  name: body.name,
  slots: body.slots,
  description: body.description ?? null,
  include_deferred: body.include_deferred ?? false,
});

export function poolsRouter(store: Store): express.Router {
  const router = express.Router();
  const admin = requireRole("admin");

  router.get("/pools", async (req, res) => {
    const q = parse(PoolsQuery, req.query, "query");
    const order = orderClauses(q.order_by, ["id"], POOL_ORDER, "p.name");
    const [rows, total] = await Promise.all([
      listPools(store.db, { pattern: q.pool_name_pattern, order: orderSql(order), limit: q.limit, offset: q.offset }),
      countPools(store.db, q.pool_name_pattern),
    ]);
    res.json({ pools: rows.map(poolResponse), total_entries: total });
  });

  router.get("/pools/:pool_name", async (req, res) => {
    const name = String(req.params.pool_name);
    const row = await getPool(store.db, name);
    if (!row) throw notFound(name);
    res.json(poolResponse(row));
  });

  router.post("/pools", admin, async (req, res) => {
    const body = parse(PoolBody, req.body, "body");
    if (!(await insertPool(store.db, fields(body)))) throw new ConflictError(`The Pool with name: \`${body.name}\` already exists`);
    res.status(201).json(poolResponse((await getPool(store.db, body.name))!));
  });

  router.patch("/pools/:pool_name", admin, async (req, res) => {
    const name = String(req.params.pool_name);
    const { update_mask: mask } = parse(PatchQuery, req.query, "query");
    const body = parse(PoolPatchBody, req.body, "body");
    if (name === DEFAULT_POOL && !(mask?.length && mask.every((m) => ["slots", "include_deferred"].includes(m.trim())))) {
      throw badRequest("Only slots and included_deferred can be modified on Default Pool");
    }
    const set = Object.keys(body).filter((k) => !mask || mask.map((m) => m.trim()).includes(k)) as (keyof typeof body)[];
    // Without update_mask the body replaces the pool: it must be a whole pool (Airflow checks it as PoolBody).
    const required: (keyof typeof body)[] = mask ? set : ["pool", "slots"];
    const missing = required.filter((k): k is "pool" | "slots" => (k === "pool" || k === "slots") && (body[k] === undefined || body[k] === null));
    if (missing.length) {
      throw new RequestValidationError(
        missing.map((k) => ({ type: body[k] === null ? "int_type" : "missing", loc: ["body", k], msg: body[k] === null ? "Input should be a valid value, not null" : "Field required", input: body[k] ?? null })),
      );
    }
    const update: Partial<PoolFields> = {};
    for (const k of set) {
      if (k === "pool") update.name = body.pool!;
      else if (k === "slots") update.slots = body.slots!;
      else if (k === "description") update.description = body.description ?? null;
      else if (k === "include_deferred") update.include_deferred = body.include_deferred ?? false;
    }
    let found: boolean;
    try {
      found = await updatePool(store.db, name, update);
    } catch (err) {
      if (isUniqueViolation(err)) throw new ConflictError(`The Pool with name: \`${update.name}\` already exists`);
      throw err;
    }
    if (!found) throw notFound(name);
    res.json(poolResponse((await getPool(store.db, update.name ?? name))!));
  });

  router.delete("/pools/:pool_name", admin, async (req, res) => {
    const name = String(req.params.pool_name);
    if (name === DEFAULT_POOL) throw badRequest("Default Pool can't be deleted");
    if (!(await deletePool(store.db, name))) throw notFound(name);
    res.status(204).end();
  });

  // Bulk: every action checked before it writes, all in one transaction; an action that fails
  // writes nothing and reports {error, status_code} as Airflow does.
  router.patch("/pools", admin, async (req, res) => {
    const body = parse(BulkPoolBody, req.body, "body");
    const results: Record<"create" | "update" | "delete", { success: string[]; errors: { error: string; status_code: number }[] } | null> = {
      create: null,
      update: null,
      delete: null,
    };
    await store.db.transaction().execute(async (tx) => {
      for (const action of body.actions) {
        const result = (results[action.action] ??= { success: [], errors: [] });
        const names = action.action === "delete" ? action.entities : action.entities.map((e) => e.name);
        const existing = new Set(await existingPools(tx, names));
        if (action.action === "create") {
          const clash = names.filter((n) => existing.has(n));
          if (clash.length && action.action_on_existence === "fail") {
            result.errors.push({ error: `The pools with these pool names: ${setText(clash)} already exist.`, status_code: 409 });
            continue;
          }
          for (const e of action.entities) {
            if (!existing.has(e.name)) await insertPool(tx, fields(e));
            else if (action.action_on_existence === "overwrite") await updatePool(tx, e.name, fields(e));
            else continue;
            result.success.push(e.name);
          }
        } else {
          const unknown = names.filter((n) => !existing.has(n));
          if (unknown.length && action.action_on_non_existence === "fail") {
            result.errors.push({ error: `The pools with these pool names: ${setText(unknown)} were not found.`, status_code: 404 });
            continue;
          }
          if (action.action === "delete" && names.includes(DEFAULT_POOL)) {
            result.errors.push({ error: "Default Pool can't be deleted", status_code: 400 });
            continue;
          }
          for (const e of action.entities) {
            const n = typeof e === "string" ? e : e.name;
            if (!existing.has(n)) continue;
            if (typeof e === "string") await deletePool(tx, n);
            else await updatePool(tx, n, fields(e));
            result.success.push(n);
          }
        }
      }
    });
    res.json(results);
  });

  return router;
}

async function existingPools(db: Kysely<Database> | Transaction<Database>, names: string[]): Promise<string[]> {
  if (!names.length) return [];
  const rows = await db.selectFrom("pools").select("name").where("name", "in", names).forUpdate().execute();
  return rows.map((r) => r.name);
}

/** Python's repr of a set of names, as Airflow's messages print them. */
const setText = (names: string[]) => `{${names.map((n) => `'${n}'`).join(", ")}}`;
