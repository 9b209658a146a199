// Task groups (d.group) and callbacks (onSuccess / onFailure / onRetry, per task and per DAG).
// Groups: prefixed and nested ids, group-level dependencies, the group path in the stored version,
// errors naming the tasks. Callbacks end to end on PGlite and PostgreSQL with the real engine: a
// throwing callback leaves its TI success (the error is in the TI's log), onRetry fires on a
// retry, onFailure on the last failure, and the DAG's run callbacks where the run ends. The
// runner is another process, so callbacks leave files as evidence.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dag } from "../../engine/authoring/index.js";
import { buildStructure } from "../../engine/model/structure.js";
import { createRun } from "../../engine/store/runs/createRun.js";
import { backends, createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { dagsFolderWith, startEngine, waitFor, waitForRunEnd, type TestEngine } from "../helpers/engine.js";

describe("task groups", () => {
  const def = dag({ id: "grouped", defaults: { retries: 1 } }, (d) => {
    const start = d.task("start", () => 1);
    const extract = d.group("extract", (g) => {
      const a = g.task("a", () => 1);
      const b = g.task("b", [a], () => 2);
      g.group("inner", (h) => {
        h.task("c", () => 3, { retries: 5 });
        h.task("d", () => 4);
      }).after(b);
    }, { defaults: { retries: 3, pool: "etl" } });
    const end = d.task("end", () => 5);
    start.before(extract);
    extract.before(end);
  });
  const structure = buildStructure(def);
  const task = (id: string) => structure.tasks.find((t) => t.taskId === id)!;

  it("prefixes ids with the group path, nests, and stores the group on each task", () => {
    expect(structure.tasks.map((t) => [t.taskId, t.group]).sort()).toEqual([
      ["end", null],
      ["extract.a", "extract"],
      ["extract.b", "extract"],
      ["extract.inner.c", "extract.inner"],
      ["extract.inner.d", "extract.inner"],
      ["start", null],
    ]);
    // Defaults: the DAG's, then the group's, then the task's own.
    expect([task("start").retries, task("extract.a").retries, task("extract.inner.c").retries, task("extract.inner.d").pool]).toEqual([1, 3, 5, "etl"]);
  });

  it("a dependency on a group is one on its roots (upstream) or its leaves (downstream)", () => {
    expect(task("extract.a").upstream).toEqual(["start"]);
    expect(task("extract.b").upstream).toEqual(["extract.a"]);
    // inner.after(b): every root of inner runs after b.
    expect(task("extract.inner.c").upstream).toEqual(["extract.b"]);
    expect(task("extract.inner.d").upstream).toEqual(["extract.b"]);
    expect(task("end").upstream).toEqual(["extract.inner.c", "extract.inner.d"]);
    expect(structure.roots).toEqual(["start"]);
    expect(structure.leaves).toEqual(["end"]);
  });

  it("errors name the tasks by their full ids", () => {
    const cyclic = dag({ id: "cyclic" }, (d) => {
      const g = d.group("g", (g) => {
        g.task("x", () => 1);
      });
      const after = d.task("after", () => 1);
      g.before(after);
      after.before(g);
    });
    expect(() => buildStructure(cyclic)).toThrow('DAG "cyclic" has a cycle: g.x → after → g.x');
    const duplicate = dag({ id: "dup" }, (d) => {
      d.group("g", (g) => {
        g.task("x", () => 1);
        g.task("x", () => 2);
      });
    });
    expect(() => buildStructure(duplicate)).toThrow('duplicate task id "g.x" in DAG "dup"');
    const clash = dag({ id: "clash" }, (d) => {
      d.task("g", () => 1);
      d.group("g", () => {});
    });
    expect(() => buildStructure(clash)).toThrow('duplicate task group id "g" in DAG "clash"');
    const badRule = dag({ id: "bad_rule" }, (d) => {
      d.group("g", (g) => {
        g.task("x", () => 1, { triggerRule: "sometimes" as never });
      });
    });
    expect(() => buildStructure(badRule)).toThrow('DAG "bad_rule" task "g.x": triggerRule "sometimes" is not one of');
  });
});

// Generous: a fresh engine's first runner starts cold, and the machine is shared with other suites.
const RUN_TIMEOUT_MS = 60_000;

const DAGS = (flags: string) => ({
  "callbacks.ts": `
import fs from "node:fs";
import { dag } from "updraft";
const mark = (name) => fs.writeFileSync(${JSON.stringify(flags)} + "/" + name, "");
export const ok = dag({ id: "cb_ok", onSuccess: (ctx) => mark(ctx.dagId + "_run_" + ctx.state), onFailure: (ctx) => mark(ctx.dagId + "_run_" + ctx.state) }, (d) => {
  d.group("grp", (g) => {
    g.task("fine", () => 42, { onSuccess: (ctx) => { mark("fine_success_" + ctx.taskId); throw new Error("callback blew up"); } });
  });
});
export const flaky = dag({ id: "cb_flaky", onFailure: (ctx) => { mark(ctx.dagId + "_run_" + ctx.state); throw new Error("run callback blew up"); } }, (d) => {
  d.task("flaky", (ctx) => { throw new Error("try " + ctx.tryNumber + " fails"); }, {
    retries: 1,
    retryDelay: "50ms",
    onRetry: (ctx, err) => mark("retry_" + ctx.tryNumber + "_" + err.message.replace(/ /g, "_")),
    onFailure: (ctx, err) => mark("failure_" + ctx.tryNumber + "_" + err.message.replace(/ /g, "_")),
  });
});
export const sleepy = dag({ id: "cb_timeout" }, (d) => {
  // Ignores ctx.signal: its runner is killed, and a fresh one runs onFailure.
  d.task("sleepy", () => new Promise((r) => setTimeout(r, 30_000)), {
    timeout: "300ms",
    onFailure: (ctx, err) => mark("timeout_failure_" + ctx.tryNumber + "_" + err.message.replace(/ /g, "_")),
  });
});`,
});

describe.each(backends())("callbacks on %s", (backend) => {
  let db: TestDatabase;
  let engine: TestEngine;
  // One folder per backend: each backend's callbacks leave their own evidence.
  const flags = fs.mkdtempSync(path.join(os.tmpdir(), "updraft-callback-flags-"));

  beforeAll(async () => {
    db = await createTestDatabase(backend);
    engine = await startEngine(db.store, { dagsFolder: dagsFolderWith(DAGS(flags)), slots: 2 });
  });
  afterAll(async () => {
    await engine?.stop();
    await db?.drop();
    fs.rmSync(flags, { recursive: true, force: true });
  });

  const flag = (name: string) => fs.existsSync(path.join(flags, name));
  const logLines = async (runPk: number, taskId: string) =>
    (
      await db.store.db
        .selectFrom("task_logs as l")
        .innerJoin("task_instances as ti", "ti.id", "l.ti_id")
        .select(["l.try_number", "l.line"])
        .where("ti.run_pk", "=", runPk)
        .where("ti.task_id", "=", taskId)
        .orderBy("l.id")
        .execute()
    ).map((l) => `${l.try_number}: ${l.line}`);
  const ti = (runPk: number, taskId: string) =>
    db.store.db.selectFrom("task_instances").select(["state", "try_number"]).where("run_pk", "=", runPk).where("task_id", "=", taskId).executeTakeFirstOrThrow();

  it("a throwing onSuccess is logged in the TI's log and leaves it success; the DAG's onSuccess runs at the run's end", async () => {
    const run = await createRun(db.store.db, { dagId: "cb_ok", runType: "manual", logicalDate: new Date() });
    expect(await waitForRunEnd(db.store, run.id, RUN_TIMEOUT_MS)).toBe("success");
    expect(await ti(run.id, "grp.fine")).toEqual({ state: "success", try_number: 1 });
    expect(flag("fine_success_grp.fine")).toBe(true);
    expect((await logLines(run.id, "grp.fine")).some((l) => /^1: onSuccess callback failed \(the task's state is unchanged\): Error: callback blew up/.test(l))).toBe(true);
    // The run callback runs after the run's end is committed.
    await waitFor("the DAG's onSuccess callback", async () => flag("cb_ok_run_success"), RUN_TIMEOUT_MS);
    expect(flag("cb_ok_run_failed")).toBe(false);
  });

  it("onRetry fires on the retry, onFailure on the last failure; a throwing run onFailure is only logged", async () => {
    const run = await createRun(db.store.db, { dagId: "cb_flaky", runType: "manual", logicalDate: new Date() });
    expect(await waitForRunEnd(db.store, run.id, RUN_TIMEOUT_MS)).toBe("failed");
    expect(await ti(run.id, "flaky")).toEqual({ state: "failed", try_number: 2 });
    expect([flag("retry_1_try_1_fails"), flag("failure_1_try_1_fails"), flag("retry_2_try_2_fails"), flag("failure_2_try_2_fails")]).toEqual([true, false, false, true]);
    await waitFor("the DAG's onFailure callback and its logged error", async () =>
      flag("cb_flaky_run_failed") && (await logLines(run.id, "flaky")).some((l) => /^2: \[run failed callback\] DAG onFailure callback failed .*run callback blew up/.test(l)),
    RUN_TIMEOUT_MS);
    expect(await ti(run.id, "flaky")).toEqual({ state: "failed", try_number: 2 });
  });

  it("onFailure runs for an attempt whose runner was killed at its time-out", async () => {
    const run = await createRun(db.store.db, { dagId: "cb_timeout", runType: "manual", logicalDate: new Date() });
    expect(await waitForRunEnd(db.store, run.id, RUN_TIMEOUT_MS)).toBe("failed");
    expect(flag("timeout_failure_1_task_timed_out_after_300_ms")).toBe(true);
    expect(await ti(run.id, "sleepy")).toEqual({ state: "failed", try_number: 1 });
  });
});
