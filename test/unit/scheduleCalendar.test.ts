// Interval math at the calendar's edges: DST in Europe/Madrid, leap days, month ends — and the
// dates a backfill covers (engine/store/backfills/planBackfill.ts backfillIntervals, skipReason).
import { describe, expect, it } from "vitest";
import type { Schedule } from "../../engine/authoring/types.js";
import type { DagStructure } from "../../engine/model/structure.js";
import { nextDataInterval, serializeSchedule } from "../../engine/semantics/schedule.js";
import { backfillIntervals, skipReason } from "../../engine/store/backfills/planBackfill.js";

/** The intervals a catchup from `start` walks, as the scheduler creates them. */
function walk(schedule: Schedule, timezone: string, start: string, count: number, end?: string): string[][] {
  const out: string[][] = [];
  let last: Date | null = null;
  for (let i = 0; i < count; i++) {
    const next = nextDataInterval({
      schedule: serializeSchedule(schedule, timezone)!,
      start: new Date(start),
      end: end ? new Date(end) : null,
      catchup: true,
      lastIntervalEnd: last,
      hasScheduledRun: last !== null,
      now: new Date("2100-01-01T00:00:00Z"),
    });
    if (!next) break;
    out.push([next.start.toISOString(), next.end.toISOString()]);
    last = next.end;
  }
  return out;
}

describe("DST in Europe/Madrid (CET/CEST)", () => {
  it("0 2 * * * on spring-forward day (2024-03-31, 02:00 does not exist): moved to 03:00 CEST", () => {
    expect(walk("0 2 * * *", "Europe/Madrid", "2024-03-30T00:00:00Z", 3)).toEqual([
      ["2024-03-30T01:00:00.000Z", "2024-03-31T01:00:00.000Z"], // 02:00 CET → 03:00 CEST (gap)
      ["2024-03-31T01:00:00.000Z", "2024-04-01T00:00:00.000Z"], // a 23 h interval
      ["2024-04-01T00:00:00.000Z", "2024-04-02T00:00:00.000Z"],
    ]);
  });

  it("0 2 * * * on fall-back day (2024-10-27, 02:00 happens twice): the second 02:00 (CET), a 25 h interval", () => {
    expect(walk("0 2 * * *", "Europe/Madrid", "2024-10-26T00:00:00Z", 3)).toEqual([
      ["2024-10-26T00:00:00.000Z", "2024-10-27T01:00:00.000Z"],
      ["2024-10-27T01:00:00.000Z", "2024-10-28T01:00:00.000Z"],
      ["2024-10-28T01:00:00.000Z", "2024-10-29T01:00:00.000Z"],
    ]);
  });

  it("@daily stays at local midnight across both changes", () => {
    const points = walk("@daily", "Europe/Madrid", "2024-03-30T00:00:00Z", 2).map((i) => i[0]);
    expect(points).toEqual(["2024-03-30T23:00:00.000Z", "2024-03-31T22:00:00.000Z"]);
    // The day of 27 October 2024 (00:00 CEST → 00:00 CET) lasts 25 hours.
    const autumn = walk("@daily", "Europe/Madrid", "2024-10-26T00:00:00Z", 2);
    expect(autumn.map((i) => i[0])).toEqual(["2024-10-26T22:00:00.000Z", "2024-10-27T23:00:00.000Z"]);
    expect(autumn.map((i) => (Date.parse(i[1]!) - Date.parse(i[0]!)) / 3_600_000)).toEqual([25, 24]);
  });
});

