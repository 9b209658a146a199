// Schedules and data intervals with Airflow 2 semantics: the run for [start, end) is due at `end`
// and its logical date is `start`; without catchup only the latest complete interval is run.
import { describe, expect, it } from "vitest";
import { cronPoints, nextDataInterval, serializeSchedule, timetableFor, type DataInterval, type NextRunInput } from "../../engine/semantics/schedule.js";
import type { Schedule } from "../../engine/authoring/types.js";

const d = (iso: string) => new Date(iso);

function next(
  schedule: Schedule,
  opts: { now: string; start?: string; end?: string; catchup?: boolean; last?: string; hasRun?: boolean; timezone?: string },
): { start: string; end: string } | null {
  const input: NextRunInput = {
    schedule: serializeSchedule(schedule, opts.timezone ?? "UTC")!,
    start: opts.start ? d(opts.start) : null,
    end: opts.end ? d(opts.end) : null,
    catchup: opts.catchup ?? false,
    lastIntervalEnd: opts.last ? d(opts.last) : null,
    hasScheduledRun: opts.hasRun ?? Boolean(opts.last),
    now: d(opts.now),
  };
  return iso(nextDataInterval(input));
}

const iso = (i: DataInterval | null) => (i ? { start: i.start.toISOString(), end: i.end.toISOString() } : null);

/** Successive intervals of a catchup run, as the scheduler walks them. */
function walk(schedule: Schedule, timezone: string, from: string, count: number): { start: string; end: string }[] {
  const out: { start: string; end: string }[] = [];
  let last = from;
  for (let i = 0; i < count; i++) {
    const interval = next(schedule, { now: "2100-01-01T00:00:00Z", start: from, catchup: true, last, timezone })!;
    out.push(interval);
    last = interval.end;
  }
  return out;
}

const hours = (i: { start: string; end: string }) => (Date.parse(i.end) - Date.parse(i.start)) / 3_600_000;

describe("serializeSchedule", () => {
  it.each([
    ["@hourly", "0 * * * *"],
    ["@daily", "0 0 * * *"],
    ["@weekly", "0 0 * * 0"],
    ["@monthly", "0 0 1 * *"],
    ["@yearly", "0 0 1 1 *"],
    ["*/5 * * * *", "*/5 * * * *"],
  ])("%s is the cron %s", (schedule, expr) => {
    expect(serializeSchedule(schedule)).toEqual({ kind: "cron", expr, summary: schedule, timezone: "UTC" });
  });

  it("keeps {every} as a period and @once as once; null means manual only", () => {
    expect(serializeSchedule({ every: "15m" })).toMatchObject({ kind: "every", expr: "900000", summary: "every 15m" });
    expect(serializeSchedule("@once")).toMatchObject({ kind: "once" });
    expect(serializeSchedule(null)).toBeNull();
    expect(serializeSchedule(undefined)).toBeNull();
  });

  it.each<[Schedule, string, RegExp]>([
    ["@fortnightly", "UTC", /"@fortnightly" is not a known preset/],
    ["61 * * * *", "UTC", /"61 \* \* \* \*" is not a valid cron expression/],
    ["not a cron", "UTC", /is not a valid cron expression/],
    [{ every: "0s" }, "UTC", /schedule.every must be positive/],
    [{ every: "soon" as never }, "UTC", /schedule.every: "soon" is not a duration/],
    ["@daily", "Mars/Olympus", /timezone "Mars\/Olympus" is not an IANA time zone name/],
  ])("rejects %j (tz %s) with a clear message", (schedule, tz, message) => {
    expect(() => serializeSchedule(schedule, tz)).toThrow(message);
  });
});

