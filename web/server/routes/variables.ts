// /api/v2/variables (Airflow's Variable endpoints): list, read, create, patch, delete and bulk
// PATCH. Admin only, reads included (issue 5: variables and connections are admin-managed).
// Values are encrypted at rest; the value of a key that looks secret is answered as `***`.
import express from "express";
import { z } from "zod";
import { ConflictError, NotFoundError } from "../../../engine/errors.js";
import type { Store } from "../../../engine/store/db.js";
import { SecretCipher } from "../../../engine/secrets/cipher.js";
import { isSensitiveKey, REDACTED } from "../../../engine/secrets/sensitive.js";
import {
  deleteVariables,
  listVariables,
  readVariable,
  updateVariable,
  writeVariable,
  type Variable,
} from "../../../engine/store/variables/variables.js";
import { requireRole } from "../auth.js";
import { bulkBody, runBulk, type BulkEntityStore } from "../bulk.js";
import { badRequest } from "../errors.js";
import { orderByParam, orderClauses, orderSql, patternParam } from "../query.js";
import { paginationParams, parse, pathParams, queryList } from "../validate.js";

/** Airflow's JsonValue: any JSON. A string is stored as is, anything else as its JSON text. */
const JsonValue = z.json();

export const VariableBody = z.strictObject({
  key: z.string().min(1).max(250),
  value: JsonValue,
  description: z.string().nullable().optional(),
});
type VariableBodyT = z.infer<typeof VariableBody>;

const VariablesQuery = z.object({ ...paginationParams, order_by: orderByParam, variable_key_pattern: patternParam });
const PatchQuery = z.object({ update_mask: queryList(z.string()).optional() });
const BulkVariables = bulkBody(VariableBody);

const VARIABLE_ORDER: Record<string, string> = { id: "id", key: "key", description: "description", is_encrypted: "is_encrypted" };

const stored = (value: unknown) => (typeof value === "string" ? value : JSON.stringify(value));

export function variableResponse(v: Variable) {
  return { key: v.key, value: isSensitiveKey(v.key) ? REDACTED : v.value, description: v.description, is_encrypted: v.isEncrypted };
}

const notFound = (key: string) => new NotFoundError(`The Variable with key: \`${key}\` was not found`);

export function variablesRouter(store: Store, secretKey: string): express.Router {
  const router = express.Router();
  const cipher = new SecretCipher(secretKey);
  const admin = requireRole("admin");

  router.get("/variables", admin, async (req, res) => {
    const q = parse(VariablesQuery, req.query, "query");
    const order = orderClauses(q.order_by, ["id"], VARIABLE_ORDER, "id");
    const { variables, total } = await listVariables(store.db, cipher, { limit: q.limit, offset: q.offset, orderBy: orderSql(order), keyPattern: q.variable_key_pattern });
    res.json({ variables: variables.map(variableResponse), total_entries: total });
  });

  router.get("/variables/:variable_key", admin, async (req, res) => {
    const { variable_key: key } = pathParams(req.params, "variable_key");
    const variable = await readVariable(store.db, cipher, key);
    if (!variable) throw notFound(key);
    res.json(variableResponse(variable));
  });

  router.post("/variables", admin, async (req, res) => {
    const body = parse(VariableBody, req.body, "body");
    const created = await writeVariable(store.db, cipher, { key: body.key, value: stored(body.value), description: body.description ?? null }, false);
    if (!created) throw new ConflictError(`The Variable with key: \`${body.key}\` already exists`);
    res.status(201).json(variableResponse((await readVariable(store.db, cipher, body.key))!));
  });

  router.patch("/variables/:variable_key", admin, async (req, res) => {
    const { variable_key: key } = pathParams(req.params, "variable_key");
    const { update_mask: mask } = parse(PatchQuery, req.query, "query");
    const body = parse(VariableBody, req.body, "body");
    if (body.key !== key) throw badRequest("Invalid body, key from request body doesn't match uri parameter");
    // Airflow: with update_mask, only the named fields; without, every field but the key.
    const fields: { value?: string; description?: string | null } = {};
    if (!mask?.length || mask.includes("value")) fields.value = stored(body.value);
    if (!mask?.length || mask.includes("description")) fields.description = body.description ?? null;
    if (!(await updateVariable(store.db, cipher, key, fields))) throw notFound(key);
    res.json(variableResponse((await readVariable(store.db, cipher, key))!));
  });

  router.delete("/variables/:variable_key", admin, async (req, res) => {
    const { variable_key: key } = pathParams(req.params, "variable_key");
    const [deleted] = await deleteVariables(store.db, [key]);
    if (!deleted) throw notFound(key);
    res.status(204).end();
  });

  const bulkStore: BulkEntityStore<VariableBodyT> = {
    noun: "variables",
    idName: "keys",
    idOf: (v) => v.key,
    existing: async (tx, keys) =>
      new Set(keys.length ? (await tx.selectFrom("variables").select("key").where("key", "in", keys).execute()).map((r) => r.key) : []),
    create: async (tx, v, overwrite) => {
      await writeVariable(tx, cipher, { key: v.key, value: stored(v.value), description: v.description ?? null }, overwrite);
    },
    update: async (tx, v) => {
      await updateVariable(tx, cipher, v.key, { value: stored(v.value), description: v.description ?? null });
    },
    delete: async (tx, keys) => {
      await deleteVariables(tx, keys);
    },
  };

  router.patch("/variables", admin, async (req, res) => {
    const body = parse(BulkVariables, req.body, "body");
    res.json(await runBulk(store.db, bulkStore, body.actions));
  });

  return router;
}

