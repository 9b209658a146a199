// Distributed mode: `updraft scheduler` and two `updraft worker` processes on PostgreSQL finish a
// 20-task fan-out, each TI executed exactly once; `updraft worker` on PGlite refuses clearly.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRun } from "../../engine/store/runs/createRun.js";
import { backends, createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { dagsFolderWith, waitFor, waitForRunEnd } from "../helpers/engine.js";
import { ROOT } from "../helpers/paths.js";

const CLI = path.join(ROOT, "bin", "updraft.js");

describe("updraft worker on PGlite", () => {
  it("exits with a one-line explanation", () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), "updraft-home-"));
    const env: NodeJS.ProcessEnv = { ...process.env, UPDRAFT_HOME: home };
    delete env.DATABASE_URL;
    const result = spawnSync(process.execPath, [CLI, "worker"], { env, encoding: "utf8", timeout: 30_000 });
    expect(result.status).toBe(2);
    const lines = result.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/needs DATABASE_URL/);
  });
});

describe.runIf(backends().includes("postgres"))("distributed on PostgreSQL", () => {
  let db: TestDatabase;
  const children: ChildProcess[] = [];
  const marks = fs.mkdtempSync(path.join(os.tmpdir(), "updraft-marks-"));
  const dagsFolder = dagsFolderWith({
    "fanout.ts": `
import fs from "node:fs";
import { dag } from "updraft";
export default dag({ id: "fanout" }, (d) => {
  const start = d.task("start", () => 0);
  const mids = Array.from({ length: 18 }, (_, i) =>
    d.task("mid_" + i, [start], async (ctx) => {
      fs.appendFileSync(${JSON.stringify(marks)} + "/" + ctx.taskId, process.pid + "\\n");
      await new Promise((r) => setTimeout(r, 50));
      return process.pid;
    }));
  d.task("end", mids, (ctx, ...pids) => new Set(pids).size);
});`,
  });

  const start = (args: string[]) => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), "updraft-home-"));
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, DATABASE_URL: db.url, UPDRAFT_HOME: home, UPDRAFT_DAGS_FOLDER: dagsFolder, UPDRAFT_LOG_LEVEL: "warn", UPDRAFT_POLL_INTERVAL_MS: "200" },
      stdio: ["ignore", "inherit", "inherit"],
    });
    children.push(child);
    return child;
  };

  beforeAll(async () => {
    db = await createTestDatabase("postgres");
  });
  afterAll(async () => {
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            c.once("exit", () => resolve());
            c.kill("SIGTERM");
            setTimeout(() => c.kill("SIGKILL"), 10_000).unref();
          }),
      ),
    );
    await db?.drop();
  });

  it("runs a 20-task fan-out across two worker processes, each TI exactly once", async () => {
    start(["scheduler"]);
    await waitFor("the scheduler to parse the DAG", () => db.store.db.selectFrom("dags").select("dag_id").where("dag_id", "=", "fanout").executeTakeFirst(), 30_000);
    start(["worker", "--slots", "4"]);
    start(["worker", "--slots", "4"]);
    await waitFor("two workers to register", async () => (await db.store.db.selectFrom("workers").selectAll().execute()).length === 2, 30_000);

    const run = await createRun(db.store.db, { dagId: "fanout", runType: "manual", logicalDate: new Date() });
    expect(await waitForRunEnd(db.store, run.id, 60_000)).toBe("success");

    const tis = await db.store.db.selectFrom("task_instances").select(["task_id", "state", "try_number", "worker_id"]).where("run_pk", "=", run.id).execute();
    expect(tis).toHaveLength(20);
    expect(tis.every((t) => t.state === "success" && t.try_number === 1)).toBe(true);
    expect(new Set(tis.map((t) => t.worker_id)).size).toBe(2);
    const executions = fs.readdirSync(marks).map((f) => fs.readFileSync(path.join(marks, f), "utf8").trim().split("\n").length);
    expect(executions).toHaveLength(18);
    expect(executions.every((n) => n === 1)).toBe(true);
  });
});
