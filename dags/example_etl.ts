// A small ETL: typed data flows from extract to transform to load; a shell task reports.
// Trigger it with `updraft dags trigger example_etl --conf '{"city":"Paris"}'`.
import { dag } from "updraft";

interface Reading {
  city: string;
  hour: number;
  celsius: number;
}

export default dag(
  {
    id: "example_etl",
    schedule: null,
    start: "2024-01-01",
    params: { city: { type: "string", default: "Seattle", description: "City to report on" } },
    defaults: { retries: 1, retryDelay: "2s", timeout: "1m" },
    tags: ["example", "etl"],
    doc: "Extracts hourly readings, converts them, and summarises the day.",
  },
  (d) => {
    const extract = d.task("extract", async (ctx): Promise<Reading[]> => {
      const city = String(ctx.conf.city ?? ctx.params.city);
      ctx.log.info(`extracting readings for ${city} on ${ctx.ds}`);
      return Array.from({ length: 24 }, (_, hour) => ({ city, hour, celsius: Math.round(10 + 8 * Math.sin((hour - 8) / 4)) }));
    });

    const transform = d.task("transform", [extract], (ctx, readings) => {
      const fahrenheit = readings.map((r) => ({ ...r, fahrenheit: r.celsius * 1.8 + 32 }));
      console.log(`converted ${fahrenheit.length} readings`);
      return fahrenheit;
    });

    const load = d.task("load", [transform], (ctx, rows) => {
      const max = Math.max(...rows.map((r) => r.fahrenheit));
      const min = Math.min(...rows.map((r) => r.fahrenheit));
      return { city: rows[0]?.city ?? "", rows: rows.length, minF: min, maxF: max };
    });

    const report = d.shell("report", (ctx) => `echo "report for ${ctx.dagId} on ${ctx.ds}" && echo done`);
    load.before(report);
  },
);
