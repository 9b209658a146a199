// Fuzzing the API (fast-check): thousands of generated malformed requests — wrong types, missing
// and unknown fields, huge strings, bad JSON, unicode (NUL, lone surrogates, RTL), negative and
// enormous limits, junk dates, junk tokens — against every documented operation. None may answer
// ≥ 500, every error must be Airflow's `{detail}` without a stack, and the database must be exactly
// as before (row count and checksum of every table).
import request from "supertest";
import type { Express } from "express";
import fc from "fast-check";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OPERATIONS, type Operation } from "../../web/server/openapi/operations.js";
import { backends, createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { dagsFolderWith, startEngine, waitFor } from "../helpers/engine.js";
import type { Store } from "../../engine/store/db.js";
import { bearer, loginAs, testApp } from "./helpers.js";

const RUNS = Number(process.env.UPDRAFT_FUZZ_RUNS ?? 2_000);

const DAGS = {
  "fuzzed.ts": `import { dag } from "updraft";
export default dag({ id: "fuzzed", params: { n: { type: "integer", default: 1 } } }, (d) => { d.chain(d.task("a", () => 1), d.task("b", () => 2)); });`,
};

/** Every table's row count and content checksum. */
async function fingerprint(store: Store): Promise<Record<string, string>> {
  const tables = await sql<{ name: string }>`select table_name as name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE' order by 1`.execute(store.db);
  const out: Record<string, string> = {};
  for (const { name } of tables.rows) {
    const row = await sql<{ n: number; sum: string }>`select count(*)::int as n, md5(coalesce(string_agg(t::text, '|' order by t::text), '')) as sum from ${sql.table(name)} t`.execute(store.db);
    out[name] = `${row.rows[0]!.n}:${row.rows[0]!.sum}`;
  }
  return out;
}

const junkString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.constantFrom("\u0000", "a\u0000b", "\ud800", "\u202e\u0645\u0631\u062d\u0628\u0627", "🦄🚀", "'; drop table dags; --", "%", "%%", "_", "~", "..", "../../etc/passwd", "null", "-1", "1e309", "NaN", "true", "[]", "{}"),
  fc.integer({ min: 1_000, max: 60_000 }).map((n) => "x".repeat(n)),
);
const junkNumber = fc.oneof(fc.integer({ min: -1_000_000, max: -1 }), fc.constantFrom(-0, 1e309, -1e309, Number.MAX_SAFE_INTEGER * 10, 0.5, -2.5), fc.double());
const junkValue: fc.Arbitrary<unknown> = fc.oneof(junkString, junkNumber, fc.boolean(), fc.constant(null), fc.array(junkString, { maxLength: 3 }), fc.dictionary(junkString, junkString, { maxKeys: 3 }));

const QUERY_KEYS = ["limit", "offset", "order_by", "state", "tags", "paused", "dag_id_pattern", "logical_date_gte", "run_after_lt", "map_index", "update_mask", "try_number", "full_content", "version_number", "dag_id", "xcom_key", "stringify", "next", "before"];
/** Query values: mostly short enough to reach the app; now and then too long for Node's header limit (431). */
const queryString = fc.oneof({ weight: 20, arbitrary: junkString.map((v) => v.slice(0, 1_500)) }, { weight: 1, arbitrary: fc.constant("q".repeat(20_000)) });
const junkQuery = fc.dictionary(fc.oneof(fc.constantFrom(...QUERY_KEYS), queryString), fc.oneof(queryString, junkNumber.map(String), fc.array(queryString, { maxLength: 3 })), { maxKeys: 4 });

/** Field names our bodies use, so that junk meets the validators of real fields. */
const BODY_KEYS = ["logical_date", "dag_run_id", "conf", "is_paused", "state", "note", "new_state", "dry_run", "task_ids", "only_failed", "key", "value", "map_index", "actions", "dag_id", "from_date", "to_date", "name", "slots", "connection_id", "conn_type", "username", "password", "page_limit", "dag_ids"];
/** A body that cannot be valid: an unknown field (every body is strict, as Airflow's) plus junk in real ones. */
const badObject = fc
  .tuple(fc.dictionary(fc.constantFrom(...BODY_KEYS), junkValue, { maxKeys: 5 }), junkValue)
  .map(([fields, extra]) => ({ ...fields, __fuzz_unknown_field__: extra }));
type Body = { kind: "json"; value: unknown } | { kind: "raw"; text: string; type: string };
const junkBody: fc.Arbitrary<Body> = fc.oneof(
  badObject.map((value) => ({ kind: "json" as const, value })),
  fc.oneof(fc.array(junkValue, { maxLength: 3 }), junkString, junkNumber, fc.constant(null)).map((value) => ({ kind: "raw" as const, text: JSON.stringify(value) ?? "null", type: "application/json" })),
  fc.constantFrom('{"logical_date": ', "{'a': 1}", "[1, 2", "\u0000", '{"a":1}{"b":2}', "nul", '{"__proto__": {"polluted": true}, "x": 1}').map((text) => ({ kind: "raw" as const, text, type: "application/json" })),
  fc.constant({ kind: "raw" as const, text: `{"conf": {"x": "${"y".repeat(1_100_000)}"}}`, type: "application/json" }),
  junkString.map((text) => ({ kind: "raw" as const, text, type: "text/plain" })),
  fc.constant({ kind: "raw" as const, text: "username=a&password=b&extra=1", type: "application/x-www-form-urlencoded" }),
);

