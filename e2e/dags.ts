// The DAG files the browser tests load. `e2e_xss` carries script/HTML payloads in every place a
// DAG author or a run's caller controls text; the UI must show them as text and run none.
export const XSS = `<img src=x onerror="window.__xss=1"><script>window.__xss=1</script>`;

export const DAG_FILES: Record<string, string> = {
  "e2e_params.ts": `
import { dag } from "updraft";
export default dag(
  {
    id: "e2e_params",
    schedule: null,
    params: {
      city: { type: "string", default: "Oslo", description: "City to greet" },
      count: { type: "integer", default: 3, minimum: 1, maximum: 5, description: "How many ticks" },
    },
    tags: ["e2e"],
    doc: "# Params demo\\nTicks **count** times.",
  },
  (d) => {
    const start = d.task("start", (ctx) => String(ctx.params.city));
    const ticks = d.task("ticks", [start], async (ctx, city) => {
      for (let i = 1; i <= Number(ctx.params.count) * 4; i++) {
        ctx.log.info("tick " + i + " for " + city);
        await new Promise((r) => setTimeout(r, 500));
      }
      return city;
    });
    d.task("done", [ticks], (ctx, city) => "done " + city);
  },
);`,
  "e2e_flaky.ts": `
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { dag } from "updraft";
export default dag({ id: "e2e_flaky", schedule: null, tags: ["e2e"] }, (d) => {
  const first = d.task("first", () => 1);
  // Fails on its first run in each run, succeeds when run again (after a clear).
  const flaky = d.task("flaky", [first], (ctx) => {
    const marker = path.join(os.tmpdir(), "updraft-e2e-flaky-" + ctx.runId.replace(/[^A-Za-z0-9]/g, "_"));
    if (!fs.existsSync(marker)) {
      fs.writeFileSync(marker, "1");
      throw new Error("first attempt fails on purpose");
    }
    return "recovered";
  });
  d.task("after", [flaky], () => "after");
});`,
  "e2e_daily.ts": `
import { dag } from "updraft";
export default dag({ id: "e2e_daily", schedule: "@daily", start: "2024-01-01", catchup: false, tags: ["e2e", "daily"] }, (d) => {
  d.task("only", (ctx) => ctx.ds);
});`,
  "e2e_xss.ts": `
import { dag } from "updraft";
const XSS = ${JSON.stringify(XSS)};
export default dag(
  {
    id: "e2e_xss",
    schedule: null,
    description: "description " + XSS,
    doc: "# Doc\\n\\n" + XSS + "\\n\\n<a href=\\"javascript:window.__xss=1\\">click</a> [md link](javascript:window.__xss=1)",
    params: { payload: { type: "string", default: XSS, description: "param description " + XSS } },
    tags: ["e2e"],
  },
  (d) => {
    // Task ids are [A-Za-z0-9_.-]+: names that collide with JavaScript object members instead.
    const a = d.task("toString", (ctx) => {
      ctx.log.info("log line " + XSS);
      console.log("stdout " + XSS);
      return { html: XSS };
    });
    d.task("constructor.-_", [a], (ctx, v) => v);
  },
);`,
};
