// Admin pages and the grid's groups in a real browser (issue 6 items 3, 4 and 6): an admin creates
// and edits a pool and a variable through the forms (API validation shown), every admin page lists
// real data, a connection's password never reaches the page, a viewer gets no forms; the grid shows
// task groups (collapsible, kept in the URL) and mapped tasks' counts; the TI page says why a TI
// waits. Screenshots in light and dark themes under e2e/screenshots/.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRun } from "../engine/store/runs/createRun.js";
import { waitFor, waitForRunEnd } from "../test/helpers/engine.js";
import { RUN_E2E } from "./browser.js";
import { apiFromPage, loginPage, screenshot, startHarness, type Harness } from "./harness.js";

const DAGS = {
  "e2e_groups.ts": `
import { dag } from "updraft";
export default dag({ id: "e2e_groups", schedule: null }, (d) => {
  const list = d.task("list", () => [1, 2, 3, 4]);
  const work = d.group("work", (g) => {
    const each = g.map("each", list, (ctx, x) => {
      if (x === 3) throw new Error("three fails");
      return x;
    });
    g.group("inner", (h) => {
      h.task("c", [each], () => 1, { triggerRule: "all_done" });
    });
  });
  const end = d.task("end", () => 1);
  work.before(end);
});`,
  // Its task is on a queue no worker listens on: it stays queued, and the TI page says why.
  "e2e_waiting.ts": `
import { dag } from "updraft";
export default dag({ id: "e2e_waiting", schedule: null }, (d) => {
  d.task("stuck", () => 1, { queue: "nowhere" });
});`,
};

const PASSWORD = "s3cret-connection-pw-e2e";

