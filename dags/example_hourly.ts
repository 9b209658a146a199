// A cron-scheduled DAG: every 15 minutes, each run covers the 15-minute interval that just ended
// (Airflow 2 data intervals: the run for [start, end) is created at `end`).
import { dag } from "updraft";

export default dag(
  {
    id: "example_cron",
    schedule: "*/15 * * * *",
    start: "2024-01-01T00:00:00Z",
    catchup: false,
    tags: ["example"],
    description: "Counts the minutes of each quarter hour",
  },
  (d) => {
    const window = d.task("window", (ctx) => ({
      from: ctx.dataIntervalStart?.toISOString() ?? null,
      to: ctx.dataIntervalEnd?.toISOString() ?? null,
    }));
    const minutes = d.task("minutes", [window], (ctx, w) => {
      const ms = w.from && w.to ? Date.parse(w.to) - Date.parse(w.from) : 0;
      ctx.log.info(`interval ${w.from} → ${w.to}`);
      return ms / 60_000;
    });
    const touch = d.shell("touch", "date -u +%FT%TZ");
    d.chain(minutes, touch);
  },
);