describe("presets, without catchup: the latest complete interval", () => {
  const now = "2024-05-15T10:20:00Z"; // a Wednesday
  it.each<[Schedule, string, string]>([
    ["@hourly", "2024-05-15T09:00:00.000Z", "2024-05-15T10:00:00.000Z"],
    ["@daily", "2024-05-14T00:00:00.000Z", "2024-05-15T00:00:00.000Z"],
    ["@weekly", "2024-05-05T00:00:00.000Z", "2024-05-12T00:00:00.000Z"],
    ["@monthly", "2024-04-01T00:00:00.000Z", "2024-05-01T00:00:00.000Z"],
    ["@yearly", "2023-01-01T00:00:00.000Z", "2024-01-01T00:00:00.000Z"],
    ["30 6 * * 1-5", "2024-05-14T06:30:00.000Z", "2024-05-15T06:30:00.000Z"],
    ["*/15 * * * *", "2024-05-15T10:00:00.000Z", "2024-05-15T10:15:00.000Z"],
  ])("%s → [%s, %s)", (schedule, start, end) => {
    expect(next(schedule, { now, start: "2020-01-01" })).toEqual({ start, end });
  });

  it("counts an interval ending exactly now as complete", () => {
    expect(next("@daily", { now: "2024-05-15T00:00:00Z", start: "2020-01-01" })).toEqual({ start: "2024-05-14T00:00:00.000Z", end: "2024-05-15T00:00:00.000Z" });
  });

  it("weekday cron skips the weekend: Monday's run covers Friday to Monday", () => {
    expect(next("30 6 * * 1-5", { now: "2024-05-13T12:00:00Z", start: "2020-01-01" })).toEqual({
      start: "2024-05-10T06:30:00.000Z",
      end: "2024-05-13T06:30:00.000Z",
    });
  });
});

describe("catchup", () => {
  it("true: starts at the first interval at or after start and walks every interval, however old", () => {
    expect(next("@daily", { now: "2024-05-15T10:00:00Z", start: "2024-01-01", catchup: true })).toEqual({
      start: "2024-01-01T00:00:00.000Z",
      end: "2024-01-02T00:00:00.000Z",
    });
    expect(next("@daily", { now: "2024-05-15T10:00:00Z", start: "2024-01-01", catchup: true, last: "2024-01-05T00:00:00Z" })).toEqual({
      start: "2024-01-05T00:00:00.000Z",
      end: "2024-01-06T00:00:00.000Z",
    });
  });

  it("true: a start between schedule points is aligned to the next point", () => {
    expect(next("@daily", { now: "2024-05-15T10:00:00Z", start: "2024-01-01T12:00:00Z", catchup: true })).toEqual({
      start: "2024-01-02T00:00:00.000Z",
      end: "2024-01-03T00:00:00.000Z",
    });
  });

  it("false: skips the missed intervals to the latest complete one", () => {
    expect(next("@daily", { now: "2024-05-15T10:00:00Z", start: "2024-01-01", last: "2024-01-05T00:00:00Z" })).toEqual({
      start: "2024-05-14T00:00:00.000Z",
      end: "2024-05-15T00:00:00.000Z",
    });
  });

  it("false: once the latest complete interval ran, the next is the current one, due when it ends", () => {
    expect(next("@daily", { now: "2024-05-15T10:00:00Z", start: "2024-01-01", last: "2024-05-15T00:00:00Z" })).toEqual({
      start: "2024-05-15T00:00:00.000Z",
      end: "2024-05-16T00:00:00.000Z",
    });
  });

  it("false: never schedules before start — a start after the latest complete interval waits for its own", () => {
    expect(next("@yearly", { now: "2024-05-15T10:00:00Z", start: "2024-01-01" })).toEqual({
      start: "2024-01-01T00:00:00.000Z",
      end: "2025-01-01T00:00:00.000Z",
    });
    expect(next("@daily", { now: "2024-05-15T10:00:00Z", start: "2024-05-20T00:00:00Z" })).toEqual({
      start: "2024-05-20T00:00:00.000Z",
      end: "2024-05-21T00:00:00.000Z",
    });
  });
});

