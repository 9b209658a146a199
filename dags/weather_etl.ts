// Seattle's daily weather into the data lake: extract the day's rows of vega-datasets'
// seattle-weather.csv, validate them, derive features, load an idempotent Parquet partition
// `$UPDRAFT_HOME/lake/weather/date=YYYY-MM-DD/` (DuckDB), and refresh the month's warehouse table.
// One run per day of 2012–2015: the catchup walks the four years, eight days at a time.
import { dag, type DagSpec } from "updraft";
import { buildMonthlyAggregate, extractDay, transformDay, validateDay, writePartition } from "./lib/weather.js";

/** The DAG, with spec overrides for tests (e.g. `{ schedule: null }`: runs only when created). */
export function weatherEtl(overrides: Partial<DagSpec> = {}) {
  return dag(
    {
      id: "weather_etl",
      schedule: "@daily",
      start: "2012-01-01",
      end: "2015-12-31",
      catchup: true,
      maxActiveRuns: 8,
      defaults: { retries: 1, retryDelay: "5s", timeout: "2m" },
      tags: ["example", "etl", "lake"],
      description: "Seattle weather → validated features → Parquet partitions in the lake",
      doc: [
        "Daily ETL of `seattle-weather.csv` (from the `vega-datasets` package) into the lake.",
        "",
        "- **extract**: the day's rows, and the 6 days before it for the rolling precipitation",
        "- **validate**: schema and ranges; a bad row fails the task naming its line",
        "- **transform**: temperature range and mean, 7-day precipitation, month",
        "- **load**: `lake/weather/date=YYYY-MM-DD/part-0.parquet`, replaced on a re-run",
        "- **monthly_aggregate**: DuckDB SQL over the month's partitions → `lake/warehouse/weather_monthly/month=YYYY-MM/`",
      ].join("\n"),
      ...overrides,
    },
    (d) => {
      const extract = d.task("extract", (ctx) => {
        const rows = extractDay(ctx.ds);
        ctx.log.info(`${rows.day.length} row(s) for ${ctx.ds}, ${rows.history.length} earlier row(s) for the rolling window`);
        return rows;
      });
      const validate = d.task(
        "validate",
        [extract],
        (ctx, rows) => {
          const valid = validateDay(ctx.ds, rows);
          for (const problem of valid.skippedHistory) ctx.log.warn(`left out of the rolling window: ${problem}`);
          return valid;
        },
        // A bad row stays bad: fail at once, without retrying.
        { retries: 0 },
      );
      const transform = d.task("transform", [validate], (_ctx, valid) => transformDay(valid.day, valid.history));
      const load = d.task("load", [transform], async (ctx, rows) => {
        const written = await writePartition(ctx.ds, rows);
        ctx.log.info(`wrote ${written.rows} row(s) to ${written.path}`);
        return written;
      });
      // One at a time across runs (maxActiveTisPerDag: 1): each starts after its own day's load, so
      // the month's last aggregate to run has read every loaded day — no run overwrites a fuller
      // table with an older read. (dependsOnPast would also order them, but one failed day would
      // then hold every later run, stalling the catchup.)
      const monthly = d.task("monthly_aggregate", async (ctx) => buildMonthlyAggregate(ctx.ds.slice(0, 7)), { maxActiveTisPerDag: 1 });
      load.before(monthly);
    },
  );
}

export default weatherEtl();
