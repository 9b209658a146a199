// Run metrics in the browser (issue 7 item 5): what tasks log with ctx.metrics.log shows as a table on
// the run page and as a line chart across runs on the DAG page's Metrics tab.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRun } from "../engine/store/runs/createRun.js";
import { waitFor, waitForRunEnd } from "../test/helpers/engine.js";
import { RUN_E2E } from "./browser.js";
import { loginPage, screenshot, startHarness, type Harness } from "./harness.js";

const DAGS = {
  "e2e_metrics.ts": `
import { dag } from "updraft";
export default dag({ id: "e2e_metrics", schedule: null, params: { acc: { type: "number", default: 0.5 } } }, (d) => {
  d.task("train", (ctx) => {
    ctx.metrics.log("accuracy", Number(ctx.params.acc));
    ctx.metrics.log("loss", 1 - Number(ctx.params.acc));
    return "ok";
  });
});`,
};

describe.skipIf(!RUN_E2E)("run metrics in the UI (Chromium)", () => {
  let h: Harness;
  const runIds: string[] = [];

  beforeAll(async () => {
    h = await startHarness(DAGS);
    await waitFor("the DAG to be loaded", () => h.db.store.db.selectFrom("dags").select("dag_id").where("dag_id", "=", "e2e_metrics").executeTakeFirst());
    for (const [i, acc] of [0.61, 0.72, 0.68].entries()) {
      const run = await createRun(h.db.store.db, { dagId: "e2e_metrics", runType: "manual", logicalDate: new Date(Date.UTC(2024, 0, i + 1)), conf: { acc } });
      expect(await waitForRunEnd(h.db.store, run.id)).toBe("success");
      runIds.push(run.run_id);
    }
  });
  afterAll(async () => {
    await h?.stop();
  });

  it("lists a run's metrics on its page and charts a metric across runs on the DAG page", async () => {
    const { context, page, errors } = await loginPage(h, "viewer");
    await page.goto(`${h.url}/dags/e2e_metrics/runs/${encodeURIComponent(runIds[1]!)}`);
    const table = page.getByTestId("run-metrics");
    await table.waitFor();
    expect(await table.locator("tbody tr").allInnerTexts()).toEqual([expect.stringMatching(/train\s+accuracy\s+0\.72/), expect.stringMatching(/train\s+loss\s+0\.28/)]);

    await page.goto(`${h.url}/dags/e2e_metrics/metrics`);
    const chart = page.getByTestId("metrics-chart");
    await chart.waitFor();
    // accuracy is chosen first; one point per run, oldest first.
    expect(await chart.getByLabel("metric").inputValue()).toBe("accuracy");
    expect(await chart.locator("circle title").allTextContents()).toEqual(runIds.map((r, i) => `train · ${r}: ${["0.61", "0.72", "0.68"][i]}`));
    await screenshot(page, "metrics-chart");
    await chart.getByLabel("metric").selectOption("loss");
    await expect.poll(() => chart.locator("circle title").first().textContent()).toContain(": 0.39");
    expect(errors).toEqual([]);
    await context.close();
  });
});