describe("end", () => {
  it("schedules an interval starting at or before end, and none after", () => {
    const base = { now: "2024-05-15T10:00:00Z", start: "2024-01-01", end: "2024-01-03T00:00:00Z", catchup: true };
    expect(next("@daily", { ...base, last: "2024-01-02T00:00:00Z" })).toEqual({ start: "2024-01-02T00:00:00.000Z", end: "2024-01-03T00:00:00.000Z" });
    expect(next("@daily", { ...base, last: "2024-01-03T00:00:00Z" })).toEqual({ start: "2024-01-03T00:00:00.000Z", end: "2024-01-04T00:00:00.000Z" });
    expect(next("@daily", { ...base, last: "2024-01-04T00:00:00Z" })).toBeNull();
  });

  it("applies without catchup too", () => {
    expect(next("@daily", { now: "2024-05-15T10:00:00Z", start: "2024-01-01", end: "2024-02-01T00:00:00Z" })).toBeNull();
  });
});

describe("{ every }", () => {
  it("anchors intervals on start", () => {
    expect(next({ every: "15m" }, { now: "2024-05-15T10:00:00Z", start: "2024-05-15T00:07:00Z", catchup: true })).toEqual({
      start: "2024-05-15T00:07:00.000Z",
      end: "2024-05-15T00:22:00.000Z",
    });
    expect(next({ every: "15m" }, { now: "2024-05-15T10:00:00Z", start: "2024-05-15T00:07:00Z", catchup: true, last: "2024-05-15T00:22:00Z" })).toEqual({
      start: "2024-05-15T00:22:00.000Z",
      end: "2024-05-15T00:37:00.000Z",
    });
  });

  it("without catchup, runs the latest complete period", () => {
    // 00:07 + 39 × 15 min = 09:52, the last period end at or before 10:00.
    expect(next({ every: "15m" }, { now: "2024-05-15T10:00:00Z", start: "2024-05-15T00:07:00Z" })).toEqual({
      start: "2024-05-15T09:37:00.000Z",
      end: "2024-05-15T09:52:00.000Z",
    });
  });

  it("is real elapsed time, unaffected by DST", () => {
    const intervals = walk({ every: "6h" }, "America/New_York", "2024-03-09T00:00:00Z", 8);
    expect(intervals.map(hours)).toEqual([6, 6, 6, 6, 6, 6, 6, 6]);
  });
});

describe("@once", () => {
  it("runs once, at start", () => {
    expect(next("@once", { now: "2024-05-15T10:00:00Z", start: "2024-05-01T00:00:00Z" })).toEqual({
      start: "2024-05-01T00:00:00.000Z",
      end: "2024-05-01T00:00:00.000Z",
    });
    expect(next("@once", { now: "2024-05-15T10:00:00Z", start: "2024-05-01T00:00:00Z", hasRun: true })).toBeNull();
  });

  it("needs a start, and respects end", () => {
    expect(next("@once", { now: "2024-05-15T10:00:00Z" })).toBeNull();
    expect(next("@once", { now: "2024-05-15T10:00:00Z", start: "2024-05-01T00:00:00Z", end: "2024-04-01T00:00:00Z" })).toBeNull();
  });
});

describe("time zones", () => {
  it("places a daily schedule at local midnight", () => {
    expect(next("@daily", { now: "2024-05-15T10:00:00Z", start: "2024-01-01", timezone: "Europe/Berlin" })).toEqual({
      start: "2024-05-13T22:00:00.000Z",
      end: "2024-05-14T22:00:00.000Z",
    });
  });
});

