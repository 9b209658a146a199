// `updraft dags backfill`: how it reads dates and draws its progress bar.
import { describe, expect, it } from "vitest";
import { parseBackfillDate, progressLine } from "../../bin/commands/backfill.js";

describe("updraft dags backfill", () => {
  it("reads a bare date as midnight UTC and keeps an explicit offset", () => {
    expect(parseBackfillDate("2024-02-29", "--from").toISOString()).toBe("2024-02-29T00:00:00.000Z");
    expect(parseBackfillDate("2024-03-01T06:00:00+02:00", "--to").toISOString()).toBe("2024-03-01T04:00:00.000Z");
    expect(() => parseBackfillDate("yesterday", "--from")).toThrow('--from "yesterday" is not a date');
  });

  it.each([
    [{ total: 10, success: 0, failed: 0, completed: false }, "[----------]  0/10 runs"],
    [{ total: 10, success: 4, failed: 1, completed: false }, "[#####-----]  5/10 runs · 1 failed"],
    [{ total: 3, success: 3, failed: 0, completed: true }, "[##########] 3/3 runs"],
    [{ total: 0, success: 0, failed: 0, completed: true }, "[##########] 0/0 runs"],
  ])("%j → %s", (progress, line) => {
    expect(progressLine(progress, 10)).toBe(line);
  });
});
