// Updraft's OpenAPI 3.1 document, built once from OPERATIONS: query parameters and request bodies
// from the very zod schemas the routes validate with (zod 4's own z.toJSONSchema — the request
// side, as a client sends it), responses and errors from Airflow's schemas, which the responses
// follow (airflowSchemas.json, extracted from the contract by extractAirflowSchemas.ts).
import fs from "node:fs";
import { z } from "zod";
import { OPERATIONS, OWN_SCHEMAS, type Operation } from "./operations.js";

type JsonSchema = Record<string, unknown>;

const airflowSchemas = JSON.parse(fs.readFileSync(new URL("./airflowSchemas.json", import.meta.url), "utf8")) as Record<string, JsonSchema>;

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

/**
 * The request side of a zod schema. Query building blocks (validate.ts) see raw strings; they carry
 * what they mean to a client (`documentedAs`), which replaces the generated schema here.
 */
function toJsonSchema(schema: z.ZodType): JsonSchema {
  const json = z.toJSONSchema(schema, {
    io: "input",
    unrepresentable: "any",
    override: (ctx) => {
      const meta = z.globalRegistry.get(ctx.zodSchema) as { openapi?: JsonSchema } | undefined;
      if (!meta?.openapi) return;
      const target = ctx.jsonSchema as JsonSchema;
      for (const key of Object.keys(target)) delete target[key];
      Object.assign(target, meta.openapi);
    },
  }) as JsonSchema;
  delete json.$schema;
  delete json.openapi;
  return json;
}

/** The response side of one of Updraft's own schemas. */
function responseSchema(schema: z.ZodType): JsonSchema {
  const json = z.toJSONSchema(schema, { io: "output" }) as JsonSchema;
  delete json.$schema;
  return json;
}

function parameters(op: Operation) {
  const params: JsonSchema[] = [];
  for (const [, name] of op.path.matchAll(/\{(\w+)\}/g)) {
    params.push({ name, in: "path", required: true, schema: op.integerParams?.includes(name!) ? { type: "integer" } : { type: "string" } });
  }
  if (op.query) {
    const json = toJsonSchema(op.query);
    const required = new Set((json.required as string[] | undefined) ?? []);
    for (const [name, schema] of Object.entries((json.properties ?? {}) as Record<string, JsonSchema>)) {
      // A repeatable parameter is sent as `?name=a&name=b`.
      const repeated = schema.type === "array";
      params.push({ name, in: "query", required: required.has(name) && !("default" in schema), schema, ...(repeated ? { style: "form", explode: true } : {}) });
    }
  }
  return params;
}

function errorResponses(op: Operation) {
  const http = (description: string) => ({ description, content: { "application/json": { schema: ref("HTTPExceptionResponse") } } });
  return {
    ...(op.public ? {} : { "401": http("Unauthorized: no token, or an invalid or expired one"), "403": http("Forbidden: the role is too weak") }),
    ...(op.path.includes("{") || op.body ? { "404": http("Not Found") } : {}),
    "422": { description: "Validation Error", content: { "application/json": { schema: ref("HTTPValidationError") } } },
  };
}

function operationObject(op: Operation) {
  const status = String(op.status ?? 200);
  const success =
    op.response === null
      ? { description: "Successful Response" }
      : { description: "Successful Response", content: { "application/json": { schema: typeof op.response === "string" ? ref(op.response) : op.response } } };
  const role = op.public ? "none (public)" : (op.role ?? (op.method === "get" ? "viewer" : "operator"));
  const body = op.body === undefined ? undefined : typeof op.body === "string" ? ref(op.body) : toJsonSchema(op.body);
  return {
    tags: [op.tag],
    summary: op.summary,
    description: [op.description, `Role: ${role}.`].filter(Boolean).join("\n\n"),
    operationId: op.operationId,
    ...(op.public ? { security: [] } : {}),
    parameters: parameters(op),
    ...(body ? { requestBody: { required: true, content: { "application/json": { schema: body } } } } : {}),
    responses: { [status]: success, ...errorResponses(op) },
  };
}

export function buildOpenApiDocument(version: string) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of OPERATIONS) (paths[op.path] ??= {})[op.method] = operationObject(op);
  return {
    openapi: "3.1.0",
    info: {
      title: "Updraft REST API",
      version,
      description:
        "Apache Airflow's REST API v2 (core resources), served by Updraft: same paths, fields, status codes and error bodies. " +
        "Get a token at `POST /auth/token` and send it as `Authorization: Bearer …`. Roles: viewer (read) < operator (trigger, clear, mark, pause, backfill) < admin (pools, variables, connections, event logs). " +
        "Where Updraft has no such concept, the field carries the value its description states.",
    },
    servers: [{ url: "/" }],
    security: [{ HTTPBearer: [] }],
    paths,
    components: {
      schemas: { ...airflowSchemas, ...Object.fromEntries(Object.entries(OWN_SCHEMAS).map(([name, schema]) => [name, responseSchema(schema)])) },
      securitySchemes: { HTTPBearer: { type: "http", scheme: "bearer", bearerFormat: "JWT" } },
    },
  };
}

let cached: { version: string; doc: ReturnType<typeof buildOpenApiDocument> } | null = null;

/** Built on first use and kept: the operations and schemas do not change while the server runs. */
export function openApiDocument(version: string) {
  if (cached?.version !== version) cached = { version, doc: buildOpenApiDocument(version) };
  return cached.doc;
}