// DST in America/New_York: 2024-03-10 02:00 EST → 03:00 EDT (02:xx does not exist),
// 2024-11-03 02:00 EDT → 01:00 EST (01:xx happens twice). Airflow (CronMixin + make_aware with
// fold=1) runs a fixed-time schedule once per local day: a time in the gap moves forward by the
// gap, a repeated time runs at its second occurrence. Hourly schedules follow real hours.
describe("DST, America/New_York", () => {
  const tz = "America/New_York";

  it("0 2 * * * on spring-forward day: runs at 03:00 EDT, a 24 h then a 23 h interval", () => {
    const intervals = walk("0 2 * * *", tz, "2024-03-08T07:00:00Z", 3);
    expect(intervals).toEqual([
      { start: "2024-03-08T07:00:00.000Z", end: "2024-03-09T07:00:00.000Z" }, // 02:00 EST → 02:00 EST
      { start: "2024-03-09T07:00:00.000Z", end: "2024-03-10T07:00:00.000Z" }, // → 03:00 EDT (02:00 does not exist)
      { start: "2024-03-10T07:00:00.000Z", end: "2024-03-11T06:00:00.000Z" }, // → 02:00 EDT
    ]);
    expect(intervals.map(hours)).toEqual([24, 24, 23]);
  });

  it("0 2 * * * on fall-back day: 02:00 happens once (EST), a 25 h interval", () => {
    const intervals = walk("0 2 * * *", tz, "2024-11-01T06:00:00Z", 3);
    expect(intervals).toEqual([
      { start: "2024-11-01T06:00:00.000Z", end: "2024-11-02T06:00:00.000Z" }, // 02:00 EDT
      { start: "2024-11-02T06:00:00.000Z", end: "2024-11-03T07:00:00.000Z" }, // → 02:00 EST
      { start: "2024-11-03T07:00:00.000Z", end: "2024-11-04T07:00:00.000Z" },
    ]);
    expect(intervals.map(hours)).toEqual([24, 25, 24]);
  });

  it("30 1 * * * on spring-forward day: 01:30 still exists (EST), a 23 h interval follows", () => {
    const intervals = walk("30 1 * * *", tz, "2024-03-09T06:30:00Z", 2);
    expect(intervals).toEqual([
      { start: "2024-03-09T06:30:00.000Z", end: "2024-03-10T06:30:00.000Z" }, // 01:30 EST → 01:30 EST
      { start: "2024-03-10T06:30:00.000Z", end: "2024-03-11T05:30:00.000Z" }, // → 01:30 EDT
    ]);
  });

  it("30 1 * * * on fall-back day: runs once, at the second 01:30 (EST), as Airflow does", () => {
    const intervals = walk("30 1 * * *", tz, "2024-11-01T05:30:00Z", 3);
    expect(intervals).toEqual([
      { start: "2024-11-01T05:30:00.000Z", end: "2024-11-02T05:30:00.000Z" }, // 01:30 EDT
      { start: "2024-11-02T05:30:00.000Z", end: "2024-11-03T06:30:00.000Z" }, // → 01:30 EST (not 05:30Z, the first 01:30)
      { start: "2024-11-03T06:30:00.000Z", end: "2024-11-04T06:30:00.000Z" },
    ]);
    expect(intervals.map(hours)).toEqual([24, 25, 24]);
  });

  it("30 1 * * * without catchup: between the two 01:30s the day's run is not due yet", () => {
    const at = (now: string) => next("30 1 * * *", { now, start: "2024-01-01", timezone: tz });
    expect(at("2024-11-03T05:45:00Z")).toEqual({ start: "2024-11-01T05:30:00.000Z", end: "2024-11-02T05:30:00.000Z" });
    expect(at("2024-11-03T06:30:00Z")).toEqual({ start: "2024-11-02T05:30:00.000Z", end: "2024-11-03T06:30:00.000Z" });
  });

  it("30 2 * * * on spring-forward day: 02:30 does not exist and moves forward by the gap, to 03:30 EDT", () => {
    expect(walk("30 2 * * *", tz, "2024-03-09T07:30:00Z", 2)).toEqual([
      { start: "2024-03-09T07:30:00.000Z", end: "2024-03-10T07:30:00.000Z" },
      { start: "2024-03-10T07:30:00.000Z", end: "2024-03-11T06:30:00.000Z" },
    ]);
  });

  it("@hourly follows real hours: 23 runs on spring-forward day, 25 on fall-back day", () => {
    const count = (from: string, to: string) => {
      const timetable = timetableFor(serializeSchedule("@hourly", tz)!, null);
      let n = 0;
      for (let i = timetable.intervalStartingAtOrAfter(d(from)); i && i.start < d(to); i = timetable.intervalStartingAtOrAfter(i.end)) {
        expect(hours(iso(i)!)).toBe(1);
        n++;
      }
      return n;
    };
    expect(count("2024-03-10T05:00:00Z", "2024-03-11T04:00:00Z")).toBe(23); // local midnight to midnight
    expect(count("2024-11-03T04:00:00Z", "2024-11-04T05:00:00Z")).toBe(25);
  });

  it("30 1 * * * between the two 01:30s: the day's point is still ahead", () => {
    const timetable = timetableFor(serializeSchedule("30 1 * * *", tz)!, null);
    expect(iso(timetable.intervalStartingAtOrAfter(d("2024-11-03T05:45:00Z")))).toEqual({
      start: "2024-11-03T06:30:00.000Z",
      end: "2024-11-04T06:30:00.000Z",
    });
  });
});

