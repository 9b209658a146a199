// The served OpenAPI document: public, valid OpenAPI 3.1 whose every $ref resolves, generated from
// the routes' own zod schemas, covering every route the app registers (and nothing it does not);
// and the interactive docs at /docs, served with their assets from this server.
import request from "supertest";
import type { Express } from "express";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { testApp } from "./helpers.js";
import { registeredRoutes } from "./routeWalk.js";

type Json = Record<string, unknown>;

/** The UI's own read endpoints (web/server/routes/ui.ts) and Prometheus's /metrics are not part of the REST API. */
const INTERNAL = /^\/(ui\/|metrics$)/;

describe("OpenAPI document and /docs", () => {
  let db: TestDatabase;
  let app: Express;
  let doc: Json & { paths: Record<string, Record<string, Json>>; components: { schemas: Record<string, Json> } };

  beforeAll(async () => {
    db = await createTestDatabase("pglite");
    app = testApp(db.store);
    const res = await request(app).get("/api/v2/openapi.json");
    expect(res.status).toBe(200);
    doc = res.body;
  });
  afterAll(async () => {
    await db?.drop();
  });

  it("is OpenAPI 3.1 whose every $ref resolves and whose schemas compile", () => {
    expect(doc.openapi).toBe("3.1.0");
    const refs = new Set<string>();
    JSON.stringify(doc, (key, value: unknown) => {
      if (key === "$ref" && typeof value === "string") refs.add(value);
      return value;
    });
    for (const ref of refs) {
      expect(ref).toMatch(/^#\/components\/schemas\//);
      expect(doc.components.schemas[ref.split("/").pop()!], ref).toBeDefined();
    }
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats.default(ajv);
    ajv.addSchema({ $id: "doc", components: doc.components });
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        const body = (op.requestBody as { content: Record<string, { schema: Json }> } | undefined)?.content["application/json"]?.schema;
        const rebased = (s: Json) => JSON.parse(JSON.stringify(s).replaceAll('"#/components', '"doc#/components')) as Json;
        if (body) expect(() => ajv.compile(rebased(body)), `${method} ${path} body`).not.toThrow();
        for (const p of (op.parameters as { schema: Json }[]) ?? []) expect(() => ajv.compile(rebased(p.schema))).not.toThrow();
      }
    }
  });

  it("documents exactly the routes the app serves", () => {
    const routes = registeredRoutes(app).filter((r) => !INTERNAL.test(r.path));
    const pattern = (path: string) => new RegExp(`^${path.replace(/\{\w+\}/g, "[^/]+")}$`);
    const documented = Object.entries(doc.paths).flatMap(([path, methods]) => Object.keys(methods).map((method) => ({ method, path })));
    const undocumented = routes.filter((r) => r.path !== "/api/v2/openapi.json" && !documented.some((d) => d.method === r.method && pattern(r.openApiPath).test(d.path)));
    expect(undocumented).toEqual([]);
    const unserved = documented.filter((d) => !routes.some((r) => r.method === d.method && pattern(r.openApiPath).test(d.path)));
    expect(unserved).toEqual([]);
  });

  it("describes bodies and queries from the zod schemas the routes validate with", () => {
    const trigger = doc.paths["/api/v2/dags/{dag_id}/dagRuns"]!.post! as { requestBody: { content: { "application/json": { schema: Json } } } };
    const body = trigger.requestBody.content["application/json"].schema;
    expect(body.additionalProperties).toBe(false);
    expect(body.required).toEqual(["logical_date"]);
    expect((body.properties as Record<string, Json>).logical_date).toMatchObject({ anyOf: [{ type: "string", format: "date-time" }, { type: "null" }] });

    const list = doc.paths["/api/v2/dags"]!.get! as { parameters: Json[] };
    const param = (name: string) => list.parameters.find((p) => p.name === name);
    expect(param("limit")).toMatchObject({ in: "query", schema: { type: "integer", minimum: 0, default: 50 } });
    expect(param("paused")).toMatchObject({ schema: { type: "boolean" } });
    expect(param("tags")).toMatchObject({ schema: { type: "array", items: { type: "string" } }, explode: true });
    const health = doc.paths["/api/v2/monitor/health"]!.get!;
    expect(health.security).toEqual([]);
    expect((doc.paths["/api/v2/dags/{dag_id}"]!.delete as Json).security).toBeUndefined();
  });

  it("serves Swagger UI at /docs with its assets from this server, without a token", async () => {
    const page = await request(app).get("/docs/");
    expect(page.status).toBe(200);
    expect(page.text).toContain("swagger-ui");
    const scripts = [...page.text.matchAll(/<script src="([^"]+)"/g)].map((m) => m[1]!);
    expect(scripts.length).toBeGreaterThan(0);
    for (const src of scripts) {
      expect(src).not.toMatch(/^https?:/);
      const asset = await request(app).get(new URL(src, "http://x/docs/").pathname);
      expect(asset.status, src).toBe(200);
    }
    const init = await request(app).get("/docs/swagger-ui-init.js");
    expect(init.text).toContain("/api/v2/openapi.json");
  });
});