describe.skipIf(!RUN_E2E)("admin pages, grid groups and waiting reasons (Chromium)", () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness(DAGS);
    await waitFor("the DAGs to be loaded", async () => (await h.db.store.db.selectFrom("dags").select("dag_id").execute()).length >= 2 || null);
  });
  afterAll(async () => {
    await h?.stop();
  });

  it("admin: pools and variables through the forms, every admin page with real data, no connection password", async () => {
    const { context, page, errors } = await loginPage(h, "admin");
    await page.goto(`${h.url}/admin/pools`);
    const table = page.getByTestId("admin-table");
    await table.getByText("default_pool").waitFor();

    // A bad slot count: the API's 422 is shown, nothing is stored.
    await page.getByTestId("new-pool").click();
    const poolForm = page.getByTestId("pool-form");
    await poolForm.getByLabel("Name").fill("e2e_pool");
    await poolForm.getByLabel("Slots").fill("many");
    await poolForm.getByRole("button", { name: "Save" }).click();
    await expect.poll(() => poolForm.getByRole("alert").innerText()).toMatch(/slots/);
    expect(await h.db.store.db.selectFrom("pools").select("name").where("name", "=", "e2e_pool").execute()).toEqual([]);
    await poolForm.getByLabel("Slots").fill("3");
    await poolForm.getByLabel("Description").fill("made in the browser");
    await poolForm.getByRole("button", { name: "Save" }).click();
    const poolRow = table.locator("tr", { hasText: "e2e_pool" });
    await expect.poll(() => poolRow.innerText()).toMatch(/e2e_pool\s+3\s+0\s+0\s+3\s+made in the browser/);
    // A duplicate name: 409 shown.
    await page.getByTestId("new-pool").click();
    await poolForm.getByLabel("Name").fill("e2e_pool");
    await poolForm.getByLabel("Slots").fill("1");
    await poolForm.getByRole("button", { name: "Save" }).click();
    await expect.poll(() => poolForm.getByRole("alert").innerText()).toMatch(/already exists/);
    await poolForm.getByRole("button", { name: "Cancel" }).click();
    // Edit: more slots.
    await page.getByRole("button", { name: "Edit pool e2e_pool" }).click();
    await poolForm.getByLabel("Slots").fill("5");
    await poolForm.getByRole("button", { name: "Save" }).click();
    await expect.poll(() => poolRow.innerText()).toMatch(/e2e_pool\s+5\s/);
    expect(await h.db.store.db.selectFrom("pools").select("slots").where("name", "=", "e2e_pool").executeTakeFirst()).toEqual({ slots: 5 });
    expect(await page.getByRole("button", { name: "Delete pool default_pool" }).count()).toBe(0);
    await screenshot(page, "admin-pools");

    // Variables: create, list, delete in two clicks.
    await page.goto(`${h.url}/admin/variables`);
    await page.getByTestId("new-variable").click();
    const varForm = page.getByTestId("variable-form");
    await varForm.getByLabel("Key").fill("e2e_var");
    await varForm.getByLabel("Value").fill("hello from the form");
    await varForm.getByLabel("Description").fill("a variable");
    await varForm.getByRole("button", { name: "Save" }).click();
    await page.getByTestId("admin-table").locator("tr", { hasText: "e2e_var" }).waitFor();
    expect(await page.getByTestId("admin-table").locator("tr", { hasText: "e2e_var" }).innerText()).toMatch(/e2e_var\s+hello from the form\s+a variable/);
    await page.getByTestId("new-variable").click();
    await varForm.getByLabel("Key").fill("to_delete");
    await varForm.getByRole("button", { name: "Save" }).click();
    await page.getByTestId("admin-table").locator("tr", { hasText: "to_delete" }).waitFor();
    await screenshot(page, "admin-variables");
    await page.getByRole("button", { name: "Delete variable to_delete" }).click();
    await page.getByRole("button", { name: "Confirm delete variable to_delete" }).click();
    await expect.poll(() => page.getByTestId("admin-table").locator("tr", { hasText: "to_delete" }).count()).toBe(0);
    expect((await h.db.store.db.selectFrom("variables").select("key").orderBy("key").execute()).map((v) => v.key)).toEqual(["e2e_var"]);

    // A connection with a password and a secret in its extra: listed, neither shown.
    const created = await apiFromPage(page, "POST", "/api/v2/connections", {
      connection_id: "e2e_conn",
      conn_type: "postgres",
      host: "db.example",
      port: 5432,
      login: "etl",
      password: PASSWORD,
      extra: JSON.stringify({ api_token: `${PASSWORD}-token` }),
    });
    expect(created.status).toBe(201);
    await page.goto(`${h.url}/admin/connections`);
    const connRow = page.getByTestId("admin-table").locator("tr", { hasText: "e2e_conn" });
    expect(await connRow.innerText()).toMatch(/e2e_conn\s+postgres\s+db\.example:5432\s+etl/);
    expect(await page.content()).not.toContain(PASSWORD);
    await screenshot(page, "admin-connections");

    // The read-only pages list what the server has.
    await page.goto(`${h.url}/admin/workers`);
    const worker = page.getByTestId("admin-table").locator("tbody tr").first();
    await worker.waitFor();
    expect(await worker.innerText()).toMatch(/default\s+\d+ \/ 4/);
    await page.goto(`${h.url}/admin/users`);
    await page.getByTestId("admin-table").waitFor();
    expect(await page.getByTestId("admin-table").locator("tbody tr td:first-child").allInnerTexts()).toEqual(expect.arrayContaining(["admin", "operator", "viewer"]));
    await page.goto(`${h.url}/admin/audit`);
    await page.getByTestId("admin-table").waitFor();
    await expect.poll(() => page.getByTestId("admin-table").innerText()).toMatch(/admin/);
    await screenshot(page, "admin-audit");
    expect(errors).toEqual([]);
    await context.close();

    const dark = await loginPage(h, "admin", { dark: true });
    await dark.page.goto(`${h.url}/admin/pools`);
    await dark.page.getByTestId("admin-table").getByText("e2e_pool").waitFor();
    await dark.page.getByTestId("new-pool").click();
    await dark.page.getByTestId("pool-form").getByLabel("Name").fill("dark_pool");
    await dark.page.getByTestId("pool-form").getByLabel("Slots").fill("-1");
    await dark.page.getByTestId("pool-form").getByRole("button", { name: "Save" }).click();
    await dark.page.getByTestId("pool-form").getByRole("alert").waitFor();
    await screenshot(dark.page, "admin-pools-dark");
    await dark.context.close();
  });

  it("viewer: pools read-only, no variables or connections links, the API refuses a write from the page", async () => {
    const { context, page, errors } = await loginPage(h, "viewer");
    await page.goto(`${h.url}/admin/pools`);
    await page.getByTestId("admin-table").getByText("default_pool").waitFor();
    expect(await page.getByTestId("new-pool").count()).toBe(0);
    expect(await page.getByRole("button", { name: /^Edit pool/ }).count()).toBe(0);
    expect(await page.getByRole("navigation", { name: "main" }).getByRole("link", { name: "Variables" }).count()).toBe(0);
    expect((await apiFromPage(page, "POST", "/api/v2/pools", { name: "viewer_pool", slots: 1 })).status).toBe(403);
    expect(errors).toEqual([]);
    await context.close();
  });

  it("grid: a task group collapses and expands (in the URL), a mapped cell counts its TIs by state", async () => {
    const run = await createRun(h.db.store.db, { dagId: "e2e_groups", runType: "manual", logicalDate: null });
    await waitForRunEnd(h.db.store, run.id, 30_000);
    for (const dark of [false, true]) {
      const { context, page, errors } = await loginPage(h, "viewer", { dark });
      await page.goto(`${h.url}/dags/e2e_groups/grid`);
      const mapped = page.locator(`[data-task="work.each"][data-run="${run.run_id}"]`);
      await mapped.waitFor();
      expect(await mapped.getAttribute("data-mapped")).toBe("3 success, 1 failed");
      expect(await mapped.innerText()).toBe("4");
      expect(await page.locator(`[data-group="work"][data-run="${run.run_id}"]`).getAttribute("data-state")).toBe("failed");
      expect(await page.locator(`[data-group="work.inner"][data-run="${run.run_id}"]`).getAttribute("data-state")).toBe("success");
      await screenshot(page, `grid-groups${dark ? "-dark" : ""}`);
      if (!dark) {
        await page.getByRole("button", { name: /work$/ }).click();
        await page.waitForURL(/collapsed=work/);
        await expect.poll(() => mapped.count()).toBe(0);
        expect(await page.locator(`[data-task="end"]`).count()).toBe(1);
        await screenshot(page, "grid-groups-collapsed");
        // The URL is shareable: opened afresh, the group is still collapsed; a click expands it.
        await page.reload();
        await page.locator(`[data-task="end"]`).waitFor();
        expect(await mapped.count()).toBe(0);
        await page.getByRole("button", { name: /work$/ }).click();
        await mapped.waitFor();
        expect(new URL(page.url()).searchParams.get("collapsed")).toBeNull();
        // A mapped cell opens its first mapped TI, which links to the others; [2] (item 3) failed.
        await mapped.click();
        await page.waitForURL(/\/tasks\/work\.each\?map_index=0$/);
        const chips = page.getByTestId("mapped-instances").getByRole("link");
        await expect.poll(() => chips.allInnerTexts()).toEqual(["0", "1", "2", "3"]);
        await chips.nth(2).click();
        await page.waitForURL(/map_index=2$/);
        await expect.poll(() => page.getByTestId("log").innerText(), { timeout: 10_000 }).toContain("three fails");
        expect(await page.locator("h1").innerText()).toMatch(/work\.each\s*\[2\]\s*failed/);
        await screenshot(page, "task-mapped-instance");
      }
      expect(errors).toEqual([]);
      await context.close();
    }
  });

  it("task-instance page: says why a queued TI waits (no worker on its queue)", async () => {
    const run = await createRun(h.db.store.db, { dagId: "e2e_waiting", runType: "manual", logicalDate: null });
    const { context, page, errors } = await loginPage(h, "viewer");
    await page.goto(`${h.url}/dags/e2e_waiting/runs/${encodeURIComponent(run.run_id)}/tasks/stuck`);
    await expect.poll(() => page.getByTestId("waiting-reason").innerText()).toContain('Queued on queue "nowhere", but no live worker listens on it.');
    await screenshot(page, "task-waiting-reason");
    expect(errors).toEqual([]);
    await context.close();
  });
});