describe("cron points across a year of DST transitions", () => {
  const cases: [string, string][] = [
    ["0 2 * * *", "America/New_York"],
    ["30 1 * * *", "America/New_York"],
    ["30 2 * * *", "America/New_York"],
    ["0 */2 * * *", "America/New_York"],
    ["15 1-3 * * *", "America/New_York"],
    ["30 2 * * *", "Europe/Berlin"],
    ["0 2 * * 0", "Europe/Berlin"],
    ["0 2 * * *", "Australia/Lord_Howe"], // a 30-minute DST shift
    ["30 * * * *", "America/New_York"],
    ["@daily", "Asia/Kolkata"],
  ];

  it.each(cases)("%s in %s: points strictly increase, and next/prev agree around each point", (expr, tz) => {
    const { next: after, prev: before } = cronPoints(serializeSchedule(expr, tz)!.expr, tz);
    // The spring and autumn transitions of every zone listed (Lord Howe's are in April and October).
    for (const [from, to] of [["2024-03-01", "2024-04-10"], ["2024-09-28", "2024-11-10"]] as const) {
      const points: Date[] = [];
      for (let p = after(d(from)); p && p < d(to); p = after(p)) points.push(p);
      expect(points.length).toBeGreaterThan(4);
      checkPoints(points, after, before);
    }
  });

  function checkPoints(points: Date[], after: (t: Date) => Date | null, before: (t: Date) => Date | null) {
    for (let i = 0; i < points.length; i++) {
      const p = points[i]!;
      if (i > 0) expect(p.getTime()).toBeGreaterThan(points[i - 1]!.getTime());
      expect(after(new Date(p.getTime() - 1))).toEqual(p);
      expect(before(new Date(p.getTime() + 1))).toEqual(p);
      if (i > 0) expect(before(p)).toEqual(points[i - 1]);
    }
  }

  it.each([
    ["0 2 * * *", "America/New_York"],
    ["30 1 * * *", "America/New_York"],
    ["30 2 * * *", "Europe/Berlin"],
    ["0 2 * * *", "Australia/Lord_Howe"],
  ])("%s in %s runs exactly once on every local day of the year", (expr, tz) => {
    const { next: after } = cronPoints(expr, tz);
    const days = new Map<string, number>();
    const localDay = new Intl.DateTimeFormat("en-CA", { timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit" });
    for (let p = after(d("2023-12-31T12:00:00Z")); p && p < d("2024-12-31T00:00:00Z"); p = after(p)) {
      days.set(localDay.format(p), (days.get(localDay.format(p)) ?? 0) + 1);
    }
    expect(days.size).toBeGreaterThanOrEqual(365);
    expect([...days.values()].filter((n) => n !== 1)).toEqual([]);
  });
});
