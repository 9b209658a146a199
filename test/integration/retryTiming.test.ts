// Retry semantics end to end on PGlite and PostgreSQL, with the real engine (scheduler + worker),
// read back from the tries history: the waits between tries land inside Airflow's bounds for
// retry_exponential_backoff (TaskInstance.next_retry_datetime), max_retry_delay caps them, a task
// failing twice then succeeding ends success with three tries, ctx.fail() fails at once whatever
// retries are left, ctx.skip() skips.
//
// Airflow's formula, after failed try n with retry_delay d (seconds):
//   min = max(1, ceil(d · 2^(n-1)));  wait = min + hash(ti, n) mod min  (whole seconds, in [min, 2·min))
//   wait = min(wait, 24 h);  if max_retry_delay: wait = min(wait, max_retry_delay)
// The bounds below are computed from that formula here, independently of engine/semantics/retry.ts;
// the exact deterministic wait comes from retryDelayMs (seeded by the TI id, as the worker does).
import request from "supertest";
import type { Express } from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { retryDelayMs } from "../../engine/semantics/retry.js";
import { createRun } from "../../engine/store/runs/createRun.js";
import { backends, createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { dagsFolderWith, startEngine, waitForRunEnd, type TestEngine } from "../helpers/engine.js";
import { bearer, loginAs, testApp } from "../web/helpers.js";

/**
 * How late a due retry may start. The lower bound needs no tolerance: the failed try's end_date
 * and its next_retry_at are both the database's now() in one statement (finishTask), and the next
 * try's start_date is the database's now() when a worker claims it, which is after the scheduler's
 * retry timer found next_retry_at <= now(). Above it: the timer firing (setTimeout, armed 5 ms past
 * the due time), one transaction queueing the TI, the NOTIFY reaching the worker (or its 200 ms poll)
 * and its claim — tens of milliseconds on a quiet machine; 1 s leaves room for a loaded 2-core CI
 * box running other suites, and is still well below the gaps the cap test tells apart (1 s vs ≥ 3 s).
 */
const LATE_MS = 1_000;

const RETRY_DELAY_MS = 500;

const DAGS = {
  "retrying.ts": `
import { dag } from "updraft";
export default dag({ id: "retrying" }, (d) => {
  d.task("backoff", () => { throw new Error("always fails"); }, { retries: 3, retryDelay: "${RETRY_DELAY_MS}ms", retryExponentialBackoff: true });
  d.task("flaky", (ctx) => { if (ctx.tryNumber < 3) throw new Error("fails on try " + ctx.tryNumber); return ctx.tryNumber; }, { retries: 3, retryDelay: "100ms" });
  // Uncapped, the wait after try 1 would be in [3 s, 6 s); the cap makes it 1 s.
  d.task("capped", () => { throw new Error("always fails"); }, { retries: 1, retryDelay: "3s", retryExponentialBackoff: true, maxRetryDelay: "1s" });
  d.task("gives_up", (ctx) => ctx.fail("no point retrying"), { retries: 3, retryDelay: "100ms" });
  d.task("skipper", (ctx) => ctx.skip("nothing to do"), { retries: 3, retryDelay: "100ms" });
});`,
};

/** Airflow's bounds for the wait after failed try n, in ms: [min, 2·min − 1 s] (whole seconds). */
function airflowBounds(retryDelay: number, n: number, maxRetryDelay?: number): [number, number] {
  const min = Math.max(1, Math.ceil((retryDelay / 1000) * 2 ** (n - 1)));
  const cap = (s: number) => Math.min(s * 1000, 86_400_000, maxRetryDelay ?? Infinity);
  return [cap(min), cap(2 * min - 1)];
}

describe.each(backends())("retry timing on %s", (backend) => {
  let db: TestDatabase;
  let engine: TestEngine;
  let app: Express;
  let viewer: string;
  let runPk: number;
  let runId: string;

  beforeAll(async () => {
    db = await createTestDatabase(backend);
    engine = await startEngine(db.store, { dagsFolder: dagsFolderWith(DAGS), slots: 5 });
    app = testApp(db.store);
    viewer = await loginAs(app, db.store, "viewer");
    // One run: the five tasks run side by side; the longest (backoff) waits ≤ 1 + 1 + 3 s.
    const run = await createRun(db.store.db, { dagId: "retrying", runType: "manual", logicalDate: new Date() });
    runPk = run.id;
    runId = (await db.store.db.selectFrom("dag_runs").select("run_id").where("id", "=", run.id).executeTakeFirstOrThrow()).run_id;
    expect(await waitForRunEnd(db.store, runPk, 30_000)).toBe("failed");
  }, 40_000);
  afterAll(async () => {
    await engine?.stop();
    await db?.drop();
  });

  const ti = (taskId: string) =>
    db.store.db.selectFrom("task_instances").select(["id", "state", "try_number", "max_tries"]).where("run_pk", "=", runPk).where("task_id", "=", taskId).executeTakeFirstOrThrow();
  const history = async (taskId: string) => {
    const { id } = await ti(taskId);
    return db.store.db
      .selectFrom("task_instance_tries")
      .select(["try_number", "state", "start_date", "end_date", "error"])
      .where("ti_id", "=", id)
      .orderBy("try_number")
      .execute();
  };
  /** Wait before try n+1: its start minus the end of try n, for each n. */
  const gaps = (tries: Awaited<ReturnType<typeof history>>) =>
    tries.slice(1).map((t, i) => new Date(t.start_date!).getTime() - new Date(tries[i]!.end_date!).getTime());

  it("exponential backoff: each wait is inside Airflow's bounds for its try, and is the TI's deterministic jittered delay", async () => {
    const { id, state, try_number } = await ti("backoff");
    expect([state, try_number]).toEqual(["failed", 4]);
    const tries = await history("backoff");
    expect(tries.map((t) => [t.try_number, t.state])).toEqual([
      [1, "up_for_retry"],
      [2, "up_for_retry"],
      [3, "up_for_retry"],
      [4, "failed"],
    ]);
    const waits = gaps(tries);
    expect(waits).toHaveLength(3);
    for (const [i, wait] of waits.entries()) {
      const n = i + 1;
      const [low, high] = airflowBounds(RETRY_DELAY_MS, n);
      expect(wait, `wait after try ${n}`).toBeGreaterThanOrEqual(low);
      expect(wait, `wait after try ${n}`).toBeLessThanOrEqual(high + LATE_MS);
      const exact = retryDelayMs({ retryDelayMs: RETRY_DELAY_MS, exponential: true, tryNumber: n, seed: id });
      expect(exact).toBeGreaterThanOrEqual(low);
      expect(exact).toBeLessThanOrEqual(high);
      expect(wait, `wait after try ${n} vs its jittered delay ${exact} ms`).toBeGreaterThanOrEqual(exact);
      expect(wait, `wait after try ${n} vs its jittered delay ${exact} ms`).toBeLessThanOrEqual(exact + LATE_MS);
    }
    // 500 ms doubles past a whole second by try 3: its wait is at least twice the first ones.
    expect(airflowBounds(RETRY_DELAY_MS, 3)[0]).toBe(2_000);
    expect(waits[2]!).toBeGreaterThanOrEqual(2_000);
  });

  it("maxRetryDelay caps the exponential wait", async () => {
    const tries = await history("capped");
    expect(tries.map((t) => [t.try_number, t.state])).toEqual([
      [1, "up_for_retry"],
      [2, "failed"],
    ]);
    const [uncappedLow] = airflowBounds(3_000, 1);
    const [low, high] = airflowBounds(3_000, 1, 1_000);
    expect([uncappedLow, low, high]).toEqual([3_000, 1_000, 1_000]);
    const [wait] = gaps(tries);
    expect(wait).toBeGreaterThanOrEqual(low);
    expect(wait).toBeLessThanOrEqual(high + LATE_MS);
    expect(wait).toBeLessThan(uncappedLow);
  });

  it("a task failing twice then succeeding ends success with three tries in its history (REST …/tries too)", async () => {
    expect(await ti("flaky")).toMatchObject({ state: "success", try_number: 3 });
    const tries = await history("flaky");
    expect(tries.map((t) => [t.try_number, t.state, t.error])).toEqual([
      [1, "up_for_retry", expect.stringContaining("fails on try 1")],
      [2, "up_for_retry", expect.stringContaining("fails on try 2")],
      [3, "success", null],
    ]);
    // Without exponential backoff the wait is retryDelay itself (100 ms), plus scheduling.
    for (const wait of gaps(tries)) {
      expect(wait).toBeGreaterThanOrEqual(100);
      expect(wait).toBeLessThanOrEqual(100 + LATE_MS);
    }
    const res = await request(app).get(`/api/v2/dags/retrying/dagRuns/${encodeURIComponent(runId)}/taskInstances/flaky/tries`).set(bearer(viewer));
    expect(res.status).toBe(200);
    expect(res.body.total_entries).toBe(3);
    expect(res.body.task_instances.map((t: { try_number: number; state: string }) => [t.try_number, t.state])).toEqual([
      [1, "up_for_retry"],
      [2, "up_for_retry"],
      [3, "success"],
    ]);
  });

  it("ctx.fail() fails without retrying, with retries left", async () => {
    expect(await ti("gives_up")).toMatchObject({ state: "failed", try_number: 1, max_tries: 3 });
    const tries = await history("gives_up");
    expect(tries.map((t) => [t.try_number, t.state])).toEqual([[1, "failed"]]);
    expect(tries[0]!.error).toContain("no point retrying");
  });

  it("ctx.skip() skips, with retries left", async () => {
    expect(await ti("skipper")).toMatchObject({ state: "skipped", try_number: 1 });
    expect((await history("skipper")).map((t) => [t.try_number, t.state])).toEqual([[1, "skipped"]]);
  });
});