type Who = "viewer" | "operator" | "admin" | "none" | "garbage";
const who = fc.constantFrom<Who>("operator", "admin", "admin", "viewer", "none", "garbage");

/** Lone surrogates cannot be percent-encoded; as UTF-8 they become U+FFFD, as a client would send them. */
const wellFormed = (s: string) => Buffer.from(s, "utf8").toString("utf8");

/** A path parameter: a real id (so validation is reached) or junk, percent-encoded — or raw malformed. */
const pathValue = (real: string) => fc.oneof({ weight: 3, arbitrary: fc.constant(real) }, { weight: 3, arbitrary: junkString.map((s) => encodeURIComponent(wellFormed(s.slice(0, 2_000)))) }, { weight: 1, arbitrary: fc.constantFrom("%E0%A4%A", "%", "%00", "%2e%2e", "-1", "99999999999999999999") });

const REAL: Record<string, string> = { dag_id: "fuzzed", dag_run_id: "f_run", task_id: "a", map_index: "-1", try_number: "1", xcom_key: "return_value", backfill_id: "1", import_error_id: "1", version_number: "1", pool_name: "default_pool", variable_key: "v", connection_id: "c", event_log_id: "1" };

/** A write without a body (DELETE, PUT …/pause) is malformed only through its path: one parameter is always junk there. */
function pathFor(op: Operation): fc.Arbitrary<string> {
  const names = [...op.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
  const mustBreak = op.method !== "get" && op.body === undefined && names.length > 0;
  return fc.tuple(fc.nat(names.length), ...names.map((n) => pathValue(REAL[n] ?? "x"))).map(([broken, ...values]) => {
    if (mustBreak) values[broken % names.length] = `junk_${broken}_${encodeURIComponent("☃")}`;
    let i = 0;
    return op.path.replace(/\{\w+\}/g, () => values[i++]!);
  });
}

const operation = fc.constantFrom(...OPERATIONS);
const fuzzedRequest = operation.chain((op) => fc.record({ op: fc.constant(op), path: pathFor(op), query: junkQuery, body: junkBody, who }));

describe.each(backends())("fuzzing the API on %s", (backend) => {
  let db: TestDatabase;
  let app: Express;
  const tokens = {} as Record<Who, string>;

  beforeAll(async () => {
    db = await createTestDatabase(backend);
    const engine = await startEngine(db.store, { dagsFolder: dagsFolderWith(DAGS), worker: false });
    app = testApp(db.store);
    for (const role of ["viewer", "operator", "admin"] as const) tokens[role] = await loginAs(app, db.store, role);
    tokens.garbage = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4Iiwicm9sZSI6ImFkbWluIn0.AAAA";
    const res = await request(app).post("/api/v2/dags/fuzzed/dagRuns").set(bearer(tokens.operator)).send({ dag_run_id: "f_run", logical_date: null });
    expect(res.status).toBe(200);
    await waitFor("the run's TIs", async () => (await db.store.db.selectFrom("task_instances").select("id").executeTakeFirst()) ?? null);
    // Nothing else may write from here on: the fingerprint must only move if a request wrote.
    await engine.stop();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it(`answers ${RUNS} malformed requests without a 5xx, a stack, or a change to the database`, async () => {
    const before = await fingerprint(db.store);
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(fuzzedRequest, async ({ op, path, query, body, who: caller }) => {
        let req = request(app)[op.method](path).query(query as Record<string, string>);
        if (caller !== "none") req = req.set(bearer(tokens[caller]));
        if (op.method !== "get") req = body.kind === "json" ? req.send(body.value as object) : req.set("content-type", body.type).send(body.text);
        const res = await req;
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        const label = `${op.method.toUpperCase()} ${path.slice(0, 200)} → ${res.status} ${res.text.slice(0, 300)}`;
        expect(res.status, label).toBeLessThan(500);
        // 431: Node's HTTP parser refused the request line/headers before the app saw it (no body).
        if (res.status >= 400 && res.status !== 431) {
          expect(res.body, label).toHaveProperty("detail");
          expect(res.text, label).not.toMatch(/\n\s+at |node_modules|\.ts:\d+/);
        }
      }),
      { numRuns: RUNS, seed: Number(process.env.UPDRAFT_FUZZ_SEED ?? Date.now() % 2 ** 31), endOnFailure: true },
    );
    console.log(`fuzz on ${backend}: ${[...statuses].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}×${n}`).join(" ")}`);
    // The data is unchanged. The audit log is not compared: it records every accepted write call
    // (as Airflow's event log does), and a random body can be a valid no-op write — e.g. a bulk
    // PATCH /dags whose filter matches nothing — which changes nothing else.
    const { audit_log: _auditAfter, ...after } = await fingerprint(db.store);
    const { audit_log: _auditBefore, ...expected } = before;
    expect(after).toEqual(expected);
  }, 180_000);
});
