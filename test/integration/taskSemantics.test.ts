// Task semantics end to end on PGlite and PostgreSQL, with the real engine (scheduler + worker):
// trigger rules over mixed upstream outcomes, d.branch (followed / skipped / propagation / a bad
// branch id), d.shortCircuit (a falsy result skips everything downstream, whatever its rules),
// and d.http (JSON and text as XCom, an unexpected status fails the task).
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRun } from "../../engine/store/runs/createRun.js";
import { backends, createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { dagsFolderWith, startEngine, waitForRunEnd, type TestEngine } from "../helpers/engine.js";

const dags = (url: string) => ({
  "rules.ts": `
import { dag } from "updraft";
export default dag({ id: "rules" }, (d) => {
  const ok = d.task("ok", () => 1);
  const bad = d.task("bad", () => { throw new Error("bad fails"); });
  const skip = d.task("skip", (ctx) => ctx.skip("not today"));
  d.task("one_failed", () => 1, { triggerRule: "one_failed" }).after(ok, bad);
  d.task("all_success", () => 1).after(ok, bad);
  d.task("nfmos", () => 1, { triggerRule: "none_failed_min_one_success" }).after(ok, skip);
  d.task("nfmos_all_skipped", () => 1, { triggerRule: "none_failed_min_one_success" }).after(skip);
  d.task("all_done", () => 1, { triggerRule: "all_done" }).after(ok, bad, skip);
  d.task("none_failed", () => 1, { triggerRule: "none_failed" }).after(ok, bad);
  d.task("one_success", () => 1, { triggerRule: "one_success" }).after(bad, skip);
  d.task("all_failed", () => 1, { triggerRule: "all_failed" }).after(bad);
  const skipped_child = d.task("skipped_child", () => 1).after(skip);
  d.task("always", () => 1, { triggerRule: "always" }).after(skipped_child);
});`,
  "branchy.ts": `
import { dag } from "updraft";
export default dag({ id: "branchy" }, (d) => {
  const start = d.task("start", () => "left");
  const pick = d.branch("pick", [start], (ctx, side) => side);
  const left = d.task("left", () => "L");
  const right = d.task("right", () => "R");
  const rightChild = d.task("right_child", () => 1);
  const join = d.task("join", () => "joined", { triggerRule: "none_failed_min_one_success" });
  pick.before(left, right);
  right.before(rightChild);
  d.chain([left, rightChild], join);
});`,
  "bad_branch.ts": `
import { dag } from "updraft";
export default dag({ id: "bad_branch" }, (d) => {
  const pick = d.branch("pick", () => "elsewhere");
  const a = d.task("a", () => 1);
  const elsewhere = d.task("elsewhere", () => 2);
  pick.before(a);
  a.before(elsewhere);
});`,
  "short.ts": `
import { dag } from "updraft";
export default dag({ id: "short" }, (d) => {
  const check = d.shortCircuit("check", (ctx) => Boolean(ctx.conf.go));
  const a = d.task("a", () => 1);
  const b = d.task("b", () => 2, { triggerRule: "all_done" });
  // Without the short-circuit's override, c would run once b is skipped.
  const c = d.task("c", () => 3, { triggerRule: "all_skipped" });
  check.before(a);
  a.before(b);
  b.before(c);
});`,
  "calls.ts": `
import { dag } from "updraft";
export default dag({ id: "calls" }, (d) => {
  const post = d.http("post", { method: "POST", url: ${JSON.stringify(`${url}/echo`)}, headers: { "x-token": "t1" }, body: { n: 7 } });
  const text = d.http("text", (ctx) => ({ url: ${JSON.stringify(`${url}/text`)} + "?run=" + encodeURIComponent(ctx.runId) }));
  d.task("use", [post, text], (ctx, p, t) => ({ p, t }));
  d.http("teapot", { url: ${JSON.stringify(`${url}/teapot`)}, expectStatus: 200 });
  d.http("accepted_teapot", { url: ${JSON.stringify(`${url}/teapot`)}, expectStatus: [418] });
});`,
});

describe.each(backends())("task semantics on %s", (backend) => {
  let db: TestDatabase;
  let engine: TestEngine;
  let server: http.Server;

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        if (req.url === "/echo") {
          res.setHeader("content-type", "application/json");
          res.end(JSON.stringify({ method: req.method, token: req.headers["x-token"], type: req.headers["content-type"], body: JSON.parse(body) }));
        } else if (req.url?.startsWith("/text")) res.end(`plain ${req.url}`);
        else {
          res.statusCode = 418;
          res.end("I'm a teapot");
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    db = await createTestDatabase(backend);
    engine = await startEngine(db.store, { dagsFolder: dagsFolderWith(dags(url)), slots: 4 });
  });
  afterAll(async () => {
    await engine?.stop();
    await db?.drop();
    await new Promise((r) => server?.close(r));
  });

  const states = async (runPk: number) =>
    Object.fromEntries(
      (await db.store.db.selectFrom("task_instances").select(["task_id", "state"]).where("run_pk", "=", runPk).execute()).map((t) => [t.task_id, t.state]),
    );
  const xcom = async (runPk: number, taskId: string) =>
    (await db.store.db.selectFrom("xcom").select("value").where("run_pk", "=", runPk).where("task_id", "=", taskId).where("key", "=", "return_value").executeTakeFirst())?.value;
  const error = async (runPk: number, taskId: string) =>
    (
      await db.store.db
        .selectFrom("task_instance_tries as h")
        .innerJoin("task_instances as ti", "ti.id", "h.ti_id")
        .select("h.error")
        .where("ti.run_pk", "=", runPk)
        .where("ti.task_id", "=", taskId)
        .executeTakeFirst()
    )?.error;
  const unfinished = async (runPk: number) => (await db.store.db.selectFrom("dag_runs").select("unfinished_tis").where("id", "=", runPk).executeTakeFirstOrThrow()).unfinished_tis;

  it("trigger rules over mixed upstream outcomes (success, failed, skipped), as Airflow decides them", async () => {
    const run = await createRun(db.store.db, { dagId: "rules", runType: "manual", logicalDate: new Date() });
    expect(await waitForRunEnd(db.store, run.id)).toBe("failed"); // all_success is a leaf, upstream_failed
    expect(await states(run.id)).toEqual({
      ok: "success",
      bad: "failed",
      skip: "skipped",
      one_failed: "success",
      all_success: "upstream_failed",
      nfmos: "success",
      nfmos_all_skipped: "skipped",
      all_done: "success",
      none_failed: "upstream_failed",
      one_success: "upstream_failed",
      all_failed: "success",
      skipped_child: "skipped",
      always: "success",
    });
    expect(await unfinished(run.id)).toBe(0);
  });

  it("d.branch follows the returned task, skips the other direct downstream and propagates the skip", async () => {
    const run = await createRun(db.store.db, { dagId: "branchy", runType: "manual", logicalDate: new Date() });
    expect(await waitForRunEnd(db.store, run.id)).toBe("success");
    expect(await states(run.id)).toEqual({ start: "success", pick: "success", left: "success", right: "skipped", right_child: "skipped", join: "success" });
    expect(await xcom(run.id, "pick")).toEqual(["left"]);
    expect(await unfinished(run.id)).toBe(0);
  });

  it("a branch returning a task that is not a direct downstream fails with that message", async () => {
    const run = await createRun(db.store.db, { dagId: "bad_branch", runType: "manual", logicalDate: new Date() });
    expect(await waitForRunEnd(db.store, run.id)).toBe("failed");
    expect(await states(run.id)).toEqual({ pick: "failed", a: "upstream_failed", elsewhere: "upstream_failed" });
    expect(await error(run.id, "pick")).toMatch(/branch "pick" returned "elsewhere", which is not a direct downstream task of it \(direct downstream: a\)/);
  });

  it("d.shortCircuit: a falsy result skips every downstream task whatever its trigger rule; a truthy one runs them", async () => {
    const off = await createRun(db.store.db, { dagId: "short", runType: "manual", logicalDate: new Date(), conf: {} });
    expect(await waitForRunEnd(db.store, off.id)).toBe("success");
    expect(await states(off.id)).toEqual({ check: "success", a: "skipped", b: "skipped", c: "skipped" });
    expect(await xcom(off.id, "check")).toBe(false);
    expect(await unfinished(off.id)).toBe(0);
    const on = await createRun(db.store.db, { dagId: "short", runType: "manual", logicalDate: new Date(), conf: { go: true } });
    expect(await waitForRunEnd(db.store, on.id)).toBe("success");
    expect(await states(on.id)).toEqual({ check: "success", a: "success", b: "success", c: "skipped" });
  });

  it("d.http: JSON or text response as XCom; an unexpected status fails the task", async () => {
    const run = await createRun(db.store.db, { dagId: "calls", runType: "manual", logicalDate: new Date() });
    expect(await waitForRunEnd(db.store, run.id)).toBe("failed");
    const s = await states(run.id);
    expect(s).toEqual({ post: "success", text: "success", use: "success", teapot: "failed", accepted_teapot: "success" });
    const runId = (await db.store.db.selectFrom("dag_runs").select("run_id").where("id", "=", run.id).executeTakeFirstOrThrow()).run_id;
    expect(await xcom(run.id, "use")).toEqual({
      p: { method: "POST", token: "t1", type: "application/json", body: { n: 7 } },
      t: `plain /text?run=${encodeURIComponent(runId)}`,
    });
    expect(await xcom(run.id, "accepted_teapot")).toBe("I'm a teapot");
    expect(await error(run.id, "teapot")).toMatch(/GET http:\/\/127\.0\.0\.1:\d+\/teapot answered 418 \(expected 200\): I'm a teapot/);
  });
});
