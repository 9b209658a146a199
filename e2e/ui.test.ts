// The web UI in a real browser against a real engine and web server (issue 6 "Tests"): log in,
// trigger with params and watch the grid go green live, follow a running task's log, clear a
// failed task, backfill through the form, viewer restrictions, and XSS payloads rendered as text.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Page } from "playwright-core";
import { createRun } from "../engine/store/runs/createRun.js";
import { waitFor } from "../test/helpers/engine.js";
import { RUN_E2E } from "./browser.js";
import { DAG_FILES, XSS } from "./dags.js";
import { apiFromPage, loginPage, screenshot, startHarness, type Harness } from "./harness.js";

/** Set on a page after it loaded; a full reload would drop it. */
const markNoReload = (page: Page) => page.evaluate(() => ((globalThis as unknown as { __noReload: number }).__noReload = 1));
const stillNoReload = (page: Page) => page.evaluate(() => (globalThis as unknown as { __noReload?: number }).__noReload === 1);
const xssFired = (page: Page) => page.evaluate(() => (globalThis as unknown as { __xss?: unknown }).__xss !== undefined);

async function runState(h: Harness, dagId: string, runId: string) {
  const row = await h.db.store.db.selectFrom("dag_runs").select("state").where("dag_id", "=", dagId).where("run_id", "=", runId).executeTakeFirst();
  return row?.state;
}