describe("leap days and month ends", () => {
  it("@daily walks through 29 February in a leap year, and straight to 1 March otherwise", () => {
    expect(walk("@daily", "UTC", "2024-02-28", 2).map((i) => i[0]!.slice(0, 10))).toEqual(["2024-02-28", "2024-02-29"]);
    expect(walk("@daily", "UTC", "2024-02-28", 3)[2]![0]!.slice(0, 10)).toBe("2024-03-01");
    expect(walk("@daily", "UTC", "2023-02-28", 2).map((i) => i[0]!.slice(0, 10))).toEqual(["2023-02-28", "2023-03-01"]);
  });

  it("a schedule on 29 February fires only in leap years: its interval is four years long", () => {
    expect(walk("0 0 29 2 *", "UTC", "2023-01-01", 2)).toEqual([
      ["2024-02-29T00:00:00.000Z", "2028-02-29T00:00:00.000Z"],
      ["2028-02-29T00:00:00.000Z", "2032-02-29T00:00:00.000Z"],
    ]);
  });

  it("@monthly intervals follow the months' lengths (29 days in February 2024)", () => {
    const days = walk("@monthly", "UTC", "2024-01-01", 4).map((i) => (Date.parse(i[1]!) - Date.parse(i[0]!)) / 86_400_000);
    expect(days).toEqual([31, 29, 31, 30]);
  });

  it("day 31 runs only in the months that have one", () => {
    expect(walk("0 0 31 * *", "UTC", "2024-01-01", 4).map((i) => i[0]!.slice(0, 10))).toEqual(["2024-01-31", "2024-03-31", "2024-05-31", "2024-07-31"]);
  });

  it("the last day of each month (L)", () => {
    expect(walk("0 0 L * *", "UTC", "2024-01-15", 3).map((i) => i[0]!.slice(0, 10))).toEqual(["2024-01-31", "2024-02-29", "2024-03-31"]);
  });

  it("@yearly from a leap day: the next 1 January, and end bounds the walk", () => {
    expect(walk("@yearly", "UTC", "2024-02-29", 5, "2027-06-01").map((i) => i[0]!.slice(0, 10))).toEqual(["2025-01-01", "2026-01-01", "2027-01-01"]);
  });
});

function structure(schedule: Schedule, start: string | null, timezone = "UTC"): DagStructure {
  return { dagId: "d", schedule: serializeSchedule(schedule, timezone), start, timezone } as DagStructure;
}

describe("backfill dates: every logical date in [from, to]", () => {
  it.each<[string, Schedule, string | null, string, string, string[]]>([
    ["@daily, both ends inclusive", "@daily", "2020-01-01", "2024-01-01", "2024-01-03", ["2024-01-01", "2024-01-02", "2024-01-03"]],
    ["@daily, from between points is aligned up", "@daily", null, "2024-01-01T06:00:00Z", "2024-01-03T00:00:00Z", ["2024-01-02", "2024-01-03"]],
    ["@monthly over a year end", "@monthly", null, "2023-11-15", "2024-02-01", ["2023-12-01", "2024-01-01", "2024-02-01"]],
    ["@once: the start date, if in range", "@once", "2024-01-02", "2024-01-01", "2024-01-05", ["2024-01-02"]],
    ["@once outside the range: nothing", "@once", "2024-02-02", "2024-01-01", "2024-01-05", []],
  ])("%s", (_name, schedule, start, from, to, expected) => {
    const dates = backfillIntervals(structure(schedule, start), new Date(from), new Date(to)).map((i) => i.start.toISOString().slice(0, 10));
    expect(dates).toEqual(expected);
  });

  it("{ every: '6h' } is anchored on the DAG's start", () => {
    const dates = backfillIntervals(structure({ every: "6h" }, "2024-01-01T01:00:00Z"), new Date("2024-01-01T00:00:00Z"), new Date("2024-01-01T20:00:00Z"));
    expect(dates.map((i) => i.start.toISOString().slice(11, 16))).toEqual(["01:00", "07:00", "13:00", "19:00"]);
    expect(dates.every((i) => i.end.getTime() - i.start.getTime() === 6 * 3_600_000)).toBe(true);
  });

  it("a cron in a time zone gives the local wall-clock times", () => {
    const dates = backfillIntervals(structure("0 9 * * *", null, "Europe/Madrid"), new Date("2024-03-30T00:00:00Z"), new Date("2024-04-01T00:00:00Z"));
    expect(dates.map((i) => i.start.toISOString())).toEqual(["2024-03-30T08:00:00.000Z", "2024-03-31T07:00:00.000Z"]);
  });

  it("refuses an unscheduled DAG and a range of absurd size", () => {
    expect(() => backfillIntervals(structure(null, null), new Date("2024-01-01"), new Date("2024-01-02"))).toThrow(/has no schedule/);
    expect(() => backfillIntervals(structure("* * * * *", null), new Date("2020-01-01"), new Date("2024-01-01"))).toThrow(/more than 10000 runs/);
  });
});

describe("reprocess_behavior: which dates that have a run are run again", () => {
  it.each<[string | null, "none" | "failed" | "completed", string | null]>([
    [null, "none", null],
    [null, "completed", null],
    ["success", "none", "already exists"],
    ["success", "failed", "already exists"],
    ["success", "completed", null],
    ["failed", "none", "already exists"],
    ["failed", "failed", null],
    ["failed", "completed", null],
    ["queued", "completed", "in flight"],
    ["running", "failed", "in flight"],
    ["running", "none", "in flight"],
  ])("latest run %s, reprocess %s → %s", (state, behavior, reason) => {
    expect(skipReason(state ? { state } : null, behavior)).toBe(reason);
  });
});
