// /api/v2/connections (Airflow's Connection endpoints): list, read, create, patch, delete and
// bulk PATCH. Admin only, reads included (issue 5). The password and extra are encrypted at rest;
// answers show the password as `***` and the extra with its secret-looking fields as `***`.
// Sending `***` back (as a UI round trip does) keeps the stored value.
import express from "express";
import { z } from "zod";
import { ConflictError, NotFoundError } from "../../../engine/errors.js";
import type { Store } from "../../../engine/store/db.js";
import { SecretCipher } from "../../../engine/secrets/cipher.js";
import { SecretsMasker } from "../../../engine/secrets/masker.js";
import { REDACTED } from "../../../engine/secrets/sensitive.js";
import {
  deleteConnections,
  listConnections,
  readConnection,
  replaceConnection,
  writeConnection,
  type Connection,
  type ConnectionInput,
} from "../../../engine/store/connections/connections.js";
import { requireRole } from "../auth.js";
import { bulkBody, runBulk, type BulkEntityStore } from "../bulk.js";
import { badRequest } from "../errors.js";
import { orderByParam, orderClauses, orderSql, patternParam } from "../query.js";
import { paginationParams, parse, pathParams, queryList } from "../validate.js";

const optionalText = z.string().nullable().optional();

export const ConnectionBody = z.strictObject({
  connection_id: z.string().min(1).max(200).regex(/^[\w.-]+$/, { error: "String should match pattern '^[\\w.-]+$'" }),
  conn_type: z.string().min(1),
  description: optionalText,
  host: optionalText,
  login: optionalText,
  schema: optionalText,
  port: z.number().int().min(0).max(65535).nullable().optional(),
  password: optionalText,
  // Airflow: "The `extra` field must be a valid JSON object (e.g., {"key": "value"})".
  extra: z
    .string()
    .refine((s) => isJsonObject(s), { error: 'The `extra` field must be a valid JSON object (e.g., {"key": "value"})' })
    .nullable()
    .optional(),
});
type ConnectionBodyT = z.infer<typeof ConnectionBody>;

const ConnectionsQuery = z.object({ ...paginationParams, order_by: orderByParam, connection_id_pattern: patternParam });
const PatchQuery = z.object({ update_mask: queryList(z.string()).optional() });
const BulkConnections = bulkBody(ConnectionBody);

const CONNECTION_ORDER: Record<string, string> = {
  id: "id",
  connection_id: "conn_id",
  conn_id: "conn_id",
  conn_type: "conn_type",
  description: "description",
  host: "host",
  port: "port",
};
const UPDATABLE = ["conn_type", "description", "host", "login", "schema", "port", "password", "extra"] as const;

function isJsonObject(s: string): boolean {
  try {
    const v = JSON.parse(s) as unknown;
    return typeof v === "object" && v !== null && !Array.isArray(v);
  } catch {
    return false;
  }
}

/** The extra with secret-looking fields as `***` (Airflow's redact on the parsed extra). */
function redactedExtra(extra: string | null): string | null {
  if (extra === null) return null;
  try {
    return JSON.stringify(new SecretsMasker().redact(JSON.parse(extra)));
  } catch {
    return REDACTED; // unparseable: it cannot be shown safely field by field
  }
}

export function connectionResponse(c: Connection) {
  return {
    connection_id: c.connId,
    conn_type: c.connType,
    description: c.description,
    host: c.host,
    login: c.login,
    schema: c.schema,
    port: c.port,
    password: c.password === null ? null : REDACTED,
    extra: redactedExtra(c.extra),
  };
}

/** `***` sent back for a field keeps the stored value: the client only ever saw the mask. */
function keepMasked(body: ConnectionBodyT, current: Connection | null): ConnectionInput {
  let extra = body.extra ?? null;
  if (extra !== null && current?.extra) {
    const sent = JSON.parse(extra) as Record<string, unknown>;
    const old = JSON.parse(current.extra) as Record<string, unknown>;
    for (const [k, v] of Object.entries(sent)) if (v === REDACTED && k in old) sent[k] = old[k];
    extra = JSON.stringify(sent);
  }
  return {
    connId: body.connection_id,
    connType: body.conn_type,
    description: body.description ?? null,
    host: body.host ?? null,
    login: body.login ?? null,
    schema: body.schema ?? null,
    port: body.port ?? null,
    password: body.password === REDACTED && current ? current.password : (body.password ?? null),
    extra,
  };
}

