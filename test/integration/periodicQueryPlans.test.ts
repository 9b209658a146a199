// The periodic queries over task_instances — the scheduler's retry and reschedule timers, the
// reaper, the workers' orphan check — reach their partial indexes under the plans they really get:
// generic ones (plan_cache_mode = force_generic_plan, engine/store/db.ts, applies to unnamed
// statements too). With `state = $1` a generic plan cannot prove a partial index's predicate and
// reads every TI on every tick; their states are written as literals (`lit`). Each statement they
// send is captured and EXPLAINed as sent, with its parameters, on a session with that setting, over
// a table of 5,000 finished TIs. PostgreSQL only: PGlite keeps no statistics to plan with.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Kysely, PostgresDialect, sql, type CompiledQuery } from "kysely";
import pg from "pg";
import type { Database } from "../../engine/store/schema.js";
import { createRun } from "../../engine/store/runs/createRun.js";
import { queueDueRetries } from "../../engine/store/tasks/queueDueRetries.js";
import { queueDueReschedules } from "../../engine/store/tasks/queueDueReschedules.js";
import { reapLostTasks } from "../../engine/store/tasks/reapLostTasks.js";
import { findOrphanedClaims } from "../../engine/store/tasks/findOrphanedClaims.js";
import { backends, createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { dagsFolderWith, startEngine, type TestEngine } from "../helpers/engine.js";

const DAGS = {
  "solo.ts": `import { dag } from "updraft";
export default dag({ id: "solo" }, (d) => { d.task("only", () => 1); });`,
};

describe.skipIf(!backends().includes("postgres"))("periodic queries' plans on postgres", () => {
  let db: TestDatabase;
  let engine: TestEngine;
  let pool: pg.Pool;
  let logged: Kysely<Database>;
  const sent: CompiledQuery[] = [];

  beforeAll(async () => {
    db = await createTestDatabase("postgres");
    engine = await startEngine(db.store, { dagsFolder: dagsFolderWith(DAGS), worker: false });
    const run = await createRun(db.store.db, { dagId: "solo", runType: "manual", logicalDate: null });
    await sql`insert into task_instances (run_pk, dag_id, run_id, task_id, dag_version_id, state, try_number, end_date)
              select run_pk, dag_id, run_id, 'done_' || g, dag_version_id, 'success', 1, now()
                from task_instances, generate_series(1, 5000) g where run_pk = ${run.id}`.execute(db.store.db);
    await sql`analyze task_instances`.execute(db.store.db);
    pool = new pg.Pool({ connectionString: db.url, max: 2, options: "-c plan_cache_mode=force_generic_plan" });
    logged = new Kysely<Database>({ dialect: new PostgresDialect({ pool }), log: (e) => void sent.push(e.query) });
  });
  afterAll(async () => {
    await logged?.destroy();
    await engine?.stop();
    await db?.drop();
  });

  it("no periodic statement reads all TIs", async () => {
    await queueDueRetries(logged);
    await queueDueReschedules(logged);
    await reapLostTasks(logged, 30_000);
    await findOrphanedClaims(logged, { workerId: "w1", knownTiIds: ["00000000-0000-0000-0000-000000000001"], olderThanMs: 3_000 });
    const statements = sent.filter((q) => q.sql.includes("task_instances"));
    expect(statements.length).toBeGreaterThanOrEqual(6);
    const client = await pool.connect();
    try {
      // PREPARE + EXPLAIN EXECUTE shows the plan the statement runs with (a plain EXPLAIN of
      // the text, parameters bound, would plan with their values).
      for (const [k, q] of statements.entries()) {
        await client.query(`prepare periodic_${k} as ${q.sql}`);
        const args = q.parameters.map((p) => (p === null ? "null" : typeof p === "number" ? String(p) : client.escapeLiteral(String(p)))).join(", ");
        const plan = (await client.query<{ "QUERY PLAN": string }>(`explain execute periodic_${k}${args ? `(${args})` : ""}`)).rows.map((r) => r["QUERY PLAN"]).join("\n");
        expect(plan, q.sql).not.toMatch(/Seq Scan on task_instances/);
      }
    } finally {
      client.release();
    }
  });
});
