// PostgreSQL restarts under a running engine (issue 8 item 4): the LISTEN connection comes back by
// itself, re-subscribed, and calls its listeners once with an empty payload to catch up on the
// NOTIFYs lost meanwhile; a task running across the restart keeps running and its report lands
// when the database is back. On a private server this test starts and stops itself.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStore, type Store } from "../../engine/store/db.js";
import { migrate } from "../../engine/store/migrate.js";
import { createRun } from "../../engine/store/runs/createRun.js";
import { withDbRetry } from "../../engine/store/sqlstate.js";
import { dagsFolderWith, startEngine, waitFor, waitForRunEnd, type TestEngine } from "../helpers/engine.js";
import { IN_CI } from "../helpers/postgres.js";
import { canStartPrivatePostgres, startPrivatePostgres, type PrivatePostgres } from "../helpers/privatePostgres.js";

const available = canStartPrivatePostgres();
if (!available && !IN_CI) console.log("dbOutage: no PostgreSQL binaries (initdb) or postgres user: skipped");

describe.runIf(available || IN_CI)("PostgreSQL restarting under the engine", () => {
  let server: PrivatePostgres;
  let store: Store;
  let engine: TestEngine | undefined;
  const marks = fs.mkdtempSync(path.join(os.tmpdir(), "updraft-outage-"));

  beforeAll(async () => {
    server = await startPrivatePostgres();
    store = await openStore({ databaseUrl: server.url, connectTimeoutMs: 1_000, queryTimeoutMs: 5_000, listenPingIntervalMs: 500 });
    await migrate(store);
  });
  afterAll(async () => {
    await engine?.stop().catch(() => {});
    await store?.close().catch(() => {});
    server?.destroy();
    fs.rmSync(marks, { recursive: true, force: true });
  });

  it("re-subscribes LISTEN after a restart and catches up with an empty payload", async () => {
    const received: string[] = [];
    const unlisten = await store.listen("outage_test", (payload) => received.push(payload));
    const send = async (payload: string) => {
      const c = new pg.Client({ connectionString: server.url });
      await c.connect();
      await c.query("select pg_notify('outage_test', $1)", [payload]);
      await c.end();
    };
    await send("before");
    await waitFor("the first NOTIFY", async () => received.includes("before"), 5_000);

    await server.restart(300);
    await waitFor("the catch-up call after reconnecting", async () => received.includes(""), 15_000);
    await send("after");
    await waitFor("a NOTIFY sent after the restart", async () => received.includes("after"), 5_000);
    expect(received.filter((p) => p === "")).toHaveLength(1);
    await unlisten();
  });

  it("lets a task that runs across a restart finish and report, on its first try", async () => {
    engine = await startEngine(store, {
      dagsFolder: dagsFolderWith({
        "across.ts": `
import fs from "node:fs";
import { dag } from "updraft";
export default dag({ id: "across" }, (d) => {
  const slow = d.task("slow", async () => {
    fs.writeFileSync(${JSON.stringify(path.join(marks, "started"))}, "");
    await new Promise((r) => setTimeout(r, 2_500));
    fs.appendFileSync(${JSON.stringify(path.join(marks, "runs"))}, "x");
    return 1;
  });
  d.task("after", [slow], (_ctx, n) => n + 1);
});`,
      }),
      heartbeatIntervalMs: 300,
      heartbeatTimeoutMs: 20_000,
    });
    const run = await createRun(store.db, { dagId: "across", runType: "manual", logicalDate: new Date() });
    // Generous: runner warm-up on a loaded 2-core machine; normally well under a second.
    await waitFor("the task to start", async () => fs.existsSync(path.join(marks, "started")), 45_000);

    // Down while the task runs: its heartbeats and its report fail until the server is back.
    await server.restart(1_000);
    expect(await waitForRunEnd(store, run.id, 30_000)).toBe("success");

    const tis = await withDbRetry(() => store.db.selectFrom("task_instances").select(["task_id", "state", "try_number"]).where("run_pk", "=", run.id).orderBy("task_id").execute());
    expect(tis).toEqual([
      { task_id: "after", state: "success", try_number: 1 },
      { task_id: "slow", state: "success", try_number: 1 },
    ]);
    expect(fs.readFileSync(path.join(marks, "runs"), "utf8")).toBe("x");
    expect((await sql<{ ok: number }>`select 1 as ok`.execute(store.db)).rows[0]?.ok).toBe(1);
  });
});