const notFound = (id: string) => new NotFoundError(`The Connection with connection_id: \`${id}\` was not found`);

export function connectionsRouter(store: Store, secretKey: string): express.Router {
  const router = express.Router();
  const cipher = new SecretCipher(secretKey);
  const admin = requireRole("admin");

  router.get("/connections", admin, async (req, res) => {
    const q = parse(ConnectionsQuery, req.query, "query");
    const order = orderClauses(q.order_by, ["id"], CONNECTION_ORDER, "id");
    const { connections, total } = await listConnections(store.db, cipher, { limit: q.limit, offset: q.offset, orderBy: orderSql(order), idPattern: q.connection_id_pattern });
    res.json({ connections: connections.map(connectionResponse), total_entries: total });
  });

  router.get("/connections/:connection_id", admin, async (req, res) => {
    const { connection_id: id } = pathParams(req.params, "connection_id");
    const conn = await readConnection(store.db, cipher, id);
    if (!conn) throw notFound(id);
    res.json(connectionResponse(conn));
  });

  router.post("/connections", admin, async (req, res) => {
    const body = parse(ConnectionBody, req.body, "body");
    if (!(await writeConnection(store.db, cipher, keepMasked(body, null), false))) {
      throw new ConflictError(`Connection with connection_id: \`${body.connection_id}\` already exists`);
    }
    res.status(201).json(connectionResponse((await readConnection(store.db, cipher, body.connection_id))!));
  });

  router.patch("/connections/:connection_id", admin, async (req, res) => {
    const { connection_id: id } = pathParams(req.params, "connection_id");
    const { update_mask: mask } = parse(PatchQuery, req.query, "query");
    const body = parse(ConnectionBody, req.body, "body");
    if (body.connection_id !== id) throw badRequest("The connection_id in the request body does not match the URL parameter");
    const unknown = mask?.filter((f) => !(UPDATABLE as readonly string[]).includes(f));
    if (unknown?.length) throw badRequest(`update_mask: ${unknown.map((f) => `'${f}'`).join(", ")} cannot be updated`);
    await store.db.transaction().execute(async (tx) => {
      const current = await readConnection(tx, cipher, id);
      if (!current) throw notFound(id);
      const sent = keepMasked(body, current);
      // With update_mask, only the named fields change; without, every field but the id.
      const next: ConnectionInput = { ...current };
      const keys: Record<(typeof UPDATABLE)[number], keyof ConnectionInput> = {
        conn_type: "connType",
        description: "description",
        host: "host",
        login: "login",
        schema: "schema",
        port: "port",
        password: "password",
        extra: "extra",
      };
      for (const field of mask?.length ? (mask as (typeof UPDATABLE)[number][]) : UPDATABLE) {
        const key = keys[field];
        (next as Record<string, unknown>)[key] = sent[key];
      }
      await replaceConnection(tx, cipher, next);
    });
    res.json(connectionResponse((await readConnection(store.db, cipher, id))!));
  });

  router.delete("/connections/:connection_id", admin, async (req, res) => {
    const { connection_id: id } = pathParams(req.params, "connection_id");
    const [deleted] = await deleteConnections(store.db, [id]);
    if (!deleted) throw notFound(id);
    res.status(204).end();
  });

  const bulkStore: BulkEntityStore<ConnectionBodyT> = {
    noun: "connections",
    idName: "connection_ids",
    idOf: (c) => c.connection_id,
    existing: async (tx, ids) =>
      new Set(ids.length ? (await tx.selectFrom("connections").select("conn_id").where("conn_id", "in", ids).execute()).map((r) => r.conn_id) : []),
    create: async (tx, c, overwrite) => {
      const current = overwrite ? await readConnection(tx, cipher, c.connection_id) : null;
      await writeConnection(tx, cipher, keepMasked(c, current), overwrite);
    },
    update: async (tx, c) => {
      await replaceConnection(tx, cipher, keepMasked(c, await readConnection(tx, cipher, c.connection_id)));
    },
    delete: async (tx, ids) => {
      await deleteConnections(tx, ids);
    },
  };

  router.patch("/connections", admin, async (req, res) => {
    const body = parse(BulkConnections, req.body, "body");
    res.json(await runBulk(store.db, bulkStore, body.actions));
  });

  return router;
}