describe.skipIf(!RUN_E2E)("web UI (Chromium)", () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness(DAG_FILES);
    await waitFor("the e2e DAGs to be loaded", async () => {
      const rows = await h.db.store.db.selectFrom("dags").select("dag_id").execute();
      return rows.length >= Object.keys(DAG_FILES).length;
    });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it("logs in, triggers with params, shows API validation, turns the grid green live and streams the log", async () => {
    const { context, page, errors } = await loginPage(h, "admin");
    await expect.poll(() => page.locator("tr[data-dag-id]").count()).toBeGreaterThanOrEqual(4);
    await screenshot(page, "01-dag-list");

    await page.goto(`${h.url}/dags/e2e_params/grid`);
    await page.getByRole("link", { name: "▶ Trigger" }).click();
    await page.getByLabel(/count/).waitFor();
    await screenshot(page, "02-trigger-form");
    // Out of range: the API refuses it (422) and the form shows its message; nothing is created.
    await page.getByLabel(/count/).fill("9");
    await page.getByRole("button", { name: "▶ Trigger" }).click();
    await expect.poll(() => page.locator("[data-testid=trigger-form] [role=alert]").first().innerText()).toMatch(/count|5/);
    expect(await h.db.store.db.selectFrom("dag_runs").select("id").where("dag_id", "=", "e2e_params").execute()).toHaveLength(0);

    await page.getByLabel(/count/).fill("2");
    await page.getByLabel(/city/).fill("Bergen");
    await page.getByRole("button", { name: "▶ Trigger" }).click();
    await page.waitForURL(/\/dags\/e2e_params\/grid\?run=/);
    const runId = new URL(page.url()).searchParams.get("run")!;
    await markNoReload(page);

    // The grid turns to running, then the running `ticks` cell opens its TI page with a live log.
    const ticksCell = page.locator(`[data-run="${runId}"][data-task="ticks"]`);
    await ticksCell.and(page.locator('[data-state="running"]')).waitFor({ timeout: 20_000 });
    await screenshot(page, "03-grid-running");
    await ticksCell.click();
    await page.waitForURL(/\/tasks\/ticks$/);
    const log = page.getByTestId("log");
    await expect.poll(() => log.innerText(), { timeout: 15_000 }).toContain("tick 1 for Bergen");
    // Still running while more lines arrive — streamed, not loaded once.
    expect(await runState(h, "e2e_params", runId)).toBe("running");
    await expect.poll(() => log.innerText(), { timeout: 15_000 }).toContain("tick 3 for Bergen");
    await screenshot(page, "04-task-instance-live-log");

    await page.goBack();
    await expect.poll(() => page.locator(`[data-run="${runId}"][data-state="success"]`).count(), { timeout: 20_000 }).toBe(3);
    expect(await stillNoReload(page)).toBe(true);
    expect(await page.getByTestId("live-status").innerText()).toContain("live");
    await screenshot(page, "05-grid-success");

    // The other DAG views of the same run.
    for (const tab of ["graph", "gantt", "runs", "code", "details"]) {
      await page.goto(`${h.url}/dags/e2e_params/${tab}`);
      await page.getByRole("tabpanel").waitFor();
      await page.waitForTimeout(300);
      await screenshot(page, `06-tab-${tab}`);
    }
    await page.goto(`${h.url}/dags/e2e_params/graph?run=${encodeURIComponent(runId)}`);
    await page.locator(".react-flow__node.state-success").first().waitFor();
    expect(await page.locator(".react-flow__node.state-success").count()).toBe(3);
    await page.locator(".react-flow__node", { hasText: "done" }).click();
    await page.waitForURL(/\/tasks\/done$/);
    await page.goto(`${h.url}/dags/e2e_params/runs/${runId}`);
    await page.getByTestId("run-tis").waitFor();
    expect(await page.locator("pre.json").innerText()).toContain("Bergen");
    await screenshot(page, "07-run-page");
    expect(errors).toEqual([]);
    await context.close();
  }, 120_000);

  it("clears a failed task from its page and shows it re-run", async (ctx) => {
    const { context, page } = await loginPage(h, "operator");
    const probe = await apiFromPage(page, "POST", "/api/v2/dags/e2e_flaky/clearTaskInstances", { dry_run: true, only_failed: true });
    if (probe.status === 404 && JSON.stringify(probe.body).includes('"Not Found"')) {
      console.log("e2e: POST /clearTaskInstances is not served yet: the clear test skips");
      await context.close();
      return ctx.skip();
    }
    const trigger = await apiFromPage(page, "POST", "/api/v2/dags/e2e_flaky/dagRuns", { logical_date: null, dag_run_id: `flaky_${Date.now()}` });
    expect(trigger.status).toBe(200);
    const runId = (trigger.body as { dag_run_id: string }).dag_run_id;
    await waitFor("the flaky run to fail", async () => (await runState(h, "e2e_flaky", runId)) === "failed");

    await page.goto(`${h.url}/dags/e2e_flaky/runs/${runId}/tasks/flaky`);
    await page.locator('h1 [data-state="failed"]').waitFor();
    await page.getByTestId("clear-open").click();
    await page.getByRole("button", { name: "Preview" }).click();
    const preview = page.getByTestId("clear-preview");
    await expect.poll(() => preview.innerText()).toContain("flaky");
    expect(await preview.innerText()).toContain("after"); // downstream is included by default
    await screenshot(page, "08-clear-preview");
    await page.getByTestId("confirm-clear").click();
    await page.locator('h1 [data-state="success"]').waitFor({ timeout: 20_000 });
    const ti = await h.db.store.db.selectFrom("task_instances").select(["state", "try_number"]).where("run_id", "=", runId).where("task_id", "=", "flaky").executeTakeFirstOrThrow();
    expect(ti).toEqual({ state: "success", try_number: 2 });
    // The Gantt draws one bar per try: the failed first try and the successful second one.
    await page.goto(`${h.url}/dags/e2e_flaky/gantt?run=${encodeURIComponent(runId)}`);
    const flakyBars = page.locator('[data-testid=gantt-row][data-task="flaky"] [data-testid=gantt-try]');
    await expect.poll(() => flakyBars.count(), { timeout: 10_000 }).toBe(2);
    expect(await flakyBars.first().getAttribute("class")).toContain("failed");
    expect(await flakyBars.last().getAttribute("class")).toContain("success");
    await screenshot(page, "08b-gantt-tries");
    await context.close();
  });

  it("marks a finished run failed from its page and shows the new state", async (ctx) => {
    const { context, page } = await loginPage(h, "operator");
    const run = await createRun(h.db.store.db, { dagId: "e2e_params", runType: "manual", logicalDate: null, conf: { count: 1 } });
    await waitFor("the run to succeed", async () => (await runState(h, "e2e_params", run.run_id)) === "success");
    const probe = await apiFromPage(page, "PATCH", `/api/v2/dags/e2e_params/dagRuns/${encodeURIComponent(run.run_id)}`, { state: "success" });
    if (probe.status === 404 && JSON.stringify(probe.body).includes('"Not Found"')) {
      console.log("e2e: PATCH /dagRuns/{run} is not served yet: the mark test skips");
      await context.close();
      return ctx.skip();
    }
    await page.goto(`${h.url}/dags/e2e_params/runs/${encodeURIComponent(run.run_id)}`);
    await page.locator('h1 [data-state="success"]').waitFor();
    await page.getByTestId("run-actions").getByTestId("mark-failed").click();
    await page.locator('h1 [data-state="failed"]').waitFor({ timeout: 10_000 });
    expect(await runState(h, "e2e_params", run.run_id)).toBe("failed");
    await context.close();
  });

  it("runs a backfill through the form after a dry-run preview", async (ctx) => {
    const { context, page } = await loginPage(h, "operator");
    const body = { dag_id: "e2e_daily", from_date: "2024-01-01T00:00:00Z", to_date: "2024-01-03T00:00:00Z" };
    const probe = await apiFromPage(page, "POST", "/api/v2/backfills/dry_run", body);
    if (probe.status === 404 && JSON.stringify(probe.body).includes('"Not Found"')) {
      console.log("e2e: POST /backfills/dry_run is not served yet: the backfill test skips");
      await context.close();
      return ctx.skip();
    }
    await page.goto(`${h.url}/dags/e2e_daily/backfill`);
    // datetime-local is the browser's local time: the page's zone is UTC under the test runner's TZ.
    const tzOffset = await page.evaluate(() => new Date("2024-01-01T00:00:00Z").getTimezoneOffset());
    const local = (iso: string) => new Date(new Date(iso).getTime() - tzOffset * 60_000).toISOString().slice(0, 16);
    await page.getByLabel("From (logical date)").fill(local(body.from_date));
    await page.getByLabel("To", { exact: true }).fill(local(body.to_date));
    await page.getByRole("button", { name: "Preview dates" }).click();
    const preview = page.getByTestId("backfill-preview");
    await preview.waitFor();
    const dates = await preview.locator("li").count();
    expect(dates).toBe((probe.body as { total_entries: number }).total_entries);
    expect(dates).toBeGreaterThanOrEqual(2);
    const backfillRuns = () => h.db.store.db.selectFrom("dag_runs").select("id").where("dag_id", "=", "e2e_daily").where("run_type", "=", "backfill").execute();
    expect(await backfillRuns()).toHaveLength(0); // a dry run creates nothing
    await screenshot(page, "09-backfill-preview");
    await page.getByTestId("confirm-backfill").click();
    await waitFor("the backfill's runs", async () => (await backfillRuns()).length === dates, 20_000);
    await expect.poll(() => page.getByTestId("backfill-progress").innerText(), { timeout: 10_000 }).toContain(`Backfill runs: ${dates}`);
    await screenshot(page, "10-backfill-progress");
    await context.close();
  });

  it("shows a viewer no action buttons, and the API refuses a viewer's action from the page (403)", async () => {
    const { context, page } = await loginPage(h, "viewer");
    await expect.poll(() => page.locator("tr[data-dag-id]").count()).toBeGreaterThanOrEqual(4);
    expect(await page.getByRole("switch").count()).toBe(0);
    await page.goto(`${h.url}/dags/e2e_params/grid`);
    await page.getByTestId("grid").waitFor();
    expect(await page.getByTestId("dag-actions").count()).toBe(0);
    expect(await page.getByRole("link", { name: "▶ Trigger" }).count()).toBe(0);
    const run = await createRun(h.db.store.db, { dagId: "e2e_params", runType: "manual", logicalDate: null, conf: {} });
    await waitFor("the viewer's run to finish", async () => ["success", "failed"].includes((await runState(h, "e2e_params", run.run_id)) ?? ""));
    await page.goto(`${h.url}/dags/e2e_params/runs/${run.run_id}/tasks/start`);
    await page.getByTestId("task-id").waitFor();
    await page.getByRole("heading", { name: /Log/ }).waitFor();
    expect(await page.getByTestId("ti-actions").count()).toBe(0);
    await page.goto(`${h.url}/dags/e2e_params/runs/${run.run_id}`);
    await page.getByTestId("run-tis").waitFor();
    expect(await page.getByTestId("run-actions").count()).toBe(0);
    await screenshot(page, "11-viewer-run-page");

    expect((await apiFromPage(page, "PATCH", "/api/v2/dags/e2e_params", { is_paused: true })).status).toBe(403);
    expect((await apiFromPage(page, "POST", "/api/v2/dags/e2e_params/dagRuns", { logical_date: null })).status).toBe(403);
    const dag = await h.db.store.db.selectFrom("dags").select("is_paused").where("dag_id", "=", "e2e_params").executeTakeFirstOrThrow();
    expect(dag.is_paused).toBe(false);
    await context.close();
  });

  it("renders script/HTML payloads in doc, params, task ids, logs and conf as text and runs none", async () => {
    const { context, page, errors } = await loginPage(h, "admin");
    const trigger = await apiFromPage(page, "POST", "/api/v2/dags/e2e_xss/dagRuns", { logical_date: null, conf: { payload: XSS, nested: { html: XSS } }, note: XSS });
    expect(trigger.status).toBe(200);
    const runId = (trigger.body as { dag_run_id: string }).dag_run_id;
    await waitFor("the xss run to finish", async () => ["success", "failed"].includes((await runState(h, "e2e_xss", runId)) ?? ""));

    const visits: { path: string; ready: (p: Page) => Promise<unknown>; expectText: string[] }[] = [
      { path: "/dags?search=xss", ready: (p) => p.locator("tr[data-dag-id=e2e_xss]").waitFor(), expectText: [`description ${XSS}`] },
      { path: "/dags/e2e_xss/details", ready: (p) => p.getByTestId("markdown").waitFor(), expectText: [XSS, `param description ${XSS}`] },
      { path: "/dags/e2e_xss/trigger", ready: (p) => p.getByTestId("trigger-form").waitFor(), expectText: [`param description ${XSS}`] },
      { path: "/dags/e2e_xss/grid", ready: (p) => p.locator('[data-task="constructor.-_"]').first().waitFor(), expectText: ["toString", "constructor.-_"] },
      { path: "/dags/e2e_xss/graph", ready: (p) => p.locator(".react-flow__node").first().waitFor(), expectText: ["toString"] },
      { path: `/dags/e2e_xss/runs/${runId}`, ready: (p) => p.getByTestId("run-tis").waitFor(), expectText: [XSS] },
      { path: `/dags/e2e_xss/runs/${runId}/tasks/toString`, ready: (p) => p.getByText(`log line ${XSS}`).waitFor(), expectText: [`log line ${XSS}`, `stdout ${XSS}`] },
      { path: "/dags/e2e_xss/code", ready: (p) => p.getByTestId("code").or(p.getByTestId("error-state")).first().waitFor(), expectText: [] },
    ];
    for (const visit of visits) {
      await page.goto(`${h.url}${visit.path}`);
      await visit.ready(page);
      await page.waitForTimeout(150); // let any injected handler (onerror) fire
      const text = await page.locator("main").innerText();
      for (const t of visit.expectText) expect(text, visit.path).toContain(t);
      expect(await page.locator('main img[src="x"], main script, main a[href^="javascript"]').count(), visit.path).toBe(0);
      expect(await xssFired(page), visit.path).toBe(false);
    }
    await page.goto(`${h.url}/dags/e2e_xss/details`);
    await page.getByTestId("markdown").waitFor();
    await screenshot(page, "12-xss-details");
    expect(errors).toEqual([]);
    await context.close();
  });

  it("serves the remaining pages with loading and error states, in light and dark themes", async () => {
    const { context, page, errors } = await loginPage(h, "admin", { dark: true });
    await screenshot(page, "13-dag-list-dark");
    for (const section of ["pools", "variables", "connections", "workers", "users", "audit"]) {
      await page.goto(`${h.url}/admin/${section}`);
      await page.getByTestId("admin-table").or(page.getByTestId("error-state")).or(page.getByText("Nothing here yet.")).first().waitFor();
      await screenshot(page, `14-admin-${section}`);
    }
    // Workers come from /ui/workers: the test's worker is listed as alive.
    await page.goto(`${h.url}/admin/workers`);
    await page.getByTestId("admin-table").waitFor();
    expect(await page.getByTestId("admin-table").locator("tbody tr").count()).toBe(1);
    await page.goto(`${h.url}/importErrors`);
    await page.getByRole("heading", { name: "Import errors" }).waitFor();
    await page.goto(`${h.url}/dags/no_such_dag/grid`);
    await page.getByTestId("error-state").first().waitFor();
    expect(await page.getByTestId("error-state").first().innerText()).toContain("no_such_dag");
    await screenshot(page, "15-missing-dag-error");
    expect(errors).toEqual([]);
    await context.close();

    // The login page itself.
    const anon = await h.browser.newContext({ viewport: { width: 1280, height: 860 } });
    const login = await anon.newPage();
    await login.goto(`${h.url}/`);
    await login.getByRole("button", { name: "Log in" }).waitFor();
    await screenshot(login, "00-login");
    await login.getByLabel("Username").fill("admin");
    await login.getByLabel("Password").fill("wrong");
    await login.getByRole("button", { name: "Log in" }).click();
    await login.getByText("Wrong username or password.").waitFor();
    await anon.close();
  });
});
